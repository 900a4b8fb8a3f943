// Hand-worked cases that pin each rule of the Hopper FP8 wgmma accumulation model (hopper-microarch.md §2.3).
// E4M3 codes used: 0x38 = 1.0, 0x3C = 1.5, 0x40 = 2.0, 0x08 = 2^-6 (smallest normal), 0x0C = 1.5 x 2^-6,
// 0x04 = 2^-7 and 0x01 = 2^-9 (subnormals: exponent -6, significand 4 and 1 eighths), 0x7F = NaN.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/numerics/accumulator.h"

using namespace v3sim::numerics;

namespace {

struct Dot {
  std::array<uint8_t, 32> a{}, b{};  // zeros unless set
  uint32_t c = 0;
  Format af = Format::E4M3, bf = Format::E4M3;
  uint32_t run(const AccumulatorModel& m = AccumulatorModel::hopper_fp8()) const {
    return mma_group(m, af, a, bf, b, c);
  }
};

uint32_t bits(float x) {
  return float_bits(x);
}

}  // namespace

TEST_CASE("a term below the alignment grid is truncated away", "[sim][numerics][accumulator]") {
  // 1*1 sets E = 0, so the grid is 2^-13. 2^-7 * 2^-7 = 2^-14 lies below it and is dropped entirely.
  Dot d;
  d.a[0] = 0x38, d.b[0] = 0x38;
  d.a[1] = 0x04, d.b[1] = 0x04;
  CHECK(d.run() == bits(1.0f));
  // An FP32 accumulator keeps it: 1 + 2^-14.
  CHECK(d.run(AccumulatorModel::ideal_fp32()) == bits(1.0f + std::ldexp(1.0f, -14)));
}

TEST_CASE("a term on the grid is kept", "[sim][numerics][accumulator]") {
  // 2^-6 * 2^-7 = 2^-13: exactly one grid step when E = 0, so 1 + 2^-13 (mantissa bit 10: 0x3F800400).
  Dot d;
  d.a[0] = 0x38, d.b[0] = 0x38;
  d.a[1] = 0x08, d.b[1] = 0x04;
  CHECK(d.run() == 0x3F800400u);
}

TEST_CASE("alignment truncates toward zero, also for negative terms", "[sim][numerics][accumulator]") {
  // -(1.5 x 2^-6) * 2^-7 = -1.5 x 2^-13 = -1.5 grid steps; toward zero that is -1 step, so 1 - 2^-13.
  Dot d;
  d.a[0] = 0x38, d.b[0] = 0x38;
  d.a[1] = 0x8C, d.b[1] = 0x04;
  CHECK(d.run() == bits(1.0f - std::ldexp(1.0f, -13)));
  CHECK(d.run() == 0x3F7FF800u);
  // Rounding to nearest even at alignment would make it -2 steps.
  AccumulatorModel rne = AccumulatorModel::hopper_fp8();
  rne.align_rounding = Rounding::NearestEven;
  CHECK(d.run(rne) == bits(1.0f - std::ldexp(1.0f, -12)));
}

TEST_CASE("zero terms do not count for the largest exponent", "[sim][numerics][accumulator]") {
  // 0 * 448 would have exponent 0 + 8 if zeros counted, and a grid of 2^-5 would wipe out C. C alone sets E.
  Dot d;
  for (int k = 0; k < 32; ++k) d.a[k] = 0x00, d.b[k] = 0x7E;
  d.c = bits(std::ldexp(1.0f + std::ldexp(1.0f, -10), -20));  // 11 significant bits: fits 13
  CHECK(d.run() == d.c);
}

TEST_CASE("a product significand in [2,4) stays un-normalized: its raw exponent sets the grid",
          "[sim][numerics][accumulator]") {
  // 1.5 * 1.5 = 2.25 has raw exponent 0 (not 1), so the grid is 2^-13 and two products of 2^-13 survive alignment:
  // 2.25 + 2^-12 = 0x40100400. Aligning to the normalized exponent 1 (grid 2^-12) would drop both: 0x40100000.
  Dot d;
  d.a[0] = 0x3C, d.b[0] = 0x3C;
  d.a[1] = 0x08, d.b[1] = 0x04;
  d.a[2] = 0x08, d.b[2] = 0x04;
  CHECK(d.run() == 0x40100400u);
}

TEST_CASE("subnormal inputs take the minimum exponent and their products are exact", "[sim][numerics][accumulator]") {
  // 2^-9 * 2^-9 = 2^-18 (both subnormal: exponent -6 each, significand 1/8 each).
  Dot d;
  d.a[0] = 0x01, d.b[0] = 0x01;
  CHECK(d.run() == bits(std::ldexp(1.0f, -18)));
  // With 2^-6 * 2^-6 = 2^-12 beside it, E = -12, grid 2^-25: 2^-18 is 2^7 steps, kept: 2^-12 (1 + 2^-6).
  d.a[1] = 0x08, d.b[1] = 0x08;
  CHECK(d.run() == 0x39820000u);
}

TEST_CASE("C is the 33rd term of the alignment", "[sim][numerics][accumulator]") {
  // C = 2^14 sets E = 14 and the grid to 2^1: 32 products of 1.125 (1.0 * 1.125) each fall below it.
  Dot d;
  for (int k = 0; k < 32; ++k) d.a[k] = 0x38, d.b[k] = 0x39;  // 0x39 = 1.125
  d.c = bits(16384.0f);
  CHECK(d.run() == bits(16384.0f));
  CHECK(d.run(AccumulatorModel::ideal_fp32()) == bits(16384.0f + 36.0f));
  // A small C is aligned like a product: C = 1024 with 32 products of 1.0 gives 1056 exactly.
  Dot e;
  for (int k = 0; k < 32; ++k) e.a[k] = 0x38, e.b[k] = 0x38;
  e.c = bits(1024.0f);
  CHECK(e.run() == bits(1056.0f));
}

TEST_CASE("the result is truncated to 13 fraction bits", "[sim][numerics][accumulator]") {
  // 1 + 1 + 2^-13: all three terms survive alignment (E = 0), the sum 2 + 2^-13 needs 14 fraction bits at
  // exponent 1, so the output truncates it to 2.0. BF16-grade precision (23 output bits) keeps it.
  Dot d;
  d.a[0] = 0x38, d.b[0] = 0x38;
  d.a[1] = 0x38, d.b[1] = 0x38;
  d.a[2] = 0x08, d.b[2] = 0x04;
  CHECK(d.run() == bits(2.0f));
  CHECK(d.run(AccumulatorModel::blackwell_fp8()) == bits(2.0f + std::ldexp(1.0f, -13)));
  // Every result of the Hopper FP8 model has its low 10 mantissa bits zero.
  CHECK((d.run() & 0x3FFu) == 0);
}

TEST_CASE("NaN and infinity propagate as in IEEE sums", "[sim][numerics][accumulator]") {
  Dot nan_in;
  nan_in.a[0] = 0x7F, nan_in.b[0] = 0x38;  // E4M3 NaN
  CHECK(nan_in.run() == 0x7FFFFFFFu);
  Dot inf;
  inf.af = inf.bf = Format::E5M2;
  inf.a[0] = 0x7C, inf.b[0] = 0x3C;  // +inf * 1.0 (E5M2 0x3C = 1.0)
  CHECK(inf.run() == 0x7F800000u);
  inf.b[0] = 0xBC;  // * -1.0
  CHECK(inf.run() == 0xFF800000u);
  Dot inf_zero = inf;
  inf_zero.b[0] = 0x00;
  CHECK(inf_zero.run() == 0x7FFFFFFFu);  // inf * 0
  Dot opposite = inf;
  opposite.b[0] = 0x3C;
  opposite.a[1] = 0xFC, opposite.b[1] = 0x3C;  // +inf + -inf
  CHECK(opposite.run() == 0x7FFFFFFFu);
  Dot c_inf;
  c_inf.c = 0xFF800000u;
  c_inf.a[0] = 0x38, c_inf.b[0] = 0x38;
  CHECK(c_inf.run() == 0xFF800000u);
  Dot c_nan;
  c_nan.c = 0x7FC00000u;
  CHECK(c_nan.run() == 0x7FFFFFFFu);
}

TEST_CASE("exact zeros: an all -0 sum is -0, anything else +0", "[sim][numerics][accumulator]") {
  Dot d;
  CHECK(d.run() == 0u);
  d.c = 0x80000000u;  // -0 plus 32 products of +0
  CHECK(d.run() == 0u);
  for (int k = 0; k < 32; ++k) d.a[k] = 0x80;  // -0 * +0 = -0
  CHECK(d.run() == 0x80000000u);
  Dot cancel;
  cancel.a[0] = 0x38, cancel.b[0] = 0x38;
  cancel.a[1] = 0xB8, cancel.b[1] = 0x38;
  CHECK(cancel.run() == 0u);
}

TEST_CASE("negating every input negates the result (truncation is symmetric)", "[sim][numerics][accumulator]") {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint8_t>(state >> 56);
  };
  for (int trial = 0; trial < 2000; ++trial) {
    Dot d;
    for (int k = 0; k < 32; ++k) {
      d.a[k] = next() & 0x7F;
      d.b[k] = next();
      if (d.a[k] == 0x7F) d.a[k] = 0x7E;
      if ((d.b[k] & 0x7F) == 0x7F) d.b[k] = 0x7E;
    }
    d.c = float_bits(static_cast<float>(next()) - 128.0f);
    Dot neg = d;
    for (int k = 0; k < 32; ++k) neg.a[k] ^= 0x80;
    neg.c ^= 0x80000000u;
    const uint32_t x = d.run(), y = neg.run();
    if ((x & 0x7FFFFFFFu) == 0) continue;  // zero signs follow the IEEE rule above
    CHECK(y == (x ^ 0x80000000u));
  }
}

TEST_CASE("the BF16 path fuses 16 products with 25 fraction bits", "[sim][numerics][accumulator]") {
  AccumulatorModel m = AccumulatorModel::hopper_bf16();
  std::array<uint16_t, 16> a{}, b{};
  a[0] = 0x3F80, b[0] = 0x3F80;  // 1 * 1
  a[1] = 0x3380, b[1] = 0x3F80;  // 2^-24 * 1: below 2^-25? no: on the grid 2^-25 (E = 0), kept
  const uint32_t d = mma_group16(m, Format::BF16, a, b, 0);
  // 1 + 2^-24 needs 24 fraction bits; FP32 output keeps 23, truncating: 1.0.
  CHECK(d == bits(1.0f));
  a[2] = 0x3380, b[2] = 0x3F80;  // two of them: 1 + 2^-23
  CHECK(mma_group16(m, Format::BF16, a, b, 0) == bits(1.0f + std::ldexp(1.0f, -23)));
}

TEST_CASE("accumulation chains groups: the next wgmma takes D as its C", "[sim][numerics][accumulator]") {
  // 64 products of 1.0 in two groups of 32: 32, then 32 + 32 = 64.
  std::vector<Term> a(64, term_of(Format::E4M3, 0x38)), b(64, term_of(Format::E4M3, 0x38));
  CHECK(mma_terms(AccumulatorModel::hopper_fp8(), a.data(), b.data(), 64, 6, 0) == bits(64.0f));
}
