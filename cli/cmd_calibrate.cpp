// `v3sim calibrate SPEC`: fits the constants a calibration spec declares to its measurements (study/calibrate.h),
// prints each constant with its standard error and each dataset's error before the fit, in sample and cross-validated,
// with -o writes a config (hardware or cluster) that extends the base with the fitted values, and with --record
// writes the whole result as JSON (what the study's validation table reads its cross-validated figures from).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "report/h5_file.h"
#include "study/calibrate.h"

namespace v3sim::cli {

namespace {

namespace fs = std::filesystem;

struct CalibrateArgs {
  std::string spec;
  std::string hw, cluster;
  int64_t folds = -1;
  std::string output, record;
  std::vector<std::string> data;  // NAME=FILE
  bool measure = false;
  bool json = false;
};

double pct(double x) {
  return 100 * x;
}

int run_calibrate(const CalibrateArgs& a, const RunOptions& opts) {
  const std::string spec_file = resolve_config(a.spec, "calibration", "spec");
  study::CalibrationSpec spec = study::parse_calibration(load_config_file(spec_file), spec_file);
  if (a.folds >= 0) {
    if (a.folds == 1) {
      throw ConfigError(SourceLoc{"--folds", 0}, "", "0 (leave-one-out) or a number of folds >= 2", "1");
    }
    spec.folds = static_cast<size_t>(a.folds);
  }
  // --data NAME=FILE: a trace for a dataset (the one a user measured on a GPU), instead of the spec's.
  for (const std::string& d : a.data) {
    const size_t eq = d.find('=');
    const std::string name = d.substr(0, eq);
    auto it = std::find_if(spec.data.begin(), spec.data.end(), [&](const auto& x) { return x.name == name; });
    if (eq == std::string::npos || it == spec.data.end() || !it->table.empty()) {
      std::string names;
      for (const auto& x : spec.data)
        if (x.table.empty()) names += (names.empty() ? "" : ", ") + x.name;
      throw ConfigError(SourceLoc{"--data", 0}, "",
                        fmt::format("NAME=FILE.h5 with NAME a trace dataset of {} ({})", spec.file, names),
                        "'" + d + "'");
    }
    it->trace = d.substr(eq + 1);
    if (!a.measure && !fs::exists(it->trace)) {
      throw ConfigError(SourceLoc{"--data", 0}, "", "an existing measured trace (or --measure to measure it)",
                        fmt::format("'{}': no such file", it->trace));
    }
  }
  if (!a.measure) {
    for (const auto& d : spec.data) {
      if (d.trace.empty() && d.table.empty()) {
        throw ConfigError(SourceLoc{spec.file, 0}, "data." + d.name + ".trace",
                          fmt::format("a measured trace: measure one on the GPU (`v3sim measure --suite {0} -o F.h5`) "
                                      "and pass `--data {1}=F.h5`, or pass `--measure` to do both",
                                      d.suite, d.name),
                          "none");
      }
    }
  }
  if (a.measure && std::none_of(spec.data.begin(), spec.data.end(), [](const auto& x) { return !x.suite.empty(); })) {
    throw ConfigError(SourceLoc{"--measure", 0}, "", "a spec with a dataset that a suite measures (`suite:`)",
                      fmt::format("none in {}", spec.file));
  }
  const bool cluster = spec.base_kind == study::CalibrationSpec::Base::Cluster;
  const std::string& other = cluster ? a.hw : a.cluster;
  if (!other.empty()) {
    throw ConfigError(SourceLoc{cluster ? "--hw" : "--cluster", 0}, "",
                      fmt::format("{} (the spec's base is a {} config)", cluster ? "--cluster" : "--hw",
                                  cluster ? "cluster" : "hardware"),
                      "'" + other + "'");
  }
  const std::string& given = cluster ? a.cluster : a.hw;
  const std::string hw_file =
      resolve_config(given.empty() ? spec.base : given, cluster ? "clusters" : "hardware",
                     given.empty() ? (cluster ? "cluster" : "hardware") : (cluster ? "--cluster" : "--hw"));
  if (!a.output.empty() && !a.output.ends_with(".yaml")) {
    throw ConfigError(SourceLoc{"-o", 0}, "",
                      fmt::format("a {} config file name ending in .yaml", cluster ? "cluster" : "hardware"),
                      "'" + a.output + "'");
  }
  if (!a.record.empty() && !a.record.ends_with(".json")) {
    throw ConfigError(SourceLoc{"--record", 0}, "", "a file name ending in .json", "'" + a.record + "'");
  }
  if (opts.validate_only) return 0;
  if (a.measure) {
    // Every dataset a suite measures, on this GPU, into its --data file (default traces/<suite>.h5).
    for (auto& d : spec.data) {
      if (d.suite.empty()) continue;
      const bool named =
          std::any_of(a.data.begin(), a.data.end(), [&](const auto& x) { return x.starts_with(d.name + "="); });
      if (!named) d.trace = "traces/" + d.suite + ".h5";
      measure_suite(d.suite, d.trace, fmt::format("v3sim measure --suite {} -o {}", d.suite, d.trace));
    }
  }
  const study::CalibrationResult r =
      study::calibrate(spec, hw_file, [&](const std::string& what) { fmt::print(stderr, "calibrate: {}\n", what); });

  // A fit that did not converge, or a constant the data cannot determine, is not a calibration: say which, and
  // write nothing (a config with such a value would look calibrated and is not).
  std::string refused;
  if (!r.converged) refused = "a fit stopped at its iteration limit before converging";
  for (const auto& c : r.constants) {
    if (!c.identifiable) {
      refused += fmt::format(
          "{}{} cannot be determined by {} (the projections do not move with it, or only as "
          "another constant does): fix it in the base config or give it other data",
          refused.empty() ? "" : "; ", c.key, c.dataset);
    }
  }
  auto write_outputs = [&] {
    if (!a.record.empty()) {
      std::map<std::string, std::string> provenance = report::standard_meta();  // tool, revision, date
      provenance.erase("format");
      std::string command = "v3sim calibrate " + a.spec;
      if (!a.hw.empty()) command += " --hw " + a.hw;
      if (!a.cluster.empty()) command += " --cluster " + a.cluster;
      if (a.folds >= 0) command += fmt::format(" --folds {}", a.folds);
      for (const auto& d : a.data) command += " --data " + d;
      if (a.measure) command += " --measure";
      provenance["command"] = command;
      write_file_atomic(a.record, study::calibration_json(spec, r, hw_file, provenance), "--record");
    }
    if (!a.output.empty()) {
      const fs::path out_dir = fs::absolute(a.output).parent_path();
      // Relative when the output lies near the base (a config folder), else absolute.
      const fs::path rel = fs::relative(fs::absolute(hw_file), out_dir);
      int up = 0;
      for (const auto& part : rel)
        if (part == "..") ++up;
      const std::string extends = (up <= 2 ? rel : fs::absolute(hw_file).lexically_normal()).generic_string();
      write_file_atomic(a.output, study::calibrated_config_yaml(spec, r, extends), "-o");
    }
  };
  auto refuse = [&] {
    fmt::print(stderr, "error: calibration refused, nothing written: {}\n", refused);
    return 2;
  };
  if (a.json) {
    std::fputs(study::calibration_json(spec, r, hw_file).c_str(), stdout);
    if (!refused.empty()) return refuse();
    write_outputs();
    return 0;
  }
  fmt::print("calibration '{}' of {} ({}; {})\n", spec.name, hw_file, spec.file,
             spec.folds == 0 ? std::string("leave-one-out") : fmt::format("{}-fold cross-validation", spec.folds));
  fmt::print("\n{:<34} {:>12} {:>12} {:>12}  {}\n", "constant", "base", "fitted", "std error", "fitted on");
  for (const auto& c : r.constants) {
    const std::string se = std::isnan(c.std_error) ? std::string("-") : fmt::format("{:.4g}", c.std_error);
    fmt::print("{:<34} {:>12.6g} {:>12.6g} {:>12}  {}{}{}\n", c.key + (c.unit.empty() ? "" : " [" + c.unit + "]"),
               c.base, c.fitted, se, c.dataset, c.identifiable ? "" : " (not identifiable)",
               c.at_bound ? " (at a bound)" : "");
  }
  fmt::print("\n{:<24} {:<9} {:>7} {:>10} {:>14} {:>16} {:>8}\n", "dataset", "role", "figures", "MAPE base",
             "fit residual", "cross-validated", "worst");
  for (const auto& s : r.scores) {
    fmt::print("{:<24} {:<9} {:>7} {:>9.1f}% {:>13.1f}% {:>15.1f}% {:>7.1f}%\n", s.dataset,
               s.fitted_on ? "fitted" : "predicted", s.ops, pct(s.base_mape), s.fitted_on ? pct(s.fit_mape) : NAN,
               pct(s.cv_mape), pct(s.cv_max));
  }
  fmt::print(
      "\nfit residual: the error on the data the constants were fitted to (not validation); cross-validated: each\n"
      "figure predicted by a fit that did not see it; a predicted dataset informs no constant (validation).\n");
  fmt::print("({} projections of a dataset)\n", r.evaluations);
  if (!refused.empty()) return refuse();
  write_outputs();
  if (!a.output.empty()) fmt::print("wrote {}\n", a.output);
  if (!a.record.empty()) fmt::print("wrote {}\n", a.record);
  return 0;
}

}  // namespace

CommandRunner add_calibrate_command(CLI::App& app) {
  auto a = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Fit a hardware or cluster config's physical constants to measurements, with cross-validated error");
  cmd->add_option("spec", a->spec,
                  "a calibration spec (YAML, or a name in configs/calibration): the base config, the measured "
                  "traces or tables, and which constants each may inform, with their ranges")
      ->required();
  cmd->add_option("--hw", a->hw, "the base hardware config instead of the spec's (a `hardware:` spec)");
  cmd->add_option("--cluster", a->cluster, "the base cluster config instead of the spec's (a `cluster:` spec)");
  cmd->add_option("--folds", a->folds, "cross-validation folds: 0 leave-one-out (default: the spec's)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  cmd->add_option("-o,--output", a->output, "write the calibrated config (.yaml, extends the base)");
  cmd->add_option("--record", a->record,
                  "write the whole result as JSON with provenance (.json; traces/calibration holds the records the "
                  "study's validation table reads)");
  cmd->add_option("--data", a->data,
                  "NAME=FILE.h5: the measured trace of the spec's dataset NAME (repeatable), e.g. the micro suite "
                  "measured on your GPU");
  cmd->add_flag("--measure", a->measure,
                "first measure the spec's suite datasets on the local GPU (`measure --suite`), into their --data "
                "file or traces/<suite>.h5");
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  cmd->footer(
      "Examples: v3sim calibrate h800-gemm -o h800-calibrated.yaml\n"
      "          v3sim calibrate h800-deepep --folds 0      (DeepEP's normal table: NIC and SM push rates)\n"
      "A new GPU, in one command (on it): v3sim calibrate micro --hw h100-sxm --measure -o my-h100.yaml\n"
      "  or measure first: v3sim measure --suite micro -o micro.h5; v3sim calibrate micro --data micro=micro.h5\n"
      "The fit is bounded Levenberg-Marquardt on the relative errors of the projected figures; a constant's\n"
      "standard error comes from the fit's covariance. A constant the data cannot move (not identifiable), or a fit\n"
      "that does not converge, is refused: exit 2, and nothing is written.");
  return [a](const RunOptions& opts) { return run_calibrate(*a, opts); };
}

}  // namespace v3sim::cli
