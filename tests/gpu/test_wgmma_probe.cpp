// Hopper FP8 wgmma against the CPU emulator, bit for bit (hopper-microarch.md §2.3). Needs a compute capability
// 9.x GPU: main() exits 77 (CTest: skipped, not passed) when there is none.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>

#include "kernels/device.h"
#include "kernels/wgmma_probe.h"
#include "tests/gpu/kernel_check.h"
#include "tests/gpu/wgmma_check.h"

using v3sim::gpu_tests::InputMix;
using v3sim::gpu_tests::WgmmaCheckCase;
using v3sim::numerics::Format;

namespace {

// Runs one case, prints its summary line (device logs keep it), and requires zero mismatching bits.
void require_bit_exact(const WgmmaCheckCase& c) {
  const v3sim::gpu_tests::WgmmaCheckResult r = v3sim::gpu_tests::check_wgmma(c);
  std::printf("%s\n", r.summary(c).c_str());
  INFO(c.describe());
  INFO(r.reason);
  REQUIRE(r.ran);
  INFO("first mismatches:\n" << r.first_mismatches);
  CHECK(r.outputs == static_cast<int64_t>(c.tiles) * 64 * c.n);
  CHECK(r.mismatches == 0);
}

}  // namespace

TEST_CASE("exact small inputs come back exact: the smem layout, descriptors and fragment map are right",
          "[gpu][wgmma][layout]") {
  // Every sum here is exact whatever the accumulator does, so a mismatch is a layout bug, not numerics.
  auto n = GENERATE(8, 64, 256);
  auto types = GENERATE(std::pair{Format::E4M3, Format::E4M3}, std::pair{Format::E5M2, Format::E4M3});
  require_bit_exact(WgmmaCheckCase{types.first, types.second, n, 4, 11, InputMix::ExactSmall});
}

TEST_CASE("one FP8 wgmma k32 matches the emulator bit for bit", "[gpu][wgmma][numerics]") {
  // N = 256, 16 tiles: 262,144 outputs per type pair.
  auto types = GENERATE(std::pair{Format::E4M3, Format::E4M3}, std::pair{Format::E5M2, Format::E5M2},
                        std::pair{Format::E4M3, Format::E5M2}, std::pair{Format::E5M2, Format::E4M3});
  const uint64_t seed = 100 + 10 * static_cast<uint64_t>(types.first) + static_cast<uint64_t>(types.second);
  require_bit_exact(WgmmaCheckCase{types.first, types.second, 256, 16, seed, InputMix::Bulk});
}

TEST_CASE("smaller N give the same bits", "[gpu][wgmma][numerics]") {
  auto n = GENERATE(8, 64);
  require_bit_exact(
      WgmmaCheckCase{Format::E4M3, Format::E4M3, n, 4096 / n, 200 + static_cast<uint64_t>(n), InputMix::Bulk});
}

TEST_CASE("infinities and NaNs follow the emulator (canonical NaN 0x7FFFFFFF)", "[gpu][wgmma][special]") {
  auto types = GENERATE(std::pair{Format::E5M2, Format::E5M2}, std::pair{Format::E4M3, Format::E4M3});
  require_bit_exact(WgmmaCheckCase{types.first, types.second, 256, 2, 300, InputMix::Special});
}

int main(int argc, char* argv[]) {
  const std::string why = v3sim::kernels::wgmma_probe_unavailable_reason();
  if (!why.empty()) {
    std::printf("skipped: %s\n", why.c_str());
    return 77;  // SKIP_RETURN_CODE of the "gpu" CTest test
  }
  const v3sim::kernels::DeviceInfo dev = v3sim::kernels::query_device(0);
  std::printf("device: %s (compute capability %d.%d, %d SMs)\n", dev.name.c_str(), dev.cc_major, dev.cc_minor,
              dev.sm_count);
  const int failed = Catch::Session().run(argc, argv);
  std::printf("impossible parameter combinations recorded as skipped: %d\n", v3sim::gpu_tests::skipped_combinations());
  // Catch2 returns the failed assertions (up to 255): 77 of them must not read as "skipped".
  return failed == 0 ? 0 : 1;
}
