// A measured profile against the projection of the same work: `v3sim step` on the deployment the trace was measured
// on (`--deploy`, else the deployment its /meta names), compared per category, kind and pass, layer, stream and op
// name (report/compare.h). Used by `v3sim compare` and by `v3sim study` (its section "Against measured traces").
#pragma once

#include <string>
#include <vector>

#include "cli/step_inputs.h"
#include "report/compare.h"
#include "report/h5_file.h"

namespace v3sim::cli {

// The /meta attribute `v3sim import --deploy` records: the deployment a trace was measured on.
inline constexpr const char* kMeasuredDeploymentKey = "deployment";

// The deployment a measured trace names in /meta ("" when none).
std::string measured_deployment(const report::ResultFile& measured);

struct StepComparison {
  StepSetup setup;
  Timeline projected;            // the projected timeline (the step's profile window for a chunk-pair deployment)
  std::set<int32_t> moe_layers;  // projected layers with MoE (an all-to-all or a grouped GEMM): those compared
  report::TimelineComparison comparison;
  std::vector<std::string> notes;  // what the reader should know (a deployment that is not a profiled chunk pair)
};

// Throws ConfigError for configs that do not load or a step that cannot run.
StepComparison compare_with_step(const report::ResultFile& measured, const StepConfigArgs& config,
                                 exec::KernelCache& cache, size_t top_names);

}  // namespace v3sim::cli
