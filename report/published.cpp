#include "report/published.h"

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"

namespace v3sim::report {

double table_number(const ConfigNode& item, const char* expected) {
  if (item.is_scalar()) {
    try {
      size_t used = 0;
      const double v = std::stod(item.text(), &used);
      if (used == item.text().size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw ConfigError(item.loc(), item.path(), expected, item.describe());
}

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
      const auto& it = r.items();
      const auto m = static_cast<int64_t>(table_number(it[0], "M (a number)")),
                 n = static_cast<int64_t>(table_number(it[1], "N (a number)")),
                 k = static_cast<int64_t>(table_number(it[2], "K (a number)"));
      const double tflops = table_number(it[3], "TFLOPS (a number)");
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

std::vector<DeepEPFigure> deepep_normal_figures(const ConfigNode& table) {
  const char* expected = "[type, dispatch_EP, dispatch_GBps, combine_EP, combine_GBps, bottleneck_link]";
  const ConfigNode* rows = table.find("rows");
  if (!rows || !rows->is_sequence() || rows->items().empty()) {
    throw ConfigError(table.loc(), table.child_path("rows"), std::string("a list of ") + expected + " rows",
                      rows ? rows->describe() : "nothing");
  }
  std::vector<DeepEPFigure> out;
  for (const ConfigNode& r : rows->items()) {
    if (!r.is_sequence() || r.items().size() < 5 || !r.items()[0].is_scalar()) {
      throw ConfigError(r.loc(), r.path(), expected, r.describe());
    }
    const auto& it = r.items();
    for (const AllToAllPhase phase : {AllToAllPhase::Dispatch, AllToAllPhase::Combine}) {
      const size_t col = phase == AllToAllPhase::Dispatch ? 1 : 3;
      DeepEPFigure f;
      f.desc.phase = phase;
      f.desc.ep = static_cast<int64_t>(table_number(it[col], "an EP size (a number)"));
      f.desc.tokens = 4096;
      if (f.desc.ep <= 0) throw ConfigError(it[col].loc(), it[col].path(), "a positive EP size", it[col].describe());
      f.desc.experts = 256 / f.desc.ep * f.desc.ep;  // DeepEP's benchmark
      f.desc.sms = 24;
      f.measured_gbps = table_number(it[col + 1], "a bandwidth in GB/s (a number)");
      if (!(f.measured_gbps > 0)) {
        throw ConfigError(it[col + 1].loc(), it[col + 1].path(), "a positive bandwidth", it[col + 1].describe());
      }
      f.label = fmt::format("{} {} EP{}", it[0].text(), to_string(phase), f.desc.ep);
      out.push_back(f);
    }
  }
  return out;
}

net::AllToAllResult project_deepep_figure(const DeepEPFigure& f, const net::ClusterConfig& cluster) {
  f.desc.validate(cluster);
  return net::run_alltoall(cluster, f.desc);
}

}  // namespace v3sim::report
