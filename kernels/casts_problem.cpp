// The cast problems: validation, shapes, cost (shared by the CUDA and the no-CUDA builds).
#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "core/math.h"
#include "kernels/casts.h"

namespace v3sim::kernels {

const char* to_string(CastKind kind) {
  switch (kind) {
    case CastKind::Quant1x128:
      return "quant-1x128";
    case CastKind::Quant128x128:
      return "quant-128x128";
    case CastKind::TransposeRequant:
      return "transpose-requant";
  }
  return "?";
}

int64_t CastProblem::out_rows() const {
  return kind == CastKind::TransposeRequant ? cols : rows;
}

int64_t CastProblem::out_cols() const {
  return kind == CastKind::TransposeRequant ? rows : cols;
}

int64_t CastProblem::in_scales() const {
  return kind == CastKind::TransposeRequant ? rows * (cols / kCastBlock) : 0;
}

int64_t CastProblem::out_scales() const {
  switch (kind) {
    case CastKind::Quant1x128:
      return rows * (cols / kCastBlock);
    case CastKind::Quant128x128:
      return ceil_div(rows, kCastBlock) * (cols / kCastBlock);
    case CastKind::TransposeRequant:
      return cols * (rows / kCastBlock);
  }
  return 0;
}

LaunchWork CastProblem::cost() const {
  const double elems = static_cast<double>(rows) * static_cast<double>(cols);
  LaunchWork c;
  const double in = kind == CastKind::TransposeRequant ? elems + 4.0 * static_cast<double>(in_scales()) : 2.0 * elems;
  c.bytes = in + elems + 4.0 * static_cast<double>(out_scales());
  return c;
}

std::string CastProblem::describe() const {
  return fmt::format("{} rows={} cols={}{}", to_string(kind), rows, cols, ue8m0 ? " ue8m0" : "");
}

void CastProblem::validate() const {
  auto fail = [&](const std::string& what) { throw std::invalid_argument("cast: " + what + " (" + describe() + ")"); };
  if (rows < 1 || cols < 1) fail("rows and cols must be >= 1");
  if (cols % kCastBlock != 0) fail(fmt::format("cols={} must be a multiple of 128 (the quantization tile)", cols));
  if (kind == CastKind::TransposeRequant && rows % kCastBlock != 0)
    fail(fmt::format("rows={} must be a multiple of 128 (the 128x1 tiles of the transposed output)", rows));
  if (rows > std::numeric_limits<int32_t>::max() || cols > std::numeric_limits<int32_t>::max())
    fail("rows and cols must be below 2^31");
}

namespace {
void check_size(const char* what, size_t got, int64_t want, const CastProblem& p) {
  if (got != static_cast<size_t>(want))
    throw std::invalid_argument(
        fmt::format("cast: {} has {} elements, expected {} ({})", what, got, want, p.describe()));
}
}  // namespace

void check_quantize_input(const CastProblem& p, const std::vector<uint16_t>& input) {
  p.validate();
  if (p.kind == CastKind::TransposeRequant)
    throw std::invalid_argument("cast: quantize takes BF16 input; use transpose-requant for " + p.describe());
  check_size("input", input.size(), p.rows * p.cols, p);
}

void check_transpose_input(const CastProblem& p, const Fp8Tensor& input) {
  p.validate();
  if (p.kind != CastKind::TransposeRequant)
    throw std::invalid_argument("cast: not a transpose-requant: " + p.describe());
  check_size("input codes", input.codes.size(), p.rows * p.cols, p);
  check_size("input scales", input.scales.size(), p.in_scales(), p);
}

}  // namespace v3sim::kernels
