// The study evaluator `v3sim study` runs by default: each point is one whole step on a simulated cluster
// (exec::simulate_step, sim/exec/step.h) and its metrics are the step's named scalars (StepResult::metrics()).
// validate() loads the four documents with the real loaders; evaluate() simulates the step (an infeasible point,
// e.g. a deployment larger than its cluster or one that does not fit GPU memory, is a ConfigError: the point's
// status). One kernel cache is shared by every point of the study (identical kernels are simulated once); it only
// stores deterministic kernel times, so a point's metrics do not depend on which points ran before it, on which
// thread or rank, or on a cache file written by an earlier run.
//
// Tables:
//   kernels              the distinct kernels of each phase's baseline step (the first proposal's point of the
//                        phase, else the phase's first point): phase, name, kind, model, bound, flops, bytes,
//                        time_s, calls, kernel (scripts/report.py section 6)
//   hardware             the distinct chips of the study's points: name, file, sms, peak_flops (FP8 dense),
//                        bf16_peak_flops, hbm_Bps, hbm_bytes (the roofs of the roofline)
//   numerics_error_vs_k  report/study_tables.h numerics_error_table on the default accumulators and Ks
//   validation           report/study_tables.h validation_table against DeepSeek's published H800 figures
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "study/spec.h"

namespace v3sim::study {

struct StepEvaluatorOptions {
  std::string configs_dir;     // the shipped configs/ (numerics_error_vs_k, validation)
  std::string reference_yaml;  // deepseek-v3.yaml (validation)
  std::string cache_path;      // a kernel-cache file shared with other runs (exec::KernelCache); "": in memory only
  uint64_t seed = 1;           // routing of the simulated all-to-all (StepOptions::seed)
};

// Throws ConfigError when the cache file cannot be read or created, or is not a v3sim kernel cache.
std::unique_ptr<PointEvaluator> make_step_evaluator(const StepEvaluatorOptions& options);

}  // namespace v3sim::study
