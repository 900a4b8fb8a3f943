#include "sim/numerics/formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace v3sim::numerics {

namespace {

// Sources: OCP FP8 formats (E4M3: no infinities, S.1111.111 is NaN, max 448; E5M2: IEEE-like, max 57344),
// bfloat16 and IEEE binary16/binary32.
constexpr FormatInfo kInfos[] = {
    {"e4m3", 8, 4, 3, 7, false, 0x7E, 448.0, -6},
    {"e5m2", 8, 5, 2, 15, true, 0x7B, 57344.0, -14},
    {"bf16", 16, 8, 7, 127, true, 0x7F7F, 3.3895313892515355e38, -126},
    {"fp16", 16, 5, 10, 15, true, 0x7BFF, 65504.0, -14},
    {"fp32", 32, 8, 23, 127, true, 0x7F7FFFFF, 3.4028234663852886e38, -126},
    {"ue8m0", 8, 8, 0, 127, false, 0xFE, 1.7014118346046923e38, -127},
};

bool is_nan_code(Format f, uint32_t code) {
  const FormatInfo& fi = info(f);
  uint32_t mag = code & ((1u << (fi.bits - 1)) - 1);
  if (f == Format::UE8M0) return code == 0xFF;
  if (f == Format::E4M3) return mag == 0x7F;
  uint32_t exp_all = ((1u << fi.exponent_bits) - 1) << fi.mantissa_bits;
  return (mag & exp_all) == exp_all && (mag & ((1u << fi.mantissa_bits) - 1)) != 0;
}

template <Format F>
std::array<float, 256> make_table() {
  std::array<float, 256> t{};
  for (uint32_t c = 0; c < 256; ++c) t[c] = static_cast<float>(decode(F, c));
  return t;
}

}  // namespace

const FormatInfo& info(Format f) {
  return kInfos[static_cast<int>(f)];
}
const char* to_string(Format f) {
  return info(f).name;
}

bool parse_format(std::string_view text, Format& out) {
  for (size_t i = 0; i < std::size(kInfos); ++i) {
    if (text == kInfos[i].name) {
      out = static_cast<Format>(i);
      return true;
    }
  }
  return false;
}

Parts split(Format f, uint32_t code) {
  const FormatInfo& fi = info(f);
  Parts p;
  if (f == Format::UE8M0) {
    if (code == 0xFF) {
      p.kind = Parts::NaN;
      return p;
    }
    p.kind = Parts::Finite;
    p.significand = 1;
    p.exponent = static_cast<int32_t>(code) - 127;
    return p;
  }
  const uint32_t sign_bit = 1u << (fi.bits - 1);
  p.negative = (code & sign_bit) != 0;
  const uint32_t mag = code & (sign_bit - 1);
  const uint32_t mant = mag & ((1u << fi.mantissa_bits) - 1);
  const uint32_t exp_field = mag >> fi.mantissa_bits;
  const uint32_t exp_max = (1u << fi.exponent_bits) - 1;
  if (is_nan_code(f, code)) {
    p.kind = Parts::NaN;
    return p;
  }
  if (fi.has_infinity && exp_field == exp_max) {
    p.kind = Parts::Infinity;
    return p;
  }
  if (mag == 0) {
    p.kind = Parts::Zero;
    return p;
  }
  p.kind = Parts::Finite;
  if (exp_field == 0) {
    p.significand = static_cast<int32_t>(mant);
    p.exponent = fi.min_normal_exponent;
  } else {
    p.significand = static_cast<int32_t>(mant | (1u << fi.mantissa_bits));
    p.exponent = static_cast<int32_t>(exp_field) - fi.bias;
  }
  return p;
}

double decode(Format f, uint32_t code) {
  Parts p = split(f, code);
  const double sign = p.negative ? -1.0 : 1.0;
  switch (p.kind) {
    case Parts::Zero:
      return sign * 0.0;
    case Parts::NaN:
      return std::numeric_limits<double>::quiet_NaN();
    case Parts::Infinity:
      return sign * std::numeric_limits<double>::infinity();
    case Parts::Finite:
      break;
  }
  return sign * std::ldexp(static_cast<double>(p.significand), p.exponent - info(f).mantissa_bits);
}

uint32_t encode(Format f, float x) {
  V3SIM_ASSERT(f != Format::UE8M0);
  const FormatInfo& fi = info(f);
  const uint32_t bits = float_bits(x);
  if (f == Format::FP32) return bits;
  const uint32_t sign = (bits >> 31) << (fi.bits - 1);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  const bool narrow = fi.bits == 8;
  if (abs > 0x7F800000u) return narrow ? 0x7Fu : 0x7FFFu;  // NaN (CUDA canonicalizes before converting)
  const uint32_t max_code = fi.max_finite_code;
  const uint32_t inf_code = narrow ? max_code : (((1u << fi.exponent_bits) - 1) << fi.mantissa_bits);
  if (abs == 0x7F800000u) return sign | inf_code;  // infinity saturates in the 8-bit formats
  if (abs == 0) return sign;

  // |x| = sig * 2^e2 exactly.
  const int32_t e_field = static_cast<int32_t>(abs >> 23);
  const uint32_t sig = e_field == 0 ? (abs & 0x7FFFFFu) : ((abs & 0x7FFFFFu) | 0x800000u);
  const int32_t e2 = (e_field == 0 ? 1 : e_field) - 127 - 23;
  const int32_t msb = 31 - std::countl_zero(sig);
  const int32_t value_exp = msb + e2;  // floor(log2 |x|)
  // Quantum of the target format at this magnitude (subnormals share the minimum normal's quantum).
  const int32_t q = std::max(value_exp, fi.min_normal_exponent) - fi.mantissa_bits;
  const int32_t shift = q - e2;  // bits of sig below the quantum
  uint64_t n;
  if (shift <= 0) {
    n = static_cast<uint64_t>(sig) << -shift;
  } else if (shift > 40) {
    n = 0;  // far below half the smallest subnormal
  } else {
    const uint64_t s = sig;
    n = s >> shift;
    const uint64_t rem = s & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (n & 1))) ++n;
  }
  if (n == 0) return sign;
  // n in [0, 2^(m+1)]: subnormal below 2^m, normal with implicit bit otherwise; 2^(m+1) carries to the next
  // binade.
  int32_t qe = q;
  if (n == (uint64_t{1} << (fi.mantissa_bits + 1))) {
    n >>= 1;
    ++qe;
  }
  uint32_t code;
  if (n < (uint64_t{1} << fi.mantissa_bits)) {
    code = static_cast<uint32_t>(n);
  } else {
    const int64_t biased = static_cast<int64_t>(qe) + fi.mantissa_bits + fi.bias;
    const uint32_t max_exp_field = narrow ? (1u << fi.exponent_bits) - 1 : (1u << fi.exponent_bits) - 2;
    if (biased > static_cast<int64_t>(max_exp_field)) return sign | inf_code;
    code = (static_cast<uint32_t>(biased) << fi.mantissa_bits) |
           static_cast<uint32_t>(n - (uint64_t{1} << fi.mantissa_bits));
  }
  if (code > max_code) code = narrow ? max_code : inf_code;
  return sign | code;
}

float e4m3_to_float(uint8_t code) {
  static const std::array<float, 256> t = make_table<Format::E4M3>();
  return t[code];
}

float e5m2_to_float(uint8_t code) {
  static const std::array<float, 256> t = make_table<Format::E5M2>();
  return t[code];
}

uint8_t ue8m0_round_up(float s) {
  V3SIM_ASSERT(s > 0 && std::isfinite(s));
  int e = 0;
  float m = std::frexp(s, &e);      // s = m * 2^e, m in [0.5, 1)
  int p = (m == 0.5f) ? e - 1 : e;  // exact powers of two stay
  p = std::clamp(p, -127, 127);
  return static_cast<uint8_t>(p + 127);
}

float ue8m0_to_float(uint8_t code) {
  if (code == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(code) - 127);
}

}  // namespace v3sim::numerics
