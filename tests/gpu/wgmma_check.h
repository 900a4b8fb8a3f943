// The wgmma bit-exactness check: seeded FP8 inputs -> the GPU probe (kernels/wgmma_probe.h) and the CPU emulator
// (numerics::mma_terms with AccumulatorModel::hopper_fp8()) -> count of outputs whose bits differ.
// Used by the gpu test cases; a device script can call check_wgmma() directly and print summary().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/wgmma_probe.h"
#include "sim/numerics/accumulator.h"
#include "sim/numerics/formats.h"

namespace v3sim::gpu_tests {

enum class InputMix : uint8_t {
  Bulk,        // finite codes of every kind (zeros, subnormals, wide and narrow exponents, rows of signed zeros);
               // C placed around the products' largest exponent (dominating, comparable or negligible), or zero,
               // or minus the products' sum (cancellation)
  ExactSmall,  // small values whose sums are exact under any accumulator: a mismatch means a layout bug
  Special,     // Bulk plus infinities and NaNs in A, B (E5M2 inf/NaN, E4M3 NaN) and C
};
const char* to_string(InputMix mix);

struct WgmmaCheckCase {
  numerics::Format a = numerics::Format::E4M3, b = numerics::Format::E4M3;
  int n = 256;
  int tiles = 16;
  uint64_t seed = 1;
  InputMix mix = InputMix::Bulk;
  std::string describe() const;  // "e4m3 x e5m2, N=256, 16 tiles, bulk, seed 1"
};

struct WgmmaCheckResult {
  bool ran = false;
  std::string reason;  // why the probe did not run
  std::string device;
  int64_t outputs = 0;
  int64_t mismatches = 0;
  int64_t low_bits_set = 0;      // finite GPU outputs with any of the low 10 FP32 mantissa bits set (e8m13 says none)
  int64_t fp32_differs = 0;      // outputs where an ideal FP32 accumulator differs from the model: the check's power
  std::string first_mismatches;  // up to 5, each with every input (hex codes, C bits, got, expected)
  std::string summary(const WgmmaCheckCase& c) const;  // one line with the counts
};

// The probe input of a case (deterministic in the seed).
kernels::WgmmaProbeInput make_probe_input(const WgmmaCheckCase& c);
// The emulator's D for a probe input: one fused group of 32 products + C per output (the probe's model is
// AccumulatorModel::hopper_fp8()).
std::vector<uint32_t> emulate_probe(const kernels::WgmmaProbeInput& in, const numerics::AccumulatorModel& model);
// Runs the probe and the emulator and compares every output bit for bit.
WgmmaCheckResult check_wgmma(const WgmmaCheckCase& c);

}  // namespace v3sim::gpu_tests
