// The cuBLASLt FP8 baseline (kernels/cublaslt_gemm.h) against the exact product of the quantized operands
// (numerics::reference_gemm, double). cuBLASLt's accumulation order is not ours, so the tolerance is numerical:
// every element within 1% of |ref| + 1% of the RMS of the reference, and the normwise relative error below 5e-3
// (BF16 output alone is 2^-9 relative; Hopper's FP8 accumulation without promotion is ~1e-3 normwise at K = 4096,
// hopper-microarch.md §2.3). With per-tensor fallback the operands are quantized per tensor (uniform scales).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "kernels/cublaslt_gemm.h"
#include "sim/numerics/gemm_emulator.h"
#include "sim/numerics/quantize.h"
#include "tests/gpu/kernel_check.h"

using namespace v3sim::kernels;
using v3sim::gpu_tests::SeededRng;
namespace num = v3sim::numerics;

namespace {

struct LtCase {
  int64_t m, n, k;
};

void check_against_reference(const LtCase& c, CublasLtScaling want) {
  const Fp8GemmProblem p = Fp8GemmProblem::dense(c.m, c.n, c.k);
  SeededRng rng{static_cast<uint64_t>(c.m * 7 + c.n * 3 + c.k)};
  std::vector<float> a(static_cast<size_t>(c.m * c.k)), b(static_cast<size_t>(c.n * c.k));
  for (auto& x : a) x = static_cast<float>(rng.normal());
  for (auto& x : b) x = static_cast<float>(rng.normal());
  const bool block = want == CublasLtScaling::Block;
  num::QuantizedMatrix qa = num::quantize(a.data(), c.m, c.k, num::Format::E4M3,
                                          block ? num::Granularity::Tile1x128 : num::Granularity::PerTensor);
  num::QuantizedMatrix qb = num::quantize(b.data(), c.n, c.k, num::Format::E4M3,
                                          block ? num::Granularity::Block128x128 : num::Granularity::PerTensor);
  Fp8GemmOperands ops;
  ops.a = qa.codes;
  ops.b = qb.codes;
  if (block) {
    ops.a_scales = qa.scales;
    ops.b_scales = qb.scales;
  } else {  // the block layouts, filled with the one scale
    ops.a_scales.assign(static_cast<size_t>(c.m * (c.k / 128)), qa.scales[0]);
    ops.b_scales.assign(static_cast<size_t>(((c.n + 127) / 128) * (c.k / 128)), qb.scales[0]);
  }
  CublasLtGemmResult r;
  try {
    r = run_cublaslt_fp8_gemm(p, ops, want);
  } catch (const DeviceUnavailable& e) {
    WARN("cuBLASLt unavailable, not checked: " << e.what());
    return;
  }
  std::printf("cublaslt-fp8-gemm [%s] asked %s, ran %s, %s\n", p.describe().c_str(), to_string(want),
              to_string(r.scaling), r.library.c_str());
  if (block && r.scaling != CublasLtScaling::Block) {
    WARN("cuBLASLt has no block-scaled FP8 algorithm here (fell back to " << to_string(r.scaling)
                                                                          << "); the block check is skipped");
    return;
  }
  const std::vector<double> ref = num::reference_gemm(qa, qb, 4);
  double rms = 0;
  for (double x : ref) rms += x * x;
  rms = std::sqrt(rms / static_cast<double>(ref.size()));
  double err2 = 0, ref2 = 0;
  int64_t bad = 0;
  std::string first;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double got = v3sim::gpu_tests::bf16_to_float(r.d[i]);
    const double e = std::fabs(got - ref[i]);
    err2 += e * e;
    ref2 += ref[i] * ref[i];
    if (e > 1e-2 * std::fabs(ref[i]) + 1e-2 * rms) {
      if (bad++ < 5)
        first += "  row " + std::to_string(i / static_cast<size_t>(c.n)) + " col " +
                 std::to_string(i % static_cast<size_t>(c.n)) + ": got " + std::to_string(got) + ", ref " +
                 std::to_string(ref[i]) + "\n";
    }
  }
  const double normwise = std::sqrt(err2 / ref2);
  INFO(p.describe() << ", " << to_string(r.scaling) << ", normwise relative error " << normwise << "\nfirst outliers:\n"
                    << first);
  CHECK(bad == 0);
  CHECK(normwise < 5e-3);
}

}  // namespace

TEST_CASE("cuBLASLt FP8 GEMM with 1x128 / 128x128 block scaling matches the exact product", "[gpu][cublaslt]") {
  auto c = GENERATE(LtCase{128, 128, 128}, LtCase{64, 2112, 512}, LtCase{256, 384, 1024}, LtCase{512, 256, 4096});
  check_against_reference(c, CublasLtScaling::Block);
}

TEST_CASE("cuBLASLt FP8 GEMM with per-tensor scaling matches the exact product", "[gpu][cublaslt]") {
  auto c = GENERATE(LtCase{128, 128, 128}, LtCase{256, 384, 1024});
  check_against_reference(c, CublasLtScaling::PerTensor);
}

TEST_CASE("cuBLASLt baseline: shapes it cannot run are refused and recorded as skipped", "[gpu][cublaslt][invalid]") {
  const std::vector<Fp8GemmProblem> impossible = {Fp8GemmProblem::dense(8, 128, 128),
                                                  Fp8GemmProblem::masked(2, 64, {1, 2}, 128, 128)};
  for (const Fp8GemmProblem& p : impossible) {
    v3sim::gpu_tests::check_refused(
        "cublaslt " + p.describe(), [&] { validate_cublaslt_problem(p); },
        [&] { return make_cublaslt_fp8_gemm_op(p); });
  }
}
