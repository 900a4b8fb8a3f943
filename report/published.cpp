#include "report/published.h"

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"

namespace v3sim::report {

std::string gemm_op_name(int64_t m, int64_t n, int64_t k) {
  return fmt::format("gemm:m={},n={},k={}", m, n, k);
}

std::pair<std::string, std::vector<std::pair<std::string, std::string>>> parse_op_name(const std::string& name) {
  const size_t colon = name.find(':');
  if (colon == std::string::npos) return {};
  std::vector<std::pair<std::string, std::string>> kv;
  size_t start = colon + 1;
  while (start < name.size()) {
    size_t comma = name.find(',', start);
    const std::string item = name.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return {};
    kv.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return {name.substr(0, colon), kv};
}

ResultFile published_deepgemm_h800(const std::string& reference_yaml) {
  ConfigNode root = load_config_file(reference_yaml);
  const ConfigNode* table = root.find("deepgemm_h800");
  const char* key = "deepgemm_h800.v3_2025_04_09_last_published_table";
  if (table) table = table->find("v3_2025_04_09_last_published_table");
  if (!table) throw ConfigError(SourceLoc{reference_yaml, 0}, key, "DeepGEMM's last published H800 table", "nothing");
  ResultFile f;
  f.meta = standard_meta();
  const ConfigNode* source = table->find("source");
  f.meta["source"] = source && source->is_scalar() ? source->text() : "";
  f.meta["provenance"] =
      "published measurements, not recorded by v3sim: DeepGEMM README performance table on NVIDIA H800 SXM5 "
      "(deepseek-v3.yaml deepgemm_h800); metrics TFLOPS = 2MNK/t, GB/s = (MK+NK+2MN)/t";
  f.meta["gpu"] = "NVIDIA H800 SXM5 (132 SMs)";
  f.meta["reference_file"] = reference_yaml;
  f.timeline.source = "measured";
  Time t;
  uint32_t op = 0;
  for (const char* section : {"dense", "dense_large_m"}) {
    const ConfigNode* rows = table->find(section);
    if (!rows || !rows->is_sequence()) {
      throw ConfigError(table->loc(), table->child_path(section), "a list of [M, N, K, TFLOPS, GBps, speedup] rows",
                        rows ? rows->describe() : "nothing");
    }
    for (const ConfigNode& r : rows->items()) {
      if (!r.is_sequence() || r.items().size() < 4) {
        throw ConfigError(r.loc(), r.path(), "[M, N, K, TFLOPS, ...]", r.describe());
      }
      const int64_t m = std::stoll(r.items()[0].text()), n = std::stoll(r.items()[1].text()),
                    k = std::stoll(r.items()[2].text());
      const double tflops = std::stod(r.items()[3].text());
      const double flops = 2.0 * m * n * k;
      TimelineEvent e;
      e.op = op++;
      e.name = gemm_op_name(m, n, k);
      e.kind = "gemm";
      e.start = t;
      e.end = t + Time::ps(static_cast<int64_t>(flops / (tflops * 1e12) * 1e12 + 0.5));
      e.flops = flops;
      e.bytes = static_cast<double>(m) * k + static_cast<double>(n) * k + 2.0 * m * n;
      t = e.end;
      f.timeline.events.push_back(e);
    }
  }
  f.summary = {{"ops", static_cast<double>(f.timeline.events.size())}};
  return f;
}

}  // namespace v3sim::report
