// FP8 block-scaled GEMM written here, DeepGEMM's scheme on Hopper (benchmarks.md, hopper-microarch.md §2.3):
//   D[M,N] (BF16) = A[M,K] (E4M3, one FP32 scale per 1x128 tile) x B[N,K]^T (E4M3, one FP32 scale per 128x128 block)
// in the NT layout (both operands K-major). TMA loads into 128B-swizzled shared memory, a multi-stage mbarrier
// pipeline fed by one producer warpgroup, one or two math warpgroups issuing `wgmma.mma_async m64n128k32 e4m3`,
// and every 128 K the tensor-core partial sum (restarted from zero) is promoted into FP32 registers with one FFMA
// by scale_a * scale_b; BF16 (round to nearest even) at the end. A persistent grid walks the tiles.
//
// Layouts (fp8gemm::Layout): dense; grouped contiguous (the groups' rows concatenated, each group's rows a
// multiple of 128, B holds one [N, K] matrix per group); grouped masked (A [groups, M_max, K], a count of valid
// rows per group). Constraints (validate() throws std::invalid_argument naming them): K a positive multiple of
// 128, N a positive multiple of 8, M >= 1; contiguous group rows multiples of 128; masked counts in [0, M_max].
//
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/fp8_gemm_layout.h"
#include "kernels/kernel_op.h"

namespace v3sim::kernels {

using Fp8GemmLayout = fp8gemm::Layout;
const char* to_string(Fp8GemmLayout layout);  // "dense", "grouped-contiguous", "grouped-masked"

struct Fp8GemmProblem {
  Fp8GemmLayout layout = Fp8GemmLayout::Dense;
  int64_t m = 0;  // dense: M; masked: M_max (rows per group); contiguous: unused (the sum of group_rows)
  int64_t n = 0;
  int64_t k = 0;
  int groups = 1;                   // contiguous and masked: number of groups (experts); dense: 1
  std::vector<int64_t> group_rows;  // contiguous: rows of each group; masked: valid rows of each group (<= m)
  int num_sms = 0;                  // CTAs of the persistent grid; 0 = one per SM (DeepSeek's training used 112)

  // Rows of A and D in their 2-D view: dense M, contiguous sum(group_rows), masked groups * M_max.
  int64_t a_rows() const;
  // Rows that are computed: dense M, contiguous sum(group_rows), masked sum(counts).
  int64_t valid_rows() const;
  // 2 * valid_rows * N * K, and DeepGEMM's bytes: sum over groups of (rows*K + N*K + 2*rows*N) (scales ignored).
  LaunchWork cost() const;
  // @throws std::invalid_argument naming the violated constraint and the whole problem
  void validate() const;
  // "M=4096 N=7168 K=16384 dense", "groups=4 rows=[128,256,...] N=4096 K=7168 grouped-contiguous"
  std::string describe() const;

  // Convenience constructors.
  static Fp8GemmProblem dense(int64_t m, int64_t n, int64_t k);
  static Fp8GemmProblem contiguous(std::vector<int64_t> group_rows, int64_t n, int64_t k);
  static Fp8GemmProblem masked(int groups, int64_t m_max, std::vector<int64_t> counts, int64_t n, int64_t k);
};

// The kernel configuration chosen for a problem (a pure function of the problem and the SM count).
struct Fp8GemmConfig {
  int block_m = 128, block_n = fp8gemm::kBlockN, block_k = fp8gemm::kBlockK;
  int stages = 0;
  int math_warpgroups = 2;
  int threads = 384;
  int grid = 0;  // persistent CTAs
  int64_t tiles = 0;
  uint32_t smem_bytes = 0;
  std::string describe() const;  // "BLOCK 128x128x128, 6 stages, 2 math WGs, grid 132, 1792 tiles, smem 200800 B"
};
Fp8GemmConfig fp8_gemm_config(const Fp8GemmProblem& p, int sm_count);

// Operands in host memory, in the layouts of numerics::quantize (so the CPU emulator reads them directly).
struct Fp8GemmOperands {
  std::vector<uint8_t> a;       // a_rows x K E4M3 codes, row-major
  std::vector<float> a_scales;  // a_rows x K/128 (Tile1x128: row r, K-block kb at r * K/128 + kb)
  std::vector<uint8_t> b;       // groups x N x K E4M3 codes
  std::vector<float> b_scales;  // groups x ceil(N/128) x K/128 (Block128x128 per group, row-major)
};

// @throws std::invalid_argument naming the field whose size does not match the (valid) problem
void check_fp8_gemm_operands(const Fp8GemmProblem& p, const Fp8GemmOperands& operands);

struct Fp8GemmResult {
  // a_rows x N BF16 bit patterns. Rows the kernel does not compute (masked rows >= count) keep the value 0xFFFF
  // (a NaN no BF16 rounding produces), so a test can see they were not written.
  std::vector<uint16_t> d;
  Fp8GemmConfig config;
};

inline constexpr uint16_t kUnwrittenBf16 = 0xFFFF;

// Runs the GEMM once on device 0 with these operands and returns D. Validates first.
// @throws std::invalid_argument (shape or operand sizes), DeviceUnavailable, CudaError
Fp8GemmResult run_fp8_gemm(const Fp8GemmProblem& p, const Fp8GemmOperands& operands);

// A measured op over seeded random operands (E4M3 codes of ~N(0,1)*150, scales in [0.5, 1) / 150).
// Validates first. @throws std::invalid_argument, DeviceUnavailable, CudaError
std::unique_ptr<DeviceOp> make_fp8_gemm_op(const Fp8GemmProblem& p, uint64_t seed = 1);

}  // namespace v3sim::kernels
