// What-if studies: a study file (configs/studies/*.yaml) names base documents (model, hardware, cluster), one
// deployment per phase, a list of proposals (hardware or cluster files replacing the base ones, plus overrides) and
// one-dimensional sweeps around the baseline. It expands into design points, each a fully resolved set of the four
// documents a step simulation reads; an injected PointEvaluator turns a point into named metrics.
//
// Lifecycle: load_study() parses and checks the file's own shape -> enumerate_points() resolves every point's
// documents -> validate_study() checks metrics, tables and every point with the evaluator, all before anything
// runs (a user's mistake is a ConfigError naming the study file, line and key) -> run_study() (study/run.h)
// evaluates the points and writes the results.
//
// Study file:
//   name: deepseek-v3-proposals        # [a-z0-9._-]+, the default output folder out/<name>
//   description: ...                   # optional; source/note/assumption accepted in every map
//   base: {model: M, hw: H, cluster: C}  # names (configs/<kind>/NAME.yaml) or paths (relative to the study file)
//   phases:                            # phase -> deployment (a name or path), in run order
//     train: v3-train-2048
//     decode: {deployment: v3-decode-320, cluster: ..., hw: ..., model: ..., set: [cluster.nodes=40]}
//   set: [DOC.KEY=VALUE, ...]          # optional, applied to every point (the CLI's --set are appended)
//   proposals:                         # optional; label, hw and/or cluster file, set, phases (subset)
//     - {label: baseline}
//     - {label: fp32-accumulation, hw: proposals/fp32-accumulation}
//   sweeps:                            # optional; around the base (or around `proposal:`)
//     - name: ib_bandwidth
//       phases: [decode]
//       key: cluster.nic.bandwidth     # or keys: [a, b] (a scalar or range value sets every key)
//       values: [25GB/s, 50GB/s]       # or maps {a: x, b: y, label: name}, or {from, to, steps, scale: linear|log}
//   metrics: [step_time_s, ...]        # optional (default: everything); checked against the evaluator
//   tables: [numerics_error_vs_k]      # optional extra tables the evaluator produces
// Overrides apply in this order on top of the files: the phase's set, the study's set, the CLI's --set (together:
// the base every point starts from), the proposal's set, the sweep point's keys. A set item may be written
// {value: "DOC.KEY=VALUE", source: "..."} and a sweep value {value: X, source: "..."} to cite where it comes from.
//
// Points: each proposal x its phases, then each sweep x its values x its phases, in file order (phases in the order
// of `phases:`); the index is the position in that order.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "models/deployment.h"
#include "report/table.h"
#include "sim/exec/metrics.h"

namespace v3sim::study {

// One DOC.KEY=VALUE override of a study, with where it was written.
struct StudySet {
  std::string document;  // model, deploy, hw, cluster
  std::string key_path;
  std::string value;  // YAML text
  SourceLoc loc;

  std::string text() const { return document + "." + key_path + "=" + value; }
};

struct StudyPhase {
  Phase phase = Phase::Train;
  std::string deployment;  // resolved path
  std::string model;       // resolved path; "" = base model, else the deployment's `model:`
  std::string hw;          // "" = base
  std::string cluster;     // "" = base
  std::vector<StudySet> sets;
  SourceLoc loc;
};

struct StudyProposal {
  std::string label;
  std::string hw;       // resolved path, "" = the phase's
  std::string cluster;  // resolved path, "" = the phase's
  std::vector<StudySet> sets;
  std::vector<Phase> phases;  // in study phase order
  SourceLoc loc;
};

struct SweepValue {
  std::string text;  // the point's name: its `label`, else the primary key's value as written ("50GB/s")
  double number = std::numeric_limits<double>::quiet_NaN();
  std::vector<StudySet> sets;  // one per key
  SourceLoc loc;
};

struct StudySweep {
  std::string name;
  std::vector<Phase> phases;
  std::vector<std::string> keys;  // DOC.KEY.PATH; the first is the primary one (value, value_num)
  std::string proposal;           // "" = the base, else a proposal's label whose files and sets apply first
  std::vector<SweepValue> values;
  SourceLoc loc;
};

struct StudySpec {
  std::string file;  // as given
  std::string name;
  std::string description;
  std::string model;  // resolved base paths ("" when not given)
  std::string hw;
  std::string cluster;
  std::vector<StudyPhase> phases;
  std::vector<StudySet> sets;  // study-wide, then the CLI's
  std::vector<StudyProposal> proposals;
  std::vector<StudySweep> sweeps;
  std::vector<std::string> metrics;  // empty: every metric the evaluator returns
  std::vector<SourceLoc> metric_locs;
  std::vector<std::string> tables;
  std::vector<SourceLoc> table_locs;
  std::string yaml;  // the resolved study (extends resolved, CLI --set appended to `set:`)

  const StudyPhase* phase(Phase p) const;
};

// Where names resolve and what the command line adds.
struct StudyLoadOptions {
  std::string configs_dir;              // configs/<kind>/<name>.yaml
  std::vector<std::string> sets;        // DOC.KEY=VALUE, applied to every point (the command line's --set)
  std::string set_origin = "override";  // where `sets` came from, in their error locations ("--set" from the CLI)
};

// Reads a study file (a path, extends: resolved). Throws ConfigError naming file:line:key for unknown keys, missing
// or empty fields, files that do not exist, bad overrides, empty or duplicate sweep values.
StudySpec load_study(const std::string& path, const StudyLoadOptions& options);
// Same for an already loaded tree (its root's loc names the file).
StudySpec parse_study(const ConfigNode& root, const StudyLoadOptions& options);

// One design point, fully resolved.
struct StudyPoint {
  int64_t index = 0;
  std::string label;  // "baseline", "ib_bandwidth=50GB/s"
  std::string group;  // "proposals" or the sweep's name
  Phase phase = Phase::Train;
  std::string value;                                            // the sweep value as written, "" for proposals
  double value_num = std::numeric_limits<double>::quiet_NaN();  // in SI base units, NaN when not a number
  SourceLoc loc;                                                // the proposal or sweep value in the study file
  std::vector<std::string> overrides;                           // every DOC.KEY=VALUE applied, in order
  std::string model_file, deploy_file, hw_file, cluster_file;
  ConfigNode model, deploy, hw, cluster;  // after every override
  std::string fingerprint;                // hex digest of the identity and the four documents

  // "fp32-accumulation (train)" for logs and errors.
  std::string describe() const;
};

// Resolves every point's documents (each file read once). Throws ConfigError when a file does not load, a deployment
// is for another phase, or an override runs through a non-map; the message names the study file and line.
std::vector<StudyPoint> enumerate_points(const StudySpec& spec);

// The result of one point: named metrics (those that apply to its phase) and "ok" or a one-line error.
struct PointResult {
  std::vector<std::pair<std::string, double>> metrics;
  std::string status = "ok";
};

// What turns points into metrics: injected, so the engine runs the whole-step simulator in v3sim and a fake in tests.
class PointEvaluator {
 public:
  virtual ~PointEvaluator() = default;
  // Names the evaluator in the study fingerprint (points of another evaluator are never resumed).
  virtual std::string name() const = 0;
  // Every metric evaluate() can return for a phase; an entry "prefix.*" stands for any name with that prefix.
  virtual std::vector<std::string> metric_names(Phase phase) const = 0;
  // A metric's entry in the registry (sim/exec/metrics.h), which results.h5 stores as its dataset's attributes;
  // nullopt for a name the registry does not know.
  virtual std::optional<exec::MetricInfo> metric_info(const std::string& name) const { return exec::metric_info(name); }
  // The extra tables table() can produce.
  virtual std::vector<std::string> table_names() const { return {}; }
  // Is the point well-formed (keys, types, units of the resolved documents)? Called for every point before any
  // runs; throws ConfigError. A point that is well-formed but infeasible fails in evaluate() instead.
  virtual void validate(const StudyPoint& point) const = 0;
  // Runs one point. Called concurrently from several threads. A ConfigError thrown here is recorded as the point's
  // status (the study goes on); any other exception stops the study.
  virtual PointResult evaluate(const StudyPoint& point) const = 0;
  // An extra table, from all the study's points (e.g. the hardware of each proposal). Called once, on one thread.
  virtual report::Table table(const std::string& name, const std::vector<StudyPoint>& points) const;
};

// Checks the study against the evaluator before anything runs: every `metrics:` name is computed for at least one
// of the study's phases, every `tables:` name is produced, and every point validates. Throws ConfigError naming
// the study file and line of the offending entry (the evaluator's message included).
void validate_study(const StudySpec& spec, const std::vector<StudyPoint>& points, const PointEvaluator& evaluator);

// Does `metric` match one of `names` (exactly, or a "prefix.*" entry)?
bool metric_matches(const std::string& metric, const std::vector<std::string>& names);

// A sweep value as a number in SI base units: plain numbers as they are, true/false as 1/0, bandwidths in B/s,
// times in s, sizes in B, frequencies in Hz (core/units.h); NaN for anything else.
double study_value_number(const std::string& text);

// A 64-bit FNV-1a digest as 16 hex digits (fingerprints of studies and points).
std::string fingerprint_hex(const std::vector<std::string>& parts);

}  // namespace v3sim::study
