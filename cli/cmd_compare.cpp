// `v3sim compare MEASURED.h5 --hw F`: projects every measured op with the simulator and prints measured,
// projected and error per op, with the mean absolute percentage error.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "report/compare.h"
#include "report/h5_file.h"
#include "report/published.h"
#include "report/trace.h"
#include "sim/sm/cast_kernels.h"
#include "sim/sm/gemm.h"

namespace v3sim::cli {

namespace {

struct CompareArgs {
  std::string measured;
  std::string hw;
  std::vector<std::string> sets;
  bool json = false;
  std::string output;
};

int64_t int_field(const std::vector<std::pair<std::string, std::string>>& kv, const std::string& key, int64_t dflt) {
  for (const auto& [k, v] : kv)
    if (k == key) return std::stoll(v);
  return dflt;
}

// The projected duration of one measured op, or nothing when v3sim has no model of it.
std::optional<Time> project(const TimelineEvent& e, const HardwareConfig& hw) {
  auto [kind, kv] = parse_op_name(e.name);
  if (kind == "gemm" || kind == "gemm-cublaslt") {
    sim::GemmDesc d;
    d.m = int_field(kv, "m", 0);
    d.n = int_field(kv, "n", 0);
    d.k = int_field(kv, "k", 0);
    d.groups = int_field(kv, "groups", 1);
    if (d.groups > 1) d.layout = sim::GemmLayout::Contiguous;
    for (const auto& [key, v] : kv)
      if (key == "layout" && v == "masked") d.layout = sim::GemmLayout::Masked;
    d.sms = int_field(kv, "sms", 0);
    const sim::GemmResult r = sim::simulate_gemm(d, hw);
    return r.time;
  }
  if (kind == "quantize" || kind == "transpose-requant") {
    sim::CastDesc d;
    d.kernel = kind == "quantize" ? sim::CastKernel::Quantize : sim::CastKernel::TransposeRequant;
    d.rows = int_field(kv, "rows", 0);
    d.cols = int_field(kv, "cols", 0);
    return sim::simulate_cast(d, hw).time;
  }
  return std::nullopt;
}

int run_compare(const CompareArgs& a) {
  if (!a.output.empty()) {
    if (!a.output.ends_with(".json")) {
      throw ConfigError(SourceLoc{"-o", 0}, "", "a Chrome/Perfetto trace file name ending in .json",
                        fmt::format("'{}'", a.output));
    }
    check_output_path(a.output, "-o");
  }
  const ResultFile measured = read_result_h5(a.measured);
  if (measured.timeline.source != "measured") {
    throw ConfigError(SourceLoc{a.measured, 0}, "/meta/timeline_source", "a measured trace",
                      fmt::format("'{}'", measured.timeline.source));
  }
  auto overrides = parse_overrides(a.sets, {"hw"});
  const HardwareConfig hw =
      load_hardware(load_document(resolve_config(a.hw.empty() ? "h800" : a.hw, "hardware", "--hw"), "hw", overrides));
  Timeline projected;
  projected.source = "projected";
  for (const TimelineEvent& e : measured.timeline.events) {
    if (auto t = project(e, hw)) {
      TimelineEvent p = e;
      p.end = p.start + *t;
      projected.events.push_back(p);
    }
  }
  const Comparison c = compare_timelines(measured.timeline, projected);
  if (!a.output.empty()) write_chrome_trace(a.output, {&measured.timeline, &projected});
  if (a.json) {
    nlohmann::json j;
    j["measured_file"] = a.measured;
    j["hardware"] = hw.name;
    j["mape"] = c.mape;
    j["worst"] = c.worst;
    j["unmatched"] = c.unmatched;
    j["ops"] = nlohmann::json::array();
    for (const OpComparison& o : c.ops) {
      nlohmann::json row = {{"name", o.name}, {"kind", o.kind}, {"measured_us", o.measured.microseconds()}};
      if (o.projected) {
        row["projected_us"] = o.projected->microseconds();
        row["error"] = o.error;
      }
      j["ops"].push_back(row);
    }
    std::puts(j.dump(2).c_str());
    return 0;
  }
  fmt::print("{} (measured{}) against {} (projected)\n", a.measured,
             measured.meta.count("gpu") ? " on " + measured.meta.at("gpu") : std::string(), hw.name);
  fmt::print("{:<44} {:>12} {:>12} {:>8}\n", "op", "measured us", "projected us", "error");
  for (const OpComparison& o : c.ops) {
    if (o.projected) {
      fmt::print("{:<44} {:>12.2f} {:>12.2f} {:>+7.1f}%\n", o.name, o.measured.microseconds(),
                 o.projected->microseconds(), 100 * o.error);
    } else {
      fmt::print("{:<44} {:>12.2f} {:>12} {:>8}\n", o.name, o.measured.microseconds(), "(no model)", "");
    }
  }
  fmt::print("MAPE {:.1f}% over {} ops, worst {:.1f}%{}\n", 100 * c.mape,
             static_cast<int64_t>(c.ops.size()) - c.unmatched, 100 * c.worst,
             c.unmatched ? fmt::format(", {} ops without a model", c.unmatched) : "");
  if (!a.output.empty()) fmt::print("wrote {}\n", a.output);
  return 0;
}

}  // namespace

CommandRunner add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand("compare", "Measured against projected, op by op");
  cmd->footer(
      "Examples:\n"
      "  v3sim compare traces/published/deepgemm-h800.h5 --hw h800\n"
      "  v3sim compare traces/h200/gemm.h5 --hw h200 --json -o both.json   # Perfetto: both timelines");
  cmd->add_option("measured", a->measured, "a measured trace (.h5) written by `v3sim measure`")->required();
  cmd->add_option("--hw", a->hw, "hardware YAML file or name to project with (default h800)");
  add_set_option(*cmd, a->sets);
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  cmd->add_option("-o,--output", a->output, "write both timelines as one Chrome/Perfetto trace (.json)");
  return [a] { return run_compare(*a); };
}

}  // namespace v3sim::cli
