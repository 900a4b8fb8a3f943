#include "cli/compare_step.h"

#include <fmt/format.h>

#include "models/deployment.h"

namespace v3sim::cli {

std::string measured_deployment(const report::ResultFile& measured) {
  auto it = measured.meta.find(kMeasuredDeploymentKey);
  return it == measured.meta.end() ? std::string() : it->second;
}

StepComparison compare_with_step(const report::ResultFile& measured, const StepConfigArgs& config,
                                 exec::KernelCache& cache, size_t top_names) {
  StepComparison s;
  s.setup = load_step_setup(config);
  const Deployment& d = s.setup.in.deploy;
  if (d.phase != Phase::Train || d.profile_chunk_layers == 0) {
    s.notes.push_back(fmt::format(
        "deployment '{}' is not a profiled chunk pair (deploy.profile.chunk_pair_layers is 0): the projection is a "
        "whole {} step, and its per-layer figures sum every micro-batch and pipeline rank of a layer",
        d.name, to_string(d.phase)));
  }
  exec::StepResult r = simulate_step_with_progress(s.setup, cache, 1, true, /*allow_over_capacity=*/true);
  s.projected = std::move(r.timeline);
  for (const TimelineEvent& e : s.projected.events) {
    if (e.layer >= 0 && (e.kind == "all_to_all_dispatch" || e.kind == "grouped_gemm")) s.moe_layers.insert(e.layer);
  }
  if (s.moe_layers.empty()) {
    s.notes.push_back(
        fmt::format("the projection of '{}' has no MoE layer: every projected event is compared", d.name));
  }
  report::StepCompareOptions o;
  o.projected_layers = s.moe_layers;
  o.top_names = top_names;
  s.comparison = report::compare_step_timelines(measured.timeline, s.projected, o);
  return s;
}

}  // namespace v3sim::cli
