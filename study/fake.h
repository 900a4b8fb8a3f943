// A deterministic stand-in for the whole-step simulator, for tests and for developing the report (test-only:
// `v3sim study --evaluator fake`). validate() runs the real config loaders (model, deployment, hardware, cluster),
// so bad keys and units are caught as they will be by the real evaluator; evaluate() checks that the deployment
// fits the cluster (GPUs per node equal, enough GPUs) and returns metrics named as the step simulator's
// (sim/exec/step.h), made up from a digest of the resolved documents and the NIC bandwidth.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "study/spec.h"

namespace v3sim::study {

struct FakeEvaluatorOptions {
  int64_t kill_after = -1;            // SIGKILL this process when evaluation number kill_after + 1 starts
  std::vector<int64_t> fail_indices;  // points whose evaluate() throws ConfigError
  int delay_ms = 0;                   // sleep per point
};

// From $V3SIM_FAKE_EVALUATOR, e.g. "kill_after=3,fail=2:5,delay_ms=10" (empty or unset: defaults). Throws
// ConfigError for text it does not understand.
FakeEvaluatorOptions fake_evaluator_options_from_env();

std::unique_ptr<PointEvaluator> make_fake_evaluator(const FakeEvaluatorOptions& options = {});

}  // namespace v3sim::study
