// The metrics of a step, declared once: name, unit, how tables and plots name it, what it means, the phases that have
// it, whether a study's sensitivity curves draw it, and how it is read off a StepResult. StepResult::metrics() and
// metric_names() derive from this table, the study's evaluators return what it lists, results.h5 carries each
// metric's entry as attributes of its /metrics dataset, and scripts/report.py reads them from there. Adding a metric
// is one entry here (docs/extending.md).
//
// A family (name ending in '.') stands for one metric per member: breakdown_s.<op kind>, memory_per_gpu_bytes.<part>,
// stream_busy_s.<stream>. Its label is a pattern in which "{}" is the member.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/deployment.h"

namespace v3sim::exec {

struct StepResult;

// The phases that have a metric.
enum PhaseMask : uint8_t { kTrainOnly = 1, kPrefillOnly = 2, kDecodeOnly = 4, kInference = 6, kAllPhases = 7 };

struct MetricSpec {
  const char* name;         // "step_time_s", or a family's prefix "breakdown_s."
  const char* unit;         // "s", "ms", "bytes", "tokens/s", "GPU h", "1" (a count, ratio or flag)
  const char* label;        // "step time (s)"; a family's: "{} (s)"
  const char* description;  // one sentence
  uint8_t phases = kAllPhases;
  int sweep = 0;  // > 0: a study's sensitivity curves draw it, in this order among a phase's metrics
  uint8_t sweep_phases = kAllPhases;           // ... in these of its phases
  double (*get)(const StepResult&) = nullptr;  // a scalar's value
  // A family's members: every key it can have, and those of one result with their values.
  std::vector<std::string> (*keys)() = nullptr;
  std::vector<std::pair<std::string, double>> (*members)(const StepResult&) = nullptr;
  // Metrics the study's step evaluator adds beside the step's (numerics_rel_error): no getter here.
  bool evaluator_only = false;
};

// Every metric, in the order tables list them.
const std::vector<MetricSpec>& metric_registry();

// A metric's entry as results.h5 stores it: unit, label (a family's with its member), description, and for a
// family its prefix, plus traits of the member (breakdown_s.<kind>: "stream" compute or comm, by the op kind).
struct MetricInfo {
  std::string name, unit, label, description, family;
  int sweep = 0;             // as MetricSpec::sweep
  std::string sweep_phases;  // "train,prefill": the phases whose sensitivity curves draw it
  std::map<std::string, std::string> traits;

  // As results.h5 stores them on the metric's dataset (and `v3sim describe metrics --json` prints them): unit,
  // label, description, family, sweep and sweep_phases where set, and the traits.
  std::map<std::string, std::string> attributes() const;
};
// nullopt for a name the registry does not know.
std::optional<MetricInfo> metric_info(const std::string& name);

// The metric names a phase has (families expanded to every member), sorted; with_evaluator adds those only the
// study's step evaluator computes.
std::vector<std::string> metric_names(Phase phase, bool with_evaluator = false);

}  // namespace v3sim::exec
