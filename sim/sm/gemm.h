// The FP8 block-scaled GEMM as DeepGEMM builds it for Hopper (../shared/reference/benchmarks.md), simulated on the
// SM model: D[M,N] (BF16) = A[M,K] (FP8, 1x128 scales) x B[N,K]^T (FP8, 128x128 scales), NT layout.
//
// Three separate pieces, as in DeepGEMM: the problem (GemmDesc), the heuristic that picks the kernel's
// configuration (choose_gemm_config: block sizes by fewest waves and best last-wave use, pipeline stages by
// shared memory, 2-CTA TMA multicast), and the kernel program (one TMA producer warpgroup and one or two math
// warpgroups per persistent CTA, promotion to FP32 every 128 K on the CUDA cores, BF16 epilogue through shared
// memory and a TMA store). The proposals of DeepSeek-V3 §3.5 change what the program emits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/params.h"
#include "core/resources.h"
#include "core/units.h"
#include "sim/hardware.h"
#include "sim/memory/memory_system.h"

namespace v3sim::sm {

enum class GemmLayout : uint8_t { Dense, Contiguous, Masked };
const char* to_string(GemmLayout l);

struct GemmDesc {
  int64_t m = 0, n = 0, k = 0;  // for grouped layouts m is the rows of one group
  int64_t groups = 1;
  GemmLayout layout = GemmLayout::Dense;
  int64_t sms = 0;          // SMs the kernel may use (0: all; 112 when communication holds 20)
  bool promote = true;      // DeepGEMM's promotion every 128 K; false: tensor-core accumulation only
  bool a_mn_major = false;  // A stored MN-major (a transposed read; needs features.fp8_transposed_smem_reads)
  bool b_mn_major = false;
  bool a_bf16_cast = false;  // A stored in BF16 and cast to FP8 by the TMA (needs features.tma_fp8_cast)
  // D = C + A B with C and D in FP32 (a Wgrad adding into the FP32 gradient that accumulates over micro-batches):
  // the epilogue reads C and writes FP32 instead of writing BF16.
  bool c_accumulate = false;
  // B has one FP32 scale per row and 128 K (1x128 tiles, like A) instead of one per 128x128 block: both operands are
  // activations or gradients (a Wgrad, dW = dY^T X). The B scales then come with every pipeline stage, and the
  // promotion multiplies each accumulator by its own scale_a[row] x scale_b[col] (FMUL + FFMA per accumulator).
  bool b_row_scales = false;
  // How the math warpgroups share the SM between the MMAs and the promotion FFMAs. true (DeepGEMM): one warpgroup
  // promotes while the other's wgmmas keep the tensor cores busy (DeepGEMM README: FFMA interleaving). false (a
  // CUTLASS-style kernel without it, as in DeepSeek's 2024 training kernels): the warpgroups' wgmmas finish
  // together and the tensor cores wait while both promote, every 128 K.
  bool promotion_overlap = true;
  // Optional overrides of the heuristic (0: choose).
  int64_t block_m = 0, block_n = 0, stages = 0;

  std::string str() const;
  // Throws ConfigError naming the constraint that failed and why, with the key of gemm_spec() ("gemm.k", and
  // "gemm.layout", "gemm.a_major", "gemm.b_major", "gemm.a_dtype" for the choices set outside the table).
  void validate(const HardwareConfig& hw) const;
  int64_t total_m() const { return m * groups; }
  int64_t out_bytes() const { return c_accumulate ? 4 : 2; }  // per output element: FP32 C/D, else BF16 D
  double flops() const { return 2.0 * static_cast<double>(groups) * m * n * k; }
  // DeepGEMM's byte count: FP8 inputs, BF16 output, scales ignored (benchmarks.md).
  double bytes() const {
    return static_cast<double>(groups) * (static_cast<double>(m) * k + static_cast<double>(n) * k + 2.0 * m * n);
  }
};

// The parameter table of a GEMM problem as `v3sim gemm` takes it (and `v3sim describe gemm` shows): the sizes,
// groups, SMs and the heuristic's overrides, each with its range.
const ComponentSpec& gemm_spec();
// The sizes, groups, SMs and overrides read against gemm_spec(); the layout and the flags are the caller's.
GemmDesc read_gemm_desc(const ParamReader& r);

struct GemmConfig {
  int64_t block_m = 0, block_n = 0, block_k = 128;
  int64_t stages = 0;
  int64_t multicast = 1;       // CTAs sharing one TMA load (a 2-CTA cluster) or 1
  bool multicast_on_a = true;  // which operand the cluster shares
  int64_t smem_bytes = 0;
  int64_t math_warpgroups = 0;
  int64_t m_tiles_per_warpgroup = 0;  // m64 wgmmas per warpgroup per k32 step
  int64_t tiles = 0;
  int64_t waves = 0;
  int64_t grid = 0;  // CTAs launched (persistent, one per SM)
  std::string str() const;
};

// Shared memory of one CTA for a configuration (DeepGEMM's formula: output tile, per-stage A, B and A scales,
// B scales for all of K, barriers).
int64_t gemm_smem_bytes(int64_t block_m, int64_t block_n, int64_t stages, int64_t k, int64_t out_bytes = 2,
                        bool b_row_scales = false);
GemmConfig choose_gemm_config(const GemmDesc& d, const HardwareConfig& hw);

struct GemmResult {
  GemmDesc desc;
  GemmConfig config;
  Time time;
  int64_t cycles = 0;  // at the sustained clock
  double tflops = 0;
  double gbps = 0;
  // Fractions of the kernel's time each resource was busy (per-SM ones averaged over the SMs used).
  double tensor_util = 0, smem_util = 0, issue_util = 0, tma_util = 0, l2_util = 0, hbm_util = 0;
  double promotion_share = 0;  // share of the SMs' issue slots spent on promotion FFMAs
  std::string bound;           // the busiest resource, or "latency" when none is above half busy
  memory::MemoryStats memory;
  uint64_t events = 0;
};

// Runs the kernel on a cold L2 (DeepGEMM's benchmark flushes it between runs).
// The memory and events a simulation needs (estimated from the tiles and K blocks before it starts).
WorkEstimate estimate_gemm_work(const GemmDesc& d, const GemmConfig& c, const HardwareConfig& hw);
// What simulate_gemm() checks before it starts: the problem against the hardware (GemmDesc::validate), the
// heuristic's configuration, and the estimated work against what this machine can hold. Throws ConfigError.
struct GemmPlan {
  GemmConfig config;
  WorkEstimate work;
};
GemmPlan plan_gemm(const GemmDesc& d, const HardwareConfig& hw);
// Simulates the kernel (plan_gemm() first). Throws ConfigError (key "gemm") when the estimate exceeds what this machine
// can hold (core/resources.h). `progress`, when given, is called now and then with the estimated fraction done.
GemmResult simulate_gemm(const GemmDesc& d, const HardwareConfig& hw, const std::function<void(double)>& progress = {});

}  // namespace v3sim::sm
