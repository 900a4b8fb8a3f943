#include "models/graph_size.h"

#include <fmt/format.h>

#include <algorithm>

namespace v3sim {

std::string graph_counts_problem(const ModelConfig& m, const Deployment& d) {
  using LD = long double;
  // Tokens of one micro-batch on one GPU (attention sees the TP group's), and of a whole step on one GPU.
  LD tokens = 0;
  switch (d.phase) {
    case Phase::Train:
      tokens = static_cast<LD>(d.micro_batch_sequences) * static_cast<LD>(d.seq_len);
      break;
    case Phase::Prefill:
      tokens = static_cast<LD>(d.tokens_per_gpu) * static_cast<LD>(d.tp);
      break;
    case Phase::Decode:
      tokens = static_cast<LD>(d.requests_per_gpu) * static_cast<LD>(1 + d.speculative_tokens);
      break;
  }
  const LD step_tokens = tokens * static_cast<LD>(std::max<int64_t>(1, d.micro_batches()));
  const LD S = static_cast<LD>(d.seq_len), H = static_cast<LD>(m.n_heads), L = static_cast<LD>(m.n_layers);
  // Head dims of the MHA form (train, prefill) and of the absorbed form over the latent cache (decode).
  const LD head = std::max<LD>(static_cast<LD>(m.qk_head_dim() + m.v_head_dim),
                               static_cast<LD>(2 * m.kv_lora_rank + m.qk_rope_head_dim));
  const ParamCounts p = count_params(m);
  const LD params = static_cast<LD>(p.total()) + static_cast<LD>(p.mtp);
  struct Figure {
    const char* what;
    LD value;
  };
  // Forward and backward of one attention op (8 x heads x tokens x context x head dims, causal or not), every
  // weight applied to every token of a micro-batch (6 x tokens x parameters), the per-GPU KV cache of a decode
  // step (2 bytes x requests x context x layers x latent width) and the activations of a step (16 bytes x tokens x
  // layers x the widths of attention, the FFN and the routed experts).
  const LD kv =
      d.phase == Phase::Decode ? 2 * step_tokens * S * L * static_cast<LD>(m.kv_lora_rank + m.qk_rope_head_dim) : 0;
  const LD widths = H * head + static_cast<LD>(m.dim + m.inter_dim) +
                    static_cast<LD>(m.moe_inter_dim) * static_cast<LD>(m.n_activated_experts + m.n_shared_experts);
  const Figure figures[] = {
      {"FLOPs of one attention op", 8 * H * tokens * S * head},
      {"FLOPs of the weights applied to one micro-batch", 6 * tokens * params},
      {"bytes of the per-GPU KV cache", kv},
      {"bytes of the per-GPU activations of a step", 16 * step_tokens * L * widths},
  };
  for (const auto& f : figures) {
    if (!(f.value <= kMaxOpCount)) {
      return fmt::format(
          "about {:.2g} {} (seq_len {}, {:.0f} tokens per micro-batch per GPU; at most 2^62 fit the "
          "graph's 64-bit counts)",
          static_cast<double>(f.value), f.what, d.seq_len, static_cast<double>(tokens));
    }
  }
  return {};
}

WorkEstimate estimate_graph_work(const ModelConfig& m, const Deployment& d, int64_t max_micro_batches) {
  // Measured with `v3sim graph --deploy v3-train-2048`: 659,380 ops for 120 micro-batches of 64 pipeline slots
  // (86 per micro-batch and slot) in 0.17 s and about 60 bytes each; the step's executor is slower per op.
  int64_t mbs = std::max<int64_t>(1, d.micro_batches());
  if (max_micro_batches > 0) mbs = std::min(mbs, max_micro_batches);
  const double ops = 100.0 * static_cast<double>(mbs) * static_cast<double>(pipeline_slots(m, d.phase));
  WorkEstimate e;
  e.steps = ops;
  e.steps_per_second = 5e5;
  e.step_name = "ops";
  e.bytes = 200 * ops;
  return e;
}

void check_graph_size(const ModelConfig& m, const Deployment& d, int64_t max_micro_batches) {
  if (const std::string problem = graph_counts_problem(m, d); !problem.empty()) {
    throw ConfigError(SourceLoc{}, "deploy.batch.seq_len",
                      fmt::format("a batch of deployment '{}' whose per-op counts fit 64-bit integers", d.name),
                      problem);
  }
  check_work(SourceLoc{}, "deploy.batch",
             fmt::format("the graph of {} on deployment '{}' ({} micro-batches)", m.name, d.name, d.micro_batches()),
             estimate_graph_work(m, d, max_micro_batches));
}

}  // namespace v3sim
