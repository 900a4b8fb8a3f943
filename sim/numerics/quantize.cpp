#include "sim/numerics/quantize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/math.h"

namespace v3sim::numerics {

const char* to_string(Granularity g) {
  switch (g) {
    case Granularity::Tile1x128:
      return "1x128";
    case Granularity::Tile128x1:
      return "128x1";
    case Granularity::Block128x128:
      return "128x128";
    case Granularity::PerRow:
      return "per-row";
    case Granularity::PerTensor:
      return "per-tensor";
  }
  return "?";
}

namespace {
int64_t blocks(int64_t n) {
  return ceil_div(n, kQuantTile);
}
}  // namespace

int64_t QuantizedMatrix::scale_rows() const {
  switch (granularity) {
    case Granularity::Tile1x128:
    case Granularity::PerRow:
      return rows;
    case Granularity::Tile128x1:
    case Granularity::Block128x128:
      return blocks(rows);
    case Granularity::PerTensor:
      return 1;
  }
  return 1;
}

int64_t QuantizedMatrix::scale_cols() const {
  switch (granularity) {
    case Granularity::Tile1x128:
    case Granularity::Block128x128:
      return blocks(cols);
    case Granularity::Tile128x1:
      return cols;
    case Granularity::PerRow:
    case Granularity::PerTensor:
      return 1;
  }
  return 1;
}

int64_t QuantizedMatrix::scale_index(int64_t r, int64_t c) const {
  switch (granularity) {
    case Granularity::Tile1x128:
      return r * scale_cols() + c / kQuantTile;
    case Granularity::Tile128x1:
      return (r / kQuantTile) * cols + c;
    case Granularity::Block128x128:
      return (r / kQuantTile) * scale_cols() + c / kQuantTile;
    case Granularity::PerRow:
      return r;
    case Granularity::PerTensor:
      return 0;
  }
  return 0;
}

double QuantizedMatrix::value(int64_t r, int64_t c) const {
  return decode(format, codes[static_cast<size_t>(r * cols + c)]) * static_cast<double>(scale(r, c));
}

QuantizedMatrix quantize(const float* x, int64_t rows, int64_t cols, Format format, Granularity granularity,
                         bool ue8m0) {
  V3SIM_ASSERT(rows > 0 && cols > 0);
  V3SIM_ASSERT(format == Format::E4M3 || format == Format::E5M2);
  QuantizedMatrix q;
  q.rows = rows;
  q.cols = cols;
  q.format = format;
  q.granularity = granularity;
  q.ue8m0 = ue8m0;
  q.codes.resize(static_cast<size_t>(rows * cols));
  const int64_t n_scales = q.scale_rows() * q.scale_cols();
  std::vector<float> amax(static_cast<size_t>(n_scales), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& a = amax[static_cast<size_t>(q.scale_index(r, c))];
      a = std::max(a, std::fabs(x[r * cols + c]));
    }
  const auto max_finite = static_cast<float>(info(format).max_finite);
  q.scales.resize(static_cast<size_t>(n_scales));
  for (int64_t i = 0; i < n_scales; ++i) {
    float s = std::max(amax[static_cast<size_t>(i)], kMinAmax) / max_finite;
    if (ue8m0) s = ue8m0_to_float(ue8m0_round_up(s));
    q.scales[static_cast<size_t>(i)] = s;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q.codes[static_cast<size_t>(r * cols + c)] = float_to_fp8(x[r * cols + c] / q.scale(r, c), format);
  return q;
}

std::vector<float> dequantize(const QuantizedMatrix& q) {
  std::vector<float> out(static_cast<size_t>(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      out[static_cast<size_t>(r * q.cols + c)] =
          fp8_to_float(q.codes[static_cast<size_t>(r * q.cols + c)], q.format) * q.scale(r, c);
  return out;
}

}  // namespace v3sim::numerics
