#include "sim/exec/memory.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "core/error.h"

namespace v3sim::exec {

const char* to_string(MemCategory c) {
  switch (c) {
    case MemCategory::Weights:
      return "weights";
    case MemCategory::Gradients:
      return "gradients";
    case MemCategory::Optimizer:
      return "optimizer";
    case MemCategory::KvCache:
      return "kv_cache";
    case MemCategory::Workspace:
      return "workspace";
    case MemCategory::CommBuffers:
      return "comm_buffers";
    case MemCategory::Activations:
      return "activations";
    case MemCategory::Working:
      return "working";
    case MemCategory::Fragmentation:
      return "fragmentation";
    case MemCategory::kCount:
      break;
  }
  return "?";
}

double total(const MemBytes& m) {
  double t = 0;
  for (double v : m) t += v;
  return t;
}

namespace {

double& at(MemBytes& m, MemCategory c) {
  return m[static_cast<size_t>(c)];
}

// Whether an op's output is a buffer of the step's dynamic memory (see memory.h).
bool is_buffer(const OpDesc& od) {
  if (od.pass == Pass::Optimizer) return false;
  // Weight gradients accumulate into the persistent FP32 gradients; the transposed copies they read are buffers.
  if (od.pass == Pass::Wgrad && od.kind != OpKind::TransposeRequant) return false;
  return true;
}

}  // namespace

double kv_bytes_per_request(const ModelConfig& model, const Deployment& d) {
  // MLA caches one latent vector per token and layer; every TP rank of an attention group holds the cache of all the
  // group's requests (the latent is shared by the heads the ranks split).
  const int64_t group = d.sp ? d.tp : 1;
  return static_cast<double>(group * d.seq_len) * static_cast<double>(model.kv_cache_bytes_per_token());
}

std::vector<MemBytes> persistent_memory(const ModelConfig& model, const Deployment& d, const OpGraph& g,
                                        int64_t ranks) {
  const bool train = d.phase == Phase::Train;
  std::vector<MemBytes> out(static_cast<size_t>(ranks), MemBytes{});
  std::vector<std::set<uint32_t>> seen(static_cast<size_t>(ranks));
  // FP32 master weights + the two moments (DeepSeek-V3 §3.3.3: BF16) + the EMA when it is not in CPU memory (§3.2.3),
  // per parameter of the ZeRO shard.
  const double per_shard_param =
      4.0 + 2.0 * (d.memory.bf16_optimizer_moments ? 2.0 : 4.0) + (d.memory.ema_on_cpu ? 0.0 : 4.0);
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpNode& n = g.node(id);
    if (n.pp_rank >= ranks || !seen[n.pp_rank].insert(n.desc).second) continue;
    const OpDesc& od = g.descriptor(n.desc);
    MemBytes& m = out[n.pp_rank];
    const auto params = static_cast<double>(od.params);
    if (od.kind == OpKind::Optimizer) {
      at(m, MemCategory::Optimizer) += per_shard_param * params;
      continue;
    }
    if (od.kind == OpKind::WeightCast && od.pass == Pass::Optimizer) {
      at(m, MemCategory::Weights) += static_cast<double>(od.bytes_written);  // the step's FP8 copies of the weights
      continue;
    }
    if (od.pass != Pass::Forward || params == 0) continue;
    if (train) {
      at(m, MemCategory::Weights) += 2 * params;    // BF16 working copy
      at(m, MemCategory::Gradients) += 4 * params;  // FP32 gradient accumulation over the micro-batches
    } else {
      const bool fp8 = od.gemm.b_type == DType::E4M3 || od.gemm.b_type == DType::E5M2;
      at(m, MemCategory::Weights) += fp8 ? params + params / (128.0 * 128.0) * 4 : 2 * params;
    }
  }
  for (MemBytes& m : out) {
    at(m, MemCategory::Workspace) = static_cast<double>(d.memory.workspace_bytes);
    at(m, MemCategory::CommBuffers) = static_cast<double>(d.memory.comm_buffer_bytes);
  }
  if (!train && ranks > 0) {
    const double requests = d.phase == Phase::Decode
                                ? static_cast<double>(d.requests_per_gpu)
                                : static_cast<double>(d.tokens_per_gpu) / static_cast<double>(d.seq_len);
    for (MemBytes& m : out) at(m, MemCategory::KvCache) = requests * kv_bytes_per_request(model, d);
  }
  return out;
}

MemoryResult memory_over_time(const ModelConfig& model, const Deployment& d, const OpGraph& g, const ExecResult& ex,
                              int64_t ranks, bool keep_track) {
  const bool train = d.phase == Phase::Train;
  MemoryResult res;
  const std::vector<MemBytes> persistent = persistent_memory(model, d, g, ranks);
  res.ranks.resize(static_cast<size_t>(ranks));
  for (size_t r = 0; r < res.ranks.size(); ++r) res.ranks[r].persistent = persistent[r];

  // When each (rank, stage, micro-batch)'s backward ends: a received stage input is held until then.
  auto key = [](uint64_t rank, uint64_t stage, uint64_t mb) { return (rank << 48) | (stage << 32) | mb; };
  std::unordered_map<uint64_t, Time> bwd_end;
  if (train) {
    for (OpId id = 0; id < g.num_ops(); ++id) {
      const OpNode& n = g.node(id);
      if (n.pp_rank >= ranks || g.descriptor(n.desc).pass != Pass::Dgrad) continue;
      Time& t = bwd_end[key(n.pp_rank, n.stage, n.micro_batch)];
      t = std::max(t, ex.end[id]);
    }
  }

  // Allocation events per rank: (time, bytes, category); saved activations and working buffers.
  struct Event {
    Time t;
    double bytes;
    bool saved;
  };
  std::vector<std::vector<Event>> events(static_cast<size_t>(ranks));
  auto add = [&](size_t rank, Time from, Time to, double bytes, bool saved) {
    if (bytes <= 0) return;
    events[rank].push_back({from, bytes, saved});
    events[rank].push_back({std::max(from, to), -bytes, saved});
  };
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpNode& n = g.node(id);
    const OpDesc& od = g.descriptor(n.desc);
    if (!is_buffer(od)) continue;
    const auto written = static_cast<double>(od.bytes_written);
    if (od.kind == OpKind::SendRecv) {
      // The receiver's buffer: the next stage's input (forward), or the gradient of this stage's output (backward).
      for (OpId s : g.successors(id)) {
        const OpNode& sn = g.node(s);
        if (sn.pp_rank == n.pp_rank || sn.pp_rank >= ranks) continue;
        Time until = ex.end[s];
        if (train && od.pass == Pass::Forward) {
          auto it = bwd_end.find(key(sn.pp_rank, sn.stage, sn.micro_batch));
          if (it != bwd_end.end()) until = std::max(until, it->second);
        }
        add(sn.pp_rank, ex.start[id], until, written, train && od.pass == Pass::Forward);
      }
      continue;
    }
    if (n.pp_rank >= ranks) continue;
    Time working_end = ex.end[id], saved_end;
    bool saved = false;
    for (OpId s : g.successors(id)) {
      const Pass sp = g.descriptor(g.node(s).desc).pass;
      if (sp == Pass::Optimizer) continue;
      if (train && od.pass == Pass::Forward && sp != Pass::Forward) {
        saved = true;
        saved_end = std::max(saved_end, ex.end[s]);
      } else {
        working_end = std::max(working_end, ex.end[s]);
      }
    }
    add(n.pp_rank, ex.start[id], working_end, written, false);
    if (saved) {
      const double kept = od.bytes_saved >= 0 ? static_cast<double>(od.bytes_saved) : written;
      add(n.pp_rank, working_end, saved_end, kept, true);
    }
  }

  const double frag = d.memory.fragmentation;
  size_t worst = 0;
  for (size_t r = 0; r < res.ranks.size(); ++r) {
    std::vector<Event>& ev = events[r];
    // Frees before allocations at the same time: a buffer freed when another is allocated can be reused.
    std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
      if (a.t != b.t) return a.t < b.t;
      return a.bytes < b.bytes;
    });
    RankMemory& rm = res.ranks[r];
    const double base = total(rm.persistent);
    double act = 0, work = 0;
    auto snapshot = [&](Time t) {
      const double now = base + (act + work) * (1 + frag);
      if (now > rm.peak || (rm.peak == 0 && t == Time())) {
        rm.peak = now;
        rm.peak_time = t;
        rm.at_peak = rm.persistent;
        at(rm.at_peak, MemCategory::Activations) = act;
        at(rm.at_peak, MemCategory::Working) = work;
        at(rm.at_peak, MemCategory::Fragmentation) = (act + work) * frag;
      }
      return now;
    };
    snapshot(Time());
    for (size_t i = 0; i < ev.size(); ++i) {
      (ev[i].saved ? act : work) += ev[i].bytes;
      // Only between distinct times: the state after every change at one instant.
      if (i + 1 < ev.size() && ev[i + 1].t == ev[i].t) continue;
      snapshot(ev[i].t);
    }
    if (rm.peak > res.ranks[worst].peak) worst = r;
  }
  res.worst = worst;
  if (keep_track && !res.ranks.empty()) {
    RankMemory& rm = res.ranks[worst];
    const std::vector<Event>& ev = events[worst];
    const double base = total(rm.persistent);
    double live = 0;
    rm.track.emplace_back(Time(), base);
    for (size_t i = 0; i < ev.size(); ++i) {
      live += ev[i].bytes;
      if (i + 1 < ev.size() && ev[i + 1].t == ev[i].t) continue;
      rm.track.emplace_back(ev[i].t, base + live * (1 + frag));
    }
  }
  return res;
}

}  // namespace v3sim::exec
