// Builds the operator graph of one step of a model on a deployment: every layer as DeepSeek-V3 computes it,
// the FP8 recipe made explicit (casts before FP8 GEMMs, the 1x128 -> 128x1 re-tiling of the backward pass),
// and the communication that the parallelism inserts.
//
// Train: per pipeline stage a template of one micro-batch (forward, then backward split into Dgrad and Wgrad)
// is built once and instantiated for every micro-batch, with the per-step ops around them (FP8 weight casts,
// DP gradient reduce-scatter, AdamW on the ZeRO shard, parameter all-gather). Prefill and decode: forward
// only, for each micro-batch. Ranks that do identical work are one op instance (OpDesc::gpus says how many).
#pragma once

#include <array>
#include <cstdint>

#include "models/deployment.h"
#include "models/model_config.h"
#include "models/op_graph.h"

namespace v3sim {

struct GraphOptions {
  bool include_mtp = true;        // training: build the MTP modules
  bool causal = true;             // attention masking in training and prefill
  int64_t max_micro_batches = 0;  // > 0: instantiate only the first N micro-batches (small DOT exports)
  // Training, > 0: only one DualPipe chunk pair of this many MoE layers (Deployment::profile_chunk_layers): a
  // one-stage graph of two micro-batches (0 and 1) through MoE layers 0..N-1, without embedding, head, MTP,
  // pipeline sends or per-step work, as a profiler trace of one chunk pair shows it.
  int64_t chunk_layers = 0;
};

// Throws ConfigError for an impossible combination the deployment loader could not see.
OpGraph build_graph(const ModelConfig& model, const Deployment& deploy, const GraphOptions& options = {});

// Sums over op instances, each instance weighted by the GPUs that run it.
struct GraphTotals {
  double flops = 0;                       // model FLOPs over all GPUs
  std::array<double, 4> flops_by_pass{};  // indexed by Pass
  double recompute_flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
  double comm_bytes = 0;
  int64_t ops = 0;  // op instances (not weighted)
  std::array<int64_t, static_cast<size_t>(OpKind::kCount)> ops_by_kind{};
};

// `skip_flags`: instances whose descriptor has any of these flags are left out (kFlagMtp for "MTP excluded").
GraphTotals sum_graph(const OpGraph& graph, uint32_t skip_flags = 0);

// Tokens one step processes over the whole deployment (train: global batch x seq; prefill: prompt tokens;
// decode: requests x tokens per request).
int64_t tokens_per_step(const Deployment& deploy);

// Headline figures of a model, from graphs of one sequence on one GPU (the sums of their ops).
struct ModelFigures {
  int64_t params_total = 0;
  int64_t params_activated = 0;
  int64_t params_mtp = 0;
  int64_t kv_cache_bytes_per_token = 0;
  double flops_per_token_forward = 0;          // forward, causal at seq_len, MTP excluded
  double flops_per_token_train = 0;            // forward + backward, causal, MTP excluded
  double flops_per_token_train_noncausal = 0;  // same without the causal mask
  double params_in_graph = 0;                  // weights read by the forward graph's ops (cross-check)
};
ModelFigures model_figures(const ModelConfig& model, int64_t seq_len);

}  // namespace v3sim
