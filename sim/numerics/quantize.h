// Fine-grained FP8 quantization as DeepSeek-V3 does it (§3.3.1; inference/kernel.py act_quant): one FP32 scale
// per 1x128 activation tile (per row, per 128 columns), 128x1 tiles for the transposed operands of the backward
// pass, 128x128 weight blocks. scale = amax / max_finite (amax clamped to at least 1e-4), optionally rounded up
// to a power of two (UE8M0, DeepSeek-V3.1's scale_fmt); code = FP8(x / scale) with RNE and saturation.
//
// Example: a row of 128 values with amax 2.24 -> scale 2.24 / 448 = 0.005; x = 1.0 -> 1.0 / 0.005 = 200 ->
// E4M3 192 = 0x74 (neighbours 192 and 208; 200 is the tie, the even mantissa wins) -> dequantized 0.96.
#pragma once

#include <cstdint>
#include <vector>

#include "core/quant.h"
#include "sim/numerics/formats.h"

namespace v3sim::numerics {

enum class Granularity : uint8_t {
  Tile1x128,     // per row, per 128 columns (activations)
  Tile128x1,     // per column, per 128 rows (transposed activations in the backward pass)
  Block128x128,  // weights
  PerRow,        // one scale per row (tensor-core-only accumulation, scales applied at the end)
  PerTensor,
};
const char* to_string(Granularity g);

inline constexpr float kMinAmax = 1e-4f;  // DeepSeek-V3 inference/kernel.py clamps amax before dividing

struct QuantizedMatrix {
  int64_t rows = 0, cols = 0;
  Format format = Format::E4M3;
  Granularity granularity = Granularity::Tile1x128;
  bool ue8m0 = false;
  std::vector<uint8_t> codes;  // rows x cols, row-major
  std::vector<float> scales;   // see scale_index()

  int64_t scale_rows() const;
  int64_t scale_cols() const;
  // Index into `scales` of the scale covering element (r, c).
  int64_t scale_index(int64_t r, int64_t c) const;
  float scale(int64_t r, int64_t c) const { return scales[static_cast<size_t>(scale_index(r, c))]; }
  // The value the code and its scale stand for (exact in double).
  double value(int64_t r, int64_t c) const;
};

// @pre rows > 0, cols > 0; format E4M3 or E5M2
QuantizedMatrix quantize(const float* x, int64_t rows, int64_t cols, Format format, Granularity granularity,
                         bool ue8m0 = false);
std::vector<float> dequantize(const QuantizedMatrix& q);

}  // namespace v3sim::numerics
