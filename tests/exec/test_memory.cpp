// Memory over the step (sim/exec/memory.h): buffer lifetimes on a tiny hand-timed graph (the peak equal to a hand
// count), each of DeepSeek-V3's savings switched off on the tiny model, the capacity error and its override, and the
// KV-cache refusal of a decode batch that does not fit.
#include <catch2/catch.hpp>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "models/graph_builder.h"
#include "sim/exec/memory.h"
#include "sim/exec/step.h"
#include "tests/models/helpers.h"
#include "tests/net/helpers.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::exec;

namespace {

double at(const MemBytes& m, MemCategory c) {
  return m[static_cast<size_t>(c)];
}

StepInputs tiny(const std::string& deploy, const std::vector<std::pair<std::string, std::string>>& hw_sets = {}) {
  StepInputs in;
  in.model = test::model("tiny-moe");
  in.deploy = test::deployment(deploy, in.model);
  in.hw = test::hardware("h800.yaml", hw_sets);
  in.cluster = test::cluster(deploy == "tiny-decode" ? "h800-decode-40node" : "h800-2048-mpft");
  return in;
}

}  // namespace

SCENARIO("buffers live from their op's start to their last reader's end", "[exec][memory]") {
  GIVEN(
      "a forward A (8 parameters, writes 100 B, keeps 40 for the backward), a forward B reading A, a backward C "
      "reading both and a weight gradient W reading C") {
    OpGraph g;
    auto desc = [&](const char* name, Pass pass, int64_t written, int64_t saved, int64_t params) {
      OpDesc d;
      d.name = name;
      d.kind = pass == Pass::Wgrad ? OpKind::Gemm : OpKind::Elementwise;
      d.pass = pass;
      d.bytes_written = written;
      d.bytes_saved = saved;
      d.params = params;
      return g.add_desc(d);
    };
    const OpId a = g.add_op(desc("A", Pass::Forward, 100, 40, 8), 0, 0, 0);
    const OpId b = g.add_op(desc("B", Pass::Forward, 10, -1, 0), 0, 0, 0);
    const OpId c = g.add_op(desc("C", Pass::Dgrad, 200, -1, 0), 0, 0, 0);
    const OpId w = g.add_op(desc("W", Pass::Wgrad, 1000, -1, 0), 0, 0, 0);
    g.add_dep(a, b);
    g.add_dep(a, c);
    g.add_dep(b, c);
    g.add_dep(c, w);
    g.finalize();
    ExecResult ex;
    ex.start = {Time::ns(0), Time::ns(10), Time::ns(30), Time::ns(40)};
    ex.end = {Time::ns(10), Time::ns(20), Time::ns(40), Time::ns(50)};
    ex.makespan = Time::ns(50);
    Deployment d;
    d.phase = Phase::Train;
    WHEN("the step is over") {
      const MemoryResult m = memory_over_time(ModelConfig{}, d, g, ex, 1, true);
      THEN(
          "the peak is the hand count at C's start: weights and gradients of A, the kept parts of A and B, C's "
          "output") {
        // Persistent: 8 params x (2 B BF16 + 4 B FP32 gradient) = 48. At 30 ns: A keeps 40, B keeps 10 (all it
        // wrote), C's 200 is live; W's output is the persistent gradient.
        const RankMemory& r = m.ranks[0];
        CHECK(r.peak == 48 + 40 + 10 + 200);
        CHECK(r.peak_time == Time::ns(30));
        CHECK(at(r.at_peak, MemCategory::Weights) == 16);
        CHECK(at(r.at_peak, MemCategory::Gradients) == 32);
        CHECK(at(r.at_peak, MemCategory::Activations) == 50);
        CHECK(at(r.at_peak, MemCategory::Working) == 200);
        // The track: 48 before anything, 100 + 48 at 0, 158 at 10 (A and B), 98 at 20 (only what is kept), 298 at
        // 30, 248 at 40 (C until W ends), 48 at 50.
        REQUIRE(r.track.size() == 7);
        CHECK(r.track[0] == std::make_pair(Time(), 48.0));
        CHECK(r.track[1] == std::make_pair(Time(), 148.0));
        CHECK(r.track[2] == std::make_pair(Time::ns(10), 158.0));
        CHECK(r.track[3] == std::make_pair(Time::ns(20), 98.0));
        CHECK(r.track[4] == std::make_pair(Time::ns(30), 298.0));
        CHECK(r.track[5] == std::make_pair(Time::ns(40), 248.0));
        CHECK(r.track[6] == std::make_pair(Time::ns(50), 48.0));
      }
    }
    WHEN("the allocator fragments 10% and the framework holds a workspace") {
      d.memory.fragmentation = 0.1;
      d.memory.workspace_bytes = 7;
      const MemoryResult m = memory_over_time(ModelConfig{}, d, g, ex, 1, false);
      THEN("the peak adds the workspace and a tenth of the dynamic part") {
        CHECK(m.ranks[0].peak == Approx(48 + 7 + 250 * 1.1));
        CHECK(at(m.ranks[0].at_peak, MemCategory::Fragmentation) == Approx(25));
      }
    }
  }
}

TEST_CASE("the tiny model's weights, gradients and optimizer state equal a hand count of its tensors",
          "[exec][memory]") {
  // tiny-train: tiny-moe (5 layers, the first dense, one MTP module) on 8 GPUs, PP 2 with DualPipe, EP 4, ZeRO-1.
  // DualPipe puts stage r and stage PP-1-r on pipeline rank r: with PP 2 each rank holds every stage, so each holds
  // the whole model, with its routed experts split over the EP group of 4.
  const StepInputs in = tiny("tiny-train");
  const ModelConfig& m = in.model;
  REQUIRE(in.deploy.pp == 2);
  REQUIRE(in.deploy.ep == 4);
  const int64_t D = m.dim, V = m.vocab_size, H = m.n_heads, E = m.n_routed_experts;
  const int64_t dq = m.q_lora_rank, dc = m.kv_lora_rank, dr = m.qk_rope_head_dim;
  const int64_t dn = m.qk_nope_head_dim, dv = m.v_head_dim, I = m.moe_inter_dim;
  const int64_t local_experts = E / in.deploy.ep;
  // One block: the MLA projections (wq_a and wkv_a fused, wq_b, wkv_b, wo) and norms (attn, q, kv, ffn).
  const int64_t mla_fp8 = D * (dq + dc + dr) + dq * H * (dn + dr) + dc * H * (dn + dv) + H * dv * D;
  const int64_t block_norms = D + dq + dc + D;
  const int64_t dense_ffn = 3 * D * m.inter_dim;
  const int64_t expert = 3 * D * I;                    // w1, w3 and w2 of one expert
  const int64_t moe_dense = D * E + E + expert;        // BF16 gate, its score-correction bias, the shared expert
  const int64_t moe_experts = local_experts * expert;  // this GPU's routed experts
  const int64_t moe_blocks = m.n_layers - m.n_dense_layers + m.n_mtp_layers;
  const int64_t blocks = m.n_layers + m.n_mtp_layers;
  // The MTP module: its two norms, the 2D -> D projection, its block and final norm; embedding and head shared.
  const int64_t mtp_own = 2 * D + 2 * D * D + D;
  const int64_t params_dense = V * D + blocks * (mla_fp8 + block_norms) + m.n_dense_layers * dense_ffn +
                               moe_blocks * moe_dense + D + D * V + mtp_own;
  const int64_t params_expert = moe_blocks * moe_experts;
  const int64_t params = params_dense + params_expert;
  CHECK(params == 5'056'080);  // the same count written out: 262,144 embedding, 647,936 dense layer, ...
  // The FP8 GEMM weights (all Linears but gate and head) and their 128x128 block scales, tensor by tensor.
  const int64_t fp8 = blocks * mla_fp8 + m.n_dense_layers * dense_ffn + moe_blocks * (expert + moe_experts) + 2 * D * D;
  auto blocks128 = [](int64_t n, int64_t k) { return ((n + 127) / 128) * ((k + 127) / 128); };
  const int64_t scales =
      4 * (blocks * (blocks128(dc + dr + dq, D) + blocks128(H * (dn + dr), dq) + blocks128(H * (dn + dv), dc) +
                     blocks128(D, H * dv)) +
           m.n_dense_layers * (blocks128(2 * m.inter_dim, D) + blocks128(D, m.inter_dim)) +
           moe_blocks * (1 + local_experts) * (blocks128(2 * I, D) + blocks128(D, I)) + blocks128(D, 2 * D));

  const OpGraph g = build_graph(m, in.deploy);
  const std::vector<MemBytes> per_rank = persistent_memory(m, in.deploy, g, in.deploy.pp);
  REQUIRE(per_rank.size() == 2);
  // ZeRO-1: a stage's state is sharded over its data-parallel replicas, twice as many with DualPipe's two copies:
  // 4 x 2 for the dense parameters, 1 x 2 for the experts (one replica of each expert slot set per stage). A rank
  // holds the shards of both stages, so a shard of the whole model.
  const int64_t dense_shard = params_dense / (in.deploy.dp() * 2);
  const int64_t expert_shard = params_expert / (in.deploy.expert_dp() * 2);
  for (size_t r = 0; r < per_rank.size(); ++r) {
    INFO("pipeline rank " << r);
    // BF16 working weights + the step's FP8 copies, K-major and transposed (the ideal kernel stack).
    CHECK(at(per_rank[r], MemCategory::Weights) == static_cast<double>(2 * params + 2 * (fp8 + scales)));
    CHECK(at(per_rank[r], MemCategory::Gradients) == static_cast<double>(4 * params));  // FP32 accumulation
    // FP32 master weights and BF16 moments: 8 B per parameter of the shard.
    CHECK(at(per_rank[r], MemCategory::Optimizer) == static_cast<double>(8 * (dense_shard + expert_shard)));
    CHECK(at(per_rank[r], MemCategory::KvCache) == 0);
  }
  // What `step` reports at the peak: the same persistent parts, plus the dynamic ones over the schedule.
  StepOptions o;
  o.keep_timeline = false;
  const StepResult step = simulate_step(in, o);
  CHECK(step.memory_per_gpu_bytes.at("weights") == static_cast<double>(2 * params + 2 * (fp8 + scales)));
  CHECK(step.memory_per_gpu_bytes.at("gradients") == static_cast<double>(4 * params));
  CHECK(step.memory_per_gpu_bytes.at("optimizer") == static_cast<double>(8 * (dense_shard + expert_shard)));
  CHECK(step.memory_per_gpu_bytes.at("activations") > 0);
}

TEST_CASE("each of DeepSeek-V3's memory savings saves memory on the tiny model", "[exec][memory]") {
  StepOptions o;
  o.keep_timeline = false;
  const StepResult on = simulate_step(tiny("tiny-train"), o);
  const double peak_on = on.memory_per_gpu_bytes.at("total");
  auto off = [&](auto set) {
    StepInputs in = tiny("tiny-train");
    set(in.deploy.memory);
    return simulate_step(in, o);
  };
  using M = Deployment::Memory;
  SECTION("activation savings: more kept for the backward without them") {
    for (auto [name, set] : std::initializer_list<std::pair<const char*, void (*)(M&)>>{
             {"recompute_norm", [](M& m) { m.recompute_norm = false; }},
             {"recompute_mla_up_proj", [](M& m) { m.recompute_mla_up_proj = false; }},
             {"fp8_activation_cache", [](M& m) { m.fp8_activation_cache = false; }},
             {"attn_out_e5m6", [](M& m) { m.attn_out_e5m6 = false; }},
             {"moe_swiglu_fp8", [](M& m) { m.moe_swiglu_fp8 = false; }},
         }) {
      INFO(name);
      const StepResult r = off(set);
      CHECK(r.memory_per_gpu_bytes.at("total") > peak_on);
    }
  }
  SECTION("state savings: more persistent memory without them") {
    const StepResult ema = off([](M& m) { m.ema_on_cpu = false; });
    const StepResult moments = off([](M& m) { m.bf16_optimizer_moments = false; });
    // The shard's parameters P: optimizer 8 P with BF16 moments; the EMA adds 4 P, FP32 moments 4 P.
    const double shard = on.memory_per_gpu_bytes.at("optimizer") / 8;
    CHECK(ema.memory_per_gpu_bytes.at("optimizer") == Approx(12 * shard));
    CHECK(moments.memory_per_gpu_bytes.at("optimizer") == Approx(12 * shard));
    StepInputs in = tiny("tiny-train");
    in.deploy.memory.mtp_shared_embedding_head = false;
    const auto before = persistent_memory(in.model, tiny("tiny-train").deploy,
                                          build_graph(in.model, tiny("tiny-train").deploy), in.deploy.pp);
    const auto after = persistent_memory(in.model, in.deploy, build_graph(in.model, in.deploy), in.deploy.pp);
    double grew = 0;
    for (size_t r = 0; r < before.size(); ++r) grew += total(after[r]) - total(before[r]);
    // The MTP module's own embedding and head: V x D parameters each, 2 B of weights and 4 B of gradients.
    const double vd = static_cast<double>(in.model.vocab_size * in.model.dim);
    CHECK(grew >= 2 * vd * 6);
  }
}

TEST_CASE("a peak over the capacity is an error unless allowed", "[exec][memory]") {
  StepOptions o;
  o.keep_timeline = false;
  const StepResult fits = simulate_step(tiny("tiny-train"), o);
  CHECK(fits.fits);
  // A capacity between the persistent part and the peak: the step runs, then fails.
  const double persistent = fits.memory_per_gpu_bytes.at("weights") + fits.memory_per_gpu_bytes.at("gradients") +
                            fits.memory_per_gpu_bytes.at("optimizer");
  const auto cap = static_cast<int64_t>(persistent + 0.5 * fits.memory_per_gpu_bytes.at("activations"));
  const StepInputs small = tiny("tiny-train", {{"hbm.capacity", std::to_string(cap) + "B"}});
  CHECK_THROWS_AS(simulate_step(small, o), MemoryCapacityError);
  CHECK_THROWS_WITH(simulate_step(small, o), Catch::Contains("at its peak") && Catch::Contains("hbm.capacity"));
  o.allow_over_capacity = true;
  const StepResult over = simulate_step(small, o);
  CHECK_FALSE(over.fits);
  CHECK(over.step_time_s == Approx(fits.step_time_s));
  CHECK(over.capacity_problem.find("activations") != std::string::npos);
}

TEST_CASE("decode reports the requests its KV cache allows and refuses a batch that does not fit", "[exec][memory]") {
  StepOptions o;
  o.keep_timeline = false;
  const StepInputs in = tiny("tiny-decode");
  const StepResult r = simulate_step(in, o);
  const double per = kv_bytes_per_request(in.model, in.deploy);
  CHECK(per == static_cast<double>(in.deploy.seq_len * in.model.kv_cache_bytes_per_token()));
  CHECK(r.memory_per_gpu_bytes.at("kv_cache") == Approx(per * static_cast<double>(in.deploy.requests_per_gpu)));
  REQUIRE(r.kv_requests_fit > in.deploy.requests_per_gpu);
  // Room for 5 requests besides the rest of the peak: 8 do not fit, and the error says 5 would.
  const double rest = r.memory_per_gpu_bytes.at("total") - r.memory_per_gpu_bytes.at("kv_cache");
  const auto cap = static_cast<int64_t>(rest + 5.5 * per);
  const StepInputs small = tiny("tiny-decode", {{"hbm.capacity", std::to_string(cap) + "B"}});
  CHECK_THROWS_WITH(simulate_step(small, o),
                    Catch::Contains("fits 5 requests per GPU") && Catch::Contains("batch.requests_per_gpu 8"));
}

TEST_CASE("prefill holds the KV cache of its prompts and refuses more prompts than fit", "[exec][memory]") {
  StepOptions o;
  o.keep_timeline = false;
  const StepInputs in = tiny("tiny-prefill");
  REQUIRE(in.deploy.sp);
  const StepResult r = simulate_step(in, o);
  // Sequence parallelism over TP 2: each rank of the attention group holds the latent cache of the group's prompts.
  const double per = kv_bytes_per_request(in.model, in.deploy);
  CHECK(per == static_cast<double>(in.deploy.tp * in.deploy.seq_len * in.model.kv_cache_bytes_per_token()));
  const int64_t prompts = in.deploy.tokens_per_gpu / in.deploy.seq_len;
  REQUIRE(prompts == 2);
  CHECK(r.memory_per_gpu_bytes.at("kv_cache") == Approx(per * static_cast<double>(prompts)));
  REQUIRE(r.kv_requests_fit > prompts);
  // Room for one prompt besides the rest of the peak: the batch of two is refused, and the error says one fits.
  const double rest = r.memory_per_gpu_bytes.at("total") - r.memory_per_gpu_bytes.at("kv_cache");
  const auto cap = static_cast<int64_t>(rest + 1.5 * per);
  const StepInputs small = tiny("tiny-prefill", {{"hbm.capacity", std::to_string(cap) + "B"}});
  CHECK_THROWS_AS(simulate_step(small, o), MemoryCapacityError);
  CHECK_THROWS_WITH(simulate_step(small, o), Catch::Contains("fits 1 prompt of 256 tokens per GPU") &&
                                                 Catch::Contains("batch.tokens_per_gpu 512 / 256"));
}
