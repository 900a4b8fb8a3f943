// The FP8 cast kernels of DeepSeek-V3's recipe, simulated on the SM model:
//   - quantize: BF16 [rows, cols] -> FP8 with one FP32 scale per 1x128 tile (the cast before every FP8 GEMM);
//   - transpose-requantize: FP8 [rows, cols] in 1x128 tiles -> dequantize, transpose, requantize as FP8
//     [cols, rows] with 128x1 tiles of the original (the pass Hopper's backward needs before each Wgrad GEMM,
//     because FP8 wgmma reads only K-major operands).
// Both are persistent: one TMA producer warpgroup and one worker warpgroup per SM, over 128 x 128 tiles. The
// transpose runs in its realistic Hopper form: 4-byte loads of 4x4 byte blocks, byte permutes (prmt) in registers,
// 4-byte stores into the 128-byte-swizzled output tile, bank conflicts computed from those addresses.
#pragma once

#include <cstdint>
#include <string>

#include "core/units.h"
#include "sim/hardware.h"
#include "sim/memory/memory_system.h"

namespace v3sim::sm {

enum class CastKernel : uint8_t { Quantize, TransposeRequant };
const char* to_string(CastKernel k);

struct CastDesc {
  CastKernel kernel = CastKernel::TransposeRequant;
  int64_t rows = 0, cols = 0;  // of the input
  int64_t sms = 0;             // 0: all
  void validate(const HardwareConfig& hw) const;
};

struct CastResult {
  Time time;
  int64_t cycles = 0;
  double gbps = 0;  // bytes read + written per second (data and scales)
  int64_t bytes = 0;
  double smem_util = 0, issue_util = 0, l2_util = 0, hbm_util = 0;
  int64_t store_wavefronts_per_instruction = 0;  // bank-conflict degree of the transposed stores
  std::string bound;
};

// What simulate_cast() checks before it starts: the problem against the hardware (CastDesc::validate) and the
// estimated work against what this machine can hold. Throws ConfigError.
void check_cast(const CastDesc& d, const HardwareConfig& hw);
CastResult simulate_cast(const CastDesc& d, const HardwareConfig& hw);

}  // namespace v3sim::sm
