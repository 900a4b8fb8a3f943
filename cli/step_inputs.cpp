#include "cli/step_inputs.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli/common.h"
#include "core/parallel.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::cli {

StepSetup load_step_setup(const StepConfigArgs& a) {
  const auto overrides = parse_overrides(a.sets, {"model", "deploy", "hw", "cluster"});
  StepSetup l;
  l.deploy_path = resolve_config(a.deploy, "deployments", "--deploy");
  ConfigNode droot = load_document(l.deploy_path, "deploy", overrides);
  if (!a.model.empty()) {
    l.model_path = resolve_config(a.model, "models", "--model");
  } else if (!deployment_model_name(droot).empty()) {
    l.model_path = resolve_deployment_model(l.deploy_path, deployment_model_name(droot));
  } else {
    l.model_path = resolve_config("deepseek-v3-671b", "models", "--model");
  }
  ConfigNode mroot = load_document(l.model_path, "model", overrides);
  l.hw_path = resolve_config(a.hw, "hardware", "--hw");
  ConfigNode hroot = load_document(l.hw_path, "hw", overrides);
  // The cluster DeepSeek ran the phase on: the 2048-GPU training cluster, the 40-node decode deployment.
  std::string cluster = a.cluster;
  if (cluster.empty()) {
    cluster = load_deployment(droot, load_model_config(mroot)).phase == Phase::Decode ? "h800-decode-40node"
                                                                                      : "h800-2048-mpft";
  }
  l.cluster_path = resolve_config(cluster, "clusters", "--cluster");
  ConfigNode croot = load_document(l.cluster_path, "cluster", overrides);
  l.in = exec::load_step_inputs(mroot, droot, hroot, croot);
  l.model_yaml = mroot.to_yaml();
  l.deploy_yaml = droot.to_yaml();
  return l;
}

void add_step_config_options(CLI::App& cmd, StepConfigArgs& a) {
  cmd.add_option("--deploy", a.deploy, "deployment YAML or name in configs/deployments (its phase decides the step)")
      ->capture_default_str();
  cmd.add_option("--model", a.model, "model YAML or name (default: the one the deployment names)");
  cmd.add_option("--cluster", a.cluster,
                 "cluster YAML or name in configs/clusters (default: h800-decode-40node for a decode deployment, "
                 "h800-2048-mpft otherwise)");
  cmd.add_option("--hw", a.hw, "GPU YAML or name in configs/hardware (proposals/NAME for a proposal)")
      ->capture_default_str();
  add_set_option(cmd, a.sets)
      ->description(
          "override one config value, DOC.KEY.PATH=VALUE with DOC one of model, deploy, hw, cluster "
          "(deploy.execution.comm_sms=0, cluster.nic.bandwidth=100GB/s); repeatable");
}

std::unique_ptr<exec::KernelCache> open_kernel_cache(const std::string& path, bool none) {
  const std::string p = none ? std::string() : (path.empty() ? exec::default_cache_path() : path);
  return p.empty() ? std::make_unique<exec::KernelCache>() : std::make_unique<exec::KernelCache>(p);
}

exec::StepResult simulate_step_with_progress(const StepSetup& s, exec::KernelCache& cache, uint64_t seed,
                                             bool keep_timeline, bool allow_over_capacity, int64_t threads) {
  exec::StepOptions o;
  o.threads = threads > 0 ? threads : static_cast<int64_t>(hardware_threads());
  o.allow_over_capacity = allow_over_capacity;
  o.cache = &cache;
  o.seed = seed;
  o.keep_timeline = keep_timeline;
  const bool tty = ::isatty(::fileno(stderr)) != 0;
  const auto begin = std::chrono::steady_clock::now();
  auto last = begin;
  o.progress = [&](size_t done, size_t total, const std::string& kernel) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last < std::chrono::milliseconds(tty ? 200 : 5000)) return;
    last = now;
    // Elapsed, and the time left if the kernels still to simulate take as long as those done (they vary).
    const double elapsed = std::chrono::duration<double>(now - begin).count();
    const double left = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : 0.0;
    if (tty) {
      std::fprintf(stderr, "\r\033[Ksimulating kernels %zu/%zu (%.0f s, about %.0f s left)  %.60s", done, total,
                   elapsed, left, kernel.c_str());
      if (done >= total) std::fprintf(stderr, "\r\033[K");
    } else {
      std::fprintf(stderr, "simulating kernels %zu/%zu (%.0f s, about %.0f s left): %s\n", done, total, elapsed, left,
                   kernel.c_str());
    }
    std::fflush(stderr);
  };
  exec::StepResult r = exec::simulate_step(s.in, o);
  if (tty) std::fprintf(stderr, "\r\033[K");
  return r;
}

}  // namespace v3sim::cli
