// Number formats of FP8 training, bit-exact: FP8 E4M3 (finite-only, max 448) and E5M2, BF16, FP16, FP32 and
// the UE8M0 power-of-two scale. Encoding from FP32 rounds to nearest even; the 8-bit formats saturate to their
// largest finite value, as CUDA's cuda_fp8.h conversions with __NV_SATFINITE do (NaN stays NaN: 0x7F).
//
// Worked example: 0.3f -> E4M3. 0.3 = 1.2 x 2^-2; with 3 mantissa bits the neighbours are 1.125 and 1.25 x 2^-2,
// 1.2 is nearer 1.25, so the code is sign 0, exponent -2 + 7 = 5, mantissa 010: 0b0'0101'010 = 0x2A = 0.3125.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace v3sim::numerics {

enum class Format : uint8_t { E4M3, E5M2, BF16, FP16, FP32, UE8M0 };

struct FormatInfo {
  const char* name;
  int bits;
  int exponent_bits;
  int mantissa_bits;  // stored fraction bits
  int bias;
  bool has_infinity;
  uint32_t max_finite_code;  // magnitude code of the largest finite value
  double max_finite;
  int min_normal_exponent;  // 1 - bias
};

const FormatInfo& info(Format f);
const char* to_string(Format f);
// "e4m3", "e5m2", "bf16", "fp16", "fp32", "ue8m0"; false when unknown.
bool parse_format(std::string_view text, Format& out);

// Exact value of a code (NaN and infinities as double NaN and infinities). @pre code < 2^bits
double decode(Format f, uint32_t code);
// FP32 -> code, round to nearest even; 8-bit formats saturate (finite) and map NaN to 0x7F; BF16 and FP16
// overflow to infinity and map NaN to the canonical quiet NaN (0x7FFF, 0x7FFF). @pre f is not UE8M0
uint32_t encode(Format f, float x);

// Fast paths through 256-entry tables.
float e4m3_to_float(uint8_t code);
float e5m2_to_float(uint8_t code);
inline float fp8_to_float(uint8_t code, Format f) {
  return f == Format::E4M3 ? e4m3_to_float(code) : e5m2_to_float(code);
}
inline uint8_t float_to_fp8(float x, Format f) {
  return static_cast<uint8_t>(encode(f, x));
}

inline uint32_t float_bits(float x) {
  return std::bit_cast<uint32_t>(x);
}
inline float bits_float(uint32_t b) {
  return std::bit_cast<float>(b);
}

// UE8M0 scales (DeepSeek-V3.1 scale_fmt ue8m0): 2^(code - 127), 0xFF is NaN.
// The smallest power of two >= s (s > 0 and finite), as a code; DeepSeek rounds activation scales up.
uint8_t ue8m0_round_up(float s);
float ue8m0_to_float(uint8_t code);

// A code's parts for exact arithmetic: value = (-1)^negative * significand * 2^(exponent - mantissa_bits),
// with the significand including the implicit bit for normals (E4M3: 8..15) and below it for subnormals,
// whose exponent is the minimum normal exponent.
struct Parts {
  enum Kind : uint8_t { Zero, Finite, Infinity, NaN };
  Kind kind = Zero;
  bool negative = false;
  int32_t significand = 0;
  int32_t exponent = 0;
};
Parts split(Format f, uint32_t code);

}  // namespace v3sim::numerics
