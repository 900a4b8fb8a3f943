// Small deterministic hashes shared by the simulators (the same on every platform and compiler).
#pragma once

#include <cstdint>

namespace v3sim {

// SplitMix64's finalizer (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a
// bijective 64-bit mix, for seeding and for choosing among equal options without a random generator's state.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace v3sim
