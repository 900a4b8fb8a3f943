// `v3sim bench`: the simulator's own speed and memory on a fixed set of workloads.
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "models/graph_builder.h"
#include "sim/exec/step.h"
#include "sim/hardware.h"
#include "sim/net/alltoall.h"
#include "sim/numerics/error_study.h"
#include "sim/sm/gemm.h"

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

// One run of a workload: how much work it did, in the workload's unit.
using Run = std::function<double()>;

struct Workload {
  std::string name;
  std::string what;
  std::string unit;              // of the work count: "ops" (graph size) or "MAC" (multiply-accumulates)
  std::function<Run()> prepare;  // loads inputs once, outside the timing
};

Run graph_build(const std::string& deployment) {
  std::string dpath = resolve_config(deployment, "deployments", "bench");
  ConfigNode droot = load_config_file(dpath);
  auto model = std::make_shared<ModelConfig>(
      load_model_config(load_config_file(resolve_deployment_model(dpath, deployment_model_name(droot)))));
  auto deploy = std::make_shared<Deployment>(load_deployment(droot, *model));
  return [model, deploy] { return static_cast<double>(build_graph(*model, *deploy).num_ops()); };
}

// The bit-exact FP8 GEMM emulator on one thread: 128x128 outputs, K = 4096, Hopper FP8, promotion every 128.
Run fp8_emulator() {
  auto a = std::make_shared<numerics::QuantizedMatrix>();
  auto b = std::make_shared<numerics::QuantizedMatrix>();
  std::vector<float> x = numerics::random_matrix(128, 4096, numerics::Distribution::Normal, 1);
  std::vector<float> y = numerics::random_matrix(128, 4096, numerics::Distribution::Normal, 2);
  *a = numerics::quantize(x.data(), 128, 4096, numerics::Format::E4M3, numerics::Granularity::Tile1x128);
  *b = numerics::quantize(y.data(), 128, 4096, numerics::Format::E4M3, numerics::Granularity::Block128x128);
  return [a, b] {
    numerics::GemmEmulation e;
    e.threads = 1;
    numerics::emulate_gemm(*a, *b, e);
    return 128.0 * 128.0 * 4096.0;
  };
}

// The cycle-level GEMM on the H800: one shape, or all 18 shapes of DeepGEMM's published table.
Run gemm_shapes(std::vector<std::array<int64_t, 3>> shapes) {
  auto hw =
      std::make_shared<HardwareConfig>(load_hardware(load_config_file(resolve_config("h800", "hardware", "bench"))));
  return [hw, shapes] {
    double flops = 0;
    for (const auto& [m, n, k] : shapes) {
      sm::GemmDesc d;
      d.m = m;
      d.n = n;
      d.k = k;
      flops += sm::simulate_gemm(d, *hw).desc.flops();
    }
    return flops;
  };
}

const std::vector<std::array<int64_t, 3>>& deepgemm_table_shapes() {
  static const std::vector<std::array<int64_t, 3>> s = [] {
    std::vector<std::array<int64_t, 3>> out;
    const std::array<std::array<int64_t, 2>, 6> nk{
        {{2112, 7168}, {24576, 1536}, {32768, 512}, {7168, 16384}, {4096, 7168}, {7168, 2048}}};
    for (int64_t m : {64, 128, 4096})
      for (const auto& [n, k] : nk) out.push_back({m, n, k});
    return out;
  }();
  return s;
}

// One all-to-all phase on a shipped cluster; the work is the bytes handed to the network.
Run alltoall(const std::string& cluster, const net::AllToAllDesc& d) {
  auto c = std::make_shared<net::ClusterConfig>(
      net::load_cluster(load_config_file(resolve_config(cluster, "clusters", "bench"))));
  d.validate(*c);
  return [c, d] { return static_cast<double>(net::run_alltoall(*c, d).bytes_sent); };
}

net::AllToAllDesc decode_ep320() {
  net::AllToAllDesc d;
  d.mode = net::AllToAllMode::LowLatency;
  d.ep = d.experts = 320;
  d.topk = 9;
  d.tokens = 128;
  return d;
}

// One whole step (sim/exec/step.h) on its phase's H800 cluster; the work is the ops scheduled. `cached`: the kernel
// results come from an in-memory cache filled by a run outside the timing; otherwise every kernel is simulated, on
// `threads` threads.
Run whole_step(const std::string& deployment, const std::string& cluster, bool cached, int64_t threads = 1) {
  const std::string dpath = resolve_config(deployment, "deployments", "bench");
  const ConfigNode droot = load_config_file(dpath);
  const ConfigNode mroot = load_config_file(resolve_deployment_model(dpath, deployment_model_name(droot)));
  const ConfigNode hroot = load_config_file(resolve_config("h800", "hardware", "bench"));
  const ConfigNode croot = load_config_file(resolve_config(cluster, "clusters", "bench"));
  auto in = std::make_shared<exec::StepInputs>(exec::load_step_inputs(mroot, droot, hroot, croot));
  auto cache = std::make_shared<exec::KernelCache>();
  exec::StepOptions o;
  o.keep_timeline = false;
  o.threads = threads;
  if (cached) {
    o.cache = cache.get();
    exec::simulate_step(*in, o);
  }
  return [in, cache, o] { return static_cast<double>(exec::simulate_step(*in, o).ops); };
}

// Largest first, so the peak memory reported after the first is that workload's own.
const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w{
      {"graph/v3-train-2048", "full training-step graph of DeepSeek-V3 on 2048 GPUs (all 120 micro-batches)", "ops",
       [] { return graph_build("v3-train-2048"); }},
      {"step/v3-train-2048", "whole training step on 2048 H800 (DualPipe, EP64), every kernel simulated", "ops",
       [] { return whole_step("v3-train-2048", "h800-2048-mpft", false); }},
      {"step/v3-train-2048-2threads", "the same step, every kernel simulated, on 2 threads (step -j 2)", "ops",
       [] { return whole_step("v3-train-2048", "h800-2048-mpft", false, 2); }},
      {"step/v3-train-2048-cached", "the same step with the kernel results cached", "ops",
       [] { return whole_step("v3-train-2048", "h800-2048-mpft", true); }},
      {"step/v3-decode-320", "whole decode step on 320 H800 (EP320, low-latency all-to-all)", "ops",
       [] { return whole_step("v3-decode-320", "h800-decode-40node", false); }},
      {"graph/v3-prefill-32", "prefill-step graph on 32 GPUs", "ops", [] { return graph_build("v3-prefill-32"); }},
      {"graph/v3-decode-320", "decode-step graph on 320 GPUs", "ops", [] { return graph_build("v3-decode-320"); }},
      {"gemm/4096x7168x16384", "cycle-level FP8 GEMM on the H800 (the largest DeepGEMM shape)", "FLOP",
       [] {
         return gemm_shapes({{4096, 7168, 16384}});
       }},
      {"gemm/deepgemm-18-shapes", "cycle-level FP8 GEMM, all 18 shapes of DeepGEMM's H800 table", "FLOP",
       [] { return gemm_shapes(deepgemm_table_shapes()); }},
      {"numerics/fp8-gemm-emulator", "bit-exact Hopper FP8 GEMM 128x128x4096, promotion every 128, one thread", "MAC",
       fp8_emulator},
      {"alltoall/ep64-train-dispatch", "DeepEP normal dispatch, EP64, 4096 tokens/GPU, on the H800 MPFT cluster", "B",
       [] { return alltoall("h800-2048-mpft", net::AllToAllDesc{}); }},
      {"alltoall/ep320-decode", "DeepEP low-latency dispatch, EP320, 128 tokens/GPU, top-9, 40 H800 nodes", "B",
       [] { return alltoall("h800-decode-40node", decode_ep320()); }},
  };
  return w;
}

int run_bench(const BenchArgs& a) {
  nlohmann::json results = nlohmann::json::array();
  if (!a.json) {
    fmt::print("{:<28} {:>10} {:>10} {:>14} {:>14} {:>10}  {}\n", "workload", "best ms", "median ms", "work",
               "work/s (best)", "peak RSS", "what");
  }
  for (const auto& w : workloads()) {
    if (!a.filter.empty() && w.name.find(a.filter) == std::string::npos) continue;
    Run run = w.prepare();
    std::vector<double> times;
    double work = 0;
    for (int i = 0; i < a.repeats; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      work = run();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double best = times.front(), median = times[times.size() / 2];
    const int64_t rss = peak_rss();
    if (a.json) {
      results.push_back({{"workload", w.name},
                         {"what", w.what},
                         {"best_s", best},
                         {"median_s", median},
                         {"work", work},
                         {"unit", w.unit},
                         {"work_per_s", work / best},
                         {"peak_rss_bytes", rss},
                         {"repeats", a.repeats}});
    } else {
      fmt::print("{:<28} {:>10.2f} {:>10.2f} {:>10} {:<3} {:>10}/s {:>6.1f} MiB  {}\n", w.name, best * 1e3,
                 median * 1e3, human(work), w.unit, human(work / best), static_cast<double>(rss) / (1 << 20), w.what);
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
      ->check(positive_integer(1000))
      ->capture_default_str();
  cmd->add_option("--filter", args->filter, "only workloads whose name contains this text");
  cmd->add_flag("--json", args->json, "print one JSON object on stdout");
  return [args](const RunOptions& opts) { return opts.validate_only ? 0 : run_bench(*args); };
}

}  // namespace v3sim::cli
