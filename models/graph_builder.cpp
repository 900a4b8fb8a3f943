#include "models/graph_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/math.h"
#include "core/quant.h"
#include "core/random.h"
#include "models/graph_size.h"

namespace v3sim {

namespace {

// Bytes of the FP32 scales of a rows x cols FP8 tensor quantized in 1x128 tiles along cols.
int64_t tile_scale_bytes(int64_t rows, int64_t cols) {
  return rows * ceil_div(cols, kQuantTile) * 4;
}
// Bytes of the FP32 scales of an n x k FP8 weight in 128x128 blocks.
int64_t block_scale_bytes(int64_t n, int64_t k) {
  return ceil_div(n, kQuantTile) * ceil_div(k, kQuantTile) * 4;
}

using Local = int32_t;  // op index inside a template; -1 = none
constexpr Local kNone = -1;

// One pipeline stage's work for one micro-batch, built once and instantiated per micro-batch.
struct Template {
  std::vector<uint32_t> descs;                   // graph descriptor per local op
  std::vector<std::pair<Local, Local>> edges;    // local dependencies
  Local fwd_in = kNone, fwd_out = kNone;         // first / last forward op
  Local bwd_in = kNone, bwd_out = kNone;         // first / last backward op
  std::vector<Local> wgrad_dense, wgrad_expert;  // weight-gradient producers (feed the DP reduction)
};

// Static shape of a stage: which pipeline slots it holds.
struct StageSlots {
  bool embedding = false;
  std::vector<int64_t> layers;  // transformer block indices
  int64_t first_mtp = 0;        // index of the first MTP module in this stage (training)
  int64_t mtp_modules = 0;      // MTP modules in this stage (training)
  bool head = false;
  int64_t draft_modules = 0;  // decode: MTP modules drafting speculative tokens after the head
  bool all_moe = false;       // every layer an MoE layer (a chunk pair of MoE layers)
};

// A forward FP8 (or BF16) linear Y[M,N] = X[M,K] W[N,K]^T, remembered for its backward.
struct Linear {
  std::string name;
  Module module = Module::Attention;
  int32_t layer = -1;
  uint32_t flags = 0;
  int64_t m = 0, n = 0, k = 0, groups = 1;
  bool fp8 = true;
  DType out_type = DType::BF16;
  bool expert = false;  // weights are expert-parallel (reduced over the expert DP group)
  int64_t params = 0;
  Local x_op = kNone;  // op producing the saved input (FP8 1x128 for FP8 linears)
  Local gemm = kNone;
  int64_t bytes_saved = -1;  // of the output, what the backward keeps (-1: all of it, if a backward op reads it)
};

// What attention's phases pass on: its inputs, the linears and the forward ops its backward reads.
struct AttnForward {
  int32_t layer = -1;
  Module mod = Module::Attention;
  Local in = kNone;
  Local xn = kNone, dn_op = kNone, qn = kNone, q = kNone, kvn = kNone, rope = kNone;
  Local kv = kNone, k_asm = kNone, q_pe = kNone, core = kNone, oq = kNone, o_e5m6 = kNone;
  Linear down, wq, wkv_b, wo;
  int64_t pairs = 0;  // query-key pairs of the non-absorbed core (0 in decode)
  Launch rope_launch;
};

// What the MoE block's phases pass on: its input, its sizes, the linears and the forward ops its backward reads.
struct MoeForward {
  int32_t layer = -1;
  Module mod = Module::Moe;
  Local in = kNone;
  int64_t R = 0;              // token copies this GPU's experts process
  int64_t fp8_copy = 0;       // bytes of one token copy dispatched in FP8 (payload + 1x128 FP32 scales)
  int64_t Is = 0;             // the shared experts' intermediate width
  bool shared_local = false;  // the shared expert runs here (not as a routed one)
  bool swiglu_fp8 = false;    // memory.moe_swiglu_fp8
  Local xn = kNone, topk = kNone, xq = kNone, h = kNone, back = kNone, s_h = kNone, s_y = kNone;
  Linear gate, w13, w2, s13, s2;
};

class StageBuilder {
 public:
  StageBuilder(OpGraph& graph, const ModelConfig& model, const Deployment& deploy, const GraphOptions& options,
               Template& t)
      : m_graph(graph), m_model(model), m_deploy(deploy), m_options(options), m_t(t) {
    m_T = deploy.tokens_per_micro_batch();
    m_Ta = m_T * (deploy.sp ? deploy.tp : 1);
    m_heads = model.n_heads / deploy.tp;
    m_gpus = static_cast<int32_t>(deploy.phase == Phase::Train ? deploy.stage_gpus() : deploy.gpus);
    m_train = deploy.phase == Phase::Train;
    m_decode = deploy.phase == Phase::Decode;
  }

  void build(const StageSlots& slots, int64_t stage, int64_t n_stages);
  // The load of this GPU's experts in each layer, relative to its balanced share (a profiled chunk pair with
  // MoE load imbalance); absent: balanced.
  void set_expert_load(std::vector<double> by_layer) { m_load = std::move(by_layer); }

 private:
  // ---- emission ----
  Local emit(OpDesc d, std::initializer_list<Local> deps) {
    d.gpus = m_gpus;
    d.flags |= m_extra_flags;
    if (is_communication(d.kind)) d.flags |= kFlagCommunication;
    uint32_t idx = m_graph.add_desc(std::move(d));
    m_t.descs.push_back(idx);
    Local id = static_cast<Local>(m_t.descs.size() - 1);
    for (Local dep : deps)
      if (dep != kNone) m_t.edges.emplace_back(dep, id);
    return id;
  }
  void dep(Local before, Local after) {
    if (before != kNone && after != kNone) m_t.edges.emplace_back(before, after);
  }

  OpDesc base(std::string name, OpKind kind, Module module, int32_t layer, Pass pass = Pass::Forward) const {
    OpDesc d;
    d.name = std::move(name);
    d.kind = kind;
    d.module = module;
    d.layer = layer;
    d.pass = pass;
    return d;
  }

  // A core-attention op over `heads` BF16 heads: `tokens` queries, keys of width k, values of width n.
  OpDesc attention_desc(std::string name, Module module, int32_t layer, Pass pass, int64_t tokens, int64_t n, int64_t k,
                        int64_t heads) const {
    OpDesc d = base(std::move(name), OpKind::Attention, module, layer, pass);
    d.tokens = tokens;
    d.gemm.m = tokens;
    d.gemm.n = n;
    d.gemm.k = k;
    d.gemm.batch = heads;
    d.gemm.a_type = d.gemm.b_type = d.gemm.out_type = DType::BF16;
    return d;
  }

  std::string lname(int32_t layer, const char* what) const {
    return layer >= 0 ? fmt::format("L{}.{}", layer, what) : std::string(what);
  }

  // ---- DeepSeek's stack (execution.kernel_stack: deepseek) ----
  // Launch geometries of its memory-bound kernels as profile-data's train.json records them (grid, block,
  // registers per thread, shared memory per CTA), as functions of the shapes they run on.
  bool ds() const { return m_deploy.deepseek_kernels; }
  static Launch per_row(int64_t rows, int64_t regs, int64_t smem = 0) { return {rows, 128, regs, smem}; }
  // Torch's element-wise kernels: 128 threads, 4 elements each.
  static Launch torch_elementwise(int64_t elems, int64_t regs) { return {ceil_div(elems, 512), 128, regs, 0}; }
  // apex layer_norm (ln_fwd_kernel): 3 persistent CTAs per SM of 128 threads for hidden 7168 and 1536, 924 CTAs
  // for 512.
  static Launch norm_fwd_launch(int64_t cols) {
    if (cols >= 4096) return {396, 128, 168, 64};
    if (cols >= 1024) return {396, 128, 152, 0};
    return {924, 128, 72, 0};
  }
  static Launch norm_bwd_launch(int64_t cols) {  // ln_bwd_kernel
    if (cols >= 4096) return {132, 256, 200, 28800};
    if (cols >= 1024) return {660, 128, 94, 6208};
    return {528, 128, 116, 8192};
  }
  // A memory-bound kernel of the stack that the model's operations do not name (a copy, a cast back, a transpose
  // of scales): what it reads and writes, and its launch. Its output is transient (not kept for the backward).
  Local stack_op(const std::string& name, OpKind kind, Module mod, int32_t layer, Pass pass, int64_t rows, int64_t read,
                 int64_t written, Launch launch, std::initializer_list<Local> deps, uint32_t flags = kFlagNone) {
    OpDesc d = base(name, kind, mod, layer, pass);
    d.tokens = rows;
    d.bytes_read = read;
    d.bytes_written = written;
    d.bytes_saved = 0;
    d.launch = launch;
    d.flags |= flags;
    return emit(std::move(d), deps);
  }
  // dpsk::grouped_gemm::cuda::utils::transpose: launched before every dense FP8 GEMM (32 CTAs of 512 threads,
  // 64 when K reaches 16384); we read it as re-laying the activation's 1x128 scales for the GEMM.
  Local scale_transpose(const std::string& name, Module mod, int32_t layer, Pass pass, int64_t m, int64_t k,
                        std::initializer_list<Local> deps) {
    const int64_t bytes = tile_scale_bytes(m, k);
    return stack_op(name + ".scale_t", OpKind::Elementwise, mod, layer, pass, m, bytes, bytes,
                    {k >= 16384 ? 64 : 32, 512, 36, 67584}, deps, kFlagScaleLayout);
  }

  // ---- op makers ----
  Local norm(const std::string& name, Module mod, int32_t layer, int64_t rows, int64_t cols, Local in) {
    OpDesc d = base(name, OpKind::Norm, mod, layer);
    d.tokens = rows;
    d.flops = 4 * rows * cols;
    d.bytes_read = rows * cols * 2 + cols * 4;
    d.bytes_written = rows * cols * 2;
    d.params = cols;
    if (ds()) d.launch = norm_fwd_launch(cols);
    return emit(std::move(d), {in});
  }
  // `fwd_in` is the norm's input, `fwd_out` its output: DeepSeek-V3 §3.2.3 recomputes RMSNorm in the backward pass
  // from the input instead of storing the output (memory.recompute_norm), so the input is what the backward keeps;
  // without recomputation the backward reads the kept output as well.
  Local norm_bwd(const std::string& name, Module mod, int32_t layer, int64_t rows, int64_t cols, Local grad,
                 Local fwd_in, Local fwd_out) {
    OpDesc d = base(name + ".bwd", OpKind::Norm, mod, layer, Pass::Dgrad);
    d.tokens = rows;
    d.flops = 8 * rows * cols;
    d.bytes_read = 2 * rows * cols * 2 + cols * 4;
    d.bytes_written = rows * cols * 2 + cols * 4;
    if (!m_deploy.memory.recompute_norm) {
      if (ds()) d.launch = norm_bwd_launch(cols);
      Local id = emit(std::move(d), {grad, fwd_in, fwd_out});
      track_dense_wgrad(id);
      return id;
    }
    d.recompute_flops = 4 * rows * cols;
    d.flags |= kFlagRecompute;
    Local recompute = kNone;
    if (ds()) {
      // DeepSeek's stack recomputes the norm as a forward kernel (profile-data: ln_fwd_kernel in attn(B)/mlp(B)),
      // then runs the backward kernel on its output.
      d.launch = norm_bwd_launch(cols);
      d.recompute_flops = 0;
      OpDesc f = base(name + ".recompute", OpKind::Norm, mod, layer, Pass::Dgrad);
      f.tokens = rows;
      f.flags |= kFlagRecompute;
      f.recompute_flops = 4 * rows * cols;
      f.bytes_read = rows * cols * 2 + cols * 4;
      f.bytes_written = rows * cols * 2;
      f.bytes_saved = 0;
      f.launch = norm_fwd_launch(cols);
      recompute = emit(std::move(f), {fwd_in, grad});
    }
    Local id = emit(std::move(d), {grad, fwd_in, recompute});
    track_dense_wgrad(id);
    m_last_norm_output = recompute != kNone ? recompute : id;
    return id;
  }
  Local quantize(const std::string& name, Module mod, int32_t layer, int64_t rows, int64_t cols, Local in,
                 Pass pass = Pass::Forward, int64_t bytes_saved = -1) {
    OpDesc d = base(name, OpKind::Quantize, mod, layer, pass);
    d.tokens = rows;
    d.flags |= kFlagFp8;
    d.gemm.m = rows;
    d.gemm.k = cols;
    d.gemm.a_type = DType::BF16;
    d.gemm.out_type = DType::E4M3;
    d.gemm.a_quant = QuantGran::Tile1x128;
    d.flops = 3 * rows * cols;
    d.bytes_read = rows * cols * 2;
    d.bytes_written = rows * cols + tile_scale_bytes(rows, cols);
    // What the backward keeps of a forward cast (the input of an FP8 Linear, for its weight gradient): the FP8 copy,
    // or (memory.fp8_activation_cache false) the activation in BF16.
    if (bytes_saved < 0 && pass == Pass::Forward && !m_deploy.memory.fp8_activation_cache)
      bytes_saved = rows * cols * 2;
    d.bytes_saved = bytes_saved;
    if (ds()) d.launch = per_row(rows, 31);  // per_token_cast_to_fp8_with_channels: one CTA per row
    return emit(std::move(d), {in});
  }
  // FP8 1x128 (rows x cols) -> dequantize, transpose, requantize 128x1: the transposed copy a Wgrad GEMM
  // reads on Hopper. Tagged so a chip with transposed shared-memory reads can drop it.
  Local transpose_requant(const std::string& name, Module mod, int32_t layer, int64_t rows, int64_t cols,
                          std::initializer_list<Local> deps) {
    OpDesc d = base(name, OpKind::TransposeRequant, mod, layer, Pass::Wgrad);
    d.tokens = rows;
    d.flags |= kFlagFp8 | kFlagTransposeForFp8;
    d.gemm.m = rows;
    d.gemm.k = cols;
    d.gemm.a_type = DType::E4M3;
    d.gemm.out_type = DType::E4M3;
    d.gemm.a_quant = QuantGran::Tile1x128;
    d.gemm.b_quant = QuantGran::Tile128x1;
    d.flops = 4 * rows * cols;
    d.bytes_read = rows * cols + tile_scale_bytes(rows, cols);
    d.bytes_written = rows * cols + tile_scale_bytes(cols, rows);
    return emit(std::move(d), deps);
  }
  OpDesc elementwise_desc(const std::string& name, OpKind kind, Module mod, int32_t layer, int64_t rows, int64_t cols,
                          int64_t inputs, int64_t flops_per_elem, Pass pass = Pass::Forward) const {
    OpDesc d = base(name, kind, mod, layer, pass);
    d.tokens = rows;
    d.flops = flops_per_elem * rows * cols;
    d.bytes_read = inputs * rows * cols * 2;
    d.bytes_written = rows * cols * 2;
    return d;
  }
  Local elementwise(const std::string& name, OpKind kind, Module mod, int32_t layer, int64_t rows, int64_t cols,
                    int64_t inputs, int64_t flops_per_elem, std::initializer_list<Local> deps,
                    Pass pass = Pass::Forward) {
    return emit(elementwise_desc(name, kind, mod, layer, rows, cols, inputs, flops_per_elem, pass), deps);
  }
  // A forward op run again in the backward pass: its FLOPs count as recomputation, not model FLOPs.
  static OpDesc recomputed(OpDesc d) {
    d.flags |= kFlagRecompute;
    d.recompute_flops = d.flops;
    d.flops = 0;
    return d;
  }

  OpDesc gemm_desc(const std::string& name, OpKind kind, Module mod, int32_t layer, Pass pass, int64_t m, int64_t n,
                   int64_t k, int64_t groups, DType a, DType b, DType out) const {
    OpDesc d = base(name, kind, mod, layer, pass);
    d.tokens = m;
    GemmShape& g = d.gemm;
    g.m = m;
    g.n = n;
    g.k = k;
    g.groups = groups;
    g.a_type = a;
    g.b_type = b;
    g.out_type = out;
    g.a_major = Major::K;
    g.b_major = Major::K;
    bool fp8 = a == DType::E4M3 || a == DType::E5M2;
    if (fp8) {
      d.flags |= kFlagFp8;
      g.a_quant = QuantGran::Tile1x128;
      g.b_quant = QuantGran::Block128x128;
    }
    d.flops = 2 * m * n * k;
    d.bytes_read = m * k * dtype_bytes(a) + groups * n * k * dtype_bytes(b);
    if (fp8) d.bytes_read += tile_scale_bytes(m, k) + groups * block_scale_bytes(n, k);
    d.bytes_written = m * n * dtype_bytes(out);
    return d;
  }

  Local linear_fwd(Linear& lin, std::initializer_list<Local> deps) {
    DType in = lin.fp8 ? DType::E4M3 : DType::BF16;
    OpDesc d = gemm_desc(lin.name, lin.expert ? OpKind::GroupedGemm : OpKind::Gemm, lin.module, lin.layer,
                         Pass::Forward, lin.m, lin.n, lin.k, lin.groups, in, in, lin.out_type);
    d.flags |= lin.flags;
    d.params = lin.params;
    d.bytes_saved = lin.bytes_saved;
    // Emitted before the GEMM: a stream issues a layer's kernels in the order they are emitted.
    Local st = ds() && lin.fp8 && !lin.expert
                   ? scale_transpose(lin.name, lin.module, lin.layer, Pass::Forward, lin.m, lin.k, deps)
                   : kNone;
    lin.gemm = emit(std::move(d), deps);
    dep(st, lin.gemm);
    if (lin.fp8) {
      m_fp8_weights += lin.params;
      m_fp8_scale_bytes += lin.groups * block_scale_bytes(lin.n, lin.k);  // one FP32 scale per 128x128 block
    }
    (lin.expert ? expert_params : dense_params) += lin.params;
    return lin.gemm;
  }

  // Backward of a linear given the op(s) producing dY (BF16 unless dy_fp8). Returns the op producing dX.
  // FP8 on Hopper: dY is cast 1x128 for Dgrad (dX = dY W, reading the transposed FP8 weight copy made once per
  // step), and both dY and the saved X are re-tiled 128x1 through memory for Wgrad (dW = dY^T X).
  Local linear_bwd(const Linear& lin, Local grad, Local grad2 = kNone, bool dy_fp8 = false) {
    const int64_t m = lin.m, n = lin.n, k = lin.k;
    Local dy = grad;
    if (lin.fp8 && !dy_fp8) {
      dy = quantize(lin.name + ".dy_quant", lin.module, lin.layer, m, n, grad, Pass::Dgrad);
      dep(grad2, dy);
      grad2 = kNone;
    }
    OpKind kind = lin.expert ? OpKind::GroupedGemm : OpKind::Gemm;
    DType t = lin.fp8 ? DType::E4M3 : DType::BF16;
    OpDesc dg = gemm_desc(lin.name + ".dgrad", kind, lin.module, lin.layer, Pass::Dgrad, m, k, n, lin.groups, t, t,
                          DType::BF16);
    dg.flags |= lin.flags;
    dg.params = lin.params;
    dg.gemm.b_transposed_copy = lin.fp8;
    Local wt = kNone, st = kNone;
    if (ds() && lin.fp8) {
      // DeepSeek's stack transposes the FP8 weights for every use (cuda::batched_transpose, one CTA per 128 x 128
      // block) rather than keep a transposed copy; a chip with transposed shared-memory reads needs none.
      const int64_t wbytes = lin.params + lin.groups * block_scale_bytes(n, k);
      wt = stack_op(lin.name + ".w_t", OpKind::WeightCast, lin.module, lin.layer, Pass::Dgrad, m, wbytes, wbytes,
                    {ceil_div(lin.params, kQuantTile * kQuantTile), 512, 32, 16896}, {grad},
                    kFlagFp8 | kFlagTransposeForFp8);
      if (!lin.expert) st = scale_transpose(lin.name + ".dgrad", lin.module, lin.layer, Pass::Dgrad, m, n, {dy});
    }
    Local dx = emit(std::move(dg), {dy, grad2, wt, st});

    Local a = dy, b = lin.x_op;
    if (lin.fp8) {
      a = transpose_requant(lin.name + ".dy_t", lin.module, lin.layer, m, n, {dy});
      b = transpose_requant(lin.name + ".x_t", lin.module, lin.layer, m, k, {lin.x_op});
    }
    m_last_x = b;
    // Wgrad: D[N,K] = A[N,M] B[K,M]^T, reducing over tokens; the FP32 output accumulates over micro-batches.
    OpDesc wg = gemm_desc(lin.name + ".wgrad", kind, lin.module, lin.layer, Pass::Wgrad, n, k, m, lin.groups, t, t,
                          DType::FP32);
    wg.flags |= lin.flags;
    wg.tokens = m;
    wg.params = lin.params;
    if (lin.fp8) {
      wg.gemm.a_quant = QuantGran::Tile128x1;
      wg.gemm.b_quant = QuantGran::Tile128x1;
      wg.gemm.a_transposed_copy = true;
      wg.gemm.b_transposed_copy = true;
      wg.bytes_read = m * n + m * k + tile_scale_bytes(n, m) + tile_scale_bytes(k, m);
    }
    if (lin.expert && lin.groups > 1 && m_deploy.expert_wgrad_per_expert) {
      // One dense kernel per local expert over its tokens (balanced routing: m / groups each), every other one on
      // the second compute stream.
      const int64_t rows = m / lin.groups;
      for (int64_t e = 0; e < lin.groups; ++e) {
        OpDesc one = gemm_desc(lin.name + ".wgrad", OpKind::Gemm, lin.module, lin.layer, Pass::Wgrad, n, k, rows, 1, t,
                               t, DType::FP32);
        one.flags |= lin.flags | (e % 2 == 1 ? kFlagSideStream : kFlagNone);
        one.tokens = rows;
        one.params = lin.params / lin.groups;
        one.gemm.a_quant = wg.gemm.a_quant;
        one.gemm.b_quant = wg.gemm.b_quant;
        one.gemm.a_transposed_copy = wg.gemm.a_transposed_copy;
        one.gemm.b_transposed_copy = wg.gemm.b_transposed_copy;
        one.bytes_read = wg.bytes_read / lin.groups;
        one.bytes_written = wg.bytes_written / lin.groups;
        m_t.wgrad_expert.push_back(emit(std::move(one), {a, b, grad2}));
      }
      return dx;
    }
    Local w = emit(std::move(wg), {a, b, grad2});
    (lin.expert ? m_t.wgrad_expert : m_t.wgrad_dense).push_back(w);
    m_last_wgrad = w;
    return dx;
  }

  // Runs a forward linear again in the backward pass, after `after` (DeepSeek-V3 §3.2.3 recomputes the MLA
  // up-projections rather than keep their outputs): the same GEMM from the saved input, its FLOPs counted as
  // recomputation (not model FLOPs).
  Local linear_recompute(const Linear& lin, Local after) {
    DType in = lin.fp8 ? DType::E4M3 : DType::BF16;
    OpDesc d =
        recomputed(gemm_desc(lin.name + ".recompute", lin.expert ? OpKind::GroupedGemm : OpKind::Gemm, lin.module,
                             lin.layer, Pass::Dgrad, lin.m, lin.n, lin.k, lin.groups, in, in, lin.out_type));
    d.flags |= lin.flags;
    return emit(std::move(d), {lin.x_op, after});
  }

  void track_dense_wgrad(Local id) { m_t.wgrad_dense.push_back(id); }

  Local comm(const std::string& name, OpKind kind, Module mod, int32_t layer, Pass pass, CommGroup group,
             int64_t group_size, int64_t tokens, int64_t bytes, DType dtype, std::initializer_list<Local> deps,
             int64_t fanout = 0, int64_t bytes_per_copy = 0) {
    OpDesc d = base(name, kind, mod, layer, pass);
    d.tokens = tokens;
    d.comm.group = group;
    d.comm.group_size = group_size;
    d.comm.tokens = tokens;
    d.comm.fanout = fanout;
    d.comm.node_limit = kind == OpKind::AllToAllDispatch || kind == OpKind::AllToAllCombine ? m_deploy.node_limit : 0;
    d.comm.bytes_per_copy = bytes_per_copy;
    d.comm.bytes = bytes;
    d.comm.dtype = dtype;
    d.bytes_read = bytes;
    d.bytes_written = bytes;
    return emit(std::move(d), deps);
  }

  // A MoE all-to-all. DeepEP's normal kernels (training, prefill) first run a handshake among the EP group on the
  // communication stream (notify_dispatch, or cached_notify with a cached layout: profile-data train.json runs one
  // before every dispatch and combine), named like the transfer so the two are one op to a comparison.
  Local alltoall(int32_t layer, const char* what, OpKind kind, Module mod, Pass pass, int64_t tokens, int64_t bytes,
                 DType dtype, std::initializer_list<Local> deps, int64_t fanout, int64_t bytes_per_copy) {
    const std::string name = lname(layer, what);
    const int64_t ep = m_deploy.ep;
    if (m_decode) {
      return comm(name, kind, mod, layer, pass, CommGroup::EP, ep, tokens, bytes, dtype, deps, fanout, bytes_per_copy);
    }
    OpDesc h = base(name, kind, mod, layer, pass);
    h.flags |= kFlagHandshake;
    h.tokens = tokens;
    h.comm.group = CommGroup::EP;
    h.comm.group_size = ep;
    h.comm.tokens = tokens;
    h.comm.fanout = fanout;
    h.comm.node_limit = m_deploy.node_limit;
    h.comm.bytes = ep * 4 * 2;  // a token count to and from every peer
    h.comm.dtype = DType::FP32;
    Local shake = emit(std::move(h), deps);
    return comm(name, kind, mod, layer, pass, CommGroup::EP, ep, tokens, bytes, dtype, {shake}, fanout, bytes_per_copy);
  }

  Linear make_linear(int32_t layer, Module mod, const char* what, int64_t m, int64_t n, int64_t k, Local x_op,
                     bool fp8 = true) {
    Linear l;
    l.name = lname(layer, what);
    l.module = mod;
    l.layer = layer;
    l.flags = m_extra_flags;
    l.m = m;
    l.n = n;
    l.k = k;
    l.fp8 = fp8;
    l.params = n * k;
    l.x_op = x_op;
    return l;
  }

  // SwiGLU over rows x inter: silu(gate) * up, ~5 FLOPs per output element.
  Local swiglu(int32_t layer, Module mod, const char* what, int64_t rows, int64_t inter, Local in) {
    OpDesc d = base(lname(layer, what), OpKind::Activation, mod, layer);
    d.tokens = rows;
    d.flops = 5 * rows * inter;
    d.bytes_read = rows * 2 * inter * 2;
    d.bytes_written = rows * inter * 2;
    if (ds()) d.launch = per_row(rows, 32);  // swiglu_forward_with_weight_and_per_token_cast_to_fp8
    return emit(std::move(d), {in});
  }
  // Backward of SwiGLU, recomputing it from the cached input (DeepSeek-V3 §3.3.4 caches the MoE SwiGLU input
  // in FP8 and recomputes the output in the backward pass).
  Local swiglu_bwd(int32_t layer, Module mod, const char* what, int64_t rows, int64_t inter, Local grad, Local fwd_in,
                   bool fp8_cached) {
    OpDesc d = base(lname(layer, what) + ".bwd", OpKind::Activation, mod, layer, Pass::Dgrad);
    d.tokens = rows;
    d.flags |= kFlagRecompute;
    d.flops = 10 * rows * inter;
    d.recompute_flops = 5 * rows * inter;
    d.bytes_read = rows * 2 * inter * (fp8_cached ? 1 : 2) + rows * inter * 2;
    d.bytes_written = rows * 2 * inter * 2;
    // swiglu_forward_backward_with_weight (one CTA per two rows) for the experts, swiglu_backward (112 CTAs of 1024)
    // for the shared expert.
    if (ds()) d.launch = fp8_cached ? Launch{ceil_div(rows, 2), 128, 77, 0} : Launch{112, 1024, 40, 0};
    return emit(std::move(d), {grad, fwd_in});
  }

  // The gradient of a residual block's input: the branch's input gradient plus the residual's (DeepSeek's stack adds
  // them in a torch element-wise kernel; the ideal stack fuses the addition into the norm's backward).
  Local residual_bwd(const std::string& name, Module mod, int32_t layer, Local branch, Local residual) {
    if (!ds()) return branch;
    const int64_t n = m_T * m_model.dim;
    return stack_op(name, OpKind::Elementwise, mod, layer, Pass::Dgrad, m_T, 2 * n * 2, n * 2, torch_elementwise(n, 24),
                    {branch, residual});
  }

  // ---- blocks: each emits its forward ops and pushes one closure that emits its backward ----
  using Backward = std::function<Local(Local grad)>;

  Local embedding(Local in, std::vector<Backward>& tape, const char* name, Module mod, int32_t layer);
  Local attention(int32_t layer, Module mod, Local in, std::vector<Backward>& tape);
  void attention_projections(AttnForward& f);
  void attention_core_mha(AttnForward& f);
  void attention_core_absorbed(AttnForward& f);
  Local attention_output(AttnForward& f);
  Local attention_backward(const AttnForward& f, Local grad);
  Local dense_ffn(int32_t layer, Local in, std::vector<Backward>& tape);
  Local moe(int32_t layer, Module mod, Local in, std::vector<Backward>& tape);
  void moe_route(MoeForward& f);
  void moe_routed_experts(MoeForward& f);
  void moe_shared_expert(MoeForward& f);
  Local moe_output(const MoeForward& f);
  Local moe_swiglu_bwd(const MoeForward& f, const char* prefix, bool routed, int64_t rows, int64_t inter,
                       const Linear& w2, Local h, Local grad);
  Local moe_routed_backward(const MoeForward& f, Local grad, Local& d_h);
  Local moe_backward(const MoeForward& f, Local grad);
  Local head(const char* prefix, Module mod, int32_t layer, Local in, std::vector<Backward>& tape);
  // Returns {the module's hidden state (input of the next depth), its loss (or head output)}.
  std::pair<Local, Local> mtp_module(int64_t index, Local main_hidden, std::vector<Backward>& tape);

  OpGraph& m_graph;
  const ModelConfig& m_model;
  const Deployment& m_deploy;
  const GraphOptions& m_options;
  Template& m_t;
  int64_t m_T = 0;      // tokens per GPU per micro-batch outside attention (MoE, FFN)
  int64_t m_Ta = 0;     // tokens per GPU inside attention (the TP group's tokens)
  int64_t m_heads = 0;  // attention heads per GPU
  int32_t m_gpus = 1;
  bool m_train = false;
  bool m_decode = false;
  std::vector<double> m_load;
  Local m_last_x = kNone;            // the op the last linear_bwd's weight gradient reads its input from
  Local m_last_wgrad = kNone;        // the last linear_bwd's weight-gradient GEMM (one kernel)
  Local m_last_norm_output = kNone;  // the op of the last norm_bwd that recomputes the norm's output
  uint32_t m_extra_flags = 0;        // kFlagMtp while emitting an MTP module
  int64_t m_fp8_weights = 0;         // FP8 GEMM weights of this stage (for the per-step casts)
  int64_t m_fp8_scale_bytes = 0;     // their 128x128 block scales, counted per tensor

 public:
  int64_t fp8_weights() const { return m_fp8_weights; }
  int64_t fp8_scale_bytes() const { return m_fp8_scale_bytes; }
  int64_t dense_params = 0;   // parameters reduced over the dense DP group
  int64_t expert_params = 0;  // parameters reduced over the expert DP group
};

Local StageBuilder::embedding(Local in, std::vector<Backward>& tape, const char* name, Module mod, int32_t layer) {
  const int64_t D = m_model.dim, V = m_model.vocab_size;
  // MTP reads the main model's embedding (memory.mtp_shared_embedding_head), or has its own.
  const bool shared = mod == Module::Mtp && m_deploy.memory.mtp_shared_embedding_head;
  OpDesc d = base(name, OpKind::Embedding, mod, layer);
  d.tokens = m_T;
  d.bytes_read = m_T * D * 2 + m_T * 4;
  d.bytes_written = m_T * D * 2;
  d.params = shared ? 0 : V * D;
  if (!shared) dense_params += V * D;
  Local e = emit(std::move(d), {in});
  if (m_train) {
    std::string wname = std::string(name) + ".wgrad";
    tape.push_back([this, wname, mod, layer, D](Local grad) {
      OpDesc w = base(wname, OpKind::Embedding, mod, layer, Pass::Wgrad);
      w.tokens = m_T;
      w.flops = m_T * D;
      w.bytes_read = m_T * D * 2;
      w.bytes_written = m_T * D * 4;  // scatter-add into the FP32 gradient
      Local id = emit(std::move(w), {grad});
      track_dense_wgrad(id);
      return id;
    });
  }
  return e;
}

// Phase 1 of attention: norm, FP8 cast, TP gather, the fused down-projection, the query path, the KV norm and RoPE.
void StageBuilder::attention_projections(AttnForward& f) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, H = m_heads, dq = M.q_lora_rank, dc = M.kv_lora_rank, dr = M.qk_rope_head_dim;
  const int64_t dqk = M.qk_head_dim();
  const int64_t T = m_T, Ta = m_Ta, tp = m_deploy.tp;

  f.xn = norm(lname(layer, "attn_norm"), mod, layer, T, D, f.in);
  dense_params += D;
  Local xq = quantize(lname(layer, "attn.x_quant"), mod, layer, T, D, f.xn);
  Local x = xq;
  if (tp > 1) {
    // Sequence parallelism: gather the TP group's tokens (FP8 + 1x128 scales) before the projections.
    x = comm(lname(layer, "attn.all_gather"), OpKind::AllGather, mod, layer, Pass::Forward, CommGroup::TP, tp, Ta,
             Ta * (D + ceil_div(D, kQuantTile) * 4), DType::E4M3, {xq});
  }
  // Down-projections fused as in DeepGEMM's N=2112 shape: wq_a (q_lora_rank) + wkv_a (kv_lora_rank + rope).
  const int64_t down_n = dc + dr + dq;
  f.down = make_linear(layer, mod, dq > 0 ? "attn.wqkv_a" : "attn.wkv_a", Ta, down_n, D, x);
  f.dn_op = linear_fwd(f.down, {x});
  if (dq > 0) {
    f.qn = norm(lname(layer, "attn.q_norm"), mod, layer, Ta, dq, f.dn_op);
    dense_params += dq;
    Local qq = quantize(lname(layer, "attn.q_quant"), mod, layer, Ta, dq, f.qn);
    f.wq = make_linear(layer, mod, "attn.wq_b", Ta, H * dqk, dq, qq);
    f.q = linear_fwd(f.wq, {qq});
  } else {
    f.wq = make_linear(layer, mod, "attn.wq", Ta, H * dqk, D, x);
    f.q = linear_fwd(f.wq, {x});
  }
  f.kvn = norm(lname(layer, "attn.kv_norm"), mod, layer, Ta, dc, f.dn_op);
  dense_params += dc;
  // rotary_kernel: one CTA of 128 threads per 4 tokens and head (profile-data: grid 1024 x 128 for 4096 tokens).
  f.rope_launch = Launch{ceil_div(Ta, 4) * (H + 1), 128, 30, 640};
  OpDesc rope_d = elementwise_desc(lname(layer, "attn.rope"), OpKind::Rope, mod, layer, Ta, (H + 1) * dr, 1, 3);
  if (ds()) rope_d.launch = f.rope_launch;
  f.rope = emit(std::move(rope_d), {f.q, f.dn_op});
}

// Phase 2 (train, prefill): the non-absorbed MHA core (head dim 192 = 128 + 64), causal over whole sequences.
void StageBuilder::attention_core_mha(AttnForward& f) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t H = m_heads, dc = M.kv_lora_rank, dr = M.qk_rope_head_dim;
  const int64_t dn = M.qk_nope_head_dim, dv = M.v_head_dim, dqk = M.qk_head_dim();
  const int64_t Ta = m_Ta;

  Local kvq = quantize(lname(layer, "attn.kv_quant"), mod, layer, Ta, dc, f.kvn);
  f.wkv_b = make_linear(layer, mod, "attn.wkv_b", Ta, H * (dn + dv), dc, kvq);
  f.kv = linear_fwd(f.wkv_b, {kvq});
  // Non-absorbed MHA form (head dim 192 = 128 + 64), causal over whole sequences.
  const int64_t S = m_deploy.seq_len;
  const int64_t seqs = Ta / S;
  f.pairs = seqs * (m_options.causal ? S * (S + 1) / 2 : S * S);
  OpDesc a = attention_desc(lname(layer, "attn.core"), mod, layer, Pass::Forward, Ta, dv, dqk, H);
  a.flops = 2 * H * f.pairs * (dqk + dv);
  a.bytes_read = Ta * H * (2 * dqk + dv) * 2;
  a.bytes_written = Ta * H * dv * 2 + Ta * H * 4;
  if (m_train) a.bytes_saved = Ta * H * 4;  // the row log-sum-exp; O is kept by attn.o_quant
  if (ds()) {
    // FlashAttention takes Q and K whole ([tokens, heads, 192]): DeepSeek's stack assembles K from k_nope and the
    // shared k_pe (a _copy_tensor_kernel, one CTA per token) and copies q_pe into Q (a torch element-wise copy).
    f.k_asm = stack_op(lname(layer, "attn.k_assemble"), OpKind::Elementwise, mod, layer, Pass::Forward, Ta,
                       Ta * (H * dn + dr) * 2, Ta * H * dqk * 2, per_row(Ta, 90), {f.kv, f.rope});
    f.q_pe = stack_op(lname(layer, "attn.q_pe_copy"), OpKind::Elementwise, mod, layer, Pass::Forward, Ta,
                      Ta * H * dr * 2, Ta * H * dr * 2, torch_elementwise(Ta * H * dr, 18), {f.q, f.rope});
  }
  f.core = emit(std::move(a), {f.kv, f.rope, f.k_asm, f.q_pe});
}

// Phase 2 (decode): absorbed MLA over the cached latents, with the KV-cache append.
void StageBuilder::attention_core_absorbed(AttnForward& f) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t H = m_heads, dc = M.kv_lora_rank, dr = M.qk_rope_head_dim;
  const int64_t dn = M.qk_nope_head_dim, dv = M.v_head_dim;
  const int64_t Ta = m_Ta;

  // Absorbed MLA for decode (DeepSeek-V3 inference/model.py, attn_impl "absorb"): q_nope is taken into the
  // latent space through wkv_b's key half, attention runs over the cached c_kv and k_pe (512 + 64 per token,
  // one KV head), and the output returns through wkv_b's value half. BF16 per-head products.
  const int64_t L = m_deploy.seq_len;
  const int64_t requests = Ta / (1 + m_deploy.speculative_tokens);
  // One per-head BF16 product: H problems of m x n x k, an n x k weight per head.
  auto per_head_product = [&](const char* name, int64_t m, int64_t n, int64_t k, Local in) {
    OpDesc g = gemm_desc(lname(layer, name), OpKind::BatchedGemm, mod, layer, Pass::Forward, m, n, k, 1, DType::BF16,
                         DType::BF16, DType::BF16);
    g.gemm.batch = H;
    g.flops *= H;
    g.bytes_read = H * (m * k + n * k) * 2;
    g.bytes_written = H * m * n * 2;
    g.params = H * n * k;
    dense_params += g.params;
    return emit(std::move(g), {in});
  };
  Local q_lat = per_head_product("attn.q_absorb", Ta, dc, dn, f.q);
  OpDesc kva = base(lname(layer, "attn.kv_cache_append"), OpKind::KvCacheAppend, mod, layer);
  kva.tokens = Ta;
  kva.bytes_read = Ta * (dc + dr) * 2;
  kva.bytes_written = Ta * (dc + dr) * 2;
  Local append = emit(std::move(kva), {f.kvn, f.rope});
  OpDesc a = attention_desc(lname(layer, "attn.core"), mod, layer, Pass::Forward, Ta, dc, dc + dr, H);
  a.flops = 2 * H * Ta * L * ((dc + dr) + dc);  // FlashMLA: 2 h_q s_q s_k (d_k + d_v)
  a.bytes_read = requests * L * (dc + dr) * 2 + Ta * H * (dc + dr) * 2;
  a.bytes_written = Ta * H * dc * 2;
  Local att = emit(std::move(a), {q_lat, append, f.rope});
  f.core = per_head_product("attn.o_absorb", Ta, dv, dc, att);
}

// Phase 3 of attention: the output's cast (and the copy the backward keeps), wo, the TP reduce-scatter and the
// residual; returns the residual.
Local StageBuilder::attention_output(AttnForward& f) {
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = m_model.dim, H = m_heads, dv = m_model.v_head_dim;
  const int64_t T = m_T, Ta = m_Ta, tp = m_deploy.tp;

  // DeepSeek-V3 §3.3.4 keeps the attention output, the input of wo, once for the backward in a custom E5M6
  // format (12 bits, 1x128 tiles with power-of-2 scales): wo's Wgrad and the attention's backward both read that
  // copy. (The cast kernel's time does not include writing it: about 1.5 B per value more.)
  // Without it (memory.attn_out_e5m6 false) the output is kept in BF16.
  const bool e5m6 = m_deploy.memory.attn_out_e5m6;
  const int64_t o_saved = !m_train || m_decode ? -1
                          : e5m6               ? Ta * H * dv * 3 / 2 + tile_scale_bytes(Ta, H * dv)
                                               : Ta * H * dv * 2;
  f.oq = quantize(lname(layer, "attn.o_quant"), mod, layer, Ta, H * dv, f.core, Pass::Forward, o_saved);
  if (ds() && m_train && !m_decode && e5m6) {
    // DeepSeek's stack writes the E5M6 copy in a kernel of its own (per_token_cast_to_fp8_with_fp8_special_fmt);
    // attn.o_quant counts the memory it keeps.
    f.o_e5m6 =
        stack_op(lname(layer, "attn.o_cast_e5m6"), OpKind::Elementwise, mod, layer, Pass::Forward, Ta, Ta * H * dv * 2,
                 Ta * H * dv * 3 / 2 + tile_scale_bytes(Ta, H * dv), per_row(Ta, 32, 32), {f.core});
  }
  f.wo = make_linear(layer, mod, "attn.wo", Ta, D, H * dv, f.oq);
  Local o = linear_fwd(f.wo, {f.oq});
  if (tp > 1) {
    o = comm(lname(layer, "attn.reduce_scatter"), OpKind::ReduceScatter, mod, layer, Pass::Forward, CommGroup::TP, tp,
             Ta, Ta * D * 2, DType::BF16, {o});
  }
  OpDesc res_d = elementwise_desc(lname(layer, "attn.residual"), OpKind::Elementwise, mod, layer, T, D, 2, 1);
  if (ds()) res_d.launch = torch_elementwise(T * D, 22);
  return emit(std::move(res_d), {o, f.in});
}

// Phase 4 of attention (the tape's closure): the backward from the output gradient to the input gradient.
Local StageBuilder::attention_backward(const AttnForward& f, Local grad) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, H = m_heads, dq = M.q_lora_rank, dc = M.kv_lora_rank, dr = M.qk_rope_head_dim;
  const int64_t dn = M.qk_nope_head_dim, dv = M.v_head_dim, dqk = M.qk_head_dim();
  const int64_t T = m_T, Ta = m_Ta, tp = m_deploy.tp;
  const int64_t pairs = f.pairs;

  Local g = grad;
  if (tp > 1) {
    g = comm(lname(layer, "attn.reduce_scatter.bwd"), OpKind::AllGather, mod, layer, Pass::Dgrad, CommGroup::TP, tp, Ta,
             Ta * D * 2, DType::BF16, {g});
  }
  Local d_o = linear_bwd(f.wo, g);
  Local o_back = kNone;
  if (f.o_e5m6 != kNone) {
    // The E5M6 copy back to BF16 for the attention's backward (per_token_cast_back_special_fmt, 896 CTAs).
    o_back =
        stack_op(lname(layer, "attn.o_cast_back"), OpKind::Elementwise, mod, layer, Pass::Dgrad, Ta,
                 Ta * H * dv * 3 / 2 + tile_scale_bytes(Ta, H * dv), Ta * H * dv * 2, {896, 128, 32, 0}, {f.o_e5m6, g});
  }
  // Q, K and V are not kept: the backward recomputes the up-projections (and RoPE) from the cached FP8
  // latents (DeepSeek-V3 §3.2.3, memory.recompute_mla_up_proj). Without q compression the query projection is
  // not an up-projection and its output is kept. Without recomputation the backward reads the forward's Q, K, V.
  const bool up_re = m_deploy.memory.recompute_mla_up_proj;
  Local kv_re = up_re ? linear_recompute(f.wkv_b, g) : f.kv;
  Local rope_re = f.rope;
  if (dq > 0 && up_re) {
    Local q_re = linear_recompute(f.wq, g);
    OpDesc rr = recomputed(elementwise_desc(lname(layer, "attn.rope.recompute"), OpKind::Rope, mod, layer, Ta,
                                            (H + 1) * dr, 1, 3, Pass::Dgrad));
    if (ds()) rr.launch = f.rope_launch;
    rope_re = emit(std::move(rr), {q_re, f.dn_op});
  }
  Local k_asm_re = up_re ? kNone : f.k_asm, q_pe_re = up_re ? kNone : f.q_pe;
  if (ds() && up_re) {
    k_asm_re = stack_op(lname(layer, "attn.k_assemble.recompute"), OpKind::Elementwise, mod, layer, Pass::Dgrad, Ta,
                        Ta * (H * dn + dr) * 2, Ta * H * dqk * 2, per_row(Ta, 90), {kv_re, rope_re});
    q_pe_re = stack_op(lname(layer, "attn.q_pe_copy.recompute"), OpKind::Elementwise, mod, layer, Pass::Dgrad, Ta,
                       Ta * H * dr * 2, Ta * H * dr * 2, torch_elementwise(Ta * H * dr, 18), {rope_re});
  }
  OpDesc b = attention_desc(lname(layer, "attn.core.bwd"), mod, layer, Pass::Dgrad, Ta, dv, dqk, H);
  b.flops = 2 * (2 * H * pairs * (dqk + dv));  // dV, dP, dQ, dK: twice the forward products
  b.recompute_flops = 2 * H * pairs * dqk;     // scores recomputed from Q and K (FlashAttention)
  b.flags |= kFlagRecompute;
  b.bytes_read = Ta * H * (2 * dqk + 3 * dv) * 2 + Ta * H * 4;
  b.bytes_written = Ta * H * (2 * dqk + dv) * 2;
  Local d_core = emit(std::move(b), {d_o, f.core, f.oq, kv_re, rope_re});  // O from the E5M6 copy
  dep(o_back, d_core);
  dep(k_asm_re, d_core);
  dep(q_pe_re, d_core);
  if (!up_re) dep(f.q, d_core);  // q_nope as the forward computed it
  Local d_split = kNone;
  if (ds()) {
    // dQ and dK come back whole ([tokens, heads, 192]) and are split into their nope and rope parts (two more
    // _copy_tensor_kernel launches).
    Local dq_split = stack_op(lname(layer, "attn.dq_split"), OpKind::Elementwise, mod, layer, Pass::Dgrad, Ta,
                              Ta * H * dqk * 2, Ta * H * dqk * 2, per_row(Ta, 90), {d_core});
    d_split = stack_op(lname(layer, "attn.dk_split"), OpKind::Elementwise, mod, layer, Pass::Dgrad, Ta,
                       Ta * H * dqk * 2, Ta * H * (dn + dr) * 2, per_row(Ta, 90), {dq_split});
  }
  OpDesc drd =
      elementwise_desc(lname(layer, "attn.rope.bwd"), OpKind::Rope, mod, layer, Ta, (H + 1) * dr, 1, 3, Pass::Dgrad);
  if (ds()) drd.launch = f.rope_launch;
  Local d_rope = emit(std::move(drd), {d_core, d_split});
  Local d_kv = linear_bwd(f.wkv_b, d_core);
  Local d_kvn = norm_bwd(lname(layer, "attn.kv_norm"), mod, layer, Ta, dc, d_kv, f.dn_op, f.kvn);
  Local d_q = linear_bwd(f.wq, d_rope);
  Local d_down_in = d_q;
  if (dq > 0) d_down_in = norm_bwd(lname(layer, "attn.q_norm"), mod, layer, Ta, dq, d_q, f.dn_op, f.qn);
  Local d_x = dq > 0 ? linear_bwd(f.down, d_down_in, d_kvn) : kNone;
  if (dq == 0) {
    // Without q compression, wq and wkv_a both read x: their input gradients add up.
    d_x = linear_bwd(f.down, d_kvn, d_q);
  }
  if (tp > 1) {
    d_x = comm(lname(layer, "attn.all_gather.bwd"), OpKind::ReduceScatter, mod, layer, Pass::Dgrad, CommGroup::TP, tp,
               Ta, Ta * D * 2, DType::BF16, {d_x});
  }
  return residual_bwd(lname(layer, "attn.residual.bwd"), mod, layer,
                      norm_bwd(lname(layer, "attn_norm"), mod, layer, T, D, d_x, f.in, f.xn), grad);
}

Local StageBuilder::attention(int32_t layer, Module mod, Local in, std::vector<Backward>& tape) {
  AttnForward f;
  f.layer = layer;
  f.mod = mod;
  f.in = in;
  attention_projections(f);
  if (!m_decode) {
    attention_core_mha(f);
  } else {
    attention_core_absorbed(f);
  }
  Local out = attention_output(f);
  if (m_train) tape.push_back([f, this](Local grad) { return attention_backward(f, grad); });
  return out;
}

Local StageBuilder::dense_ffn(int32_t layer, Local in, std::vector<Backward>& tape) {
  const int64_t D = m_model.dim, I = m_model.inter_dim, T = m_T;
  const Module mod = Module::DenseFfn;
  Local xn = norm(lname(layer, "ffn_norm"), mod, layer, T, D, in);
  dense_params += D;
  Local xq = quantize(lname(layer, "ffn.x_quant"), mod, layer, T, D, xn);
  Linear w13 = make_linear(layer, mod, "ffn.w13", T, 2 * I, D, xq);
  Local h = linear_fwd(w13, {xq});
  Local act = swiglu(layer, mod, "ffn.swiglu", T, I, h);
  Local hq = quantize(lname(layer, "ffn.h_quant"), mod, layer, T, I, act);
  Linear w2 = make_linear(layer, mod, "ffn.w2", T, D, I, hq);
  Local y = linear_fwd(w2, {hq});
  Local out = elementwise(lname(layer, "ffn.residual"), OpKind::Elementwise, mod, layer, T, D, 2, 1, {y, in});
  if (m_train) {
    tape.push_back([=, this](Local grad) {
      Local d_act = linear_bwd(w2, grad);
      Local d_h = swiglu_bwd(layer, mod, "ffn.swiglu", T, I, d_act, h, false);
      Local d_x = linear_bwd(w13, d_h);
      return norm_bwd(lname(layer, "ffn_norm"), mod, layer, T, D, d_x, in, xn);
    });
  }
  return out;
}

// Phase 1 of the MoE block: the token copies this GPU's experts process, the norm, the gate, the top-k selection
// and the FP8 cast of the input.
void StageBuilder::moe_route(MoeForward& f) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, T = m_T, E = M.n_routed_experts;
  const int64_t fanout = m_deploy.fanout(M), groups = m_deploy.experts_per_gpu(M);
  // Token copies this GPU's experts process: its balanced share, times its load in this layer (a whole number per
  // expert).
  f.R = T * fanout;
  if (layer >= 0 && static_cast<size_t>(layer) < m_load.size()) {
    const auto per_expert =
        std::llround(static_cast<double>(f.R) * m_load[static_cast<size_t>(layer)] / static_cast<double>(groups));
    f.R = std::max<int64_t>(1, per_expert) * groups;
  }
  f.fp8_copy = D + ceil_div(D, kQuantTile) * 4;  // FP8 payload + 1x128 FP32 scales
  f.shared_local = M.n_shared_experts > 0 && !m_deploy.shared_as_routed;
  f.Is = M.n_shared_experts * M.moe_inter_dim;
  f.swiglu_fp8 = m_deploy.memory.moe_swiglu_fp8;

  f.xn = norm(lname(layer, "ffn_norm"), mod, layer, T, D, f.in);
  dense_params += D;
  // Gating stays in higher precision (DeepSeek-V3 §3.3): BF16 GEMM with FP32 scores.
  f.gate = make_linear(layer, mod, "moe.gate", T, E, D, f.xn, false);
  f.gate.out_type = DType::FP32;
  linear_fwd(f.gate, {f.xn});
  OpDesc rt = base(lname(layer, "moe.topk"), OpKind::Router, mod, layer);
  rt.tokens = T;
  rt.flops = 4 * T * E;  // score function, bias, group scores, selection
  rt.bytes_read = T * E * 4 + E * 4;
  rt.bytes_written = T * fanout * 8;
  rt.params = E;  // score-correction bias
  dense_params += E;
  f.topk = emit(std::move(rt), {f.gate.gemm});
  f.xq = quantize(lname(layer, "moe.x_quant"), mod, layer, T, D, f.xn);
}

// Phase 2 of the MoE block: the routed experts (dispatch, permute, w13, SwiGLU, w2, unpermute, combine).
void StageBuilder::moe_routed_experts(MoeForward& f) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, I = M.moe_inter_dim, T = m_T, R = f.R, fp8_copy = f.fp8_copy;
  const int64_t ep = m_deploy.ep, fanout = m_deploy.fanout(M), groups = m_deploy.experts_per_gpu(M);

  Local recv = f.xq;
  if (ep > 1) {
    recv = alltoall(layer, "moe.dispatch", OpKind::AllToAllDispatch, mod, Pass::Forward, T, T * fanout * fp8_copy,
                    DType::E4M3, {f.xq, f.topk}, fanout, fp8_copy);
  }
  OpDesc pm = base(lname(layer, "moe.permute"), OpKind::Permute, mod, layer);
  pm.tokens = R;
  pm.bytes_read = R * fp8_copy;
  pm.bytes_written = R * fp8_copy;
  if (ds()) pm.launch = {ceil_div(R, 16), 512, 32, 0};  // expand_to_fused_with_scales: 16 rows per CTA of 512
  // The experts' input, kept for w13's weight gradient: in FP8 as dispatched, or in BF16 without the FP8 cache.
  if (m_train && !m_deploy.memory.fp8_activation_cache) pm.bytes_saved = R * D * 2;
  Local perm = emit(std::move(pm), {recv, f.topk});

  f.w13 = make_linear(layer, mod, "moe.experts.w13", R, 2 * I, D, perm);
  f.w13.expert = true;
  f.w13.groups = groups;
  f.w13.params = groups * 2 * I * D;
  // DeepSeek-V3 §3.3.4 caches the SwiGLU input of the MoE in FP8 (1x128 tiles) for the backward, which
  // recomputes the SwiGLU from it (memory.moe_swiglu_fp8); without it the input stays in BF16.
  if (m_train && f.swiglu_fp8) f.w13.bytes_saved = R * 2 * I + tile_scale_bytes(R, 2 * I);
  f.h = linear_fwd(f.w13, {perm});
  Local act = swiglu(layer, mod, "moe.experts.swiglu", R, I, f.h);
  Local hq = quantize(lname(layer, "moe.experts.h_quant"), mod, layer, R, I, act);
  f.w2 = make_linear(layer, mod, "moe.experts.w2", R, D, I, hq);
  f.w2.expert = true;
  f.w2.groups = groups;
  f.w2.params = groups * I * D;
  Local y = linear_fwd(f.w2, {hq});
  OpDesc um = base(lname(layer, "moe.unpermute"), OpKind::Unpermute, mod, layer);
  um.tokens = R;
  um.bytes_read = R * D * 2;
  um.bytes_written = R * D * 2;
  if (ds()) um.launch = per_row(R, 39);  // reduce_fused: one CTA per row
  Local unperm = emit(std::move(um), {y});
  f.back = unperm;
  if (ep > 1) {
    f.back = alltoall(layer, "moe.combine", OpKind::AllToAllCombine, mod, Pass::Forward, T, T * fanout * D * 2,
                      DType::BF16, {unperm}, fanout, D * 2);
  }
}

// Phase 3 of the MoE block: the shared expert, on the GPU's own tokens while the dispatch is in flight.
void StageBuilder::moe_shared_expert(MoeForward& f) {
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = m_model.dim, T = m_T, Is = f.Is;
  f.s13 = make_linear(layer, mod, "moe.shared.w13", T, 2 * Is, D, f.xq);
  // The shared expert's SwiGLU input is cached in FP8 as well (DeepSeek's stack casts it back in the backward:
  // profile-data's cast_back_impl in mlp(B)).
  if (m_train && f.swiglu_fp8) f.s13.bytes_saved = T * 2 * Is + tile_scale_bytes(T, 2 * Is);
  f.s_h = linear_fwd(f.s13, {f.xq});
  Local s_act = swiglu(layer, mod, "moe.shared.swiglu", T, Is, f.s_h);
  Local s_q = quantize(lname(layer, "moe.shared.h_quant"), mod, layer, T, Is, s_act);
  f.s2 = make_linear(layer, mod, "moe.shared.w2", T, D, Is, s_q);
  f.s_y = linear_fwd(f.s2, {s_q});
}

// Phase 4 of the MoE block: the weighted sum of the k expert outputs, the shared expert and the residual.
Local StageBuilder::moe_output(const MoeForward& f) {
  const int64_t D = m_model.dim, T = m_T, fanout = m_deploy.fanout(m_model);
  OpDesc res = base(lname(f.layer, "moe.residual"), OpKind::Elementwise, f.mod, f.layer);
  res.tokens = T;
  res.flops = (2 * fanout + 2) * T * D;
  res.bytes_read = (fanout + 2) * T * D * 2;
  res.bytes_written = T * D * 2;
  if (ds()) res.launch = torch_elementwise(T * D, 22);
  return emit(std::move(res), {f.back, f.s_y, f.in});
}

// The backward of an expert FFN's second half (the routed experts' or the shared expert's): w2's input gradient
// (`grad` in FP8 for the routed experts), on DeepSeek's stack the cast back of the FP8-cached SwiGLU input, and the
// SwiGLU backward, which it returns. With the SwiGLU input cached in FP8 (memory.moe_swiglu_fp8) the SwiGLU output
// is recomputed, and w2's weight gradient reads it from the SwiGLU backward rather than a kept copy.
Local StageBuilder::moe_swiglu_bwd(const MoeForward& f, const char* prefix, bool routed, int64_t rows, int64_t inter,
                                   const Linear& w2, Local h, Local grad) {
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  Linear w2b = w2;
  if (f.swiglu_fp8) w2b.x_op = kNone;
  Local d_act = linear_bwd(w2b, grad, kNone, /*dy_fp8=*/routed);
  const Local w2_x = m_last_x;
  Local h_back = kNone;
  if (ds() && f.swiglu_fp8) {
    // DeepSeek's stack turns the FP8-cached SwiGLU input back into BF16 (cuda::cast_back_impl, 112 CTAs of 1024
    // threads) before the SwiGLU backward.
    const std::string cast_back = std::string(prefix) + ".h_cast_back";
    h_back = stack_op(lname(layer, cast_back.c_str()), OpKind::Elementwise, mod, layer, Pass::Dgrad, rows,
                      rows * 2 * inter + tile_scale_bytes(rows, 2 * inter), rows * 2 * inter * 2, {112, 1024, 32, 0},
                      {grad});
  }
  const std::string swiglu_name = std::string(prefix) + ".swiglu";
  Local d_h = swiglu_bwd(layer, mod, swiglu_name.c_str(), rows, inter, d_act, h, routed && f.swiglu_fp8);
  dep(h_back, d_h);
  if (f.swiglu_fp8) dep(d_h, w2_x);
  return d_h;
}

// Phase 5 of the MoE block (in the tape's closure): the routed experts' backward, from the output gradient to the
// gradient of the experts' input back at this GPU; `d_h` is set to the SwiGLU backward.
Local StageBuilder::moe_routed_backward(const MoeForward& f, Local grad, Local& d_h) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, I = M.moe_inter_dim, T = m_T, R = f.R, fp8_copy = f.fp8_copy;
  const int64_t ep = m_deploy.ep, fanout = m_deploy.fanout(M);

  // The output gradient travels to the experts in FP8 (DeepSeek-V3 §3.3.4: the activation gradient before the MoE
  // down-projection is FP8), the input gradient comes back in BF16.
  // DeepSeek's stack casts dY on DeepEP's stream (profile-data: the per_token_cast of combine(B), stream 27).
  const uint32_t keep = m_extra_flags;
  if (ep > 1 && m_deploy.gemm_kernel == GemmKernel::Cutlass) m_extra_flags |= kFlagCommStream;
  Local gq = quantize(lname(layer, "moe.dy_quant"), mod, layer, T, D, grad, Pass::Dgrad);
  m_extra_flags = keep;
  Local g_recv = gq;
  if (ep > 1) {
    g_recv = alltoall(layer, "moe.combine.bwd", OpKind::AllToAllDispatch, mod, Pass::Dgrad, T, T * fanout * fp8_copy,
                      DType::E4M3, {gq}, fanout, fp8_copy);
  }
  OpDesc upb = base(lname(layer, "moe.unpermute.bwd"), OpKind::Permute, mod, layer, Pass::Dgrad);
  upb.tokens = R;
  upb.bytes_read = R * fp8_copy;
  upb.bytes_written = R * fp8_copy;
  if (ds()) upb.launch = {ceil_div(R, 16), 512, 32, 0};
  Local g_perm = emit(std::move(upb), {g_recv});
  d_h = moe_swiglu_bwd(f, "moe.experts", /*routed=*/true, R, I, f.w2, f.h, g_perm);
  Local d_x = linear_bwd(f.w13, d_h);
  OpDesc pb = base(lname(layer, "moe.permute.bwd"), OpKind::Unpermute, mod, layer, Pass::Dgrad);
  pb.tokens = R;
  pb.bytes_read = R * D * 2;
  pb.bytes_written = R * D * 2;
  if (ds()) pb.launch = per_row(R, 39);
  Local d_back = emit(std::move(pb), {d_x});
  if (ep > 1) {
    d_back = alltoall(layer, "moe.dispatch.bwd", OpKind::AllToAllCombine, mod, Pass::Dgrad, T, T * fanout * D * 2,
                      DType::BF16, {d_back}, fanout, D * 2);
  }
  return d_back;
}

// Phase 5 of the MoE block (the tape's closure): the backward from the output gradient to the input gradient.
Local StageBuilder::moe_backward(const MoeForward& f, Local grad) {
  const ModelConfig& M = m_model;
  const int32_t layer = f.layer;
  const Module mod = f.mod;
  const int64_t D = M.dim, T = m_T, E = M.n_routed_experts, fanout = m_deploy.fanout(M);

  Local d_h = kNone;
  Local d_back = moe_routed_backward(f, grad, d_h);
  // Gradient of the routing weights (dot products of dY with the expert outputs), then the gate.
  OpDesc rb = base(lname(layer, "moe.topk.bwd"), OpKind::Router, mod, layer, Pass::Dgrad);
  rb.tokens = T;
  rb.flops = 2 * T * fanout * D + 4 * T * E;
  rb.bytes_read = T * fanout * D * 2 + T * D * 2;
  rb.bytes_written = T * E * 4;
  // DeepSeek's stack applies the routing weights inside the SwiGLU (swiglu_forward_with_weight), so their
  // gradient comes from the SwiGLU's (swiglu_weight_backward_with_weight) and the combined expert outputs are
  // not kept; otherwise it is the dot products of dY with the k expert outputs the combine returned.
  if (ds()) rb.launch = per_row(2 * f.R, 40);  // swiglu_weight_backward_with_weight: one CTA per half row
  Local d_scores = emit(std::move(rb), {grad, ds() ? d_h : f.back});
  // The gate is a BF16 Linear on the norm's output: with RMSNorm recomputed (memory.recompute_norm) its weight
  // gradient reads the recomputed output, else the kept one.
  const bool norm_re = m_deploy.memory.recompute_norm;
  Linear gate_b = f.gate;
  if (norm_re) gate_b.x_op = kNone;
  Local d_gate = linear_bwd(gate_b, d_scores);
  const Local gate_w = m_last_wgrad;
  Local d_shared = kNone;
  if (f.shared_local) {
    Local d_sh = moe_swiglu_bwd(f, "moe.shared", /*routed=*/false, T, f.Is, f.s2, f.s_h, grad);
    d_shared = linear_bwd(f.s13, d_sh);
  }
  Local d_xn = norm_bwd(lname(layer, "ffn_norm"), mod, layer, T, D, d_back, f.in, f.xn);
  if (norm_re) dep(m_last_norm_output, gate_w);
  dep(d_gate, d_xn);
  dep(d_shared, d_xn);
  return residual_bwd(lname(layer, "moe.residual.bwd"), mod, layer, d_xn, grad);
}

Local StageBuilder::moe(int32_t layer, Module mod, Local in, std::vector<Backward>& tape) {
  MoeForward f;
  f.layer = layer;
  f.mod = mod;
  f.in = in;
  moe_route(f);
  moe_routed_experts(f);
  if (f.shared_local) moe_shared_expert(f);
  Local out = moe_output(f);
  if (m_train) tape.push_back([f, this](Local grad) { return moe_backward(f, grad); });
  return out;
}

Local StageBuilder::head(const char* prefix, Module mod, int32_t layer, Local in, std::vector<Backward>& tape) {
  const int64_t D = m_model.dim, V = m_model.vocab_size;
  // Training needs logits of every token; prefill only of each prompt's last token; decode of every token.
  int64_t rows = m_T;
  if (m_deploy.phase == Phase::Prefill) rows = std::max<int64_t>(1, m_T / m_deploy.seq_len);
  std::string p(prefix);
  Local xn = norm(p + "norm", mod, layer, rows, D, in);
  dense_params += D;
  // The output head stays in BF16 (DeepSeek-V3 §3.3); the MTP module shares the main model's head.
  Linear h = make_linear(layer, mod, "", rows, V, D, xn, false);
  h.name = p + "head";
  if (mod == Module::Mtp && m_deploy.memory.mtp_shared_embedding_head) h.params = 0;  // the main head's weights
  linear_fwd(h, {xn});
  if (!m_train) return h.gemm;
  OpDesc l = base(p + "loss", OpKind::Loss, mod, layer);
  l.tokens = rows;
  l.flops = 5 * rows * V;
  l.bytes_read = rows * V * 2;
  l.bytes_written = rows * 4;
  Local loss = emit(std::move(l), {h.gemm});
  tape.push_back([=, this](Local grad) {
    OpDesc lb = base(p + "loss.bwd", OpKind::Loss, mod, layer, Pass::Dgrad);
    lb.tokens = rows;
    lb.flops = 3 * rows * V;
    lb.bytes_read = rows * V * 2;
    lb.bytes_written = rows * V * 2;
    Local d_logits = emit(std::move(lb), {loss, grad});
    // The output head is a BF16 Linear on the norm's output: with RMSNorm recomputed its weight gradient reads the
    // recomputed output.
    const bool norm_re = m_deploy.memory.recompute_norm;
    Linear hb = h;
    if (norm_re) hb.x_op = kNone;
    Local d_x = linear_bwd(hb, d_logits);
    const Local head_w = m_last_wgrad;
    Local d_in = norm_bwd(p + "norm", mod, layer, rows, D, d_x, in, xn);
    if (norm_re) dep(m_last_norm_output, head_w);
    return d_in;
  });
  return loss;
}

// MTP module k (DeepSeek-V3 §2.2): RMSNorm of the previous depth's hidden state and of the embedding of the
// token k+1 ahead, concatenated and projected 2d -> d, one transformer block, then the shared head.
std::pair<Local, Local> StageBuilder::mtp_module(int64_t index, Local main_hidden, std::vector<Backward>& tape) {
  const int64_t D = m_model.dim, T = m_T;
  const int32_t layer = static_cast<int32_t>(m_model.n_layers + index);
  const Module mod = Module::Mtp;
  const uint32_t saved = m_extra_flags;
  m_extra_flags |= kFlagMtp;
  std::vector<Backward> inner;
  std::string p = fmt::format("mtp{}.", index);
  Local emb = embedding(kNone, inner, (p + "embed").c_str(), mod, layer);
  Local hn = norm(p + "hnorm", mod, layer, T, D, main_hidden);
  Local en = norm(p + "enorm", mod, layer, T, D, emb);
  dense_params += 2 * D;
  Local xq = quantize(p + "x_quant", mod, layer, T, 2 * D, hn);
  dep(en, xq);
  Linear proj = make_linear(layer, mod, "", T, D, 2 * D, xq);
  proj.name = p + "proj";
  Local x = linear_fwd(proj, {xq});
  std::vector<Backward> block;
  x = attention(layer, mod, x, block);
  x = moe(layer, mod, x, block);
  Local out = head(p.c_str(), mod, layer, x, block);
  if (m_train) {
    // inner holds the embedding's weight gradient, block the block and the head: run block, then the
    // projection and norms, then the embedding.
    tape.push_back([=, this, block = std::move(block), inner = std::move(inner)](Local grad) {
      const uint32_t keep = m_extra_flags;
      m_extra_flags |= kFlagMtp;
      Local g = grad;
      for (auto it = block.rbegin(); it != block.rend(); ++it) g = (*it)(g);
      Local d_xq = linear_bwd(proj, g);
      Local d_e = norm_bwd(p + "enorm", mod, layer, T, D, d_xq, emb, en);
      inner.front()(d_e);
      Local d_h = norm_bwd(p + "hnorm", mod, layer, T, D, d_xq, main_hidden, hn);
      m_extra_flags = keep;
      return d_h;
    });
  }
  m_extra_flags = saved;
  return {x, out};
}

void StageBuilder::build(const StageSlots& slots, int64_t stage, int64_t n_stages) {
  std::vector<Backward> tape;
  std::vector<Local> side_outputs;  // MTP losses: sinks of the forward besides the main exit
  Local x = kNone;
  if (slots.embedding) x = embedding(kNone, tape, "embed", Module::Embedding, -1);
  for (int64_t layer : slots.layers) {
    auto l = static_cast<int32_t>(layer);
    x = attention(l, Module::Attention, x, tape);
    x = slots.all_moe || m_model.is_moe_layer(layer) ? moe(l, Module::Moe, x, tape) : dense_ffn(l, x, tape);
  }
  Local mtp_h = x;
  for (int64_t k = 0; k < slots.mtp_modules; ++k) {
    auto [hidden, out] = mtp_module(slots.first_mtp + k, mtp_h, tape);
    mtp_h = hidden;
    side_outputs.push_back(out);
  }
  if (slots.head) x = head("", Module::Head, -1, x, tape);
  // Decode with MTP speculation: the MTP modules draft the next tokens after the main head.
  for (int64_t k = 0; k < slots.draft_modules; ++k) {
    auto [hidden, out] = mtp_module(k, mtp_h, tape);
    mtp_h = hidden;
    side_outputs.push_back(out);
  }
  if (stage < n_stages - 1) {
    x = comm("pp.send", OpKind::SendRecv, Module::Pipeline, -1, Pass::Forward, CommGroup::PP, 2, m_T,
             m_T * m_model.dim * 2, DType::BF16, {x});
  }
  for (Local side : side_outputs) dep(side, x);
  m_t.fwd_in = 0;
  m_t.fwd_out = x;
  if (!m_train) return;

  const size_t first_bwd = m_t.descs.size();
  Local g = kNone;
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) g = (*it)(g);
  if (stage > 0) {
    g = comm("pp.send.bwd", OpKind::SendRecv, Module::Pipeline, -1, Pass::Dgrad, CommGroup::PP, 2, m_T,
             m_T * m_model.dim * 2, DType::BF16, {g});
  }
  V3SIM_ASSERT(m_t.descs.size() > first_bwd);
  m_t.bwd_in = static_cast<Local>(first_bwd);
  m_t.bwd_out = g;
  if (stage < n_stages - 1) dep(m_t.fwd_out, m_t.bwd_in);
}

}  // namespace

namespace {

// Slots of stage s: [s*k, (s+1)*k) of embedding, blocks, MTP modules (training), head.
StageSlots slots_of_stage(const ModelConfig& m, const Deployment& d, const GraphOptions& opt, int64_t stage) {
  const int64_t total = pipeline_slots(m, d.phase);
  const int64_t per = total / d.pp;
  const int64_t mtp = d.phase == Phase::Train ? m.n_mtp_layers : 0;
  StageSlots s;
  for (int64_t slot = stage * per; slot < (stage + 1) * per; ++slot) {
    if (slot == 0) {
      s.embedding = true;
    } else if (slot <= m.n_layers) {
      s.layers.push_back(slot - 1);
    } else if (slot <= m.n_layers + mtp) {
      if (opt.include_mtp) {
        if (s.mtp_modules == 0) s.first_mtp = slot - m.n_layers - 1;
        ++s.mtp_modules;
      }
    } else {
      s.head = true;
    }
  }
  if (s.head && d.phase == Phase::Decode) s.draft_modules = d.speculative_tokens;
  return s;
}

struct StepOps {
  uint32_t cast = 0, cast_t = 0, optimizer = 0;
  int64_t rs_dense = -1, rs_expert = -1, ag_dense = -1, ag_expert = -1;  // descriptor indices, -1: none
};

OpDesc step_desc(std::string name, OpKind kind, int32_t gpus) {
  OpDesc d;
  d.name = std::move(name);
  d.kind = kind;
  d.pass = Pass::Optimizer;
  d.module = Module::Optimizer;
  d.gpus = gpus;
  if (is_communication(kind)) d.flags |= kFlagCommunication;
  return d;
}

int64_t add_collective(OpGraph& g, const std::string& name, OpKind kind, CommGroup group, int64_t size, int64_t bytes,
                       DType dtype, int32_t gpus) {
  if (size <= 1 || bytes == 0) return -1;
  OpDesc d = step_desc(name, kind, gpus);
  d.comm.group = group;
  d.comm.group_size = size;
  d.comm.bytes = bytes;
  d.comm.dtype = dtype;
  d.bytes_read = bytes;
  d.bytes_written = bytes;
  return g.add_desc(std::move(d));
}

}  // namespace

namespace {

// The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). @pre 0 < p < 1
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549671010243180e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// One DualPipe chunk pair as a profiler trace shows it: MoE layers 0..N-1 for micro-batches 0 and 1 on one stage.
// With MoE load imbalance (experts.load_cv) it runs on profile.ep_ranks GPUs of the EP group (pipeline rank index
// = GPU), whose all-to-alls are collectives: GPU 0 at the balanced load, GPU i > 0 at the load of the EP group's
// expected order statistic k_i (Blom: z = Phi^-1((k - 0.375) / (ep + 0.25)), k spread from 1 to ep so the last
// stands for the group's slowest), which GPU gets which load shuffled per layer and micro-batch.
OpGraph build_chunk_pair(const ModelConfig& model, const Deployment& deploy, const GraphOptions& options) {
  OpGraph g;
  const int64_t gpus = deploy.load_cv > 0 && deploy.ep > 1 ? std::min(deploy.profile_ep_ranks, deploy.ep) : 1;
  const auto layers = static_cast<size_t>(options.chunk_layers);
  // Loads per (GPU, micro-batch, layer).
  std::vector<double> z(static_cast<size_t>(gpus), 0.0);
  for (int64_t i = 1; i < gpus; ++i) {
    const double k =
        gpus == 2 ? static_cast<double>(deploy.ep)
                  : 1 + static_cast<double>(deploy.ep - 1) * static_cast<double>(i - 1) / static_cast<double>(gpus - 2);
    z[static_cast<size_t>(i)] = normal_quantile((std::round(k) - 0.375) / (static_cast<double>(deploy.ep) + 0.25));
  }
  std::vector<std::vector<std::vector<double>>> load(
      static_cast<size_t>(gpus), std::vector<std::vector<double>>(2, std::vector<double>(layers, 1.0)));
  for (size_t mb = 0; mb < 2; ++mb) {
    for (size_t l = 0; l < layers; ++l) {
      // GPUs 1.. get the order statistics in a seeded order (a Fisher-Yates shuffle driven by mix64).
      std::vector<size_t> who;
      for (size_t i = 1; i < static_cast<size_t>(gpus); ++i) who.push_back(i);
      for (size_t i = who.size(); i > 1; --i) {
        const uint64_t r = mix64((mb * 1000003u + l) * 7919u + i);
        std::swap(who[i - 1], who[static_cast<size_t>(r % i)]);
      }
      for (size_t i = 1; i < static_cast<size_t>(gpus); ++i) {
        load[who[i - 1]][mb][l] = std::max(0.05, 1 + deploy.load_cv * z[i]);
      }
    }
  }
  size_t per_template = 0;
  for (int64_t gpu = 0; gpu < gpus; ++gpu) {
    for (uint32_t m = 0; m < 2; ++m) {
      Template t;
      StageBuilder b(g, model, deploy, options, t);
      if (gpus > 1) b.set_expert_load(load[static_cast<size_t>(gpu)][m]);
      StageSlots slots;
      slots.all_moe = true;
      for (int64_t l = 0; l < options.chunk_layers; ++l) slots.layers.push_back(l);
      b.build(slots, 0, 1);
      V3SIM_ASSERT(per_template == 0 || per_template == t.descs.size());
      per_template = t.descs.size();
      if (gpu == 0 && m == 0)
        g.reserve(2 * static_cast<size_t>(gpus) * t.descs.size(), 2 * static_cast<size_t>(gpus) * t.edges.size());
      const auto first = static_cast<OpId>(g.num_ops());
      for (size_t i = 0; i < t.descs.size(); ++i) {
        // The all-to-all ops of every GPU's copy of the template are one collective.
        const bool group = gpus > 1 && g.descriptor(t.descs[i]).comm.group == CommGroup::EP &&
                           is_communication(g.descriptor(t.descs[i]).kind);
        const int32_t collective = group ? static_cast<int32_t>(m * t.descs.size() + i) : -1;
        g.add_op(t.descs[i], m, 0, static_cast<uint16_t>(gpu), collective);
      }
      for (auto [a, c] : t.edges) g.add_dep(first + static_cast<OpId>(a), first + static_cast<OpId>(c));
    }
  }
  g.finalize();
  return g;
}

}  // namespace

OpGraph build_graph(const ModelConfig& model, const Deployment& deploy, const GraphOptions& options) {
  if (deploy.phase == Phase::Train && options.chunk_layers > 0) return build_chunk_pair(model, deploy, options);
  check_graph_size(model, deploy, options.max_micro_batches);
  OpGraph g;
  const int64_t pp = deploy.pp;
  V3SIM_ASSERT(pipeline_slots(model, deploy.phase) % pp == 0);
  int64_t mbs = deploy.micro_batches();
  if (options.max_micro_batches > 0) mbs = std::min(mbs, options.max_micro_batches);
  const bool train = deploy.phase == Phase::Train;
  const bool dualpipe = deploy.schedule == PipelineSchedule::DualPipe;
  const auto gpus = static_cast<int32_t>(train ? deploy.stage_gpus() : deploy.gpus);

  // MoE load imbalance (experts.load_cv): a second copy of the pipeline stands for the EP group's slowest GPUs,
  // their experts at the load of the group's expected maximum (Blom: z = Phi^-1((ep - 0.375) / (ep + 0.25))) in
  // every MoE layer; the two copies' all-to-alls are collectives, so the balanced GPUs wait for the slow ones as
  // DeepEP's kernels do. The step ends when the slowest GPU's does.
  const size_t replicas = deploy.load_cv > 0 && deploy.ep > 1 && deploy.phase != Phase::Decode ? 2 : 1;
  const double slow = 1 + deploy.load_cv * normal_quantile((static_cast<double>(deploy.ep) - 0.375) /
                                                           (static_cast<double>(deploy.ep) + 0.25));
  for (size_t rep = 0; rep < replicas; ++rep) {
    const int64_t off = static_cast<int64_t>(rep) * pp;
    std::vector<Template> templates(static_cast<size_t>(pp));
    std::vector<StepOps> steps(static_cast<size_t>(pp));
    for (int64_t s = 0; s < pp; ++s) {
      Template& t = templates[static_cast<size_t>(s)];
      StageBuilder b(g, model, deploy, options, t);
      if (rep > 0)
        b.set_expert_load(std::vector<double>(static_cast<size_t>(model.n_layers + model.n_mtp_layers), slow));
      b.build(slots_of_stage(model, deploy, options, s), s, pp);
      if (!train) continue;
      // Per-step work of the stage: FP8 weight casts (K-major for Fprop, transposed for Dgrad), the DP gradient
      // reduction, AdamW on this GPU's ZeRO shard, and the parameter all-gather.
      StepOps& st = steps[static_cast<size_t>(s)];
      const int64_t p8 = b.fp8_weights();
      OpDesc cast = step_desc(fmt::format("stage{}.weights.cast_fp8", s), OpKind::WeightCast, gpus);
      cast.flags |= kFlagFp8;
      cast.flops = 3 * p8;
      cast.bytes_read = 2 * p8;
      cast.bytes_written = p8 + b.fp8_scale_bytes();
      OpDesc cast_t = cast;
      cast_t.name = fmt::format("stage{}.weights.cast_fp8_transposed", s);
      cast_t.flags |= kFlagTransposeForFp8;
      st.cast = g.add_desc(std::move(cast));
      // DeepSeek's stack transposes the weights at every use instead (the builder's .w_t ops).
      st.cast_t = deploy.deepseek_kernels ? st.cast : g.add_desc(std::move(cast_t));
      const int64_t copies = dualpipe ? 2 : 1;  // DualPipe keeps two copies of every stage's parameters
      const int64_t dense_group = deploy.dp() * copies;
      const int64_t expert_group = deploy.expert_dp() * copies;
      const bool zero = deploy.zero_stage >= 1;
      const OpKind reduce = zero ? OpKind::ReduceScatter : OpKind::AllReduce;
      st.rs_dense = add_collective(g, fmt::format("stage{}.grads.reduce", s), reduce, CommGroup::DP, dense_group,
                                   b.dense_params * 4, DType::FP32, gpus);
      st.rs_expert = add_collective(g, fmt::format("stage{}.expert_grads.reduce", s), reduce, CommGroup::ExpertDP,
                                    expert_group, b.expert_params * 4, DType::FP32, gpus);
      const int64_t shard =
          zero ? b.dense_params / dense_group + b.expert_params / expert_group : b.dense_params + b.expert_params;
      OpDesc opt = step_desc(fmt::format("stage{}.optimizer", s), OpKind::Optimizer, gpus);
      opt.params = shard;
      opt.flops = 12 * shard;  // AdamW: moments, bias correction, update, weight decay
      // FP32 master + FP32 grad + the two moments, in BF16 (DeepSeek-V3 §3.3.3, memory.bf16_optimizer_moments) or FP32.
      const int64_t moment = deploy.memory.bf16_optimizer_moments ? 2 : 4;
      opt.bytes_read = (8 + 2 * moment) * shard;
      opt.bytes_written = (4 + 2 * moment) * shard;
      st.optimizer = g.add_desc(std::move(opt));
      if (zero) {
        st.ag_dense = add_collective(g, fmt::format("stage{}.params.all_gather", s), OpKind::AllGather, CommGroup::DP,
                                     dense_group, b.dense_params * 2, DType::BF16, gpus);
        st.ag_expert = add_collective(g, fmt::format("stage{}.expert_params.all_gather", s), OpKind::AllGather,
                                      CommGroup::ExpertDP, expert_group, b.expert_params * 2, DType::BF16, gpus);
      }
    }

    size_t ops = 0, deps = 0;
    for (const Template& t : templates) {
      ops += t.descs.size() * static_cast<size_t>(mbs);
      deps += (t.edges.size() + 4 + t.wgrad_dense.size() + t.wgrad_expert.size()) * static_cast<size_t>(mbs);
    }
    if (rep == 0) g.reserve(replicas * (ops + static_cast<size_t>(pp) * 14), replicas * deps);
    size_t widest = 0;
    for (const Template& t : templates) widest = std::max(widest, t.descs.size());

    // Instantiate every stage for every micro-batch. DualPipe feeds half the micro-batches from each end, so the
    // second half of stage s runs on rank pp-1-s.
    std::vector<std::vector<OpId>> base(static_cast<size_t>(pp), std::vector<OpId>(static_cast<size_t>(mbs)));
    auto rank_of = [&](int64_t s, int64_t m) { return dualpipe && m >= mbs / 2 ? pp - 1 - s : s; };
    for (int64_t s = 0; s < pp; ++s) {
      const Template& t = templates[static_cast<size_t>(s)];
      for (int64_t m = 0; m < mbs; ++m) {
        OpId first = static_cast<OpId>(g.num_ops());
        base[static_cast<size_t>(s)][static_cast<size_t>(m)] = first;
        const auto rank = static_cast<uint16_t>(rank_of(s, m) + off);
        for (size_t i = 0; i < t.descs.size(); ++i) {
          // With a slow replica, its MoE all-to-alls and the first replica's are one collective.
          const OpDesc& od = g.descriptor(t.descs[i]);
          const bool coll = replicas > 1 && od.comm.group == CommGroup::EP && is_communication(od.kind);
          const auto id = static_cast<int32_t>((static_cast<size_t>(s * mbs + m)) * widest + i);
          g.add_op(t.descs[i], static_cast<uint32_t>(m), static_cast<uint16_t>(s), rank, coll ? id : -1);
        }
        for (auto [a, b] : t.edges) g.add_dep(first + static_cast<OpId>(a), first + static_cast<OpId>(b));
      }
    }
    for (int64_t m = 0; m < mbs; ++m) {
      for (int64_t s = 0; s + 1 < pp; ++s) {
        const Template& cur = templates[static_cast<size_t>(s)];
        const Template& next = templates[static_cast<size_t>(s + 1)];
        OpId cur_base = base[static_cast<size_t>(s)][static_cast<size_t>(m)];
        OpId next_base = base[static_cast<size_t>(s + 1)][static_cast<size_t>(m)];
        g.add_dep(cur_base + static_cast<OpId>(cur.fwd_out), next_base + static_cast<OpId>(next.fwd_in));
        if (train) g.add_dep(next_base + static_cast<OpId>(next.bwd_out), cur_base + static_cast<OpId>(cur.bwd_in));
      }
    }
    if (train) {
      for (int64_t s = 0; s < pp; ++s) {
        const Template& t = templates[static_cast<size_t>(s)];
        const StepOps& st = steps[static_cast<size_t>(s)];
        std::vector<int64_t> ranks{s};
        if (dualpipe && pp - 1 - s != s) ranks.push_back(pp - 1 - s);
        for (int64_t r : ranks) {
          auto add = [&](uint32_t d) {
            return g.add_op(d, 0, static_cast<uint16_t>(s), static_cast<uint16_t>(r + off));
          };
          OpId cast = add(st.cast), cast_t = st.cast_t == st.cast ? cast : add(st.cast_t);
          OpId rs_dense = st.rs_dense >= 0 ? add(static_cast<uint32_t>(st.rs_dense)) : 0;
          OpId rs_expert = st.rs_expert >= 0 ? add(static_cast<uint32_t>(st.rs_expert)) : 0;
          OpId opt = add(st.optimizer);
          for (int64_t m = 0; m < mbs; ++m) {
            if (rank_of(s, m) != r) continue;
            OpId b = base[static_cast<size_t>(s)][static_cast<size_t>(m)];
            g.add_dep(cast, b + static_cast<OpId>(t.fwd_in));
            g.add_dep(cast_t, b + static_cast<OpId>(t.bwd_in));
            for (Local w : t.wgrad_dense) g.add_dep(b + static_cast<OpId>(w), st.rs_dense >= 0 ? rs_dense : opt);
            for (Local w : t.wgrad_expert) g.add_dep(b + static_cast<OpId>(w), st.rs_expert >= 0 ? rs_expert : opt);
          }
          if (st.rs_dense >= 0) g.add_dep(rs_dense, opt);
          if (st.rs_expert >= 0) g.add_dep(rs_expert, opt);
          if (st.ag_dense >= 0) g.add_dep(opt, add(static_cast<uint32_t>(st.ag_dense)));
          if (st.ag_expert >= 0) g.add_dep(opt, add(static_cast<uint32_t>(st.ag_expert)));
        }
      }
    }
  }
  g.finalize();
  return g;
}

GraphTotals sum_graph(const OpGraph& graph, uint32_t skip_flags) {
  GraphTotals t;
  for (OpId id = 0; id < graph.num_ops(); ++id) {
    const OpDesc& d = graph.desc(id);
    if (d.flags & skip_flags) continue;
    const double w = d.gpus;
    t.flops += w * static_cast<double>(d.flops);
    t.flops_by_pass[static_cast<size_t>(d.pass)] += w * static_cast<double>(d.flops);
    t.recompute_flops += w * static_cast<double>(d.recompute_flops);
    t.bytes_read += w * static_cast<double>(d.bytes_read);
    t.bytes_written += w * static_cast<double>(d.bytes_written);
    if (d.has(kFlagCommunication)) t.comm_bytes += w * static_cast<double>(d.comm.bytes);
    t.ops += 1;
    t.ops_by_kind[static_cast<size_t>(d.kind)] += 1;
  }
  return t;
}

int64_t tokens_per_step(const Deployment& d) {
  switch (d.phase) {
    case Phase::Train:
      return d.global_batch_sequences * d.seq_len;
    case Phase::Prefill:
      return d.tokens_per_gpu * d.gpus;
    case Phase::Decode:
      return d.requests_per_gpu * (1 + d.speculative_tokens) * d.gpus;
  }
  return 0;
}

ModelFigures model_figures(const ModelConfig& model, int64_t seq_len) {
  ModelFigures f;
  ParamCounts c = count_params(model);
  f.params_total = c.total();
  f.params_activated = c.activated;
  f.params_mtp = c.mtp;
  f.kv_cache_bytes_per_token = model.kv_cache_bytes_per_token();
  const Deployment ref = reference_deployment(Phase::Train, seq_len);
  GraphOptions opt;
  opt.include_mtp = false;
  const auto train_flops = [](const GraphTotals& t) {
    return t.flops_by_pass[static_cast<size_t>(Pass::Forward)] + t.flops_by_pass[static_cast<size_t>(Pass::Dgrad)] +
           t.flops_by_pass[static_cast<size_t>(Pass::Wgrad)];
  };
  const auto tokens = static_cast<double>(seq_len);
  {
    OpGraph g = build_graph(model, ref, opt);
    GraphTotals t = sum_graph(g);
    f.flops_per_token_forward = t.flops_by_pass[static_cast<size_t>(Pass::Forward)] / tokens;
    f.flops_per_token_train = train_flops(t) / tokens;
    for (OpId id = 0; id < g.num_ops(); ++id)
      if (g.desc(id).pass == Pass::Forward) f.params_in_graph += static_cast<double>(g.desc(id).params);
  }
  opt.causal = false;
  f.flops_per_token_train_noncausal = train_flops(sum_graph(build_graph(model, ref, opt))) / tokens;
  return f;
}

}  // namespace v3sim
