// Helpers of the GPU kernel tests: seeded data, BF16 bits, ULP distances, and recording of impossible parameter
// combinations as skipped (each test checks that such a problem is refused with std::invalid_argument).
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/numerics/formats.h"

namespace v3sim::gpu_tests {

// SplitMix64 (core/random.h): the same stream on every platform (std distributions are not).
struct SeededRng {
  uint64_t state;
  uint64_t next();
  double uniform();                 // [0, 1)
  double normal();                  // N(0, 1), Box-Muller
  int uniform_int(int lo, int hi);  // inclusive
};

inline float bf16_to_float(uint16_t b) {
  return numerics::bits_float(static_cast<uint32_t>(b) << 16);
}
inline uint16_t float_to_bf16(float x) {
  return static_cast<uint16_t>(numerics::encode(numerics::Format::BF16, x));
}

// Distance in units in the last place between two BF16 values (sign-magnitude mapped to a monotonic integer line);
// a large number for NaNs.
int64_t bf16_ulp_distance(uint16_t a, uint16_t b);

// Counts a parameter combination the kernel cannot run; prints it (the device log keeps it).
void record_skip(const std::string& what, const std::string& why);
int skipped_combinations();

// A problem the kernel cannot run: `validate()` refuses it with std::invalid_argument (the reason is recorded as a
// skip under `what`) and so does `make_op()`.
template <class Validate, class MakeOp>
void check_refused(const std::string& what, Validate validate, MakeOp make_op) {
  std::string why;
  try {
    validate();
  } catch (const std::invalid_argument& e) {
    why = e.what();
  }
  INFO(what);
  REQUIRE(!why.empty());
  record_skip(what, why);
  CHECK_THROWS_AS(make_op(), std::invalid_argument);
}

}  // namespace v3sim::gpu_tests
