#include "models/model_config.h"

#include <fmt/format.h>

namespace v3sim {

const ComponentSpec& model_spec() {
  static const ComponentSpec spec{
      "model",
      "a DeepSeek-V3-family transformer (MLA + DeepSeekMoE + MTP); names follow DeepSeek-V3 inference/model.py "
      "ModelArgs",
      {
          {.name = "name", .type = ParamType::String, .description = "model name shown in outputs"},
          {.name = "vocab_size", .type = ParamType::Int, .description = "vocabulary size", .range = range(1, 1 << 24)},
          {.name = "dim", .type = ParamType::Int, .description = "hidden size", .range = range(1, 1 << 16)},
          {.name = "inter_dim",
           .type = ParamType::Int,
           .description = "dense FFN intermediate size",
           .range = range(1, 1 << 18)},
          {.name = "moe_inter_dim",
           .type = ParamType::Int,
           .description = "intermediate size of one expert",
           .range = range(1, 1 << 18)},
          {.name = "n_layers", .type = ParamType::Int, .description = "transformer blocks", .range = range(1, 1024)},
          {.name = "n_dense_layers",
           .type = ParamType::Int,
           .description = "leading blocks with a dense FFN instead of MoE",
           .range = range(0, 1024)},
          {.name = "n_heads", .type = ParamType::Int, .description = "attention heads", .range = range(1, 4096)},
          {.name = "n_routed_experts",
           .type = ParamType::Int,
           .description = "routed experts per MoE layer",
           .range = range(1, 1 << 16)},
          {.name = "n_shared_experts",
           .type = ParamType::Int,
           .description = "shared experts per MoE layer",
           .range = range(0, 64)},
          {.name = "n_activated_experts",
           .type = ParamType::Int,
           .description = "routed experts per token (top-k)",
           .range = range(1, 1024)},
          {.name = "n_expert_groups",
           .type = ParamType::Int,
           .description = "expert groups for group-limited routing",
           .required = false,
           .default_text = "1",
           .range = range(1, 1 << 16)},
          {.name = "n_limited_groups",
           .type = ParamType::Int,
           .description = "groups a token may route to",
           .required = false,
           .default_text = "1",
           .range = range(1, 1 << 16)},
          {.name = "route_scale",
           .type = ParamType::Float,
           .description = "scale of the routing weights",
           .required = false,
           .default_text = "1.0",
           .range = above_zero(1e6)},
          {.name = "score_func",
           .type = ParamType::Enum,
           .description = "router score function",
           .required = false,
           .default_text = "softmax",
           .choices = {"softmax", "sigmoid"}},
          {.name = "q_lora_rank",
           .type = ParamType::Int,
           .description = "query compression rank (0: no low-rank query projection)",
           .required = false,
           .default_text = "0",
           .range = range(0, 1 << 16)},
          {.name = "kv_lora_rank",
           .type = ParamType::Int,
           .description = "KV compression rank d_c",
           .range = range(1, 1 << 16)},
          {.name = "qk_nope_head_dim",
           .type = ParamType::Int,
           .description = "per-head query/key dim without RoPE",
           .range = range(1, 4096)},
          {.name = "qk_rope_head_dim",
           .type = ParamType::Int,
           .description = "decoupled RoPE dim per head",
           .range = range(1, 4096)},
          {.name = "v_head_dim", .type = ParamType::Int, .description = "per-head value dim", .range = range(1, 4096)},
          {.name = "n_mtp_layers",
           .type = ParamType::Int,
           .description = "multi-token prediction depth D",
           .required = false,
           .default_text = "0",
           .range = range(0, 16)},
      }};
  return spec;
}

ModelConfig load_model_config(const ConfigNode& root) {
  ParamReader r(root, model_spec());
  ModelConfig m;
  m.name = r.get_string("name");
  m.vocab_size = r.get_int("vocab_size");
  m.dim = r.get_int("dim");
  m.inter_dim = r.get_int("inter_dim");
  m.moe_inter_dim = r.get_int("moe_inter_dim");
  m.n_layers = r.get_int("n_layers");
  m.n_dense_layers = r.get_int("n_dense_layers");
  m.n_heads = r.get_int("n_heads");
  m.n_routed_experts = r.get_int("n_routed_experts");
  m.n_shared_experts = r.get_int("n_shared_experts");
  m.n_activated_experts = r.get_int("n_activated_experts");
  m.n_expert_groups = r.get_int("n_expert_groups");
  m.n_limited_groups = r.get_int("n_limited_groups");
  m.route_scale = r.get_float("route_scale");
  m.score_func = r.get_string("score_func");
  m.q_lora_rank = r.get_int("q_lora_rank");
  m.kv_lora_rank = r.get_int("kv_lora_rank");
  m.qk_nope_head_dim = r.get_int("qk_nope_head_dim");
  m.qk_rope_head_dim = r.get_int("qk_rope_head_dim");
  m.v_head_dim = r.get_int("v_head_dim");
  m.n_mtp_layers = r.get_int("n_mtp_layers");

  if (m.n_dense_layers > m.n_layers) {
    throw r.error("n_dense_layers", fmt::format("at most n_layers ({}) dense layers", m.n_layers),
                  std::to_string(m.n_dense_layers));
  }
  if (m.n_activated_experts > m.n_routed_experts) {
    throw r.error("n_activated_experts",
                  fmt::format("at most n_routed_experts ({}) experts per token", m.n_routed_experts),
                  std::to_string(m.n_activated_experts));
  }
  if (m.n_routed_experts % m.n_expert_groups != 0) {
    throw r.error("n_expert_groups",
                  fmt::format("a number of groups that divides n_routed_experts ({})", m.n_routed_experts),
                  std::to_string(m.n_expert_groups));
  }
  if (m.n_limited_groups > m.n_expert_groups) {
    throw r.error("n_limited_groups", fmt::format("at most n_expert_groups ({})", m.n_expert_groups),
                  std::to_string(m.n_limited_groups));
  }
  // Within the ranges the counts fit 64 bits; the total is bounded so that bytes and FLOPs derived from it do too.
  if (const ParamCounts c = count_params(m); static_cast<double>(c.total()) + static_cast<double>(c.mtp) > 0x1p50) {
    throw ConfigError(root.loc(), "(model)", "a model of at most 2^50 (1.1e15) parameters",
                      fmt::format("{:.3g} parameters", static_cast<double>(c.total()) + static_cast<double>(c.mtp)));
  }
  int64_t experts_reachable = m.n_limited_groups * (m.n_routed_experts / m.n_expert_groups);
  if (m.n_activated_experts > experts_reachable) {
    throw r.error(
        "n_activated_experts",
        fmt::format("at most the {} experts of the {} groups a token may use", experts_reachable, m.n_limited_groups),
        std::to_string(m.n_activated_experts));
  }
  return m;
}

int64_t mla_params(const ModelConfig& m) {
  int64_t h = m.n_heads;
  int64_t p = 0;
  if (m.q_lora_rank > 0) {
    p += m.dim * m.q_lora_rank + m.q_lora_rank;  // wq_a + q_norm
    p += m.q_lora_rank * h * m.qk_head_dim();    // wq_b
  } else {
    p += m.dim * h * m.qk_head_dim();  // wq
  }
  p += m.dim * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank;  // wkv_a + kv_norm
  p += m.kv_lora_rank * h * (m.qk_nope_head_dim + m.v_head_dim);        // wkv_b
  p += h * m.v_head_dim * m.dim;                                        // wo
  return p;
}

int64_t swiglu_params(int64_t dim, int64_t inter) {
  return 3 * dim * inter;
}

int64_t ParamCounts::total() const {
  return embedding + head + attention + dense_ffn + routed_experts + shared_experts + routers + norms;
}

ParamCounts count_params(const ModelConfig& m) {
  ParamCounts c;
  c.embedding = m.vocab_size * m.dim;
  c.head = m.vocab_size * m.dim;
  c.attention = m.n_layers * mla_params(m);
  c.dense_ffn = m.n_dense_layers * swiglu_params(m.dim, m.inter_dim);
  int64_t expert = swiglu_params(m.dim, m.moe_inter_dim);
  int64_t router = m.n_routed_experts * m.dim + m.n_routed_experts;  // gate weight + score-correction bias
  c.routed_experts = m.n_moe_layers() * m.n_routed_experts * expert;
  c.shared_experts = m.n_moe_layers() * m.n_shared_experts * expert;
  c.routers = m.n_moe_layers() * router;
  c.norms = 2 * m.n_layers * m.dim + m.dim;  // attention and FFN norms per block, and the final norm
  if (m.n_mtp_layers > 0) {
    // Per MTP module: two input norms, the 2d -> d projection, one MoE transformer block, the output norm.
    int64_t block = mla_params(m) + 2 * m.dim + m.n_routed_experts * expert + m.n_shared_experts * expert + router;
    c.mtp = m.n_mtp_layers * (2 * m.dim + 2 * m.dim * m.dim + block + m.dim);
  }
  c.activated = c.total() - c.embedding - c.routed_experts + m.n_moe_layers() * m.n_activated_experts * expert;
  return c;
}

}  // namespace v3sim
