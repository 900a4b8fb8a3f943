// One operator of the graph: what it computes (kind, shapes, dtypes, operand major-ness, quantization
// granularity), what it costs (FLOPs, bytes), and where it runs. Descriptors are shared by every instance
// of the op (all micro-batches), so the graph stores them once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v3sim {

enum class OpKind : uint8_t {
  Embedding,
  Norm,              // RMSNorm
  Quantize,          // BF16 -> FP8 with fine-grained scales
  TransposeRequant,  // FP8 1x128 tiles -> dequantize, transpose, requantize as 128x1 (Hopper backward)
  WeightCast,        // master weights -> FP8 128x128 blocks (once per step)
  Gemm,
  GroupedGemm,  // MoE experts: groups share N and K
  BatchedGemm,  // per-head BF16 products of absorbed MLA
  Attention,    // core attention (softmax(QK^T)V)
  Rope,
  Activation,   // SwiGLU
  Elementwise,  // residual adds
  Router,       // scores + group-limited top-k
  Permute,      // MoE token reorder into per-expert segments
  Unpermute,
  KvCacheAppend,
  Loss,       // softmax cross-entropy over the vocabulary
  Optimizer,  // AdamW on the ZeRO shard
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

const char* to_string(OpKind k);
const char* to_string(Pass p);
const char* to_string(DType t);
const char* to_string(Major m);
const char* to_string(QuantGran q);
const char* to_string(CommGroup g);
const char* to_string(Module m);
int dtype_bytes(DType t);  // 1 for FP8, 2 for BF16/FP16, 4 for FP32, 0 for None
bool is_communication(OpKind k);

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
