#include <catch2/catch.hpp>
#include <cmath>

#include "core/error.h"
#include "sim/numerics/error_study.h"

using namespace v3sim::numerics;

TEST_CASE("the emulator gives the same bits on any number of threads", "[sim][numerics][gemm]") {
  std::vector<float> a = random_matrix(37, 512, Distribution::Normal, 1),
                     b = random_matrix(29, 512, Distribution::Normal, 2);
  QuantizedMatrix qa = quantize(a.data(), 37, 512, Format::E4M3, Granularity::Tile1x128);
  QuantizedMatrix qb = quantize(b.data(), 29, 512, Format::E4M3, Granularity::Block128x128);
  GemmEmulation e;
  e.threads = 1;
  std::vector<float> one = emulate_gemm(qa, qb, e);
  e.threads = 3;
  std::vector<float> three = emulate_gemm(qa, qb, e);
  REQUIRE(one.size() == three.size());
  for (size_t i = 0; i < one.size(); ++i) CHECK(float_bits(one[i]) == float_bits(three[i]));
}

TEST_CASE("promotion applies each block's scales to its tensor-core partial sum", "[sim][numerics][gemm]") {
  // One output, K = 256: two scale blocks. Values 3.5 and 14 = 448 x 2^-7 and 448 x 2^-5 make the scales exact
  // powers of two, so the result is exact: 128 x 3.5 x 3.5 + 128 x 14 x 3.5 = 7840.
  std::vector<float> a(256, 3.5f), b(256, 3.5f);
  for (int k = 128; k < 256; ++k) a[static_cast<size_t>(k)] = 14.0f;
  QuantizedMatrix qa = quantize(a.data(), 1, 256, Format::E4M3, Granularity::Tile1x128);
  QuantizedMatrix qb = quantize(b.data(), 1, 256, Format::E4M3, Granularity::Block128x128);
  CHECK(qa.scale(0, 0) == std::ldexp(1.0f, -7));
  CHECK(qa.scale(0, 200) == std::ldexp(1.0f, -5));
  GemmEmulation e;
  e.model = AccumulatorModel::ideal_fp32();
  CHECK(emulate_gemm(qa, qb, e)[0] == 7840.0f);
  e.model = AccumulatorModel::hopper_fp8();
  CHECK(emulate_gemm(qa, qb, e)[0] == 7840.0f);  // 448 x 448 products lose no bits at alignment
}

TEST_CASE("accumulating only in the tensor core needs scales constant along K", "[sim][numerics][gemm]") {
  std::vector<float> a = random_matrix(4, 512, Distribution::Normal, 1);
  QuantizedMatrix qa = quantize(a.data(), 4, 512, Format::E4M3, Granularity::Tile1x128);
  GemmEmulation e;
  e.promote_every = 0;
  CHECK_THROWS_AS(emulate_gemm(qa, qa, e), v3sim::ConfigError);
  e.promote_every = 48;
  CHECK_THROWS_WITH(emulate_gemm(qa, qa, e), Catch::Contains("multiple of the 32-product MMA group"));
  e.promote_every = 256;
  CHECK_THROWS_WITH(emulate_gemm(qa, qa, e), Catch::Contains("divides the 128-element scale blocks"));
}

// The figures of hopper-microarch.md §2.3 ("expected ranges from an implementation of the model"), for 128x128
// outputs at K = 4096 with N(0,1) inputs: tensor-core only normwise ~1.3e-3, promoted every 128 ~1.3e-4.
TEST_CASE("tensor-core-only FP8 accumulation is an order of magnitude worse than promotion every 128",
          "[sim][numerics][gemm][study]") {
  ErrorStudy s;
  s.emulation.threads = 2;
  s.emulation.promote_every = 0;
  ErrorStats tc = run_error_study(s);
  s.emulation.promote_every = 128;
  ErrorStats promoted = run_error_study(s);
  CHECK(tc.normwise_rel_error == Approx(1.3e-3).epsilon(0.3));
  CHECK(promoted.normwise_rel_error == Approx(1.3e-4).epsilon(0.3));
  CHECK(tc.normwise_rel_error > 8 * promoted.normwise_rel_error);
  CHECK(tc.max_rel_error > 0.01);  // "maximum relative error of nearly 2%" (DeepSeek-V3 §3.3.2)
  CHECK(tc.max_rel_error < 0.1);
  CHECK(tc.mean_signed_rel_error < 0);  // truncation biases magnitudes down
  // Blackwell's 25-bit accumulation is near an ideal FP32 accumulator, far below Hopper's.
  s.emulation.promote_every = 0;
  s.emulation.model = AccumulatorModel::blackwell_fp8();
  ErrorStats bw = run_error_study(s);
  s.emulation.model = AccumulatorModel::ideal_fp32();
  ErrorStats ideal = run_error_study(s);
  CHECK(bw.normwise_rel_error < 1e-5);
  CHECK(bw.normwise_rel_error < 10 * ideal.normwise_rel_error + 1e-6);
}

TEST_CASE("tensor-core-only error grows with K; all-positive inputs show the systematic underestimate",
          "[sim][numerics][gemm][study]") {
  ErrorStudy s;
  s.m = s.n = 64;
  s.emulation.threads = 2;
  s.emulation.promote_every = 0;
  double prev = 0;
  for (int64_t k : {512, 2048, 8192}) {
    s.k = k;
    const double e = run_error_study(s).normwise_rel_error;
    CHECK(e > prev);
    prev = e;
  }
  s.k = 4096;
  s.dist = Distribution::UniformPositive;
  ErrorStats pos = run_error_study(s);
  CHECK(pos.mean_signed_rel_error < -0.03);  // §2.3 table: about -6.6e-2 for U(0,1) at K = 4096
  CHECK(std::fabs(pos.mean_signed_rel_error) == Approx(pos.mean_rel_error));  // every output too small
}
