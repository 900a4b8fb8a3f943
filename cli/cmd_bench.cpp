// `v3sim bench`: the simulator's own speed and memory on a fixed set of workloads.
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "models/graph_builder.h"

namespace v3sim::cli {

namespace {

struct BenchArgs {
  int repeats = 3;
  std::string filter;
  bool json = false;
};

int64_t peak_rss() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

struct Workload {
  std::string name;
  std::string what;
  std::string deployment;  // graph builds of a shipped deployment (the model it names)
};

// The workloads, largest first, so the peak memory reported after the first is that workload's own.
const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w{
      {"graph/v3-train-2048", "full training-step graph of DeepSeek-V3 on 2048 GPUs (all 120 micro-batches)",
       "v3-train-2048"},
      {"graph/v3-prefill-32", "prefill-step graph on 32 GPUs", "v3-prefill-32"},
      {"graph/v3-decode-320", "decode-step graph on 320 GPUs", "v3-decode-320"},
  };
  return w;
}

int run_bench(const BenchArgs& a) {
  nlohmann::json results = nlohmann::json::array();
  if (!a.json)
    fmt::print("{:<24} {:>10} {:>10} {:>10} {:>12}  {}\n", "workload", "best ms", "median ms", "ops", "peak RSS",
               "what");
  for (const auto& w : workloads()) {
    if (!a.filter.empty() && w.name.find(a.filter) == std::string::npos) continue;
    std::string dpath = resolve_config(w.deployment, "deployments", "bench");
    ConfigNode droot = load_config_file(dpath);
    ModelConfig model =
        load_model_config(load_config_file(resolve_deployment_model(dpath, deployment_model_name(droot))));

    Deployment deploy = load_deployment(droot, model);
    std::vector<double> times;
    size_t ops = 0;
    for (int i = 0; i < a.repeats; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      OpGraph g = build_graph(model, deploy);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      ops = g.num_ops();
    }
    std::sort(times.begin(), times.end());
    const double best = times.front(), median = times[times.size() / 2];
    const int64_t rss = peak_rss();
    if (a.json) {
      results.push_back({{"workload", w.name},
                         {"what", w.what},
                         {"best_s", best},
                         {"median_s", median},
                         {"ops", ops},
                         {"peak_rss_bytes", rss},
                         {"repeats", a.repeats}});
    } else {
      fmt::print("{:<24} {:>10.2f} {:>10.2f} {:>10} {:>8.1f} MiB  {}\n", w.name, best * 1e3, median * 1e3, ops,
                 static_cast<double>(rss) / (1 << 20), w.what);
    }
  }
  if (a.json) std::puts(nlohmann::json{{"workloads", results}}.dump(2).c_str());
  return 0;
}

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure v3sim's own speed and memory on fixed workloads");
  cmd->add_option("--repeats", args->repeats, "runs of each workload (best and median reported)")
      ->check(positive_integer())
      ->capture_default_str();
  cmd->add_option("--filter", args->filter, "only workloads whose name contains this text");
  cmd->add_flag("--json", args->json, "print one JSON object on stdout");
  return [args] { return run_bench(*args); };
}

}  // namespace v3sim::cli
