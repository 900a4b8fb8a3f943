// The FP8 casts of DeepSeek-V3's recipe (§3.3; inference/kernel.py act_quant), bit-exact with numerics::quantize:
//   quant-1x128        BF16 [rows, cols] -> E4M3 codes + one FP32 scale per row and 128 columns (activations);
//   quant-128x128      BF16 [rows, cols] -> E4M3 codes + one FP32 scale per 128x128 block (weights);
//   transpose-requant  E4M3 1x128 [rows, cols] -> dequantize (code * scale, FP32) -> transpose -> E4M3 1x128
//                      [cols, rows], i.e. 128x1 tiles of the original: the backward pass's operand (§3.5.2).
// scale = max(amax, 1e-4) / 448 (FP32 division), optionally rounded up to a power of two (UE8M0, DeepSeek-V3.1's
// scale_fmt); code = E4M3(x / scale), round to nearest even, saturating (cvt.rn.satfinite).
// Constraints (validate() throws std::invalid_argument): rows, cols >= 1; cols a multiple of 128; transpose-requant
// also rows a multiple of 128.
//
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/hd.h"
#include "core/quant.h"
#include "kernels/kernel_op.h"

namespace v3sim::kernels {

enum class CastKind : uint8_t { Quant1x128, Quant128x128, TransposeRequant };
const char* to_string(CastKind kind);  // "quant-1x128", "quant-128x128", "transpose-requant"

inline constexpr int kCastBlock = kQuantTile;
inline constexpr float kCastMinAmax = 1e-4f;  // DeepSeek-V3 inference/kernel.py clamps amax before dividing
inline constexpr float kE4m3Max = 448.0f;

// Scale layouts (the same as numerics::QuantizedMatrix):
//   1x128 of a [rows, cols] matrix: row-major [rows][cols / 128], element (r, c) at r * (cols / 128) + c / 128;
//   128x128: row-major [ceil(rows / 128)][cols / 128], element (r, c) at (r / 128) * (cols / 128) + c / 128.
// Worked example: cols 7168 (56 blocks), element (3, 300): 1x128 -> 3 * 56 + 2 = 170; 128x128 -> 0 * 56 + 2 = 2.
V3SIM_HD constexpr int64_t scale_index_1x128(int64_t cols, int64_t r, int64_t c) {
  return r * (cols / kCastBlock) + c / kCastBlock;
}
V3SIM_HD constexpr int64_t scale_index_128x128(int64_t cols, int64_t r, int64_t c) {
  return (r / kCastBlock) * (cols / kCastBlock) + c / kCastBlock;
}

struct CastProblem {
  CastKind kind = CastKind::Quant1x128;
  int64_t rows = 0, cols = 0;  // of the input
  bool ue8m0 = false;          // power-of-two scales

  // The output matrix: [rows, cols], or [cols, rows] for transpose-requant.
  int64_t out_rows() const;
  int64_t out_cols() const;
  int64_t in_scales() const;   // transpose-requant: rows * cols / 128; otherwise 0 (BF16 input)
  int64_t out_scales() const;  // scales of the output
  // FLOPs 0; bytes = input (BF16 or FP8 + scales) + output (FP8 + scales).
  LaunchWork cost() const;
  // @throws std::invalid_argument naming the violated constraint and the whole problem
  void validate() const;
  std::string describe() const;  // "quant-1x128 rows=4096 cols=7168"
};

// An FP8 E4M3 matrix with its scales in one of the layouts above.
struct Fp8Tensor {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> codes;  // rows x cols, row-major
  std::vector<float> scales;
};

// Input checks of run_quantize / run_transpose_requant (kind and sizes). @throws std::invalid_argument
void check_quantize_input(const CastProblem& p, const std::vector<uint16_t>& input);
void check_transpose_input(const CastProblem& p, const Fp8Tensor& input);

// Quantizes BF16 bit patterns (rows x cols, row-major) on device 0. @pre kind is Quant1x128 or Quant128x128
// @throws std::invalid_argument (problem, kind or input size), DeviceUnavailable, CudaError
Fp8Tensor run_quantize(const CastProblem& p, const std::vector<uint16_t>& input);
// Dequantize-transpose-requantize of a 1x128-quantized [rows, cols] matrix into a 1x128 [cols, rows] one.
// @pre kind is TransposeRequant   @throws as run_quantize
Fp8Tensor run_transpose_requant(const CastProblem& p, const Fp8Tensor& input);

// The measured op over seeded random inputs (BF16 N(0,1); the FP8 input of transpose-requant is its 1x128
// quantization). @throws std::invalid_argument, DeviceUnavailable, CudaError
std::unique_ptr<DeviceOp> make_cast_op(const CastProblem& p, uint64_t seed = 1);

}  // namespace v3sim::kernels
