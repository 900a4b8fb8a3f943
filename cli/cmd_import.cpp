// `v3sim import TRACE.json[.gz] [--rules NAME|FILE] [-o OUT.h5] [--json]`: a PyTorch-profiler (Kineto) trace into
// v3sim's measured timeline, mapped by a rules file of configs/traces/, with a summary per stream and op kind.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/compare_step.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "report/trace_analysis.h"
#include "report/trace_import.h"

namespace v3sim::cli {

namespace {

namespace fs = std::filesystem;

struct ImportArgs {
  std::string trace;
  std::string rules = "deepseek-v3-h800";
  std::string output;
  std::string deploy;  // the deployment the trace was measured on ("" none)
  bool json = false;
  std::vector<std::string> argv;
};

double ms(Time t) {
  return static_cast<double>(t.picoseconds()) * 1e-9;
}

std::string meta_or(const report::ResultFile& f, const std::string& key, const std::string& dflt) {
  auto it = f.meta.find(key);
  return it == f.meta.end() ? dflt : it->second;
}

// Summed kernel time on the compute streams (compute + compute2).
Time compute_time(const report::TimelineAnalysis& a) {
  Time t;
  for (const report::StreamStats& s : a.streams)
    if (is_compute_stream(s.stream)) t += s.time;
  return t;
}

void print_human(const ImportArgs& a, const report::ImportedTrace& imp, const report::TimelineAnalysis& an) {
  const report::ResultFile& f = imp.result;
  const double* k = f.summary_value("kernel_events");
  const double* c = f.summary_value("memcpy_events");
  const double* s = f.summary_value("memset_events");
  fmt::print("{}: {} GPU events ({:.0f} kernels, {:.0f} memcpy, {:.0f} memset) on {} ({} SMs), rank {} of {} ({})\n",
             a.trace, f.timeline.events.size(), k ? *k : 0, c ? *c : 0, s ? *s : 0, meta_or(f, "gpu", "an unnamed GPU"),
             meta_or(f, "sm_count", "?"), meta_or(f, "distributed_rank", "?"),
             meta_or(f, "distributed_world_size", "?"), meta_or(f, "distributed_backend", "?"));
  fmt::print("rules {}: {} layers; per layer = total / {}\n\n", f.meta.at("rules_file"), an.layers,
             std::max<int64_t>(an.layers, 1));
  fmt::print("{:<10} {:>8} {:>7} {:>10} {:>10} {:>9} {:>7} {:>10} {:>8}\n", "stream", "ids", "events", "time ms",
             "/layer ms", "idle ms", "gaps", "median us", "p90 us");
  for (const report::StreamStats& st : an.streams) {
    std::string ids;
    for (int64_t id : st.stream_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    fmt::print("{:<10} {:>8} {:>7} {:>10.2f} {:>10.2f} {:>9.2f} {:>7} {:>10.1f} {:>8.1f}\n",
               timeline_stream_name(st.stream), ids, st.events, ms(st.time), an.per_layer_ms(st.time), ms(st.idle),
               st.gaps.count, st.gaps.median.microseconds(), st.gaps.p90.microseconds());
  }
  const Time compute = compute_time(an);
  fmt::print("compute streams (compute + compute2): {:.2f} ms, {:.2f} ms per layer\n\n", ms(compute),
             an.per_layer_ms(compute));
  fmt::print("{:<20} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9}\n", "kind", "events", "time ms", "/layer ms", "fwd ms",
             "dgrad ms", "wgrad ms");
  for (const auto& [kind, t] : an.by_kind) {
    auto pass_ms = [&, &k = kind](const char* pass) {  // clang 14 does not capture structured bindings
      auto it = an.by_kind_pass.find({k, pass});
      return it == an.by_kind_pass.end() ? 0.0 : ms(it->second.time);
    };
    fmt::print("{:<20} {:>7} {:>10.2f} {:>10.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", kind, t.events, ms(t.time),
               an.per_layer_ms(t.time), pass_ms("fwd"), pass_ms("dgrad"), pass_ms("wgrad"));
  }
  if (imp.unmapped.empty()) {
    fmt::print("\nunmapped kernels: none\n");
  } else {
    fmt::print("\nunmapped kernels (kept with kind 'unmapped'; add a rule under kernels: in {}):\n",
               f.meta.at("rules_file"));
    for (const report::UnmappedKernel& u : imp.unmapped) {
      const std::string name = u.kernel.size() > 150 ? u.kernel.substr(0, 147) + "..." : u.kernel;
      fmt::print("  {:>5} x {:>9.3f} ms  {}\n", u.count, ms(u.time), name);
    }
  }
}

int run_import(const ImportArgs& a, const RunOptions& opts) {
  if (!a.output.empty() && !a.output.ends_with(".h5")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "an output file name ending in .h5", fmt::format("'{}'", a.output));
  }
  if (!a.deploy.empty()) resolve_config(a.deploy, "deployments", "--deploy");  // it must exist
  if (!a.output.empty()) check_output_path(a.output, "-o");
  report::TraceRules rules = report::load_trace_rules_file(resolve_config(a.rules, "traces", "--rules"));
  // A shipped rules file is recorded as configs/traces/NAME.yaml, not by the path of this build's source tree.
  const fs::path shipped = fs::path(rules.file).lexically_relative(fs::path(configs_dir()).parent_path());
  if (a.rules != rules.file && !shipped.empty() && !shipped.string().starts_with("..")) rules.file = shipped.string();
  if (opts.validate_only) return 0;
  report::ImportedTrace imp = report::import_profiler_trace(a.trace, rules);
  std::string cmd;
  for (const auto& s : a.argv) cmd += (cmd.empty() ? "" : " ") + s;
  imp.result.meta["command_line"] = cmd;
  if (!a.deploy.empty()) imp.result.meta[kMeasuredDeploymentKey] = a.deploy;
  if (!a.output.empty()) report::write_result_h5(a.output, imp.result);
  const report::TimelineAnalysis an = report::analyze_timeline(imp.result.timeline);
  for (const std::string& n : imp.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (a.json) {
    nlohmann::json j = report::analysis_json(an);
    j["source_file"] = a.trace;
    for (const char* key :
         {kMeasuredDeploymentKey, "source_sha256", "gpu", "sm_count", "distributed_rank", "distributed_world_size",
          "distributed_backend", "trace_name", "rules_file", "rules_sha256"}) {
      if (imp.result.meta.count(key)) j[key] = imp.result.meta.at(key);
    }
    j["output"] = a.output;
    for (const auto& [name, v] : imp.result.summary) j[name] = v;
    j["compute_streams_ms"] = ms(compute_time(an));
    j["compute_streams_per_layer_ms"] = an.per_layer_ms(compute_time(an));
    j["unmapped"] = nlohmann::json::array();
    for (const report::UnmappedKernel& u : imp.unmapped) {
      j["unmapped"].push_back({{"kernel", u.kernel}, {"events", u.count}, {"time_ms", ms(u.time)}});
    }
    j["notes"] = imp.notes;
    std::puts(j.dump(2).c_str());
    return 0;
  }
  print_human(a, imp, an);
  if (!a.output.empty()) fmt::print("wrote {}\n", a.output);
  return 0;
}

}  // namespace

CommandRunner add_import_command(CLI::App& app, std::vector<std::string> argv) {
  auto a = std::make_shared<ImportArgs>();
  a->argv = std::move(argv);
  CLI::App* cmd = app.add_subcommand("import", "A profiler trace (PyTorch/Kineto JSON) into a measured timeline");
  cmd->footer(
      "Every GPU event of the trace becomes one event of the timeline: kernels are mapped to op kinds, streams,\n"
      "passes, layers and graph op names by a rules file (configs/traces/, `v3sim describe trace_rules`); kernels\n"
      "no rule matches are kept with kind 'unmapped' and listed.\n"
      "Examples:\n"
      "  v3sim import ../shared/measured/deepseek-profile-data/train.json "
      "-o traces/measured/deepseek-v3-h800-profile.h5 --deploy v3-train-profile\n"
      "  v3sim import my_profile.json.gz --rules my-stack.yaml --json   # summary only, as JSON");
  cmd->add_option("trace", a->trace, "a Chrome/Kineto trace (.json, or gzip-compressed)")->required();
  cmd->add_option("--rules", a->rules,
                  "rules YAML file or name in configs/traces (default deepseek-v3-h800: DeepSeek's V3 training "
                  "stack on H800)");
  cmd->add_option("-o,--output", a->output, "write the measured timeline (.h5)");
  cmd->add_option("--deploy", a->deploy,
                  "the deployment (YAML or name in configs/deployments) whose work the trace measured, recorded in "
                  "/meta as `deployment`: `v3sim compare` then projects it");
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  return [a](const RunOptions& opts) { return run_import(*a, opts); };
}

}  // namespace v3sim::cli
