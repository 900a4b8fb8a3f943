#include "sim/numerics/accumulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <climits>

#include "core/error.h"

namespace v3sim::numerics {

AccumulatorModel AccumulatorModel::hopper_fp8() {
  return {"hopper-fp8", 32, 13, Rounding::TowardZero, 13, Rounding::TowardZero};
}
AccumulatorModel AccumulatorModel::hopper_bf16() {
  return {"hopper-bf16", 16, 25, Rounding::TowardZero, 23, Rounding::TowardZero};
}
AccumulatorModel AccumulatorModel::blackwell_fp8() {
  return {"blackwell-fp8", 32, 25, Rounding::TowardZero, 23, Rounding::TowardZero};
}
// F = 50 keeps every bit of an FP8 or BF16 product group exactly (terms stay below 2^52 in an int64 sum).
AccumulatorModel AccumulatorModel::ideal_fp32() {
  return {"ideal-fp32", 32, 50, Rounding::NearestEven, 23, Rounding::NearestEven};
}

bool AccumulatorModel::preset(std::string_view name, AccumulatorModel& out) {
  for (auto make : {&hopper_fp8, &hopper_bf16, &blackwell_fp8, &ideal_fp32}) {
    AccumulatorModel m = make();
    if (m.name == name) {
      out = m;
      return true;
    }
  }
  return false;
}

std::vector<std::string> AccumulatorModel::preset_names() {
  return {"hopper-fp8", "hopper-bf16", "blackwell-fp8", "ideal-fp32"};
}

const ComponentSpec& accumulator_spec() {
  static const ComponentSpec spec{
      "accumulator",
      "how a tensor-core MMA sums its products (hopper-microarch.md §2.3)",
      {
          {.name = "products_per_group",
           .type = ParamType::Int,
           .description = "products fused with the accumulator in one step (32 for an FP8 wgmma k32)",
           .range = range(1, 256)},
          {.name = "fraction_bits",
           .type = ParamType::Int,
           .description = "F: fraction bits kept below the largest term at alignment (Hopper FP8: 13); at most 50, so "
                          "that the terms sum exactly in 64 bits",
           .range = range(1, 50)},
          {.name = "align_rounding",
           .type = ParamType::Enum,
           .description = "rounding of terms onto the grid",
           .choices = enum_choices(kRoundings)},
          {.name = "output_fraction_bits",
           .type = ParamType::Int,
           .description = "fraction bits of the FP32 result (13 = e8m13, 23 = full FP32)",
           .range = range(1, 23)},
          {.name = "output_rounding",
           .type = ParamType::Enum,
           .description = "rounding of the result",
           .choices = enum_choices(kRoundings)},
      }};
  return spec;
}

const char* to_string(Rounding r) {
  switch (r) {
    case Rounding::TowardZero:
      return "rz";
    case Rounding::NearestEven:
      return "rne";
  }
  return "?";
}

AccumulatorModel read_accumulator(const ParamReader& r, const std::string& name) {
  AccumulatorModel m;
  m.name = name;
  m.products_per_group = static_cast<int>(r.get_int("products_per_group"));
  m.fraction_bits = static_cast<int>(r.get_int("fraction_bits"));
  m.align_rounding = *enum_named(r.get_string("align_rounding"), kRoundings);
  m.output_fraction_bits = static_cast<int>(r.get_int("output_fraction_bits"));
  m.output_rounding = *enum_named(r.get_string("output_rounding"), kRoundings);
  return m;
}

Term term_of(Format f, uint32_t code) {
  Parts p = split(f, code);
  Term t;
  t.negative = p.negative ? 1 : 0;
  switch (p.kind) {
    case Parts::Zero:
      t.exponent = 0;
      break;
    case Parts::Finite:
      t.significand = p.negative ? -p.significand : p.significand;
      t.exponent = p.exponent;
      break;
    case Parts::Infinity:
      t.special = 1;
      t.significand = p.negative ? -1 : 1;
      break;
    case Parts::NaN:
      t.special = 2;
      break;
  }
  return t;
}

namespace {

constexpr uint32_t kCanonicalNaN = 0x7FFFFFFFu;

// Magnitude `mag` shifted right by `s` bits with the model's rounding (RZ truncates).
inline uint64_t shift_right(uint64_t mag, int s, Rounding r) {
  if (s >= 64) return (r == Rounding::NearestEven && s == 64 && mag > (uint64_t{1} << 63)) ? 1 : 0;
  uint64_t q = mag >> s;
  if (r == Rounding::NearestEven && s > 0) {
    uint64_t rem = mag & ((uint64_t{1} << s) - 1);
    uint64_t half = uint64_t{1} << (s - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
  }
  return q;
}

// S * 2^g as an FP32 pattern with `ofb` fraction bits, FP32's exponent range and subnormals.
uint32_t round_out(int64_t sum, int g, int ofb, Rounding r) {
  const uint32_t sign = sum < 0 ? 0x80000000u : 0u;
  uint64_t mag = sum < 0 ? static_cast<uint64_t>(-(sum + 1)) + 1 : static_cast<uint64_t>(sum);
  const int msb = 63 - std::countl_zero(mag);
  const int ex = msb + g;              // floor(log2 |value|)
  int ulp = std::max(ex, -126) - ofb;  // exponent of the result's last kept bit
  const int shift = ulp - g;
  uint64_t q = shift <= 0 ? mag << -shift : shift_right(mag, shift, r);
  if (q == (uint64_t{1} << (ofb + 1))) {  // rounding carried into the next binade
    q >>= 1;
    ++ulp;
  }
  if (q == 0) return sign;
  if (ulp + ofb > 127) {  // overflow: RZ stays at the largest value, RNE goes to infinity
    if (r == Rounding::NearestEven) return sign | 0x7F800000u;
    return sign | (0xFEu << 23) | (((uint32_t{1} << ofb) - 1) << (23 - ofb));
  }
  if (q < (uint64_t{1} << ofb)) return sign | static_cast<uint32_t>(q << (23 - ofb));  // subnormal
  const uint32_t exp_field = static_cast<uint32_t>(ulp + ofb + 127);
  const uint32_t mant = static_cast<uint32_t>(q - (uint64_t{1} << ofb)) << (23 - ofb);
  return sign | (exp_field << 23) | mant;
}

// C as a term: significand (24 bits with the implicit one) and exponent, value = sig * 2^(exp - 23).
struct CTerm {
  int64_t sig = 0;
  int exp = 0;
  int special = 0;  // 1 infinity, 2 NaN
  bool negative_zero = false;
};

inline CTerm c_term(uint32_t c_bits) {
  CTerm c;
  const uint32_t abs = c_bits & 0x7FFFFFFFu;
  const bool neg = (c_bits >> 31) != 0;
  if (abs > 0x7F800000u) {
    c.special = 2;
  } else if (abs == 0x7F800000u) {
    c.special = 1;
    c.sig = neg ? -1 : 1;
  } else if (abs == 0) {
    c.negative_zero = neg;
  } else {
    const uint32_t e_field = abs >> 23;
    const int64_t s = e_field == 0 ? (abs & 0x7FFFFF) : ((abs & 0x7FFFFF) | 0x800000);
    c.sig = neg ? -s : s;
    c.exp = e_field == 0 ? -126 : static_cast<int>(e_field) - 127;
  }
  return c;
}

// One fused group of n products a[k]*b[k] (raw fraction width pf) plus C.
inline uint32_t fuse(const AccumulatorModel& m, const Term* a, const Term* b, int n, int pf, uint32_t c_bits) {
  const CTerm c = c_term(c_bits);
  bool nan = c.special == 2;
  bool pos_inf = c.special == 1 && c.sig > 0;
  bool neg_inf = c.special == 1 && c.sig < 0;
  bool all_negative_zero = c.negative_zero;
  int emax = INT_MIN;
  for (int k = 0; k < n; ++k) {
    const Term& x = a[k];
    const Term& y = b[k];
    if ((x.special | y.special) != 0) {
      if (x.special == 2 || y.special == 2) {
        nan = true;
      } else if (x.significand == 0 || y.significand == 0) {
        nan = true;  // infinity times zero
      } else if ((x.significand < 0) != (y.significand < 0)) {
        neg_inf = true;
      } else {
        pos_inf = true;
      }
      continue;
    }
    if (x.significand != 0 && y.significand != 0) {
      emax = std::max(emax, x.exponent + y.exponent);
      all_negative_zero = false;
    } else if (x.negative == y.negative) {
      all_negative_zero = false;  // a +0 product: an all-zero sum is -0 only if every term is -0 (IEEE)
    }
  }
  if (nan || (pos_inf && neg_inf)) return kCanonicalNaN;
  if (pos_inf) return 0x7F800000u;
  if (neg_inf) return 0xFF800000u;
  if (c.sig != 0) emax = std::max(emax, c.exp);
  if (emax == INT_MIN) return all_negative_zero ? 0x80000000u : 0u;

  const int g = emax - m.fraction_bits;  // grid exponent
  const Rounding ar = m.align_rounding;
  int64_t sum = 0;
  for (int k = 0; k < n; ++k) {
    const int64_t p = static_cast<int64_t>(a[k].significand) * b[k].significand;
    if (p == 0) continue;
    const int shift = a[k].exponent + b[k].exponent - pf - g;
    const uint64_t mag = static_cast<uint64_t>(p < 0 ? -p : p);
    const uint64_t t = shift >= 0 ? mag << shift : shift_right(mag, -shift, ar);
    sum += p < 0 ? -static_cast<int64_t>(t) : static_cast<int64_t>(t);
  }
  if (c.sig != 0) {
    const int shift = c.exp - 23 - g;
    const uint64_t mag = static_cast<uint64_t>(c.sig < 0 ? -c.sig : c.sig);
    const uint64_t t = shift >= 0 ? mag << shift : shift_right(mag, -shift, ar);
    sum += c.sig < 0 ? -static_cast<int64_t>(t) : static_cast<int64_t>(t);
  }
  if (sum == 0) return 0u;
  return round_out(sum, g, m.output_fraction_bits, m.output_rounding);
}

}  // namespace

uint32_t mma_terms(const AccumulatorModel& model, const Term* a, const Term* b, int n, int product_fraction_bits,
                   uint32_t c_bits) {
  const int group = model.products_per_group;
  uint32_t d = c_bits;
  for (int k = 0; k < n; k += group) d = fuse(model, a + k, b + k, std::min(group, n - k), product_fraction_bits, d);
  return d;
}

uint32_t mma_group(const AccumulatorModel& model, Format a_fmt, std::span<const uint8_t> a, Format b_fmt,
                   std::span<const uint8_t> b, uint32_t c_bits) {
  V3SIM_ASSERT(a.size() == b.size() && static_cast<int>(a.size()) <= model.products_per_group);
  Term ta[256], tb[256];
  for (size_t k = 0; k < a.size(); ++k) {
    ta[k] = term_of(a_fmt, a[k]);
    tb[k] = term_of(b_fmt, b[k]);
  }
  const int pf = info(a_fmt).mantissa_bits + info(b_fmt).mantissa_bits;
  return fuse(model, ta, tb, static_cast<int>(a.size()), pf, c_bits);
}

uint32_t mma_group16(const AccumulatorModel& model, Format fmt, std::span<const uint16_t> a,
                     std::span<const uint16_t> b, uint32_t c_bits) {
  V3SIM_ASSERT(a.size() == b.size() && static_cast<int>(a.size()) <= model.products_per_group);
  V3SIM_ASSERT(fmt == Format::BF16 || fmt == Format::FP16);
  Term ta[256], tb[256];
  for (size_t k = 0; k < a.size(); ++k) {
    ta[k] = term_of(fmt, a[k]);
    tb[k] = term_of(fmt, b[k]);
  }
  return fuse(model, ta, tb, static_cast<int>(a.size()), 2 * info(fmt).mantissa_bits, c_bits);
}

}  // namespace v3sim::numerics
