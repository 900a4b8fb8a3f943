#include <catch2/catch.hpp>

#include "helpers.h"
#include "models/graph_builder.h"

using namespace v3sim;

// Published figures (../shared/reference/deepseek-v3.yaml): 671B total, 37B activated (README: 36.7B for the
// main model), 11.5B MTP, 70,272 B of BF16 KV cache per token (ISCA'25 Table 1), 250 and 155 GFLOPs of training
// per token for V3 and V2 (ISCA'25 Table 2).
TEST_CASE("DeepSeek-V3 671B: parameters, KV cache and training FLOPs match the published figures",
          "[models][figures]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  ModelFigures f = model_figures(m, 4096);
  CHECK(f.params_total == Approx(671e9).epsilon(0.005));
  CHECK(f.params_activated == Approx(37e9).epsilon(0.02));
  CHECK(f.params_activated == Approx(36.7e9).epsilon(0.01));
  CHECK(f.params_mtp == Approx(11.5e9).epsilon(0.02));
  CHECK(f.kv_cache_bytes_per_token == 70272);
  CHECK(f.flops_per_token_train == Approx(250e9).epsilon(0.05));
  // Non-causal attention costs more; forward is about a third of training.
  CHECK(f.flops_per_token_train_noncausal > f.flops_per_token_train);
  CHECK(f.flops_per_token_forward == Approx(f.flops_per_token_train / 3).epsilon(0.02));
}

TEST_CASE("DeepSeek-V2 236B: training FLOPs per token match ISCA'25 Table 2", "[models][figures]") {
  ModelConfig m = test::model("deepseek-v2-236b");
  ModelFigures f = model_figures(m, 4096);
  CHECK(f.flops_per_token_train == Approx(155e9).epsilon(0.05));
  CHECK(f.params_total == Approx(236e9).epsilon(0.01));
  CHECK(f.params_mtp == 0);
}

TEST_CASE("DeepSeek-V2-Lite 16B (no query compression): 16B total, 2.4B activated", "[models][figures]") {
  ModelConfig m = test::model("deepseek-v2-lite-16b");
  ModelFigures f = model_figures(m, 4096);
  CHECK(f.params_total == Approx(15.7e9).epsilon(0.02));
  CHECK(f.params_activated == Approx(2.4e9).epsilon(0.1));
}

TEST_CASE("the graph's weights add up to the parameter count of every model", "[models][figures]") {
  for (const char* name : {"deepseek-v3-671b", "deepseek-v2-236b", "deepseek-v2-lite-16b", "tiny-moe"}) {
    CAPTURE(name);
    ModelConfig m = test::model(name);
    ModelFigures f = model_figures(m, 4096);
    CHECK(f.params_in_graph == static_cast<double>(f.params_total));
  }
}

TEST_CASE("parameter counts follow the MLA and SwiGLU formulas", "[models][figures]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  // From the projection shapes of inference/model.py (deepseek-v3.yaml mla_projection_shapes_in_x_out):
  // wq_a 7168x1536, wq_b 1536x24576, wkv_a 7168x576, wkv_b 512x32768, wo 16384x7168, plus q_norm and kv_norm.
  int64_t mla = 7168LL * 1536 + 1536LL * 24576 + 7168LL * 576 + 512LL * 32768 + 16384LL * 7168 + 1536 + 512;
  CHECK(mla_params(m) == mla);
  CHECK(swiglu_params(7168, 2048) == 3LL * 7168 * 2048);
  ParamCounts c = count_params(m);
  CHECK(c.embedding == 129280LL * 7168);
  CHECK(c.routed_experts == 58LL * 256 * 3 * 7168 * 2048);
  CHECK(c.total() ==
        c.embedding + c.head + c.attention + c.dense_ffn + c.routed_experts + c.shared_experts + c.routers + c.norms);
}

TEST_CASE("model configs are validated", "[models][config]") {
  auto load = [](const std::string& extra) {
    std::string yaml =
        "name: m\nvocab_size: 100\ndim: 64\ninter_dim: 128\nmoe_inter_dim: 32\nn_layers: 4\nn_dense_layers: 1\n"
        "n_heads: 2\nn_routed_experts: 8\nn_shared_experts: 1\nn_activated_experts: 2\nkv_lora_rank: 16\n"
        "qk_nope_head_dim: 16\nqk_rope_head_dim: 8\nv_head_dim: 16\n" +
        extra;
    return load_model_config(parse_config_text(yaml, "m.yaml"));
  };
  CHECK_NOTHROW(load(""));
  CHECK_THROWS_WITH(load("n_expert_groups: 3\n"), Catch::Contains("n_expert_groups: expected a number of groups"));
  CHECK_THROWS_WITH(load("n_limited_groups: 2\n"), Catch::Contains("n_limited_groups"));
  CHECK_THROWS_WITH(load("n_expert_groups: 4\nn_limited_groups: 1\nn_activated_experts_x: 1\n"),
                    Catch::Contains("unknown key 'n_activated_experts_x'"));
  CHECK_THROWS_WITH(load("score_func: relu\n"), Catch::Contains("one of softmax|sigmoid"));
  CHECK_THROWS_WITH(load("q_lora_rank: -1\n"), Catch::Contains("an integer from 0 to"));
}
