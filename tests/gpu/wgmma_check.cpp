#include "tests/gpu/wgmma_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#include "core/random.h"
#include "sim/numerics/accumulator.h"

namespace v3sim::gpu_tests {

using numerics::Format;

namespace {

constexpr int kM = 64, kK = 32;

// SplitMix64 (core/random.h): small, fast and the same on every platform (std distributions are not).
struct Rng {
  SplitMix64 bits;
  uint64_t next() { return bits.next(); }
  int uniform(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(int percent) { return uniform(0, 99) < percent; }
};

bool finite_code(Format f, uint32_t code) {
  const auto kind = numerics::split(f, code).kind;
  return kind == numerics::Parts::Zero || kind == numerics::Parts::Finite;
}

uint8_t make_code(Format f, int sign, int exp_field, int mant) {
  const int mbits = numerics::info(f).mantissa_bits;
  return static_cast<uint8_t>((sign << 7) | (exp_field << mbits) | mant);
}

// A finite FP8 code of one of four flavours (per tile), with zeros and subnormals sprinkled into all of them.
uint8_t bulk_code(Format f, int flavour, Rng& rng) {
  const numerics::FormatInfo& fi = numerics::info(f);
  const int mant_max = (1 << fi.mantissa_bits) - 1;
  const int exp_max = static_cast<int>(fi.max_finite_code >> fi.mantissa_bits);  // E4M3 15, E5M2 30
  const int sign = rng.uniform(0, 1);
  for (;;) {
    uint8_t code = 0;
    const int r = rng.uniform(0, 99);
    if (r < 6) {
      code = make_code(f, sign, 0, 0);  // +-0
    } else if (r < 12) {
      code = make_code(f, sign, 0, rng.uniform(1, mant_max));  // subnormal
    } else {
      switch (flavour) {
        case 0:  // anything finite: the full exponent range
          code = static_cast<uint8_t>(rng.uniform(0, 255));
          break;
        case 1:  // a narrow band around 1: carries and cancellation inside the 14-bit window
          code = make_code(f, sign, rng.uniform(fi.bias - 2, fi.bias + 2), rng.uniform(0, mant_max));
          break;
        case 2:  // tiny: zeros, subnormals and the smallest normals
          code = r < 40   ? make_code(f, sign, 0, 0)
                 : r < 70 ? make_code(f, sign, 0, rng.uniform(1, mant_max))
                          : make_code(f, sign, rng.uniform(1, 4), rng.uniform(0, mant_max));
          break;
        default:  // a few large terms over many smaller ones: the small ones are truncated at alignment
          code = r < 18 ? make_code(f, sign, rng.uniform(exp_max - 3, exp_max), rng.uniform(0, mant_max))
                        : make_code(f, sign, rng.uniform(1, fi.bias), rng.uniform(0, mant_max));
          break;
      }
    }
    if (finite_code(f, code)) return code;
  }
}

// FP32 bits of sign * 1.m * 2^exponent, exponent clamped to the normal range, with a random significand that is
// full (23 bits), short (4 bits) or exactly e8m13 (13 bits).
uint32_t fp32_bits(int sign, int exponent, Rng& rng) {
  exponent = std::clamp(exponent, -126, 127);
  uint32_t mant = static_cast<uint32_t>(rng.next()) & 0x7FFFFFu;
  const int r = rng.uniform(0, 3);
  if (r == 2) mant &= 0x780000u;
  if (r == 3) mant &= 0x7FFC00u;
  return (static_cast<uint32_t>(sign) << 31) | (static_cast<uint32_t>(exponent + 127) << 23) | mant;
}

// The normalized exponent of every code's value (0 for zeros and non-finite codes), for placing C.
std::array<int, 256> exponent_table(Format f) {
  std::array<int, 256> t{};
  for (uint32_t code = 0; code < 256; ++code) {
    const double v = numerics::decode(f, code);
    t[code] = (std::isfinite(v) && v != 0.0) ? std::ilogb(v) : 0;
  }
  return t;
}

void fill_bulk(const WgmmaCheckCase& c, kernels::WgmmaProbeInput& in, Rng& rng) {
  const size_t n = static_cast<size_t>(c.n);
  for (int t = 0; t < c.tiles; ++t) {
    const int flavour = t % 4;
    uint8_t* a = in.a.data() + static_cast<size_t>(t) * kM * kK;
    uint8_t* b = in.b.data() + static_cast<size_t>(t) * n * kK;
    for (size_t i = 0; i < size_t{kM} * kK; ++i) a[i] = bulk_code(c.a, flavour, rng);
    for (size_t i = 0; i < n * kK; ++i) b[i] = bulk_code(c.b, flavour, rng);
    // Zero-sign rules (an all-zero sum is -0 only if every term is -0): in the tiny flavour every 8th row of A is
    // zeros, alternately all -0 and of random signs, and every 8th row of B is all +0, so some outputs have 32
    // products of -0, others +-0 mixed.
    if (flavour == 2) {
      for (int m = 7; m < kM; m += 8) {
        for (int k = 0; k < kK; ++k) a[m * kK + k] = make_code(c.a, m % 16 == 7 ? 1 : rng.uniform(0, 1), 0, 0);
      }
      for (size_t j = 7; j < n; j += 8) {
        for (int k = 0; k < kK; ++k) b[j * kK + k] = make_code(c.b, 0, 0, 0);
      }
    }
  }
  // C around the largest product exponent of its dot product: dominating (products lose bits or vanish),
  // comparable, negligible (C is truncated), or zero.
  const std::array<int, 256> ea = exponent_table(c.a), eb = exponent_table(c.b);
  for (int t = 0; t < c.tiles; ++t) {
    const uint8_t* a = in.a.data() + static_cast<size_t>(t) * kM * kK;
    const uint8_t* b = in.b.data() + static_cast<size_t>(t) * n * kK;
    uint32_t* cc = in.c.data() + static_cast<size_t>(t) * kM * n;
    for (int m = 0; m < kM; ++m) {
      for (size_t j = 0; j < n; ++j) {
        bool any = false;
        int top = 0;
        for (int k = 0; k < kK; ++k) {
          const uint8_t x = a[m * kK + k], y = b[j * kK + k];
          if ((x & 0x7F) == 0 || (y & 0x7F) == 0) continue;
          const int e = ea[x] + eb[y];
          top = any ? std::max(top, e) : e;
          any = true;
        }
        if (!any) top = rng.uniform(-20, 20);
        const int sign = rng.uniform(0, 1), r = rng.uniform(0, 99);
        // C = +-0: 7% of outputs, half of those whose products are all +-0 (the zero-sign rules).
        const bool zero_c = any ? (r >= 5 && r < 12) : r < 50;
        uint32_t bits = 0;
        if (zero_c) {
          bits = static_cast<uint32_t>(sign) << 31;
        } else if (r < 5) {  // minus the products' sum (rounded to FP32): massive cancellation, sometimes exactly zero
          double sum = 0;
          for (int k = 0; k < kK; ++k)
            sum += numerics::decode(c.a, a[m * kK + k]) * numerics::decode(c.b, b[j * kK + k]);
          bits = std::bit_cast<uint32_t>(static_cast<float>(-sum));
        } else if (r < 27) {
          bits = fp32_bits(sign, top + rng.uniform(7, 26), rng);
        } else if (r < 42) {
          bits = fp32_bits(sign, top - rng.uniform(7, 30), rng);
        } else {
          bits = fp32_bits(sign, top + rng.uniform(-6, 6), rng);
        }
        cc[static_cast<size_t>(m) * n + j] = bits;
      }
    }
  }
}

// Values from {0, 0.5, 1, 1.5, 2, 3, 4} (exact in both formats) and C = integer + 1/8 in [-63.875, 64.125]:
// every sum is a non-zero multiple of 1/8 below 2^10 and every term sits on the alignment grid, so the result is
// exact under any accumulator and never a signed zero.
void fill_exact_small(const WgmmaCheckCase& c, kernels::WgmmaProbeInput& in, Rng& rng) {
  static constexpr std::array<float, 7> kValues{0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f};
  auto code = [&](Format f) {
    const float v = kValues[static_cast<size_t>(rng.uniform(0, 6))];
    return static_cast<uint8_t>(numerics::encode(f, rng.uniform(0, 1) ? -v : v));
  };
  for (auto& x : in.a) x = code(c.a);
  for (auto& x : in.b) x = code(c.b);
  for (auto& x : in.c) x = std::bit_cast<uint32_t>(static_cast<float>(rng.uniform(-64, 64)) + 0.125f);
}

// Bulk with 1 code in 128 of A and B replaced by an infinity (E5M2) or a NaN, and 1 C in 32 by inf/NaN.
void add_specials(const WgmmaCheckCase& c, kernels::WgmmaProbeInput& in, Rng& rng) {
  static constexpr std::array<uint8_t, 6> kE5M2{0x7C, 0xFC, 0x7D, 0x7E, 0x7F, 0xFF};
  static constexpr std::array<uint8_t, 2> kE4M3{0x7F, 0xFF};
  static constexpr std::array<uint32_t, 5> kFp32{0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFFFFFFFu, 0x7F800001u};
  auto special = [&](Format f) {
    return f == Format::E5M2 ? kE5M2[static_cast<size_t>(rng.uniform(0, 5))]
                             : kE4M3[static_cast<size_t>(rng.uniform(0, 1))];
  };
  for (auto& x : in.a)
    if (rng.uniform(0, 127) == 0) x = special(c.a);
  for (auto& x : in.b)
    if (rng.uniform(0, 127) == 0) x = special(c.b);
  for (auto& x : in.c)
    if (rng.uniform(0, 31) == 0) x = kFp32[static_cast<size_t>(rng.uniform(0, 4))];
}

std::string hex_codes(const uint8_t* p, int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s += fmt::format("{}{:02x}", i ? " " : "", p[i]);
  return s;
}

}  // namespace

const char* to_string(InputMix mix) {
  switch (mix) {
    case InputMix::Bulk:
      return "bulk";
    case InputMix::ExactSmall:
      return "exact-small";
    case InputMix::Special:
      return "special";
  }
  return "?";
}

std::string WgmmaCheckCase::describe() const {
  return fmt::format("{} x {}, N={}, {} tiles, {}, seed {}", numerics::to_string(a), numerics::to_string(b), n, tiles,
                     to_string(mix), seed);
}

std::string WgmmaCheckResult::summary(const WgmmaCheckCase& c) const {
  if (!ran) return fmt::format("wgmma-check [{}]: did not run: {}", c.describe(), reason);
  return fmt::format(
      "wgmma-check [{}] on {}: {} outputs, {} mismatches, {} with low 10 mantissa bits set, {} where an FP32 "
      "accumulator would differ",
      c.describe(), device, outputs, mismatches, low_bits_set, fp32_differs);
}

kernels::WgmmaProbeInput make_probe_input(const WgmmaCheckCase& c) {
  kernels::WgmmaProbeInput in;
  in.a_e5m2 = c.a == Format::E5M2;
  in.b_e5m2 = c.b == Format::E5M2;
  in.n = c.n;
  in.tiles = c.tiles;
  const size_t tiles = static_cast<size_t>(c.tiles), n = static_cast<size_t>(c.n);
  in.a.resize(tiles * kM * kK);
  in.b.resize(tiles * n * kK);
  in.c.resize(tiles * kM * n);
  Rng rng{{c.seed}};
  switch (c.mix) {
    case InputMix::Bulk:
      fill_bulk(c, in, rng);
      break;
    case InputMix::ExactSmall:
      fill_exact_small(c, in, rng);
      break;
    case InputMix::Special:
      fill_bulk(c, in, rng);
      add_specials(c, in, rng);
      break;
  }
  return in;
}

std::vector<uint32_t> emulate_probe(const kernels::WgmmaProbeInput& in, const numerics::AccumulatorModel& model) {
  const Format fa = in.a_e5m2 ? Format::E5M2 : Format::E4M3, fb = in.b_e5m2 ? Format::E5M2 : Format::E4M3;
  const int product_fraction_bits = numerics::info(fa).mantissa_bits + numerics::info(fb).mantissa_bits;
  const size_t n = static_cast<size_t>(in.n);
  std::vector<uint32_t> d(in.c.size());
  std::vector<numerics::Term> ta(size_t{kM} * kK), tb(n * kK);
  for (size_t t = 0; t < static_cast<size_t>(in.tiles); ++t) {
    for (size_t i = 0; i < ta.size(); ++i) ta[i] = numerics::term_of(fa, in.a[t * kM * kK + i]);
    for (size_t i = 0; i < tb.size(); ++i) tb[i] = numerics::term_of(fb, in.b[t * n * kK + i]);
    for (size_t m = 0; m < size_t{kM}; ++m) {
      for (size_t j = 0; j < n; ++j) {
        const size_t idx = (t * kM + m) * n + j;
        d[idx] = numerics::mma_terms(model, &ta[m * kK], &tb[j * kK], kK, product_fraction_bits, in.c[idx]);
      }
    }
  }
  return d;
}

WgmmaCheckResult check_wgmma(const WgmmaCheckCase& c) {
  const kernels::WgmmaProbeInput in = make_probe_input(c);
  const kernels::WgmmaProbeOutput out = kernels::run_wgmma_probe(in);
  WgmmaCheckResult r;
  r.ran = out.ran;
  r.reason = out.reason;
  r.device = out.device;
  if (!out.ran) return r;
  const std::vector<uint32_t> want = emulate_probe(in, numerics::AccumulatorModel::hopper_fp8());
  const std::vector<uint32_t> fp32 = emulate_probe(in, numerics::AccumulatorModel::ideal_fp32());
  const size_t n = static_cast<size_t>(c.n);
  r.outputs = static_cast<int64_t>(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const uint32_t got = out.d[i];
    if (fp32[i] != want[i]) ++r.fp32_differs;
    if ((got & 0x7F800000u) != 0x7F800000u && (got & 0x3FFu) != 0) ++r.low_bits_set;
    if (got == want[i]) continue;
    if (r.mismatches++ >= 5) continue;
    const size_t t = i / (kM * n), m = (i / n) % kM, j = i % n;
    r.first_mismatches += fmt::format(
        "tile {} (m {}, n {}): C 0x{:08x} ({}), got 0x{:08x} ({}), expected 0x{:08x} ({})\n"
        "  A[m][0..31] {}: {}\n  B[n][0..31] {}: {}\n",
        t, m, j, in.c[i], std::bit_cast<float>(in.c[i]), got, std::bit_cast<float>(got), want[i],
        std::bit_cast<float>(want[i]), numerics::to_string(c.a), hex_codes(&in.a[(t * kM + m) * kK], kK),
        numerics::to_string(c.b), hex_codes(&in.b[(t * n + j) * kK], kK));
  }
  return r;
}

}  // namespace v3sim::gpu_tests
