// A DeepSeek-V3-family transformer: MLA attention, dense FFN layers, then MoE layers with shared and routed
// experts, and optional multi-token prediction (MTP) modules. Read from configs/models/*.yaml.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/params.h"

namespace v3sim {

struct ModelConfig {
  std::string name;
  int64_t vocab_size = 0;
  int64_t dim = 0;            // hidden size
  int64_t inter_dim = 0;      // dense FFN intermediate size
  int64_t moe_inter_dim = 0;  // intermediate size of one expert
  int64_t n_layers = 0;
  int64_t n_dense_layers = 0;  // the first n layers use a dense FFN, the rest MoE
  int64_t n_heads = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t n_activated_experts = 0;  // routed experts per token (top-k)
  int64_t n_expert_groups = 1;
  int64_t n_limited_groups = 1;  // groups a token may route to (group-limited top-k)
  double route_scale = 1.0;
  std::string score_func;   // softmax | sigmoid
  int64_t q_lora_rank = 0;  // 0: queries projected directly (no low-rank q)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t n_mtp_layers = 0;  // MTP depth D (training)

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  int64_t n_moe_layers() const { return n_layers - n_dense_layers; }
  bool is_moe_layer(int64_t layer) const { return layer >= n_dense_layers; }
  // BF16 MLA cache per token for all layers: (kv_lora_rank + qk_rope_head_dim) * 2 B * n_layers.
  int64_t kv_cache_bytes_per_token() const { return (kv_lora_rank + qk_rope_head_dim) * 2 * n_layers; }
};

const ComponentSpec& model_spec();

// Reads and validates a model. Throws ConfigError naming the file, line and key of the first problem.
ModelConfig load_model_config(const ConfigNode& root);

// Parameter counts by module, computed from the config alone (the graph's weights must agree).
struct ParamCounts {
  int64_t embedding = 0;       // token embedding table
  int64_t head = 0;            // output head (not tied)
  int64_t attention = 0;       // all layers: MLA projections and their norms
  int64_t dense_ffn = 0;       // dense FFN layers
  int64_t routed_experts = 0;  // all routed experts of all MoE layers
  int64_t shared_experts = 0;
  int64_t routers = 0;  // gate weights and biases
  int64_t norms = 0;    // layer norms and the final norm
  int64_t mtp = 0;      // MTP modules (embedding and head shared with the main model, not counted)

  int64_t total() const;  // main model: everything but mtp
  // Parameters a token touches in the main model: all but the embedding table (a token reads one row of it)
  // and the routed experts it is not sent to. This is DeepSeek's "activated" convention (36.7B for V3).
  int64_t activated = 0;
};

// One transformer block's attention parameters (MLA projections + q/kv norms).
int64_t mla_params(const ModelConfig& m);
// One expert (or dense FFN) with SwiGLU: gate, up and down projections.
int64_t swiglu_params(int64_t dim, int64_t inter);
ParamCounts count_params(const ModelConfig& m);

}  // namespace v3sim
