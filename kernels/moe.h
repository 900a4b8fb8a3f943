// MoE token permute and unpermute around the grouped GEMMs (the contiguous layout of kernels/fp8_gemm.h).
//
// permute: from a routing index topk_idx[tokens][topk] (expert ids, -1 = not routed), gathers the FP8 rows of the
//   activation matrix (E4M3 [tokens, hidden] + 1x128 FP32 scales [tokens, hidden/128]) into per-expert contiguous
//   segments: expert e's rows start at offsets[e], in token order (stable), its segment padded with zero rows to a
//   multiple of `align` (128 = the GEMM's BLOCK_M, so Fp8GemmProblem::contiguous(segment sizes) is the next GEMM).
// unpermute: the weighted scatter-add back, computed as a gather per token (deterministic, no atomics):
//   out[t] = BF16( sum over k in order of topk_weights[t][k] * y[dest_row[t][k]] ), FP32 FMA accumulation.
//
// The layout is a pure function of the routing (moe_layout below, the CPU reference); the GPU computes the same
// layout with a stable counting sort and the test compares both bit for bit.
// Constraints (validate()): tokens >= 1; hidden a positive multiple of 128; 1 <= topk <= experts <= 1024;
// align >= 1; every index of a routing in [-1, experts).
//
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel_op.h"

namespace v3sim::kernels {

struct MoeProblem {
  int64_t tokens = 0;
  int64_t hidden = 7168;
  int topk = 8;
  int experts = 256;
  int align = 128;  // segment alignment in rows

  // Rows the permuted matrix can need at most: tokens * topk + experts * (align - 1).
  int64_t max_rows() const;
  // Bytes of one FP8 row with its scales: hidden + 4 * hidden / 128 (7392 for V3's 7168).
  int64_t fp8_row_bytes() const;
  LaunchWork permute_cost(int64_t routed_rows, int64_t total_rows) const;
  LaunchWork unpermute_cost(int64_t routed_rows) const;
  // @throws std::invalid_argument naming the violated constraint and the whole problem
  void validate() const;
  std::string describe() const;  // "tokens=4096 hidden=7168 topk=8 experts=256 align=128"
};

struct MoeRouting {
  std::vector<int32_t> topk_idx;    // tokens x topk expert ids, -1 = not routed
  std::vector<float> topk_weights;  // tokens x topk combine weights
};

// Seeded routing: every token picks `topk` distinct experts uniformly, weights uniform in (0, 1) normalized to sum 1.
MoeRouting random_routing(const MoeProblem& p, uint64_t seed);
// @throws std::invalid_argument when sizes or expert ids are off
void check_routing(const MoeProblem& p, const MoeRouting& r);

struct MoeLayout {
  std::vector<int64_t> counts;     // experts: (token, k) pairs routed to each expert
  std::vector<int64_t> offsets;    // experts + 1: segment starts, multiples of align; offsets[experts] = rows
  std::vector<int32_t> row_token;  // rows: source token of each permuted row, -1 for padding rows
  std::vector<int32_t> row_group;  // rows: expert of each row, padding rows included (the GEMM's group index)
  std::vector<int32_t> dest_row;   // tokens x topk: permuted row of each (token, k), -1 when not routed
  int64_t rows() const { return offsets.empty() ? 0 : offsets.back(); }
  std::vector<int64_t> segment_rows() const;  // experts: offsets[e + 1] - offsets[e]
};

// The layout on the CPU (the reference): stable in token order within each expert.
// Worked example: 3 tokens, topk 2, 3 experts, align 4, topk_idx {0,2, 2,0, 1,-1}: counts {2,1,2}, offsets
// {0,4,8,12}, rows 0..1 = tokens 0,1 of expert 0, row 4 = token 2 of expert 1, rows 8..9 = tokens 0,1 of expert 2,
// dest_row {0,8, 9,1, 4,-1}.
MoeLayout moe_layout(const MoeProblem& p, const std::vector<int32_t>& topk_idx);

struct MoePermuteResult {
  MoeLayout layout;            // as computed on the GPU
  std::vector<uint8_t> codes;  // rows x hidden (padding rows zero)
  std::vector<float> scales;   // rows x hidden/128 (padding rows zero)
};

// @throws std::invalid_argument when the permute's inputs do not match the problem
void check_permute_input(const MoeProblem& p, const MoeRouting& routing, const std::vector<uint8_t>& codes,
                         const std::vector<float>& scales);

// Runs the permute on device 0. codes: tokens x hidden, scales: tokens x hidden/128.
// @throws std::invalid_argument, DeviceUnavailable, CudaError
MoePermuteResult run_moe_permute(const MoeProblem& p, const MoeRouting& routing, const std::vector<uint8_t>& codes,
                                 const std::vector<float>& scales);
// Runs the unpermute on device 0. expert_out: rows x hidden BF16 bits (rows = its size / hidden), dest_row: tokens x
// topk rows (-1: skipped). Returns tokens x hidden BF16 bits. @throws as run_moe_permute
std::vector<uint16_t> run_moe_unpermute(const MoeProblem& p, const MoeRouting& routing,
                                        const std::vector<int32_t>& dest_row, const std::vector<uint16_t>& expert_out);
// @throws std::invalid_argument when the unpermute's inputs do not match the problem
void check_unpermute_input(const MoeProblem& p, const MoeRouting& routing, const std::vector<int32_t>& dest_row,
                           const std::vector<uint16_t>& expert_out);

// Measured ops over a seeded random routing and random data ("moe-permute": the layout kernels and the gather;
// "moe-unpermute": the weighted combine). @throws std::invalid_argument, DeviceUnavailable, CudaError
std::unique_ptr<DeviceOp> make_moe_permute_op(const MoeProblem& p, uint64_t seed = 1);
std::unique_ptr<DeviceOp> make_moe_unpermute_op(const MoeProblem& p, uint64_t seed = 1);

}  // namespace v3sim::kernels
