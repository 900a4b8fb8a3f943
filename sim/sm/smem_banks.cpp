#include "sim/sm/smem_banks.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace v3sim::sm {

int smem_wavefronts(std::span<const uint32_t> addresses, int width, int banks, int bank_width) {
  V3SIM_ASSERT(addresses.size() <= 32 && banks > 0 && banks <= 64);
  V3SIM_ASSERT(width == 1 || width == 2 || width == 4 || width == 8 || width == 16);
  const size_t lanes_per_phase = width <= 4 ? 32 : static_cast<size_t>(128 / width);
  int total = 0;
  for (size_t begin = 0; begin < addresses.size(); begin += lanes_per_phase) {
    const size_t end = std::min(addresses.size(), begin + lanes_per_phase);
    // Distinct words per bank in this phase (a warp touches at most 32 x 4 words).
    std::array<std::array<uint32_t, 128>, 64> words{};
    std::array<int, 64> count{};
    int worst = 0;
    for (size_t l = begin; l < end; ++l) {
      const uint32_t first = addresses[l] / static_cast<uint32_t>(bank_width);
      const uint32_t n = static_cast<uint32_t>(std::max(1, width / bank_width));
      for (uint32_t w = first; w < first + n; ++w) {
        const auto bank = static_cast<size_t>(w % static_cast<uint32_t>(banks));
        auto& list = words[bank];
        const auto it = std::find(list.begin(), list.begin() + count[bank], w);
        if (it == list.begin() + count[bank]) {
          list[static_cast<size_t>(count[bank]++)] = w;
          worst = std::max(worst, count[bank]);
        }
      }
    }
    total += worst;
  }
  return total;
}

}  // namespace v3sim::sm
