// `v3sim compare MEASURED.h5`: measured against projected.
//  - With --deploy D, or a measured trace whose /meta names its deployment (`v3sim import --deploy`): the step
//    projection of `v3sim step --deploy D` against the trace, per category, kind and pass, layer, stream and op
//    name (cli/compare_step.h).
//  - Otherwise (the traces of `v3sim measure`, one kernel and shape per op): projects every measured op with the
//    simulator on --hw and prints measured, projected and error per op, with the mean absolute percentage error.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/compare_step.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "models/graph_size.h"
#include "report/compare.h"
#include "report/h5_file.h"
#include "report/published.h"
#include "report/trace.h"

namespace v3sim::cli {

namespace {

struct CompareArgs {
  std::string measured;
  StepConfigArgs config;  // config.hw "": h800
  bool json = false;
  std::string output;
  size_t top = 25;
  std::string cache;
  bool no_cache = false;
};

// Measured against the step projection of a deployment.
int run_step_compare(const CompareArgs& a, const report::ResultFile& measured, const std::string& deploy,
                     const RunOptions& opts) {
  StepConfigArgs config = a.config;
  config.deploy = deploy;
  if (config.hw.empty()) config.hw = "h800";
  if (opts.validate_only) {
    // What compare_with_step() checks before it simulates: the configs, and the step as `v3sim step` checks it.
    const StepSetup setup = load_step_setup(config);
    exec::validate_step(setup.in);
    check_graph_size(setup.in.model, setup.in.deploy);
    return 0;
  }
  const std::unique_ptr<exec::KernelCache> cache = open_kernel_cache(a.cache, a.no_cache);
  const StepComparison s = compare_with_step(measured, config, *cache, a.top);
  for (const std::string& n : s.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (!a.output.empty()) {
    std::vector<std::string> streams(kTimelineStreams.begin(), kTimelineStreams.end());
    report::write_chrome_trace(a.output, {&measured.timeline, &s.projected}, streams);
  }
  const report::TimelineComparison& c = s.comparison;
  std::string layers;
  for (int32_t l : s.moe_layers) layers += (layers.empty() ? "" : ",") + std::to_string(l);
  if (a.json) {
    nlohmann::json j = report::comparison_json(c);
    j["measured_file"] = a.measured;
    j["gpu"] = measured.meta.count("gpu") ? measured.meta.at("gpu") : "";
    j["deployment"] = s.setup.in.deploy.name;
    j["deployment_file"] = s.setup.deploy_path;
    j["model"] = s.setup.in.model.name;
    j["hardware"] = s.setup.in.hw.name;
    j["cluster"] = s.setup.in.cluster.name;
    j["projected_moe_layers"] = std::vector<int32_t>(s.moe_layers.begin(), s.moe_layers.end());
    j["notes"] = s.notes;
    j["output"] = a.output;
    std::puts(j.dump(2).c_str());
    return 0;
  }
  fmt::print(
      "{} (measured{}, {} layers, {} events) against `v3sim step --deploy {}` on {} x {} (projected: MoE "
      "layers {}, {} events)\n",
      a.measured, measured.meta.count("gpu") ? " on " + measured.meta.at("gpu") : std::string(), c.measured_layers,
      c.measured_events, s.setup.in.deploy.name, s.setup.in.cluster.name, s.setup.in.hw.name,
      layers.empty() ? "-" : layers, c.projected_events);
  fmt::print("error = (projected - measured) / measured; per layer = total / the timeline's distinct layers\n");
  for (const report::Table& t : report::comparison_tables(c)) fmt::print("\n{}", report::table_text(t));
  if (!a.output.empty()) fmt::print("\nwrote {}\n", a.output);
  return 0;
}

int run_compare(const CompareArgs& a, const RunOptions& opts) {
  if (!a.output.empty()) {
    if (!a.output.ends_with(".json")) {
      throw ConfigError(SourceLoc{"-o", 0}, "", "a Chrome/Perfetto trace file name ending in .json",
                        fmt::format("'{}'", a.output));
    }
    check_output_path(a.output, "-o");
  }
  const report::ResultFile measured = report::read_result_h5(a.measured);
  if (measured.timeline.source != "measured") {
    throw ConfigError(SourceLoc{a.measured, 0}, "/meta/timeline_source", "a measured trace",
                      fmt::format("'{}'", measured.timeline.source));
  }
  const std::string deploy = a.config.deploy.empty() ? measured_deployment(measured) : a.config.deploy;
  if (!deploy.empty()) return run_step_compare(a, measured, deploy, opts);
  if (!a.config.model.empty() || !a.config.cluster.empty()) {
    const char* flag = a.config.model.empty() ? "--cluster" : "--model";
    throw ConfigError(SourceLoc{flag, 0}, "", "--deploy (or a measured trace that names its deployment)",
                      fmt::format("{} without a deployment ('{}' names none: `v3sim import --deploy` records one)",
                                  flag, a.measured));
  }
  auto overrides = parse_overrides(a.config.sets, {"hw"});
  const std::string hw_name = a.config.hw.empty() ? "h800" : a.config.hw;
  const HardwareConfig hw = load_hardware(load_document(resolve_config(hw_name, "hardware", "--hw"), "hw", overrides));
  if (opts.validate_only) return 0;
  const Timeline projected = report::project_kernel_trace(measured.timeline, hw);
  const report::Comparison c = report::compare_timelines(measured.timeline, projected);
  if (!a.output.empty()) report::write_chrome_trace(a.output, {&measured.timeline, &projected});
  if (a.json) {
    nlohmann::json j;
    j["measured_file"] = a.measured;
    j["hardware"] = hw.name;
    j["mape"] = c.mape;
    j["worst"] = c.worst;
    j["unmatched"] = c.unmatched;
    j["ops"] = nlohmann::json::array();
    for (const report::OpComparison& o : c.ops) {
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
  for (const report::OpComparison& o : c.ops) {
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
  a->config.deploy.clear();
  a->config.hw.clear();
  CLI::App* cmd = app.add_subcommand("compare", "Measured against projected: a profiled step, or op by op");
  cmd->footer(
      "With --deploy D (or a measured trace whose /meta names its deployment: v3sim import --deploy), projects the\n"
      "step as `v3sim step --deploy D` does and compares it with the trace per category (compute streams: GEMMs,\n"
      "weight-gradient GEMMs, attention, memory-bound kernels, other; communication stream), per op kind and\n"
      "pass, per layer, per stream (busy, idle, launch gaps) and per op name, in ms per layer. Otherwise\n"
      "(traces of `v3sim measure`) projects every measured op on --hw and compares op by op.\n"
      "Examples:\n"
      "  v3sim compare traces/measured/deepseek-v3-h800-profile.h5                 # its deployment: v3-train-profile\n"
      "  v3sim compare traces/measured/deepseek-v3-h800-profile.h5 --deploy v3-train-profile --json -o both.json\n"
      "  v3sim compare traces/published/deepgemm-h800.h5 --hw h800\n"
      "  v3sim compare traces/h200/gemm.h5 --hw h200 --json -o both.json   # Perfetto: both timelines");
  cmd->add_option("measured", a->measured, "a measured trace (.h5) written by `v3sim import` or `v3sim measure`")
      ->required();
  cmd->add_option("--deploy", a->config.deploy,
                  "deployment YAML or name to project as `v3sim step` does (default: the one the trace's /meta "
                  "names; none: op by op)");
  cmd->add_option("--model", a->config.model, "with a deployment: model YAML or name (default: the deployment's)");
  cmd->add_option("--cluster", a->config.cluster, "with a deployment: cluster YAML or name (default as `v3sim step`)");
  cmd->add_option("--hw", a->config.hw, "hardware YAML file or name to project with (default h800)");
  add_set_option(*cmd, a->config.sets);
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  cmd->add_option("-o,--output", a->output,
                  "write both timelines as one Chrome/Perfetto trace (.json, or .json.gz compressed): measured and "
                  "projected as separate processes, one thread per stream")
      ->check([](const std::string& s) {
        return s.ends_with(".json") || s.ends_with(".json.gz") ? std::string()
                                                               : std::string("a file name ending in .json or .json.gz");
      });
  cmd->add_option("--top", a->top, "with a deployment: op names listed, by measured time")
      ->capture_default_str()
      ->check(positive_integer(100000));
  cmd->add_option("--cache", a->cache,
                  "kernel-result cache file (default $V3SIM_CACHE, else ~/.cache/v3sim/kernels.txt)");
  cmd->add_flag("--no-cache", a->no_cache, "simulate every kernel, keep nothing");
  return [a](const RunOptions& opts) { return run_compare(*a, opts); };
}

}  // namespace v3sim::cli
