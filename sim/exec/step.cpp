#include "sim/exec/step.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "models/graph_builder.h"
#include "sim/exec/executor.h"
#include "sim/exec/memory.h"
#include "sim/exec/pipeline.h"

namespace v3sim::exec {

StepInputs load_step_inputs(const ConfigNode& model, const ConfigNode& deploy, const ConfigNode& hw,
                            const ConfigNode& cluster) {
  StepInputs in;
  in.model = load_model_config(model);
  in.deploy = load_deployment(deploy, in.model);
  in.hw = load_hardware(hw);
  in.cluster = net::load_cluster(cluster);
  in.hw_yaml = hw.to_yaml();
  in.cluster_yaml = cluster.to_yaml();
  return in;
}

namespace {

// "L12.attn.wq_b" -> "L*.attn.wq_b": the op as every layer runs it.
std::string generic_name(const std::string& name) {
  if (name.size() > 1 && name[0] == 'L' && std::isdigit(static_cast<unsigned char>(name[1]))) {
    size_t dot = name.find('.');
    if (dot != std::string::npos) return "L*" + name.substr(dot);
  }
  return name;
}

int64_t comm_sms_of(const StepInputs& in) {
  if (in.deploy.phase == Phase::Decode) return 0;  // low-latency kernels: hook-based, no SMs held
  if (in.cluster.coprocessor) return 0;            // the co-processor moves the data
  return in.deploy.comm_sms > 0 ? in.deploy.comm_sms : in.cluster.comm_sms;
}

double gib(double bytes) {
  return bytes / (1024.0 * 1024.0 * 1024.0);
}

std::string bytes_text(double b) {
  return fmt::format("{:.1f} GiB", gib(b));
}

}  // namespace

void validate_step(const StepInputs& in) {
  const Deployment& d = in.deploy;
  const net::ClusterConfig& c = in.cluster;
  if (d.gpus > c.gpus()) {
    throw ConfigError(fmt::format("deployment '{}' needs {} GPUs but cluster '{}' ({}) has {} ({} nodes x {})", d.name,
                                  d.gpus, c.name, c.file, c.gpus(), c.nodes, c.gpus_per_node));
  }
  if (d.ep > c.gpus()) {
    throw ConfigError(
        fmt::format("deployment '{}': EP {} is larger than cluster '{}' ({} GPUs)", d.name, d.ep, c.name, c.gpus()));
  }
  if (d.phase == Phase::Train) {
    validate_schedule(d.schedule, d.pp, d.micro_batches(), fmt::format("deployment '{}'", d.name));
  }
  const int64_t comm = comm_sms_of(in);
  if (comm >= in.hw.sms) {
    throw ConfigError(fmt::format("deployment '{}': execution.comm_sms {} leaves no SMs of the {} of '{}' to compute",
                                  d.name, comm, in.hw.sms, in.hw.name));
  }
}

std::vector<std::pair<std::string, double>> StepResult::metrics() const {
  // The registry (metrics.h) lists them; those of other phases are absent.
  const std::vector<std::string> names = metric_names(phase);
  std::vector<std::pair<std::string, double>> m;
  for (const MetricSpec& spec : metric_registry()) {
    if (spec.get) {
      if (std::binary_search(names.begin(), names.end(), spec.name)) m.emplace_back(spec.name, spec.get(*this));
      continue;
    }
    if (!spec.members) continue;
    for (auto& [k, v] : spec.members(*this)) m.emplace_back(spec.name + k, v);
  }
  std::sort(m.begin(), m.end());
  return m;
}

namespace {

// The step's op graph, and which of its ops the figures report.
struct StepGraph {
  OpGraph graph;
  // A profiled chunk pair (deploy.profile.chunk_pair_layers): one stage, two micro-batches; what the trace shows is
  // micro-batch 0's forward with micro-batch 1's backward (kChunkPairStep), micro-batch 1's forward only prepares it.
  bool chunk_pair = false;
  // A chunk pair with MoE load imbalance runs on several GPUs of the EP group (pipeline rank index = GPU); GPU 0
  // is the one reported.
  int64_t chunk_gpus = 1;
  int64_t pp = 1;

  // What the figures report: the balanced GPUs (a slow copy of the pipeline stands for the EP group's slowest GPUs
  // when experts.load_cv > 0; the step still ends when they do).
  bool in_window(OpId id) const {
    if (!chunk_pair) return graph.node(id).pp_rank < pp;
    const OpNode& n = graph.node(id);
    return n.pp_rank == 0 && (n.micro_batch == 0) == (graph.descriptor(n.desc).pass == Pass::Forward);
  }
};

// Phase 1: build the op graph (a chunk pair's when deploy.profile.chunk_pair_layers is set).
StepGraph build_step_graph(const StepInputs& in) {
  const Deployment& d = in.deploy;
  StepGraph sg;
  sg.chunk_pair = d.phase == Phase::Train && d.profile_chunk_layers > 0;
  sg.pp = d.pp;
  GraphOptions graph_options;
  graph_options.chunk_layers = sg.chunk_pair ? d.profile_chunk_layers : 0;
  sg.graph = build_graph(in.model, d, graph_options);
  if (sg.chunk_pair) {
    for (OpId id = 0; id < sg.graph.num_ops(); ++id)
      sg.chunk_gpus = std::max<int64_t>(sg.chunk_gpus, sg.graph.node(id).pp_rank + 1);
  }
  return sg;
}

// Phase 2: memory that must fit before anything runs (weights, gradients, optimizer state, KV cache, workspace);
// throws MemoryCapacityError when it does not.
void check_persistent_memory(const StepInputs& in, const OpGraph& graph, int64_t mem_ranks, double cap) {
  const Deployment& d = in.deploy;
  const std::vector<MemBytes> fixed = persistent_memory(in.model, d, graph, mem_ranks);
  for (const MemBytes& m : fixed) {
    if (total(m) <= cap) continue;
    auto part = [&](MemCategory c) { return bytes_text(m[static_cast<size_t>(c)]); };
    std::string kv;
    if (d.phase != Phase::Train) {
      const double per = kv_bytes_per_request(in.model, d);
      const double room = cap - (total(m) - m[static_cast<size_t>(MemCategory::KvCache)]);
      const int64_t fit = room <= 0 ? 0 : static_cast<int64_t>(room / per);
      kv = d.phase == Phase::Decode
               ? fmt::format(
                     "; the KV cache of {} tokens of context per request fits {} requests per GPU, not "
                     "batch.requests_per_gpu {}",
                     d.seq_len, fit, d.requests_per_gpu)
               : fmt::format("; the KV cache fits {} prompts of {} tokens per GPU, not batch.tokens_per_gpu {} / {}",
                             fit, d.seq_len, d.tokens_per_gpu, d.seq_len);
    }
    throw MemoryCapacityError(fmt::format(
        "deployment '{}' of model '{}' does not fit GPU memory: weights {} + gradients {} + optimizer {} + KV cache "
        "{} + workspace {} + communication buffers {} = {} per GPU before any activation, more than the {} of '{}' "
        "(hbm.capacity){}; spread the experts over more GPUs (parallelism.ep) or stages (parallelism.pp)",
        d.name, in.model.name, part(MemCategory::Weights), part(MemCategory::Gradients), part(MemCategory::Optimizer),
        part(MemCategory::KvCache), part(MemCategory::Workspace), part(MemCategory::CommBuffers), bytes_text(total(m)),
        bytes_text(cap), in.hw.name, kv));
  }
}

// Phase 3: what the cost models see (hardware, cluster, SMs left to compute, seed, kernel-cache fingerprint).
CostContext make_cost_context(const StepInputs& in, const StepOptions& options) {
  const Deployment& d = in.deploy;
  CostContext ctx;
  ctx.model = &in.model;
  ctx.deploy = &d;
  ctx.hw = &in.hw;
  ctx.cluster = &in.cluster;
  ctx.comm_sms = comm_sms_of(in);
  ctx.compute_sms = in.hw.sms - ctx.comm_sms;
  ctx.low_latency_alltoall = d.phase == Phase::Decode;
  ctx.seed = options.seed;
  ctx.threads = options.threads;
  ctx.fingerprint = cost_fingerprint(in.hw_yaml, in.cluster_yaml);
  return ctx;
}

// Phase 4: how the executor runs the graph (schedule, ranks, replicas, micro-batches, launch gap).
ExecOptions make_exec_options(const StepInputs& in, const StepGraph& sg) {
  const Deployment& d = in.deploy;
  const bool chunk_pair = sg.chunk_pair;
  ExecOptions eo;
  eo.schedule = d.phase == Phase::Train && !chunk_pair ? d.schedule : PipelineSchedule::None;
  eo.pp = chunk_pair ? sg.chunk_gpus : d.pp;
  if (!chunk_pair) {
    int64_t graph_ranks = d.pp;
    for (OpId id = 0; id < sg.graph.num_ops(); ++id)
      graph_ranks = std::max<int64_t>(graph_ranks, sg.graph.node(id).pp_rank + 1);
    eo.replicas = graph_ranks / d.pp;  // a slow copy of the pipeline with MoE load imbalance
  }
  eo.micro_batches = chunk_pair ? 2 : d.micro_batches();
  eo.forward_only = d.phase != Phase::Train;
  eo.chunk_pair = chunk_pair;
  eo.launch_gap = in.hw.kernel.launch_gap;
  return eo;
}

// The reported ops' span and the first kernel's start.
struct StepWindow {
  Time window_start, window_end, first_start;
};

// Phase 5: the span of the reported ops, and the step's first kernel start (a launch gap after time 0).
StepWindow find_step_window(const StepGraph& sg, const ExecResult& ex) {
  StepWindow w;
  w.window_start = ex.makespan;
  for (OpId id = 0; id < sg.graph.num_ops(); ++id) {
    if (!sg.in_window(id)) continue;
    w.window_start = std::min(w.window_start, ex.start[id]);
    w.window_end = std::max(w.window_end, ex.end[id]);
  }
  // The step spans its first kernel's start (a launch gap after time 0) to its last kernel's end.
  w.first_start = ex.makespan;
  for (const Time& t : ex.start) w.first_start = std::min(w.first_start, t);
  return w;
}

// Phase 6: throughput (tokens per step, MFU, TTFT, TPOT) from the step time.
void fill_throughput(const StepInputs& in, const StepGraph& sg, double step, StepResult& res) {
  const Deployment& d = in.deploy;
  const OpGraph& graph = sg.graph;
  const bool chunk_pair = sg.chunk_pair;
  const auto gpus = static_cast<double>(d.gpus);
  switch (d.phase) {
    case Phase::Train: {
      // A chunk pair processes one micro-batch's forward and backward (through its layers) on every GPU.
      res.tokens_per_step =
          chunk_pair ? static_cast<double>(d.tokens_per_micro_batch()) * gpus : static_cast<double>(tokens_per_step(d));
      double flops = 0;
      if (chunk_pair) {
        for (OpId id = 0; id < graph.num_ops(); ++id)
          if (sg.in_window(id)) flops += static_cast<double>(graph.desc(id).flops) * graph.desc(id).gpus;
      } else {
        const GraphTotals t = sum_graph(graph, kFlagMtp);
        flops = t.flops_by_pass[static_cast<size_t>(Pass::Forward)] +
                t.flops_by_pass[static_cast<size_t>(Pass::Dgrad)] + t.flops_by_pass[static_cast<size_t>(Pass::Wgrad)];
      }
      res.mfu = flops / (step * gpus * in.hw.bf16_peak_flops());
      res.gpu_hours_per_trillion_tokens = gpus * step / 3600.0 * 1e12 / res.tokens_per_step;
      break;
    }
    case Phase::Prefill:
      res.tokens_per_step = static_cast<double>(tokens_per_step(d));
      res.ttft_ms = step * 1e3;
      break;
    case Phase::Decode: {
      res.accepted_tokens_per_step = 1.0 + static_cast<double>(d.speculative_tokens) * d.mtp_acceptance;
      res.tokens_per_step = static_cast<double>(d.requests_per_gpu) * gpus * res.accepted_tokens_per_step;
      res.tpot_ms = step * 1e3 / res.accepted_tokens_per_step;
      res.tokens_per_s_per_request = 1e3 / res.tpot_ms;
      break;
    }
  }
  res.tokens_per_s_per_gpu = res.tokens_per_step / (step * gpus);
  res.tokens_per_s_per_node = res.tokens_per_s_per_gpu * static_cast<double>(in.cluster.gpus_per_node);
}

// Phase 7: idle (bubble, exposed communication) and busy time per rank and per stream.
void fill_busy(const Deployment& d, const StepGraph& sg, const ExecResult& ex, const std::vector<Stream>& streams,
               double ranks, StepResult& res) {
  const bool chunk_pair = sg.chunk_pair;
  for (size_t r = 0; r < ex.ranks.size(); ++r) {
    if (!chunk_pair && static_cast<int64_t>(r) >= d.pp) break;
    const RankStats& rs = ex.ranks[r];
    res.bubble_s = std::max(res.bubble_s, rs.bubble.seconds());
    res.exposed_comm_s = std::max(res.exposed_comm_s, rs.exposed_comm.seconds());
    res.rank_busy_s.push_back(rs.busy[0].seconds());
    if (chunk_pair) continue;
    for (int s = 0; s < kStreams; ++s) {
      res.stream_busy_s[to_string(static_cast<Stream>(s))] += rs.busy[static_cast<size_t>(s)].seconds() / ranks;
    }
  }
  if (chunk_pair) {
    for (int s = 0; s < kStreams; ++s) res.stream_busy_s[to_string(static_cast<Stream>(s))] = 0;
    for (OpId id = 0; id < sg.graph.num_ops(); ++id) {
      if (!sg.in_window(id)) continue;
      const uint32_t desc = sg.graph.node(id).desc;
      res.stream_busy_s[to_string(streams[desc])] += (ex.end[id] - ex.start[id]).seconds();
    }
  }
}

// Phase 8: per descriptor, calls and time, then the breakdown by kind and the kernels table.
void fill_kernels(const StepGraph& sg, const std::vector<OpCost>& costs, double ranks, StepResult& res) {
  const OpGraph& graph = sg.graph;
  std::vector<int64_t> calls(graph.num_descs(), 0);
  for (OpId id = 0; id < graph.num_ops(); ++id)
    if (sg.in_window(id)) calls[graph.node(id).desc] += 1;
  std::set<std::string> roofline;
  std::map<std::string, size_t> kernel_row;
  for (const CostModel m : kCostModels) res.model_s[to_string(m)] = 0;  // a model that priced nothing: 0 s, not absent
  for (uint32_t i = 0; i < graph.num_descs(); ++i) {
    if (calls[i] == 0) continue;
    const OpDesc& od = graph.descriptor(i);
    const OpCost& c = costs[i];
    const double total = c.time.seconds() * static_cast<double>(calls[i]);
    res.breakdown_s[to_string(od.kind)] += total / ranks;
    res.model_s[to_string(c.model)] += total / ranks;
    if (!is_cycle_level(c.model)) roofline.insert(generic_name(od.name));
    auto [it, fresh] = kernel_row.emplace(c.kernel, res.kernels.size());
    if (fresh) {
      KernelRow row;
      row.name = generic_name(od.name);
      row.kind = to_string(od.kind);
      row.kernel = c.kernel;
      row.model = c.model;
      row.bound = c.bound;
      row.flops = static_cast<double>(od.flops);
      row.bytes = static_cast<double>(od.bytes_read + od.bytes_written);
      row.time_s = c.time.seconds();
      res.kernels.push_back(row);
    }
    res.kernels[it->second].calls += calls[i];
  }
  res.roofline_ops.assign(roofline.begin(), roofline.end());
}

// Phase 9b: the message of a step whose peak memory does not fit (res.memory_* and kv_requests_fit filled).
std::string capacity_problem_text(const StepInputs& in, const MemoryResult& mem, double cap, const StepResult& res) {
  const Deployment& d = in.deploy;
  const RankMemory& w = mem.ranks[mem.worst];
  std::string parts;
  for (size_t c = 0; c < kMemCategories; ++c) {
    if (w.at_peak[c] <= 0) continue;
    parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", to_string(static_cast<MemCategory>(c)),
                         bytes_text(w.at_peak[c]));
  }
  std::string kv;
  if (d.phase == Phase::Decode) {
    kv = fmt::format(
        "; the KV cache fits {} requests per GPU at a context of {} tokens, not batch.requests_per_gpu "
        "{}",
        res.kv_requests_fit, d.seq_len, d.requests_per_gpu);
  } else if (d.phase == Phase::Prefill) {
    kv = fmt::format("; the KV cache fits {} prompt{} of {} tokens per GPU, not batch.tokens_per_gpu {} / {}",
                     res.kv_requests_fit, res.kv_requests_fit == 1 ? "" : "s", d.seq_len, d.tokens_per_gpu, d.seq_len);
  }
  return fmt::format(
      "deployment '{}' of model '{}' needs {} per GPU at its peak (pipeline rank {}, {:.3f} s into the step: {}), "
      "more than the {} of '{}' (hbm.capacity){}",
      d.name, in.model.name, bytes_text(w.peak), mem.worst, res.memory_peak_time_s, parts, bytes_text(cap), in.hw.name,
      kv);
}

// Phase 9: memory over the step: the rank with the highest peak, its composition then, and whether it fits.
void fill_memory(const StepInputs& in, const StepOptions& options, const StepGraph& sg, const ExecResult& ex,
                 int64_t mem_ranks, double cap, Time origin, StepResult& res) {
  const Deployment& d = in.deploy;
  const MemoryResult mem = memory_over_time(in.model, d, sg.graph, ex, mem_ranks, options.keep_timeline);
  const RankMemory& w = mem.ranks[mem.worst];
  for (size_t c = 0; c < kMemCategories; ++c)
    res.memory_per_gpu_bytes[to_string(static_cast<MemCategory>(c))] = w.at_peak[c];
  res.memory_per_gpu_bytes["total"] = w.peak;
  res.memory_capacity_bytes = cap;
  res.memory_peak_time_s = w.peak_time > origin ? (w.peak_time - origin).seconds() : 0.0;
  res.memory_peak_rank = static_cast<int64_t>(mem.worst);
  for (const RankMemory& rm : mem.ranks) res.memory_rank_peak_bytes.push_back(rm.peak);
  for (const auto& [t, b] : w.track) res.memory_track.emplace_back(t > origin ? (t - origin).seconds() : 0.0, b);
  if (d.phase != Phase::Train) {
    // Requests whose KV cache fits beside everything else the GPU holds at its peak.
    const double per = kv_bytes_per_request(in.model, d);
    const double room = cap - (w.peak - w.at_peak[static_cast<size_t>(MemCategory::KvCache)]);
    res.kv_requests_fit = room <= 0 ? 0 : static_cast<int64_t>(room / per);
  }
  res.fits = w.peak <= cap;
  if (!res.fits) {
    res.capacity_problem = capacity_problem_text(in, mem, cap, res);
    if (!options.allow_over_capacity) throw MemoryCapacityError(res.capacity_problem);
  }
}

// Phase 10: the timeline of the reported ops (kept only when asked for).
void fill_timeline(const StepGraph& sg, const ExecResult& ex, const std::vector<Stream>& streams,
                   const std::vector<OpCost>& costs, int64_t micro_batches, Time window_start, StepResult& res) {
  const OpGraph& graph = sg.graph;
  const bool chunk_pair = sg.chunk_pair;
  res.timeline.source = res.fits ? "projected" : "projected (over capacity)";
  res.timeline.events.reserve(graph.num_ops());
  for (OpId id = 0; id < graph.num_ops(); ++id) {
    if (!sg.in_window(id)) continue;
    const OpNode& n = graph.node(id);
    const OpDesc& od = graph.descriptor(n.desc);
    TimelineEvent e;
    e.op = id;
    e.name = micro_batches > 1 ? fmt::format("{} mb{}", od.name, n.micro_batch) : od.name;
    e.kind = to_string(od.kind);
    e.device = n.pp_rank;
    e.stream = static_cast<int32_t>(streams[n.desc]);
    e.start = ex.start[id] - (chunk_pair ? window_start : Time());
    e.end = ex.end[id] - (chunk_pair ? window_start : Time());
    e.flops = static_cast<double>(od.flops);
    e.bytes = static_cast<double>(od.bytes_read + od.bytes_written);
    e.kernel = costs[n.desc].kernel;
    e.layer = od.layer;
    e.pass = od.pass == Pass::Optimizer ? "" : to_string(od.pass);
    e.micro_batch = static_cast<int32_t>(n.micro_batch);
    res.timeline.events.push_back(std::move(e));
  }
}

}  // namespace

StepResult simulate_step(const StepInputs& in, const StepOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  validate_step(in);
  const Deployment& d = in.deploy;
  StepResult res;
  res.phase = d.phase;

  const StepGraph sg = build_step_graph(in);
  const OpGraph& graph = sg.graph;
  const bool chunk_pair = sg.chunk_pair;

  const int64_t mem_ranks = chunk_pair ? 1 : d.pp;
  const double cap = static_cast<double>(in.hw.hbm.capacity.count());
  if (!options.allow_over_capacity) check_persistent_memory(in, graph, mem_ranks, cap);

  const CostContext ctx = make_cost_context(in, options);
  res.compute_sms = ctx.compute_sms;
  res.comm_sms = ctx.comm_sms;

  KernelCache private_cache;
  KernelCache& cache = options.cache ? *options.cache : private_cache;
  const uint64_t misses0 = cache.misses();
  std::vector<OpCost> costs = cost_graph(graph, ctx, cache, options.progress);
  res.kernels_simulated = cache.misses() - misses0;

  std::vector<Time> times(costs.size());
  std::vector<Stream> streams(costs.size());
  for (size_t i = 0; i < costs.size(); ++i) {
    times[i] = costs[i].time;
    streams[i] = stream_of(graph.descriptor(static_cast<uint32_t>(i)));
  }

  const ExecOptions eo = make_exec_options(in, sg);
  ExecResult ex = execute(graph, times, streams, eo);

  const StepWindow win = find_step_window(sg, ex);
  const double step =
      chunk_pair ? (win.window_end - win.window_start).seconds() : (ex.makespan - win.first_start).seconds();
  const auto ranks = static_cast<double>(chunk_pair ? 1 : eo.pp);
  res.step_time_s = step;
  res.ops = graph.num_ops();

  fill_throughput(in, sg, step, res);
  fill_busy(d, sg, ex, streams, ranks, res);
  fill_kernels(sg, costs, ranks, res);
  fill_memory(in, options, sg, ex, mem_ranks, cap, chunk_pair ? win.window_start : win.first_start, res);
  if (options.keep_timeline) fill_timeline(sg, ex, streams, costs, eo.micro_batches, win.window_start, res);
  res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return res;
}

DecodeBound decode_bound(const StepInputs& in, Bandwidth bandwidth, bool paper_rounding) {
  const Deployment& d = in.deploy;
  DecodeBound b;
  b.bandwidth_Bps = static_cast<double>(bandwidth.bytes_per_second());
  // ISCA'25 §2.3.2 (deepseek-v3.yaml isca2025.decode_speed_limit): hidden "7K" = 7000, dispatch 1 B and combine
  // 2 B per value. Exact: the model's hidden size and the FP8 payload with one FP32 scale per 128 values.
  b.hidden = paper_rounding ? 7000.0 : static_cast<double>(in.model.dim);
  b.bytes_per_value = paper_rounding ? 3.0 : (1.0 + 4.0 / 128.0) + 2.0;
  b.tokens_per_gpu = static_cast<double>(d.requests_per_gpu * (1 + d.speculative_tokens));
  b.experts_per_token = static_cast<double>(d.fanout(in.model));
  b.layers = in.model.n_layers;
  b.micro_batches = d.inference_micro_batches;
  const double layer_s = b.bytes_per_value * b.tokens_per_gpu * b.experts_per_token * b.hidden / b.bandwidth_Bps;
  b.layer_us = layer_s * 1e6;
  const double step_s = layer_s * static_cast<double>(b.layers * b.micro_batches);
  const double accepted = 1.0 + static_cast<double>(d.speculative_tokens) * d.mtp_acceptance;
  b.tpot_ms = step_s * 1e3 / accepted;
  b.tokens_per_s_per_request = 1e3 / b.tpot_ms;
  b.assumptions = fmt::format(
      "{} B per value x {} tokens per GPU x {} experts per token x hidden {} / {:.0f} GB/s per layer and micro-batch, "
      "{} layers x {} micro-batches; compute and latency fully hidden",
      b.bytes_per_value, b.tokens_per_gpu, b.experts_per_token, b.hidden, b.bandwidth_Bps / 1e9, b.layers,
      b.micro_batches);
  return b;
}

}  // namespace v3sim::exec
