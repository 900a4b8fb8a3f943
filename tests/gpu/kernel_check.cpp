#include "tests/gpu/kernel_check.h"

#include <cstdio>
#include <limits>

#include "core/random.h"

namespace v3sim::gpu_tests {

uint64_t SeededRng::next() {
  SplitMix64 g{state};
  const uint64_t x = g.next();
  state = g.state;
  return x;
}

double SeededRng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double SeededRng::normal() {
  const double u1 = 1.0 - uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

int SeededRng::uniform_int(int lo, int hi) {
  return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1));
}

int64_t bf16_ulp_distance(uint16_t a, uint16_t b) {
  auto is_nan = [](uint16_t x) { return (x & 0x7F80) == 0x7F80 && (x & 0x7F) != 0; };
  if (is_nan(a) || is_nan(b)) return (a == b) ? 0 : std::numeric_limits<int32_t>::max();
  auto line = [](uint16_t x) { return (x & 0x8000) ? -static_cast<int64_t>(x & 0x7FFF) : static_cast<int64_t>(x); };
  const int64_t d = line(a) - line(b);
  return d < 0 ? -d : d;
}

namespace {
int g_skipped = 0;
}

void record_skip(const std::string& what, const std::string& why) {
  ++g_skipped;
  std::printf("skipped (impossible combination): %s: %s\n", what.c_str(), why.c_str());
}

int skipped_combinations() {
  return g_skipped;
}

}  // namespace v3sim::gpu_tests
