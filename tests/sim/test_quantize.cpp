#include <catch2/catch.hpp>
#include <cmath>

#include "sim/numerics/error_study.h"
#include "sim/numerics/quantize.h"

using namespace v3sim::numerics;

TEST_CASE("1x128 tiles: scale = amax / 448 per row and 128 columns; the amax maps to +-448",
          "[sim][numerics][quantize]") {
  const int64_t rows = 3, cols = 300;  // 3 tiles per row, the last one partial
  std::vector<float> x = random_matrix(rows, cols, Distribution::Normal, 7);
  x[1 * cols + 130] = -9.5f;  // the amax of row 1, tile 1
  QuantizedMatrix q = quantize(x.data(), rows, cols, Format::E4M3, Granularity::Tile1x128);
  REQUIRE(q.scales.size() == 9);
  CHECK(q.scale(1, 130) == -9.5f / -448.0f);
  CHECK(q.codes[1 * cols + 130] == 0xFE);  // -448
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double v = q.value(r, c), orig = x[static_cast<size_t>(r * cols + c)];
      // E4M3 keeps 3 fraction bits: within half an ulp, relative 2^-4, above the subnormal range.
      if (std::fabs(orig) > 448.0 * q.scale(r, c) * std::ldexp(1.0, -6))
        CHECK(std::fabs(v - orig) <= std::fabs(orig) / 16);
    }
  }
  std::vector<float> back = dequantize(q);
  CHECK(back[1 * cols + 130] == -9.5f);
}

TEST_CASE("128x1 tiles of a matrix are the 1x128 tiles of its transpose", "[sim][numerics][quantize]") {
  const int64_t rows = 256, cols = 64;
  std::vector<float> x = random_matrix(rows, cols, Distribution::Uniform, 3), xt(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) xt[static_cast<size_t>(c * rows + r)] = x[static_cast<size_t>(r * cols + c)];
  QuantizedMatrix a = quantize(x.data(), rows, cols, Format::E4M3, Granularity::Tile128x1);
  QuantizedMatrix b = quantize(xt.data(), cols, rows, Format::E4M3, Granularity::Tile1x128);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      CHECK(a.codes[static_cast<size_t>(r * cols + c)] == b.codes[static_cast<size_t>(c * rows + r)]);
      CHECK(a.scale(r, c) == b.scale(c, r));
    }
}

TEST_CASE("128x128 weight blocks and UE8M0 power-of-two scales", "[sim][numerics][quantize]") {
  const int64_t rows = 256, cols = 384;
  std::vector<float> x = random_matrix(rows, cols, Distribution::Normal, 11);
  QuantizedMatrix w = quantize(x.data(), rows, cols, Format::E4M3, Granularity::Block128x128, true);
  CHECK(w.scales.size() == 6);
  for (float s : w.scales) {
    int e = 0;
    CHECK(std::frexp(s, &e) == 0.5f);  // a power of two
  }
  // Rounding the scale up never saturates: every |x / s| <= 448.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) CHECK(std::fabs(x[static_cast<size_t>(r * cols + c)] / w.scale(r, c)) <= 448.0f);
  // amax is clamped to 1e-4: an all-zero block gets scale 1e-4 / 448, not 0.
  std::vector<float> zeros(128 * 128, 0.0f);
  CHECK(quantize(zeros.data(), 128, 128, Format::E4M3, Granularity::Block128x128).scales[0] == 1e-4f / 448.0f);
}
