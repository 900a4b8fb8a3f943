// Accumulation-error studies: random inputs quantized as DeepSeek-V3 does, the GEMM emulator under a tensor-core
// model, compared with the double-precision product of the same quantized inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "core/params.h"
#include "core/resources.h"
#include "sim/numerics/gemm_emulator.h"

namespace v3sim::numerics {

enum class Distribution : uint8_t { Normal, Uniform, UniformPositive };  // N(0,1), U(-1,1), U(0,1)
inline constexpr Distribution kDistributions[] = {Distribution::Normal, Distribution::Uniform,
                                                  Distribution::UniformPositive};
const char* to_string(Distribution d);
bool parse_distribution(std::string_view text, Distribution& out);

struct ErrorStudy {
  int64_t m = 128, n = 128, k = 4096;
  Distribution dist = Distribution::Normal;
  uint64_t seed = 1;
  Format a_format = Format::E4M3, b_format = Format::E4M3;
  bool ue8m0 = false;
  GemmEmulation emulation;
};

struct ErrorStats {
  double max_rel_error = 0;          // over outputs with |ref| >= 0.1 x mean |ref| (near-zero outputs excluded)
  double mean_rel_error = 0;         // same set
  double normwise_rel_error = 0;     // ||D - R||_F / ||R||_F over all outputs
  double mean_signed_rel_error = 0;  // same set as max; negative = magnitudes too small (truncation bias)
  int64_t outputs_counted = 0;
  int64_t outputs = 0;
  std::string a_quantization, b_quantization;
  double seconds = 0;          // emulator time only
  double macs_per_second = 0;  // emulator multiply-accumulates per second (all threads)
};

// The parameter table of a study as `v3sim numerics gemm` takes it (`v3sim describe numerics_gemm`).
const ComponentSpec& error_study_spec();

// The memory and multiply-adds a study needs; check_error_study_work() throws ConfigError (key "numerics_gemm")
// when they exceed what this machine can hold (core/resources.h).
WorkEstimate estimate_error_study_work(const ErrorStudy& s);
void check_error_study_work(const ErrorStudy& s);

// Deterministic for a seed on any machine and thread count. Checks the work first (check_error_study_work).
ErrorStats run_error_study(const ErrorStudy& s);

// Random values from a portable generator (SplitMix64 + Box-Muller), the same on every platform.
std::vector<float> random_matrix(int64_t rows, int64_t cols, Distribution d, uint64_t seed);

}  // namespace v3sim::numerics
