// core/random.h (SplitMix64 and its finalizer) and core/math.h (integer rounding).
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

#include "core/math.h"
#include "core/random.h"

using namespace v3sim;

namespace {

// The copy every folder used to write out before core/random.h: the stream must stay bit for bit.
uint64_t old_splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

TEST_CASE("SplitMix64 gives the published stream", "[core]") {
  // Vigna's splitmix64.c seeded with 1234567.
  SplitMix64 g{1234567};
  CHECK(g.next() == 6457827717110365317ull);
  CHECK(g.next() == 3203168211198807973ull);
  CHECK(g.next() == 9817491932198370423ull);
  CHECK(g.next() == 4593380528125082431ull);
  CHECK(g.next() == 16408922859458223821ull);
  static_assert(SplitMix64{0}.next() == 0xe220a8397b1dcdafull);
}

TEST_CASE("SplitMix64 and mix64 match the copies they replace", "[core]") {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{42}, uint64_t{0x9E3779B97F4A7C15ull},
                        std::numeric_limits<uint64_t>::max()}) {
    SplitMix64 g{seed};
    uint64_t old_state = seed;
    for (int i = 0; i < 1000; ++i) {
      const uint64_t x = mix64(g.state);
      REQUIRE(g.next() == old_splitmix(old_state));
      REQUIRE(g.state == old_state);
      uint64_t s = old_state - kSplitMixGamma;
      REQUIRE(x == old_splitmix(s));  // mix64(x) == the next value from state x
    }
  }
}

TEST_CASE("ceil_div and round_up", "[core]") {
  static_assert(ceil_div(0, 128) == 0);
  static_assert(ceil_div(1, 128) == 1);
  static_assert(ceil_div(128, 128) == 1);
  static_assert(ceil_div(129, 128) == 2);
  static_assert(round_up(300, 128) == 384);
  static_assert(round_up(256, 128) == 256);
  static_assert(round_up(0, 16) == 0);
  for (int64_t a = 0; a < 1000; ++a)
    for (int64_t b = 1; b < 40; ++b) {
      REQUIRE(ceil_div(a, b) == (a + b - 1) / b);
      REQUIRE(round_up(a, b) == (a + b - 1) / b * b);
    }
  SECTION("no overflow near the top of int64") {
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    CHECK(ceil_div(kMax, 2) == kMax / 2 + 1);
    CHECK(ceil_div(kMax, kMax) == 1);
    CHECK(ceil_div(kMax - 1, kMax) == 1);
    CHECK(round_up(kMax - 1, kMax) == kMax);
  }
}
