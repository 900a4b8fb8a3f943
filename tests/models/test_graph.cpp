#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

#include "helpers.h"
#include "models/graph_builder.h"

using namespace v3sim;

namespace {

// The op of that name (for an all-to-all, its transfer, not the handshake before it).
const OpDesc* find_op(const OpGraph& g, const std::string& name) {
  for (uint32_t d = 0; d < g.num_descs(); ++d)
    if (g.descriptor(d).name == name && !g.descriptor(d).has(kFlagHandshake)) return &g.descriptor(d);
  return nullptr;
}

}  // namespace

TEST_CASE("the graph's FLOPs are the sum over its ops", "[models][graph]") {
  ModelConfig m = test::model("tiny-moe");
  for (const char* name : {"tiny-train", "tiny-prefill", "tiny-decode"}) {
    CAPTURE(name);
    Deployment d = test::deployment(name, m);
    OpGraph g = build_graph(m, d);
    double flops = 0, by_hand_fwd = 0;
    int64_t ops = 0;
    for (OpId id = 0; id < g.num_ops(); ++id) {
      const OpDesc& op = g.desc(id);
      flops += static_cast<double>(op.flops) * op.gpus;
      if (op.pass == Pass::Forward) by_hand_fwd += static_cast<double>(op.flops) * op.gpus;
      ++ops;
    }
    GraphTotals t = sum_graph(g);
    CHECK(t.flops == flops);
    CHECK(t.flops_by_pass[0] == by_hand_fwd);
    CHECK(t.ops == ops);
    int64_t kinds = 0;
    for (int64_t k : t.ops_by_kind) kinds += k;
    CHECK(kinds == ops);
  }
}

TEST_CASE("per-token training FLOPs are 6 x the activated matmul weights plus causal attention", "[models][graph]") {
  // An independent closed form: forward 2 FLOPs per weight a token meets in a matmul, backward twice that,
  // attention 2 * heads * (d_qk + d_v) per (query, key) pair, causal pairs (S+1)/2 per token.
  ModelConfig m = test::model("deepseek-v3-671b");
  ParamCounts c = count_params(m);
  const double S = 4096;
  double matmul = static_cast<double>(c.activated - c.norms - m.n_moe_layers() * m.n_routed_experts -
                                      m.n_layers * (m.q_lora_rank + m.kv_lora_rank));
  double attn = 2.0 * m.n_heads * (m.qk_head_dim() + m.v_head_dim) * (S + 1) / 2 * m.n_layers;
  double expected = 3 * (2 * matmul + attn);
  ModelFigures f = model_figures(m, 4096);
  // The graph also counts norms, SwiGLU, quantization and the loss: a fraction of a percent.
  CHECK(f.flops_per_token_train == Approx(expected).epsilon(0.01));
  CHECK(f.flops_per_token_train > expected);
}

TEST_CASE("DualPipe runs the second half of the micro-batches from the other end", "[models][graph]") {
  ModelConfig m = test::model("tiny-moe");
  Deployment d = test::deployment("tiny-train", m);  // PP2, 4 micro-batches
  OpGraph g = build_graph(m, d);
  std::map<std::pair<int, int>, std::set<int>> ranks;  // (stage, micro-batch) -> ranks
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpNode& n = g.node(id);
    if (g.desc(id).pass == Pass::Optimizer) continue;
    ranks[{n.stage, static_cast<int>(n.micro_batch)}].insert(n.pp_rank);
  }
  CHECK(ranks[{0, 0}] == std::set<int>{0});
  CHECK(ranks[{1, 1}] == std::set<int>{1});
  CHECK(ranks[{0, 2}] == std::set<int>{1});
  CHECK(ranks[{1, 3}] == std::set<int>{0});
}

TEST_CASE("the FP8 recipe is explicit: K-major FP8 GEMMs, 1x128 casts, 128x1 re-tiling for Wgrad", "[models][graph]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  OpGraph g = build_graph(m, reference_deployment(Phase::Train, 4096));
  const OpDesc* wq_b = find_op(g, "L5.attn.wq_b");
  REQUIRE(wq_b);
  CHECK(wq_b->kind == OpKind::Gemm);
  CHECK(wq_b->gemm.m == 4096);
  CHECK(wq_b->gemm.n == 24576);  // DeepGEMM's N=24576, K=1536 shape
  CHECK(wq_b->gemm.k == 1536);
  CHECK(wq_b->gemm.a_type == DType::E4M3);
  CHECK(wq_b->gemm.a_major == Major::K);
  CHECK(wq_b->gemm.b_major == Major::K);
  CHECK(wq_b->gemm.a_quant == QuantGran::Tile1x128);
  CHECK(wq_b->gemm.b_quant == QuantGran::Block128x128);
  const OpDesc* fused = find_op(g, "L0.attn.wqkv_a");
  REQUIRE(fused);
  CHECK(fused->gemm.n == 2112);  // DeepGEMM's N=2112, K=7168: wq_a + wkv_a
  const OpDesc* wgrad = find_op(g, "L5.attn.wq_b.wgrad");
  REQUIRE(wgrad);
  CHECK(wgrad->pass == Pass::Wgrad);
  CHECK(wgrad->gemm.k == 4096);  // reduces over tokens
  CHECK(wgrad->gemm.a_transposed_copy);
  CHECK(wgrad->gemm.a_quant == QuantGran::Tile128x1);
  const OpDesc* dgrad = find_op(g, "L5.attn.wq_b.dgrad");
  REQUIRE(dgrad);
  CHECK(dgrad->gemm.n == 1536);
  CHECK(dgrad->gemm.k == 24576);
  CHECK(dgrad->gemm.b_transposed_copy);
  const OpDesc* xt = find_op(g, "L5.attn.wq_b.x_t");
  REQUIRE(xt);
  CHECK(xt->kind == OpKind::TransposeRequant);
  CHECK(xt->has(kFlagTransposeForFp8));
  // Higher precision where DeepSeek keeps it: attention core, gate, head in BF16.
  CHECK(find_op(g, "L5.attn.core")->gemm.a_type == DType::BF16);
  CHECK(find_op(g, "L5.moe.gate")->gemm.a_type == DType::BF16);
  CHECK(find_op(g, "head")->gemm.a_type == DType::BF16);
  // Every transpose-requantize op feeds a GEMM that reads a transposed copy.
  for (OpId id = 0; id < g.num_ops(); ++id) {
    if (g.desc(id).kind != OpKind::TransposeRequant) continue;
    for (OpId s : g.successors(id)) {
      const OpDesc& c = g.desc(s);
      CHECK((c.gemm.a_transposed_copy || c.gemm.b_transposed_copy));
    }
  }
}

TEST_CASE("training recomputes RMSNorm and the MLA up-projections instead of keeping them", "[models][graph]") {
  // DeepSeek-V3 §3.2.3: the backward keeps the compressed FP8 latents and runs wq_b and wkv_b again; a norm's
  // backward reads the norm's input. So no backward op reads the outputs of the up-projections, a norm's backward
  // does not read its output, and a Wgrad reads only dY and the saved input, never its forward GEMM's output.
  ModelConfig m = test::model("tiny-moe");
  OpGraph g = build_graph(m, test::deployment("tiny-train", m));
  size_t up_projections = 0;
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpDesc& d = g.desc(id);
    if (d.pass != Pass::Forward) continue;
    const std::string& n = d.name;
    const bool up_proj = n.ends_with("attn.wq_b") || n.ends_with("attn.wkv_b");
    const bool norm = d.kind == OpKind::Norm;
    const bool gemm = d.kind == OpKind::Gemm || d.kind == OpKind::GroupedGemm;
    for (OpId s : g.successors(id)) {
      const OpDesc& c = g.desc(s);
      CAPTURE(n, c.name);
      if (up_proj) CHECK(c.pass == Pass::Forward);
      if (norm) CHECK(c.name != n + ".bwd");  // (a BF16 linear after it, the gate or the head, keeps it)
      if (gemm) CHECK(c.pass != Pass::Wgrad);
    }
    if (!up_proj) continue;
    // Its recomputation: the same GEMM in the backward, FLOPs counted as recomputed, read by the attention's
    // backward.
    const OpDesc* re = find_op(g, n + ".recompute");
    REQUIRE(re);
    CHECK(re->pass == Pass::Dgrad);
    CHECK(re->has(kFlagRecompute));
    CHECK(re->flops == 0);
    CHECK(re->recompute_flops == d.flops);
    CHECK(re->gemm.m == d.gemm.m);
    CHECK(re->gemm.n == d.gemm.n);
    CHECK(re->gemm.k == d.gemm.k);
    CHECK_FALSE(re->gemm.b_transposed_copy);
    ++up_projections;
  }
  // One recomputation per forward instance (every layer, the MTP module's too, and micro-batch), each read by
  // that layer's attention backward (the query through the recomputed RoPE).
  size_t recomputed = 0;
  for (OpId id = 0; id < g.num_ops(); ++id) {
    if (!g.desc(id).name.ends_with(".recompute") || g.desc(id).kind != OpKind::Gemm) continue;
    ++recomputed;
    bool read = false;
    for (OpId s : g.successors(id)) {
      const std::string& c = g.desc(s).name;
      read = read || c.ends_with("attn.core.bwd") || c.ends_with("attn.rope.recompute");  // the query via RoPE
    }
    CHECK(read);
  }
  CHECK(up_projections >= 2 * static_cast<size_t>(m.n_layers));
  CHECK(recomputed == up_projections);
}

TEST_CASE("training keeps activations in DeepSeek's low-precision formats", "[models][graph]") {
  // DeepSeek-V3 §3.3.4: the routed experts' SwiGLU input is cached in FP8 with 1x128 scales, and the attention
  // output (wo's input) once in E5M6 for both wo's Wgrad and the attention's backward (memory.moe_swiglu_fp8,
  // memory.attn_out_e5m6). Elsewhere an op's whole output is what the backward keeps.
  ModelConfig m = test::model("tiny-moe");
  OpGraph train = build_graph(m, test::deployment("tiny-train", m));
  const OpDesc* w13 = find_op(train, "L1.moe.experts.w13");
  REQUIRE(w13);
  const int64_t rows = w13->gemm.m, cols = w13->gemm.n;  // every expert's token copies
  CHECK(w13->bytes_written == rows * cols * 2);
  CHECK(w13->bytes_saved == rows * cols + rows * (cols / 128) * 4);
  // The shared expert's SwiGLU input as well (DeepSeek's stack casts it back from FP8 in the backward).
  const OpDesc* s13 = find_op(train, "L1.moe.shared.w13");
  REQUIRE(s13);
  CHECK(s13->bytes_saved == s13->gemm.m * s13->gemm.n + s13->gemm.m * (s13->gemm.n / 128) * 4);
  CHECK(find_op(train, "L1.attn.wo")->bytes_saved == -1);
  const OpDesc* oq = find_op(train, "L1.attn.o_quant");
  const OpDesc* core = find_op(train, "L1.attn.core");
  REQUIRE(oq);
  REQUIRE(core);
  const int64_t t = oq->gemm.m, o = oq->gemm.k;  // tokens x (heads x v_head_dim)
  CHECK(oq->bytes_saved == t * o * 3 / 2 + t * (o / 128) * 4);
  CHECK(core->bytes_saved == t * core->gemm.batch * 4);  // the log-sum-exp only
  for (OpId id = 0; id < train.num_ops(); ++id) {
    if (train.desc(id).name != "L1.attn.core.bwd") continue;
    bool reads_copy = false;
    for (OpId p : train.predecessors(id)) reads_copy = reads_copy || train.desc(p).name == "L1.attn.o_quant";
    CHECK(reads_copy);
  }
  OpGraph prefill = build_graph(m, test::deployment("tiny-prefill", m));
  CHECK(find_op(prefill, "L1.moe.experts.w13")->bytes_saved == -1);  // no backward
  CHECK(find_op(prefill, "L1.attn.o_quant")->bytes_saved == -1);
}

TEST_CASE("decode uses absorbed MLA over the KV cache; training and prefill the MHA form", "[models][graph]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  Deployment dec = test::deployment("v3-decode-128", m);
  OpGraph g = build_graph(m, dec);
  const OpDesc* core = find_op(g, "L10.attn.core");
  REQUIRE(core);
  CHECK(core->gemm.k == 576);  // kv_lora_rank + rope: one latent KV head
  CHECK(find_op(g, "L10.attn.q_absorb"));
  CHECK(find_op(g, "L10.attn.wkv_b") == nullptr);
  // FlashMLA's FLOP formula: 2 h_q s_q s_k (d_k + d_v) with s_k = 4096 context, 64 requests per micro-batch.
  CHECK(core->flops == 2LL * 128 * 64 * 4096 * (576 + 512));
  CHECK(core->bytes_read >= 64LL * 4096 * 576 * 2);  // the whole latent cache of the batch
  OpGraph pre = build_graph(m, test::deployment("v3-prefill-32", m));
  const OpDesc* pcore = find_op(pre, "L10.attn.core");
  CHECK(pcore->gemm.k == 192);
  CHECK(pcore->gemm.batch == 32);  // 128 heads over TP4
}

TEST_CASE("parallelism inserts the communication ops", "[models][graph]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  GraphOptions opt;
  opt.max_micro_batches = 2;
  OpGraph g = build_graph(m, test::deployment("v3-train-2048", m), opt);
  const OpDesc* dispatch = find_op(g, "L10.moe.dispatch");
  REQUIRE(dispatch);
  CHECK(dispatch->comm.group == CommGroup::EP);
  CHECK(dispatch->comm.group_size == 64);
  CHECK(dispatch->comm.node_limit == 4);
  CHECK(dispatch->comm.bytes_per_copy == 7168 + 56 * 4);  // FP8 + one FP32 scale per 128 values = 7392 B
  CHECK(dispatch->comm.bytes == 4096LL * 8 * 7392);
  const OpDesc* combine = find_op(g, "L10.moe.combine");
  CHECK(combine->comm.bytes_per_copy == 7168 * 2);                      // BF16
  CHECK(find_op(g, "L10.moe.combine.bwd")->comm.dtype == DType::E4M3);  // FP8 activation gradient
  CHECK(find_op(g, "pp.send"));
  CHECK(find_op(g, "stage3.grads.reduce")->comm.group_size == 256);  // DP128 x 2 DualPipe copies
  CHECK(find_op(g, "stage3.expert_grads.reduce")->comm.group_size == 4);
  CHECK(find_op(g, "stage3.optimizer"));
  OpGraph pre = build_graph(m, test::deployment("v3-prefill-32", m));
  CHECK(find_op(pre, "L3.attn.all_gather")->comm.group_size == 4);
  CHECK(find_op(pre, "L3.attn.reduce_scatter")->comm.group == CommGroup::TP);
  CHECK(find_op(pre, "L3.moe.experts.w13")->gemm.groups == 9);  // 8 routed + 1 redundant per GPU
}

TEST_CASE("symmetric ranks are represented once", "[models][graph]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  Deployment d = test::deployment("v3-decode-128", m);
  Deployment bigger = d;
  bigger.gpus = 256;
  bigger.ep = 256;
  OpGraph a = build_graph(m, d), b = build_graph(m, bigger);
  CHECK(a.num_ops() == b.num_ops());
  CHECK(a.desc(0).gpus == 128);
  CHECK(b.desc(0).gpus == 256);
}

TEST_CASE("every op of the full 2048-GPU training step is reachable in dependency order", "[models][graph]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  Deployment d = test::deployment("v3-train-2048", m);
  OpGraph g = build_graph(m, d);
  // 16 stages x 120 micro-batches of a forward and backward each, plus per-step ops.
  CHECK(g.num_ops() > 600'000);
  std::vector<OpId> order = g.topological_order();
  REQUIRE(order.size() == g.num_ops());
  std::vector<uint32_t> position(g.num_ops());
  for (uint32_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  size_t checked = 0;
  for (OpId id = 0; id < g.num_ops(); id += 97) {
    for (OpId s : g.successors(id)) {
      CHECK(position[id] < position[s]);
      ++checked;
    }
  }
  CHECK(checked > 1000);
  // MoE dispatch of every layer and micro-batch on each pipeline stage.
  GraphTotals t = sum_graph(g);
  // fwd + bwd, 58 + MTP layers, each a handshake and a transfer (DeepEP's normal kernels), on the balanced GPUs and
  // on the copy of the pipeline that stands for the EP group's slowest (experts.load_cv > 0)
  CHECK(t.ops_by_kind[static_cast<size_t>(OpKind::AllToAllDispatch)] == 2 * 2 * 2 * 59 * 120);
  size_t slow = 0;
  for (OpId id = 0; id < g.num_ops(); ++id) slow += g.node(id).pp_rank >= 16 ? 1 : 0;
  CHECK(slow * 2 == g.num_ops());
}

TEST_CASE("the graph exports as Graphviz DOT", "[models][graph]") {
  ModelConfig m = test::model("tiny-moe");
  GraphOptions opt;
  opt.max_micro_batches = 1;
  OpGraph g = build_graph(m, test::deployment("tiny-prefill", m), opt);
  std::ostringstream out;
  g.write_dot(out);
  std::string dot = out.str();
  CHECK_THAT(dot, Catch::StartsWith("digraph"));
  CHECK_THAT(dot, Catch::Contains("L1.moe.dispatch"));
  CHECK(std::count(dot.begin(), dot.end(), '>') >= static_cast<long>(g.num_deps()));
}
