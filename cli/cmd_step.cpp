// `v3sim step`: one whole training, prefill or decode step of a deployment on a simulated cluster (sim/exec/step.h),
// and DeepSeek's closed-form decode bound next to it (--analytical).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/step_inputs.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"
#include "core/units.h"
#include "models/deployment.h"
#include "models/graph_size.h"
#include "models/model_config.h"
#include "report/h5_file.h"
#include "report/trace.h"
#include "sim/exec/memory.h"
#include "sim/exec/step.h"
#include "sim/hardware.h"
#include "sim/net/alltoall.h"
#include "sim/net/cluster.h"

namespace v3sim::cli {

namespace {

struct StepArgs {
  StepConfigArgs config;
  bool json = false;
  std::string output;
  bool analytical = false;
  std::vector<std::string> bandwidths;
  std::string cache;
  bool no_cache = false;
  bool allow_over_capacity = false;
  std::string seed = "1";
  int64_t threads = 0;  // 0: every core
  std::vector<std::string> argv;
};

using Loaded = StepSetup;

// --seed, in the range of the all-to-all's routing seed.
uint64_t seed_of(const StepArgs& a) {
  int64_t seed = 0;
  const auto [end, ec] = std::from_chars(a.seed.data(), a.seed.data() + a.seed.size(), seed);
  const ParamSpec& range = *net::alltoall_spec().find("seed");
  if (ec != std::errc() || end != a.seed.data() + a.seed.size()) {
    check_range(range, std::nan(""), SourceLoc{"--seed", 0}, "alltoall.seed", quote(a.seed));
  }
  check_range(range, static_cast<double>(seed), SourceLoc{"--seed", 0}, "alltoall.seed", quote(a.seed));
  return static_cast<uint64_t>(seed);
}

// The bandwidths of --analytical: --bandwidth, else the ISCA'25 pair (50 GB/s InfiniBand, 900 GB/s NVLink) and the
// cluster's own scale-out rate per GPU.
std::vector<Bandwidth> bound_bandwidths(const StepArgs& a, const net::ClusterConfig& c) {
  std::vector<Bandwidth> out;
  const ParamSpec& range = *net::cluster_spec().find("nic")->section->find("bandwidth");
  for (const auto& s : a.bandwidths) {
    try {
      out.push_back(parse_bandwidth(s));
    } catch (const UnitError& e) {
      throw ConfigError(SourceLoc{"--bandwidth", 0}, "", e.expected(), e.found());
    }
    check_range(range, static_cast<double>(out.back().bytes_per_second()), SourceLoc{"--bandwidth", 0},
                "cluster.nic.bandwidth", quote(s));
  }
  if (out.empty()) {
    out = {parse_bandwidth("50GB/s"), parse_bandwidth("900GB/s"),
           Bandwidth::bytes_per_second(c.nic_bandwidth.bytes_per_second() * c.nics_per_gpu)};
  }
  return out;
}

nlohmann::json bound_json(const exec::DecodeBound& b) {
  return {{"bandwidth_gb_per_s", b.bandwidth_Bps / 1e9},
          {"hidden", b.hidden},
          {"bytes_per_value", b.bytes_per_value},
          {"tokens_per_gpu", b.tokens_per_gpu},
          {"experts_per_token", b.experts_per_token},
          {"layers", b.layers},
          {"micro_batches", b.micro_batches},
          {"layer_us", b.layer_us},
          {"tpot_ms", b.tpot_ms},
          {"tokens_per_s_per_request", b.tokens_per_s_per_request},
          {"assumptions", b.assumptions}};
}

nlohmann::json result_json(const Loaded& l, const exec::StepResult& r) {
  nlohmann::json j;
  j["model"] = l.in.model.name;
  j["deployment"] = l.in.deploy.name;
  j["phase"] = to_string(l.in.deploy.phase);
  j["hardware"] = l.in.hw.name;
  j["cluster"] = l.in.cluster.name;
  j["gpus"] = l.in.deploy.gpus;
  j["tokens_per_step"] = r.tokens_per_step;
  for (const auto& [k, v] : r.metrics()) {
    if (k.find('.') == std::string::npos) j[k] = v;
  }
  j["breakdown_s"] = r.breakdown_s;
  j["model_s"] = r.model_s;
  j["stream_busy_s"] = r.stream_busy_s;
  j["memory_per_gpu_bytes"] = r.memory_per_gpu_bytes;
  j["memory_peak_rank"] = r.memory_peak_rank;
  j["memory_rank_peak_bytes"] = r.memory_rank_peak_bytes;
  j["over_capacity"] = !r.fits;
  if (!r.fits) j["capacity_problem"] = r.capacity_problem;
  if (r.kv_requests_fit >= 0) j["kv_requests_fit"] = r.kv_requests_fit;
  j["rank_busy_s"] = r.rank_busy_s;
  j["roofline_ops"] = r.roofline_ops;
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& k : r.kernels) {
    kernels.push_back({{"name", k.name},
                       {"kind", k.kind},
                       {"kernel", k.kernel},
                       {"model", exec::to_string(k.model)},
                       {"bound", k.bound},
                       {"flops", k.flops},
                       {"bytes", k.bytes},
                       {"time_s", k.time_s},
                       {"calls", k.calls}});
  }
  j["kernels"] = kernels;
  j["ops"] = r.ops;
  j["kernels_simulated"] = r.kernels_simulated;
  j["wall_s"] = r.wall_s;
  return j;
}

std::string si_time(double s) {
  if (s >= 1) return fmt::format("{:.3f} s", s);
  if (s >= 1e-3) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.1f} us", s * 1e6);
}

void print_bound(const exec::DecodeBound& b, const char* label) {
  fmt::print("  {:>6.0f} GB/s  {:>8.2f} ms per token  {:>8.1f} us per layer  {:>7.1f} tokens/s per request  ({})\n",
             b.bandwidth_Bps / 1e9, b.tpot_ms, b.layer_us, b.tokens_per_s_per_request, label);
}

void print_human(const Loaded& l, const exec::StepResult& r) {
  const Deployment& d = l.in.deploy;
  if (!r.fits) fmt::print("OVER CAPACITY (--allow-over-capacity): this configuration does not fit GPU memory\n");
  fmt::print("{} {} step of {} on {} x {} ({}), {} GPUs\n", d.name, to_string(d.phase), l.in.model.name,
             l.in.cluster.name, l.in.hw.name, l.cluster_path, d.gpus);
  fmt::print("SMs: {} compute + {} communication\n", r.compute_sms, r.comm_sms);
  fmt::print("step time          {}\n", si_time(r.step_time_s));
  fmt::print("tokens/s per GPU   {:.1f}   per node {:.1f}\n", r.tokens_per_s_per_gpu, r.tokens_per_s_per_node);
  switch (d.phase) {
    case Phase::Train:
      fmt::print("MFU                {:.1f}% (BF16 dense peak, causal FLOPs, MTP excluded)\n", 100 * r.mfu);
      fmt::print("GPU-hours per 1T   {:.0f}K (DeepSeek-V3 report: 180K)\n", r.gpu_hours_per_trillion_tokens / 1e3);
      break;
    case Phase::Prefill:
      fmt::print("time per prompt    {:.1f} ms (TTFT)\n", r.ttft_ms);
      break;
    case Phase::Decode:
      fmt::print("time per token     {:.2f} ms (TPOT; {:.2f} tokens accepted per step)\n", r.tpot_ms,
                 r.accepted_tokens_per_step);
      fmt::print("tokens/s/request   {:.1f}\n", r.tokens_per_s_per_request);
      break;
  }
  fmt::print("pipeline bubble    {}\n", si_time(r.bubble_s));
  fmt::print("exposed comm       {}\n", si_time(r.exposed_comm_s));
  fmt::print("by op kind (seconds per GPU, summed over streams):\n");
  std::vector<std::pair<std::string, double>> kinds(r.breakdown_s.begin(), r.breakdown_s.end());
  std::sort(kinds.begin(), kinds.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  for (const auto& [k, v] : kinds) {
    if (v > 0) fmt::print("  {:<24} {:>12}  {:>5.1f}%\n", k, si_time(v), 100 * v / r.step_time_s);
  }
  fmt::print("by stream (busy per GPU):\n");
  for (const auto& [k, v] : r.stream_busy_s) fmt::print("  {:<24} {:>12}\n", k, si_time(v));
  const double total = r.memory_per_gpu_bytes.count("total") ? r.memory_per_gpu_bytes.at("total") : 0.0;
  fmt::print("memory per GPU: peak {:.1f} GiB of {:.1f} GiB on pipeline rank {}, {} into the step; at the peak:\n",
             total / (1 << 30), r.memory_capacity_bytes / (1 << 30), r.memory_peak_rank, si_time(r.memory_peak_time_s));
  for (size_t c = 0; c < exec::kMemCategories; ++c) {
    const char* k = exec::to_string(static_cast<exec::MemCategory>(c));
    const double v = r.memory_per_gpu_bytes.count(k) ? r.memory_per_gpu_bytes.at(k) : 0.0;
    if (v > 0) fmt::print("  {:<24} {:>9.2f} GiB\n", k, v / (1 << 30));
  }
  if (r.kv_requests_fit >= 0) {
    const bool prefill = l.in.deploy.phase == Phase::Prefill;
    fmt::print("  KV cache room            {} {} per GPU at {} tokens of context\n", r.kv_requests_fit,
               prefill ? "prompts" : "requests", l.in.deploy.seq_len);
  }
  if (!r.fits) fmt::print("OVER CAPACITY: {}\n", r.capacity_problem);
  fmt::print("not modeled at cycle level ({} ops, roofline or closed form):", r.roofline_ops.size());
  const size_t shown = std::min<size_t>(r.roofline_ops.size(), 8);
  for (size_t i = 0; i < shown; ++i) fmt::print(" {}", r.roofline_ops[i]);
  fmt::print("{}\n", r.roofline_ops.size() > shown ? " ... (--json lists all)" : "");
  fmt::print("simulated {} ops, {} kernels new to the cache, in {:.2f} s\n", r.ops, r.kernels_simulated, r.wall_s);
}

void write_h5(const std::string& path, const StepArgs& a, const Loaded& l, const exec::StepResult& r,
              uint64_t cache_hits, uint64_t cache_misses) {
  report::ResultFile f;
  f.meta = report::standard_meta();
  std::string cmd;
  for (const auto& s : a.argv) cmd += (cmd.empty() ? "" : " ") + s;
  f.meta["command_line"] = cmd;
  f.meta["source"] = "projected";
  f.meta["seed"] = std::to_string(seed_of(a));
  f.meta["model_config"] = l.model_yaml;
  f.meta["deployment_config"] = l.deploy_yaml;
  f.meta["hardware_config"] = l.in.hw_yaml;
  f.meta["cluster_config"] = l.in.cluster_yaml;
  f.meta["model_file"] = l.model_path;
  f.meta["deployment_file"] = l.deploy_path;
  f.meta["hardware_file"] = l.hw_path;
  f.meta["cluster_file"] = l.cluster_path;
  f.meta["phase"] = to_string(l.in.deploy.phase);
  f.meta["over_capacity"] = r.fits ? "false" : "true";
  if (!r.fits) f.meta["capacity_problem"] = r.capacity_problem;
  f.timeline = r.timeline;
  f.memory = r.memory_track;
  f.summary = r.metrics();
  f.stats = {{"ops", static_cast<double>(r.ops)},
             {"kernels", static_cast<double>(r.kernels.size())},
             {"kernels_simulated", static_cast<double>(r.kernels_simulated)},
             {"kernel_cache_hits", static_cast<double>(cache_hits)},
             {"kernel_cache_misses", static_cast<double>(cache_misses)},
             {"roofline_ops", static_cast<double>(r.roofline_ops.size())},
             {"wall_s", r.wall_s}};
  report::write_result_h5(path, f);
}

int run_step(const StepArgs& a, const RunOptions& opts) {
  if (!a.output.empty() && !a.output.ends_with(".h5") && !a.output.ends_with(".json") &&
      !a.output.ends_with(".json.gz")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "an HDF5 result (.h5) or a Perfetto trace (.json)",
                      fmt::format("'{}'", a.output));
  }
  if (!a.output.empty()) check_output_path(a.output, "-o");
  const Loaded l = load_step_setup(a.config);
  const bool decode = l.in.deploy.phase == Phase::Decode;
  if ((a.analytical || !a.bandwidths.empty()) && !decode) {
    throw ConfigError(SourceLoc{"--analytical", 0}, "",
                      "a decode deployment (the closed-form bound is DeepSeek's decode bound)",
                      fmt::format("deployment '{}' of phase {}", l.in.deploy.name, to_string(l.in.deploy.phase)));
  }
  std::vector<exec::DecodeBound> paper, exact;
  if (decode) {
    for (const Bandwidth& bw : bound_bandwidths(a, l.in.cluster)) {
      paper.push_back(exec::decode_bound(l.in, bw, true));
      exact.push_back(exec::decode_bound(l.in, bw, false));
    }
  }
  const uint64_t seed = seed_of(a);
  if (opts.validate_only) {
    // What simulate_step() checks before it starts: the deployment on the cluster and in GPU memory, the graph's size.
    exec::validate_step(l.in);
    check_graph_size(l.in.model, l.in.deploy);
    return 0;
  }

  const std::unique_ptr<exec::KernelCache> cache = open_kernel_cache(a.cache, a.no_cache);
  const exec::StepResult r =
      simulate_step_with_progress(l, *cache, seed, !a.output.empty(), a.allow_over_capacity, a.threads);

  if (!a.output.empty()) {
    if (a.output.ends_with(".h5")) {
      write_h5(a.output, a, l, r, cache->hits(), cache->misses());
    } else {
      std::vector<std::string> streams;
      for (int s = 0; s < exec::kStreams; ++s) streams.emplace_back(exec::to_string(static_cast<exec::Stream>(s)));
      // The memory track counts from the step's first kernel, the timeline from time 0.
      Time first = r.timeline.events.empty() ? Time() : r.timeline.events.front().start;
      for (const TimelineEvent& e : r.timeline.events) first = std::min(first, e.start);
      report::write_chrome_trace(a.output, {&r.timeline}, streams,
                                 {static_cast<int>(r.memory_peak_rank), &r.memory_track, first.seconds()});
    }
  }

  if (a.json) {
    nlohmann::json j = result_json(l, r);
    if (decode && a.analytical) {
      nlohmann::json p = nlohmann::json::array(), e = nlohmann::json::array();
      for (const auto& b : paper) p.push_back(bound_json(b));
      for (const auto& b : exact) e.push_back(bound_json(b));
      j["analytical"] = {{"paper", p}, {"exact", e}};
    }
    if (!a.output.empty()) j["output"] = a.output;
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  print_human(l, r);
  if (decode && a.analytical) {
    fmt::print(
        "DeepSeek's closed-form decode bound (ISCA'25 §2.3.2): all-to-all bytes over the scale-out bandwidth,\n"
        "compute and latency hidden, {} micro-batches x {} layers:\n",
        paper.front().micro_batches, paper.front().layers);
    for (size_t i = 0; i < paper.size(); ++i) {
      print_bound(paper[i], "paper: hidden 7000, 3 B per value");
      print_bound(exact[i], "exact: hidden 7168, FP8 + scales");
    }
    fmt::print(
        "simulated: {:.2f} ms per token; the difference is what the bound leaves out: {:.1f} ms of\n"
        "exposed communication, the attention and expert compute of both micro-batches, and latency.\n",
        r.tpot_ms, r.exposed_comm_s * 1e3 / std::max(1e-12, r.accepted_tokens_per_step));
  }
  if (!a.output.empty()) fmt::print("wrote {}\n", a.output);
  return 0;
}

}  // namespace

CommandRunner add_step_command(CLI::App& app, std::vector<std::string> argv) {
  auto a = std::make_shared<StepArgs>();
  a->argv = std::move(argv);
  CLI::App* cmd = app.add_subcommand(
      "step",
      "Simulate one whole step of a deployment on a cluster: training (pipeline schedule, optimizer, DP reduction),\n"
      "prefill or decode; every op timed by the cycle-level models or a labelled roofline fallback");
  add_step_config_options(*cmd, a->config);
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  cmd->add_option("-o,--output", a->output,
                  "write x.h5 (HDF5 result: timeline, summary, stats, resolved configs) or x.json (Perfetto trace: "
                  "one process per pipeline rank, one thread per stream)");
  cmd->add_flag("--analytical", a->analytical,
                "decode: also print DeepSeek's closed-form bound (ISCA'25 §2.3.2) beside the simulated step");
  cmd->add_option("--bandwidth", a->bandwidths,
                  "scale-out bandwidth per GPU for --analytical (repeatable; default 50GB/s, 900GB/s and the "
                  "cluster's)");
  cmd->add_option("-j,--threads", a->threads,
                  "threads simulating the step's kernels (default: every core; the result is the same for any "
                  "number)")
      ->check(positive_integer(1024));
  cmd->add_option("--cache", a->cache,
                  "kernel-result cache file (default $V3SIM_CACHE, else ~/.cache/v3sim/kernels.txt)");
  cmd->add_flag("--no-cache", a->no_cache, "simulate every kernel, keep nothing");
  cmd->add_flag("--allow-over-capacity", a->allow_over_capacity,
                "report a configuration whose peak memory per GPU exceeds the capacity instead of failing (every "
                "output is marked over capacity)");
  cmd->add_option("--seed", a->seed, "seed of the routing of the all-to-all")->capture_default_str();
  cmd->footer(
      "\nExamples:\n"
      "  v3sim step                                                # V3 training on 2048 H800 (DualPipe, EP64)\n"
      "  v3sim step --deploy v3-decode-320 --analytical            # decode, beside DeepSeek's bound\n"
      "  v3sim step --deploy v3-prefill-32 --hw proposals/tma-fp8-cast --json\n"
      "  v3sim step --cluster proposals/comm-coprocessor -o step.json   # Perfetto trace (ui.perfetto.dev)\n"
      "  v3sim step --set deploy.parallelism.pp_schedule=1f1b -o step.h5\n"
      "Kernel results are cached by descriptor and config fingerprint, so a second run takes seconds.\n"
      "Exit codes: 0 ok, 2 bad input (the message names the file and key), 3 internal error.");
  return [a](const RunOptions& opts) { return run_step(*a, opts); };
}

}  // namespace v3sim::cli
