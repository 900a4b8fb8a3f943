#include "sim/numerics/error_study.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

#include "core/random.h"

namespace v3sim::numerics {

const char* to_string(Distribution d) {
  switch (d) {
    case Distribution::Normal:
      return "normal";
    case Distribution::Uniform:
      return "uniform";
    case Distribution::UniformPositive:
      return "uniform_pos";
  }
  return "?";
}

bool parse_distribution(std::string_view text, Distribution& out) {
  const std::optional<Distribution> d = enum_named(text, kDistributions);
  if (d) out = *d;
  return d.has_value();
}

namespace {

struct UnitRng {
  SplitMix64 bits;
  uint64_t next() { return bits.next(); }
  // Uniform in (0, 1): 53 random bits, never 0.
  double unit() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
};

}  // namespace

std::vector<float> random_matrix(int64_t rows, int64_t cols, Distribution d, uint64_t seed) {
  UnitRng rng{{seed}};
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < x.size(); ++i) {
    switch (d) {
      case Distribution::Normal: {
        const double u1 = rng.unit(), u2 = rng.unit();
        x[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
        break;
      }
      case Distribution::Uniform:
        x[i] = static_cast<float>(2.0 * rng.unit() - 1.0);
        break;
      case Distribution::UniformPositive:
        x[i] = static_cast<float>(rng.unit());
        break;
    }
  }
  return x;
}

const ComponentSpec& error_study_spec() {
  static const ComponentSpec spec{
      "numerics_gemm",
      "an accumulation-error study (v3sim numerics gemm): sizes of a random GEMM, seed, promotion interval",
      {{.name = "m",
        .type = ParamType::Int,
        .description = "rows of A and D",
        .required = false,
        .default_text = "128",
        .range = range(1, 1 << 20)},
       {.name = "n",
        .type = ParamType::Int,
        .description = "rows of B, columns of D",
        .required = false,
        .default_text = "128",
        .range = range(1, 1 << 20)},
       {.name = "k",
        .type = ParamType::Int,
        .description = "reduction length",
        .required = false,
        .default_text = "4096",
        .range = range(1, 1 << 24)},
       {.name = "sweep_k",
        .type = ParamType::IntList,
        .description = "K values to study one after the other (instead of k)",
        .required = false,
        .range = range(1, 1 << 24)},
       {.name = "seed",
        .type = ParamType::Int,
        .description = "random seed",
        .required = false,
        .default_text = "1",
        .range = range(0, 1e18)},
       {.name = "promote_every",
        .type = ParamType::Int,
        .description = "K elements per promotion to FP32 on the CUDA cores (0: tensor core only)",
        .required = false,
        .default_text = "128",
        .range = range(0, 1 << 16)},
       {.name = "threads",
        .type = ParamType::Int,
        .description = "threads (default: all cores); the results do not depend on it",
        .required = false,
        .range = range(1, 1024)}}};
  return spec;
}

WorkEstimate estimate_error_study_work(const ErrorStudy& s) {
  // Measured with `v3sim numerics gemm --threads 1`: 128 x 128 x 4096 = 67M products in 0.67 s, about 1e8 per
  // second and thread. Memory per input element: the float, its code and split term, the quantized copy; per
  // output: the emulated float and the FP64 reference.
  const double m = static_cast<double>(s.m), n = static_cast<double>(s.n), k = static_cast<double>(s.k);
  WorkEstimate e;
  e.steps = m * n * k;
  e.steps_per_second = 1e8 * std::max(1, s.emulation.threads);
  e.step_name = "multiply-adds";
  e.bytes = (m + n) * k * 32 + m * n * 16;
  return e;
}

void check_error_study_work(const ErrorStudy& s) {
  check_work(SourceLoc{}, "numerics_gemm",
             fmt::format("an error study of {} x {} x {} on {} threads", s.m, s.n, s.k, s.emulation.threads),
             estimate_error_study_work(s));
}

ErrorStats run_error_study(const ErrorStudy& s) {
  check_error_study_work(s);
  // DeepSeek's recipe with promotion: 1x128 activation tiles, 128x128 weight blocks. Accumulating in the tensor
  // core only cannot apply scales that change along K, so it takes one scale per row of A and of B.
  const bool promote = s.emulation.promote_every > 0;
  const std::vector<float> a = random_matrix(s.m, s.k, s.dist, s.seed * 2 + 1);
  const std::vector<float> b = random_matrix(s.n, s.k, s.dist, s.seed * 2 + 2);
  const QuantizedMatrix qa =
      quantize(a.data(), s.m, s.k, s.a_format, promote ? Granularity::Tile1x128 : Granularity::PerRow, s.ue8m0);
  const QuantizedMatrix qb =
      quantize(b.data(), s.n, s.k, s.b_format, promote ? Granularity::Block128x128 : Granularity::PerRow, s.ue8m0);

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> d = emulate_gemm(qa, qb, s.emulation);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<double> ref = reference_gemm(qa, qb, s.emulation.threads);

  ErrorStats st;
  st.outputs = static_cast<int64_t>(d.size());
  st.a_quantization = to_string(qa.granularity);
  st.b_quantization = to_string(qb.granularity);
  st.seconds = secs;
  st.macs_per_second =
      secs > 0 ? static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) / secs : 0;
  double mean_abs = 0, diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    mean_abs += std::fabs(ref[i]);
    diff2 += (d[i] - ref[i]) * (d[i] - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  mean_abs /= static_cast<double>(d.size());
  st.normwise_rel_error = ref2 > 0 ? std::sqrt(diff2 / ref2) : 0;
  double sum_rel = 0, sum_signed = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    const double r = std::fabs(ref[i]);
    if (r < 0.1 * mean_abs || r == 0) continue;
    const double rel = (d[i] - ref[i]) / ref[i];
    st.max_rel_error = std::max(st.max_rel_error, std::fabs(rel));
    sum_rel += std::fabs(rel);
    sum_signed += rel;  // (d - ref) / ref < 0 exactly when |d| < |ref|
    ++st.outputs_counted;
  }
  if (st.outputs_counted > 0) {
    st.mean_rel_error = sum_rel / static_cast<double>(st.outputs_counted);
    st.mean_signed_rel_error = sum_signed / static_cast<double>(st.outputs_counted);
  }
  return st;
}

}  // namespace v3sim::numerics
