// Small deterministic hashes and random streams shared by the simulators, the kernels' fills and the tests (the
// same on every platform and compiler, host and device; std distributions are not).
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace v3sim {

// SplitMix64's increment: 2^64 / golden ratio.
inline constexpr uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64's finalizer (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a
// bijective 64-bit mix, for seeding and for choosing among equal options without a random generator's state.
// mix64(x) is the value SplitMix64{x}.next() returns.
V3SIM_HD constexpr uint64_t mix64(uint64_t x) {
  x += kSplitMixGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// SplitMix64: a 64-bit generator whose state is a counter advanced by kSplitMixGamma.
// Example: SplitMix64{0}.next() == 0xe220a8397b1dcdaf.
struct SplitMix64 {
  uint64_t state = 0;

  // The next value of the stream (advances the state).
  V3SIM_HD constexpr uint64_t next() {
    const uint64_t x = state;
    state += kSplitMixGamma;
    return mix64(x);
  }
};

}  // namespace v3sim
