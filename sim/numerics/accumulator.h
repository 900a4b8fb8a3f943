// Tensor-core accumulation, bit-exact: how an MMA instruction sums a group of products and the incoming
// accumulator (hopper-microarch.md §2.3, after DeepSeek-V3 §3.3.2/§3.5.2, MMA-Sim arXiv 2511.10909 and
// Khattak & Mikaitis arXiv 2512.07004).
//
// One fused group (Hopper FP8 wgmma k32: 32 products + C):
//   1. products exact, significand s_a*s_b in [1,4) left un-normalized, exponent e_a+e_b;
//   2. E = the largest exponent over the non-zero products and C;
//   3. every term truncated toward zero onto the grid 2^(E - F) (F = 13 on Hopper FP8);
//   4. the aligned integers summed exactly;
//   5. the sum normalized and rounded (toward zero on Hopper) to `output_fraction_bits` in FP32's range.
// Worked example (Hopper FP8): C = 1.0, one product 2^-14, the rest zero: E = 0, grid 2^-13, so 2^-14 falls
// below the grid and is dropped: D = 1.0, where an FP32 adder would give 1.00006103515625.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "core/params.h"
#include "sim/numerics/formats.h"

namespace v3sim::numerics {

enum class Rounding : uint8_t { TowardZero, NearestEven };
inline constexpr Rounding kRoundings[] = {Rounding::TowardZero, Rounding::NearestEven};
const char* to_string(Rounding r);  // "rz", "rne" (the config's names)

struct AccumulatorModel {
  std::string name;
  int products_per_group = 32;  // products fused with C in one step (one wgmma k32 for FP8)
  int fraction_bits = 13;       // F: bits kept below the largest term's leading bit at alignment
  Rounding align_rounding = Rounding::TowardZero;
  int output_fraction_bits = 13;  // fraction bits of the result (FP32 pattern; 13 = "e8m13")
  Rounding output_rounding = Rounding::TowardZero;

  // Presets. Hopper FP8 wgmma: 32, F=13, RZ, e8m13 RZ. Hopper BF16/FP16 wgmma: 16, F=25, FP32 RZ.
  // Blackwell FP8 (tcgen05): 32, F=25, FP32 RZ. Ideal: exact group sum rounded to FP32 (RNE).
  static AccumulatorModel hopper_fp8();
  static AccumulatorModel hopper_bf16();
  static AccumulatorModel blackwell_fp8();
  static AccumulatorModel ideal_fp32();
  // By name: "hopper-fp8", "hopper-bf16", "blackwell-fp8", "ideal-fp32"; false when unknown.
  static bool preset(std::string_view name, AccumulatorModel& out);
  static std::vector<std::string> preset_names();
};

// The parameter table of an accumulator section in a hardware YAML (numerics.fp8, numerics.bf16).
const ComponentSpec& accumulator_spec();
AccumulatorModel read_accumulator(const ParamReader& r, const std::string& name);

// One fused group: D = round_out(sum of aligned products a_k*b_k and aligned C). Codes are in `a_fmt` /
// `b_fmt`; C and D are FP32 bit patterns. NaN in, or inf*0, or inf-inf gives the canonical NaN 0x7FFFFFFF.
// @pre a.size() == b.size() <= model.products_per_group
uint32_t mma_group(const AccumulatorModel& model, Format a_fmt, std::span<const uint8_t> a, Format b_fmt,
                   std::span<const uint8_t> b, uint32_t c_bits);

// The same for 16-bit inputs (BF16/FP16 wgmma).
uint32_t mma_group16(const AccumulatorModel& model, Format fmt, std::span<const uint16_t> a,
                     std::span<const uint16_t> b, uint32_t c_bits);

// Pre-split operands for the hot loop of the GEMM emulator: one entry per code.
struct Term {
  int32_t significand = 0;  // signed, 0 for zeros
  int32_t exponent = 0;     // raw exponent (minimum normal exponent for subnormals)
  uint8_t special = 0;      // 0 finite/zero, 1 infinity, 2 NaN
  uint8_t negative = 0;     // the sign bit (zeros have a sign too)
};
Term term_of(Format f, uint32_t code);

// Accumulates `n` products of pre-split terms (stride 1) into C (FP32 bits), fusing them in groups of
// products_per_group: the inner loop of a tensor-core-only dot product. `mant_a + mant_b` is the fraction
// width of a raw product (6 for E4M3 x E4M3).
uint32_t mma_terms(const AccumulatorModel& model, const Term* a, const Term* b, int n, int product_fraction_bits,
                   uint32_t c_bits);

}  // namespace v3sim::numerics
