// Integer rounding shared by the cost models, the graph builder and the kernels' host and device index math.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace v3sim {

// ceil(a / b). @pre a >= 0, b > 0. Never overflows (no a + b - 1). Example: ceil_div(300, 128) == 3.
V3SIM_HD constexpr int64_t ceil_div(int64_t a, int64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

// The smallest multiple of b that is >= a. @pre a >= 0, b > 0. Example: round_up(300, 128) == 384.
V3SIM_HD constexpr int64_t round_up(int64_t a, int64_t b) {
  return ceil_div(a, b) * b;
}

}  // namespace v3sim
