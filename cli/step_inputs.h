// What `v3sim step` and the commands that project a step the same way (`compare --deploy`, the study's comparisons
// against measured traces) share: the four documents of a step from config names or paths with --set overrides,
// the kernel cache, and the step run with its progress line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/exec/step.h"

namespace CLI {
class App;
}  // namespace CLI

namespace v3sim::cli {

// The config arguments of a step: names of shipped files or paths ("" for model: the deployment's; "" for cluster:
// by phase, h800-decode-40node for decode, h800-2048-mpft otherwise).
struct StepConfigArgs {
  std::string model;
  std::string deploy = "v3-train-2048";
  std::string cluster;
  std::string hw = "h800";
  std::vector<std::string> sets;  // DOC.KEY=VALUE, DOC one of model, deploy, hw, cluster
};

struct StepSetup {
  exec::StepInputs in;
  std::string model_path, deploy_path, hw_path, cluster_path;
  std::string model_yaml, deploy_yaml;  // resolved, overrides applied
};

// Throws ConfigError naming the option (--deploy, ...) or the config file and key.
StepSetup load_step_setup(const StepConfigArgs& a);

// The options that fill StepConfigArgs: --deploy, --model, --cluster, --hw and --set (`v3sim step`, `config`).
void add_step_config_options(CLI::App& cmd, StepConfigArgs& a);

// The kernel-result cache: `path`, else $V3SIM_CACHE or ~/.cache/v3sim/kernels.txt; in memory only when `none`.
std::unique_ptr<exec::KernelCache> open_kernel_cache(const std::string& path, bool none);

// exec::simulate_step with a progress line on stderr while kernels are simulated (redrawn on a terminal, a line
// every few seconds otherwise), the kernels on `threads` threads (0: every core).
exec::StepResult simulate_step_with_progress(const StepSetup& s, exec::KernelCache& cache, uint64_t seed,
                                             bool keep_timeline, bool allow_over_capacity = false, int64_t threads = 0);

}  // namespace v3sim::cli
