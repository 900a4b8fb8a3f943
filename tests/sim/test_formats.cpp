#include <catch2/catch.hpp>
#include <cmath>

#include "sim/numerics/formats.h"

using namespace v3sim::numerics;

namespace {

// An independent decoding straight from the OCP FP8 definitions (sign, exponent field, mantissa field).
double by_definition(uint8_t code, int ebits, int mbits, int bias, bool e4m3) {
  const int sign = code >> 7;
  const int e = (code >> mbits) & ((1 << ebits) - 1);
  const int m = code & ((1 << mbits) - 1);
  const double s = sign ? -1.0 : 1.0;
  if (e4m3 && e == 15 && m == 7) return NAN;
  if (!e4m3 && e == 31) return m == 0 ? s * INFINITY : NAN;
  if (e == 0) return s * std::ldexp(m, 1 - bias - mbits);
  return s * std::ldexp(1.0 + m / double(1 << mbits), e - bias);
}

}  // namespace

TEST_CASE("all 256 codes of E4M3 and E5M2 decode as the OCP FP8 definitions say", "[sim][numerics][formats]") {
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<uint8_t>(c);
    CAPTURE(c);
    const double e4 = by_definition(code, 4, 3, 7, true), e5 = by_definition(code, 5, 2, 15, false);
    if (std::isnan(e4)) {
      CHECK(std::isnan(decode(Format::E4M3, code)));
      CHECK(std::isnan(e4m3_to_float(code)));
    } else {
      CHECK(decode(Format::E4M3, code) == e4);
      CHECK(e4m3_to_float(code) == static_cast<float>(e4));
      CHECK(std::signbit(decode(Format::E4M3, code)) == std::signbit(e4));
    }
    if (std::isnan(e5)) {
      CHECK(std::isnan(decode(Format::E5M2, code)));
    } else {
      CHECK(decode(Format::E5M2, code) == e5);
      CHECK(e5m2_to_float(code) == static_cast<float>(e5));
    }
  }
  // Landmarks: E4M3 max 448 (0x7E), min normal 2^-6, min subnormal 2^-9; E5M2 max 57344, infinity 0x7C.
  CHECK(decode(Format::E4M3, 0x7E) == 448.0);
  CHECK(decode(Format::E4M3, 0x08) == std::ldexp(1.0, -6));
  CHECK(decode(Format::E4M3, 0x01) == std::ldexp(1.0, -9));
  CHECK(decode(Format::E5M2, 0x7B) == 57344.0);
  CHECK(std::isinf(decode(Format::E5M2, 0x7C)));
  CHECK(decode(Format::E4M3, 0x38) == 1.0);
}

SCENARIO("FP32 to FP8 rounds to nearest even and saturates", "[sim][numerics][formats]") {
  CHECK(encode(Format::E4M3, 0.3f) == 0x2A);  // the worked example of formats.h
  CHECK(encode(Format::E4M3, 1.0f) == 0x38);
  CHECK(encode(Format::E4M3, 448.0f) == 0x7E);
  CHECK(encode(Format::E4M3, 464.0f) == 0x7E);  // the tie between 448 and 480 goes to the even 448
  CHECK(encode(Format::E4M3, 470.0f) == 0x7E);  // above 448 saturates (480 would be the NaN pattern)
  CHECK(encode(Format::E4M3, 1e9f) == 0x7E);
  CHECK(encode(Format::E4M3, -1e9f) == 0xFE);
  CHECK(encode(Format::E4M3, INFINITY) == 0x7E);  // __NV_SATFINITE: infinity becomes the largest finite value
  CHECK(encode(Format::E4M3, NAN) == 0x7F);       // NaN stays NaN
  CHECK(encode(Format::E5M2, NAN) == 0x7F);
  CHECK(encode(Format::E5M2, 61440.0f) == 0x7B);  // the tie above the maximum saturates
  CHECK(encode(Format::E5M2, INFINITY) == 0x7B);
  CHECK(encode(Format::E4M3, std::ldexp(1.0f, -10)) == 0x00);  // half the smallest subnormal: tie to even zero
  CHECK(encode(Format::E4M3, std::ldexp(1.5f, -10)) == 0x01);
  CHECK(encode(Format::E4M3, -0.0f) == 0x80);
  CHECK(encode(Format::E4M3, 200.0f) == 0x74);  // tie between 192 (0x74) and 208 (0x75): even mantissa
  CHECK(encode(Format::BF16, 1.0f) == 0x3F80);
  CHECK(encode(Format::BF16, 3.4e38f) == 0x7F80);   // BF16 overflows to infinity (as IEEE)
  CHECK(encode(Format::FP16, 65520.0f) == 0x7C00);  // FP16: the tie above 65504 rounds to infinity
  CHECK(encode(Format::FP16, 65519.0f) == 0x7BFF);
}

TEST_CASE("every FP8 code survives decode then encode", "[sim][numerics][formats]") {
  for (Format f : {Format::E4M3, Format::E5M2}) {
    for (int c = 0; c < 256; ++c) {
      const double v = decode(f, static_cast<uint32_t>(c));
      if (std::isnan(v) || std::isinf(v)) continue;
      CHECK(encode(f, static_cast<float>(v)) == static_cast<uint32_t>(c));
    }
  }
}

TEST_CASE("UE8M0 scales are the next power of two up", "[sim][numerics][formats]") {
  CHECK(ue8m0_to_float(ue8m0_round_up(1.0f)) == 1.0f);
  CHECK(ue8m0_to_float(ue8m0_round_up(1.5f)) == 2.0f);
  CHECK(ue8m0_to_float(ue8m0_round_up(0.005f)) == 0.0078125f);
  CHECK(ue8m0_round_up(1.0f) == 127);
  CHECK(std::isnan(ue8m0_to_float(0xFF)));
}
