// One operator of the graph: what it computes (kind, shapes, dtypes, operand major-ness, quantization
// granularity), what it costs (FLOPs, bytes), and where it runs. Descriptors are shared by every instance
// of the op (all micro-batches), so the graph stores them once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/enum_names.h"

namespace v3sim {

// The op kinds of the graph. Each kind's facts (name, family, meaning) are declared once, in kOpKindTraits below.
enum class OpKind : uint8_t {
  Embedding,
  Norm,
  Quantize,
  TransposeRequant,
  WeightCast,
  Gemm,
  GroupedGemm,
  BatchedGemm,
  Attention,
  Rope,
  Activation,
  Elementwise,
  Router,
  Permute,
  Unpermute,
  KvCacheAppend,
  Loss,
  Optimizer,
  AllToAllDispatch,
  AllToAllCombine,
  AllGather,
  ReduceScatter,
  AllReduce,
  SendRecv,
  kCount
};

enum class Pass : uint8_t { Forward, Dgrad, Wgrad, Optimizer };
enum class DType : uint8_t { None, E4M3, E5M2, BF16, FP16, FP32 };
enum class Major : uint8_t { None, K, MN };  // FP8 wgmma on Hopper reads only K-major operands
enum class QuantGran : uint8_t { None, Tile1x128, Tile128x1, Block128x128 };
enum class CommGroup : uint8_t { None, TP, EP, PP, DP, ExpertDP };
enum class Module : uint8_t { Embedding, Attention, DenseFfn, Moe, Head, Mtp, Optimizer, Pipeline };

// Flags on an op.
enum OpFlag : uint32_t {
  kFlagNone = 0,
  // Exists only because Hopper's FP8 wgmma cannot read operands transposed: a chip with transposed shared-memory
  // reads drops it (and its consumer GEMM reads the MN-major operand instead).
  kFlagTransposeForFp8 = 1u << 0,
  kFlagMtp = 1u << 1,        // part of a multi-token-prediction module
  kFlagFp8 = 1u << 2,        // an FP8 tensor-core GEMM or an FP8 cast
  kFlagRecompute = 1u << 3,  // recomputes a forward activation in the backward pass
  kFlagCommunication = 1u << 4,
  // Runs on a second compute stream beside the first, sharing its SMs (DeepSeek's training stack puts half of the
  // routed experts' weight-gradient GEMMs there: profile-data's stream 23).
  kFlagSideStream = 1u << 5,
  // Runs on the communication stream although it computes (DeepSeek's stack casts the output gradient to FP8 on
  // DeepEP's stream before dispatching it: profile-data's per_token_cast on stream 27), on the SMs communication holds.
  kFlagCommStream = 1u << 6,
  // The handshake before a DeepEP normal-kernel all-to-all (notify_dispatch, cached_notify): every GPU of the EP
  // group exchanges its token counts (or clears the cached layout's buffers) and waits for all the others.
  kFlagHandshake = 1u << 7,
  // Re-lays an FP8 activation's scales for the GEMM that reads it (DeepSeek's stack, before every dense FP8 GEMM):
  // it goes with the cast when a chip casts inside the GEMM's TMA load.
  kFlagScaleLayout = 1u << 8,
};

// What bounds an op kind's kernels, the groups an op-by-op comparison sums over (report/compare.h's categories).
// BatchedGemm counts with the grouped GEMMs: many small products in one launch.
enum class OpFamily : uint8_t {
  GemmDense,      // one tensor-core matrix product
  GemmGrouped,    // many products in one launch (MoE experts, per-head products)
  Attention,      // core attention
  MemoryBound,    // streams its operands once: priced by its launch's streaming model when it carries one
  Communication,  // a collective among the GPUs of a group: runs on a communication stream
};

// The facts about one op kind, declared once: every other per-kind fact of models/ derives from this table.
struct OpKindTraits {
  OpKind kind;
  const char* name;  // in timelines, traces, results.h5 and trace-rule files
  OpFamily family;
  const char* description;
};

// One row per OpKind, in enum order (checked below): kOpKindTraits[k] describes OpKind k.
inline constexpr OpKindTraits kOpKindTraits[] = {
    {OpKind::Embedding, "embedding", OpFamily::MemoryBound, "token embedding lookup"},
    {OpKind::Norm, "norm", OpFamily::MemoryBound, "RMSNorm"},
    {OpKind::Quantize, "quantize", OpFamily::MemoryBound, "BF16 -> FP8 with fine-grained scales"},
    {OpKind::TransposeRequant, "transpose_requant", OpFamily::MemoryBound,
     "FP8 1x128 tiles -> dequantize, transpose, requantize as 128x1 (Hopper backward)"},
    {OpKind::WeightCast, "weight_cast", OpFamily::MemoryBound, "master weights -> FP8 128x128 blocks (once per step)"},
    {OpKind::Gemm, "gemm", OpFamily::GemmDense, "a dense GEMM"},
    {OpKind::GroupedGemm, "grouped_gemm", OpFamily::GemmGrouped, "MoE experts: groups share N and K"},
    {OpKind::BatchedGemm, "batched_gemm", OpFamily::GemmGrouped, "per-head BF16 products of absorbed MLA"},
    {OpKind::Attention, "attention", OpFamily::Attention, "core attention (softmax(QK^T)V)"},
    {OpKind::Rope, "rope", OpFamily::MemoryBound, "rotary position embedding"},
    {OpKind::Activation, "activation", OpFamily::MemoryBound, "SwiGLU"},
    {OpKind::Elementwise, "elementwise", OpFamily::MemoryBound, "residual adds"},
    {OpKind::Router, "router", OpFamily::MemoryBound, "scores + group-limited top-k"},
    {OpKind::Permute, "permute", OpFamily::MemoryBound, "MoE token reorder into per-expert segments"},
    {OpKind::Unpermute, "unpermute", OpFamily::MemoryBound, "MoE tokens from per-expert segments back to token order"},
    {OpKind::KvCacheAppend, "kv_cache_append", OpFamily::MemoryBound, "new tokens' latent KV into the cache"},
    {OpKind::Loss, "loss", OpFamily::MemoryBound, "softmax cross-entropy over the vocabulary"},
    {OpKind::Optimizer, "optimizer", OpFamily::MemoryBound, "AdamW on the ZeRO shard"},
    {OpKind::AllToAllDispatch, "all_to_all_dispatch", OpFamily::Communication, "MoE tokens to their experts' GPUs"},
    {OpKind::AllToAllCombine, "all_to_all_combine", OpFamily::Communication, "MoE expert outputs back"},
    {OpKind::AllGather, "all_gather", OpFamily::Communication, "all-gather"},
    {OpKind::ReduceScatter, "reduce_scatter", OpFamily::Communication, "reduce-scatter"},
    {OpKind::AllReduce, "all_reduce", OpFamily::Communication, "all-reduce"},
    {OpKind::SendRecv, "send_recv", OpFamily::Communication, "pipeline send/recv between stages"},
};

constexpr bool op_kind_traits_in_enum_order() {
  int i = 0;
  for (const OpKindTraits& t : kOpKindTraits) {
    if (static_cast<int>(t.kind) != i++) return false;
  }
  return i == static_cast<int>(OpKind::kCount);
}
static_assert(op_kind_traits_in_enum_order(), "kOpKindTraits: one row per OpKind, in enum order");

// kOpKindTraits' row of `k` (k < OpKind::kCount; InternalError otherwise).
const OpKindTraits& traits_of(OpKind k);
// The op kind named `name` (an OpKindTraits::name), if there is one.
std::optional<OpKind> op_kind_named(std::string_view name);
bool is_gemm(OpKind k);  // GemmDense or GemmGrouped family: the op carries a GemmShape

const char* to_string(OpKind k);
const char* to_string(Pass p);
const char* to_string(DType t);
const char* to_string(Major m);
const char* to_string(QuantGran q);
const char* to_string(CommGroup g);
const char* to_string(Module m);
const char* to_string(OpFamily f);
int dtype_bytes(DType t);         // 1 for FP8, 2 for BF16/FP16, 4 for FP32, 0 for None
bool is_communication(OpKind k);  // the Communication family
bool is_memory_bound(OpKind k);   // the MemoryBound family

// The two all-to-alls of an MoE layer: tokens to their experts' GPUs and expert outputs back. One type for the
// simulated exchange (sim/net) and the measured one (kernels/alltoall).
enum class AllToAllPhase : uint8_t { Dispatch, Combine };
inline constexpr AllToAllPhase kAllToAllPhases[] = {AllToAllPhase::Dispatch, AllToAllPhase::Combine};
const char* to_string(AllToAllPhase p);  // "dispatch", "combine"
// Bytes of one token copy with DeepSeek-V3's payloads (§3.3, DeepEP): dispatch sends FP8 values with one FP32 scale
// per 1x128 quantization tile, combine BF16 values.
int64_t alltoall_copy_bytes(AllToAllPhase p, int64_t hidden);

// D[M,N] = A[M,K] x B[N,K]^T ("NT": both operands K-major, the only FP8 layout Hopper's wgmma takes).
// Grouped: `groups` problems share N and K; m is the total rows over all groups. Batched: `batch` problems.
struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  int64_t groups = 1;
  int64_t batch = 1;
  DType a_type = DType::None, b_type = DType::None, out_type = DType::None;
  Major a_major = Major::None, b_major = Major::None;
  QuantGran a_quant = QuantGran::None, b_quant = QuantGran::None;
  // The operand is a transposed copy made by a kFlagTransposeForFp8 op (a chip with transposed reads reads
  // the original, MN-major, instead).
  bool a_transposed_copy = false, b_transposed_copy = false;
};

// A collective among the GPUs of one group. For all-to-all, `bytes` counts the logical token copies a GPU
// sends (tokens x fanout x bytes_per_copy, before any deduplication); for all-gather / reduce-scatter /
// all-reduce it is the full buffer size per GPU; for send/recv, the bytes sent.
struct CommShape {
  CommGroup group = CommGroup::None;
  int64_t group_size = 0;
  int64_t tokens = 0;
  int64_t fanout = 0;          // destinations per token (all-to-all)
  int64_t node_limit = 0;      // max nodes per token (0: unlimited)
  int64_t bytes_per_copy = 0;  // one token's payload (FP8 dispatch: hidden + 4 B per 128 values)
  int64_t bytes = 0;
  DType dtype = DType::None;
};

// How a memory-bound kernel of a software stack is launched (as a profiler shows it: CTAs, threads per CTA, registers
// per thread, shared memory per CTA); the SM model derives its occupancy, and from that the loads it keeps in flight.
// grid 0: no launch given (the op is costed as a roofline).
struct Launch {
  int64_t grid = 0, block = 0, regs = 0, smem = 0;
  bool given() const { return grid > 0; }
};

struct OpDesc {
  std::string name;  // e.g. "L3.attn.wq_b", "L3.moe.dispatch"
  OpKind kind = OpKind::Elementwise;
  Pass pass = Pass::Forward;
  Module module = Module::Attention;
  int32_t layer = -1;  // transformer block index (MTP modules continue after the last block), -1 for none
  uint32_t flags = kFlagNone;
  int64_t tokens = 0;  // tokens this op processes on one GPU
  GemmShape gemm;      // Gemm, GroupedGemm, BatchedGemm; also the head/Q/K dims of Attention (m=tokens, n=dv, k=dqk)
  CommShape comm;      // communication kinds
  int64_t flops = 0;   // model FLOPs (2 per multiply-add); for attention, causal where masked
  int64_t recompute_flops = 0;  // extra FLOPs spent recomputing forward values in the backward pass
  int64_t bytes_read = 0;       // from device memory
  int64_t bytes_written = 0;
  int64_t bytes_saved = -1;  // of its output, what stays in memory for the backward pass (-1: all it writes)
  int64_t params = 0;        // weights this op reads (per GPU)
  int32_t gpus = 1;          // GPUs running this op identically (symmetric ranks represented once)
  Launch launch;             // memory-bound kernels of a given stack (deploy.execution.kernel_stack)

  bool has(OpFlag f) const { return (flags & f) != 0; }
};

// One-line description for logs and errors: "L3.attn.wq_b gemm fwd M=4096 N=24576 K=1536 e4m3xe4m3->bf16".
std::string describe(const OpDesc& op);

}  // namespace v3sim
