// MLA decode, first version on cuBLAS (kernels/mla_decode.h), against a double-precision CPU reference computed
// from the same BF16 inputs. Tolerance (BF16): |got - ref| <= 2^-8 * max|c_kv of the sequence| + 2^-8 * |ref|.
// Why: P is rounded to BF16 (relative 2^-9 each), so sum_l dP_l c_l <= 2^-9 max|c|; the output is rounded to BF16
// (2^-9 |ref|); the FP32 scores and softmax add ~1e-6. The bound is twice that.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "kernels/mla_decode.h"
#include "tests/gpu/kernel_check.h"

using namespace v3sim::kernels;
using v3sim::gpu_tests::bf16_to_float;
using v3sim::gpu_tests::SeededRng;

namespace {

std::vector<uint16_t> normal_bf16(size_t n, double sigma, SeededRng& rng) {
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = v3sim::gpu_tests::float_to_bf16(static_cast<float>(sigma * rng.normal()));
  return v;
}

}  // namespace

TEST_CASE("mla decode (cublas-batched, first version) matches a double-precision reference", "[gpu][mla]") {
  auto p = GENERATE(MlaDecodeProblem{1, 8, 1, 64, 16}, MlaDecodeProblem{2, 16, 37, 64, 16},
                    MlaDecodeProblem{3, 128, 300, 512, 64}, MlaDecodeProblem{1, 128, 4096, 512, 64});
  SeededRng rng{static_cast<uint64_t>(p.batch * 1000 + p.cache_len)};
  const double qs =
      1.0 / std::sqrt(static_cast<double>(p.kv_rank)) * 2.0;  // a softmax that is neither flat nor one-hot
  MlaDecodeInputs in;
  const size_t B = static_cast<size_t>(p.batch), H = static_cast<size_t>(p.heads), L = static_cast<size_t>(p.cache_len),
               R = static_cast<size_t>(p.kv_rank), D = static_cast<size_t>(p.rope_dim);
  in.q_latent = normal_bf16(B * H * R, qs, rng);
  in.q_pe = normal_bf16(B * H * D, qs, rng);
  in.c_kv = normal_bf16(B * L * R, 1.0, rng);
  in.k_pe = normal_bf16(B * L * D, 1.0, rng);

  std::vector<uint16_t> got;
  try {
    got = run_mla_decode(p, in);
  } catch (const DeviceUnavailable& e) {
    WARN("cuBLAS unavailable, not checked: " << e.what());
    return;
  }
  REQUIRE(got.size() == B * H * R);
  int64_t bad = 0;
  double worst = 0;
  std::vector<double> s(L), out(R);
  for (size_t b = 0; b < B; ++b) {
    double cmax = 0;
    for (size_t i = 0; i < L * R; ++i) cmax = std::max(cmax, std::fabs(double{bf16_to_float(in.c_kv[b * L * R + i])}));
    for (size_t h = 0; h < H; ++h) {
      const uint16_t* q = &in.q_latent[(b * H + h) * R];
      const uint16_t* qp = &in.q_pe[(b * H + h) * D];
      double m = -INFINITY;
      for (size_t l = 0; l < L; ++l) {
        double acc = 0;
        for (size_t r = 0; r < R; ++r) acc += double{bf16_to_float(q[r])} * bf16_to_float(in.c_kv[(b * L + l) * R + r]);
        for (size_t d = 0; d < D; ++d)
          acc += double{bf16_to_float(qp[d])} * bf16_to_float(in.k_pe[(b * L + l) * D + d]);
        s[l] = acc * p.softmax_scale;
        m = std::max(m, s[l]);
      }
      double sum = 0;
      for (size_t l = 0; l < L; ++l) sum += (s[l] = std::exp(s[l] - m));
      std::fill(out.begin(), out.end(), 0.0);
      for (size_t l = 0; l < L; ++l)
        for (size_t r = 0; r < R; ++r) out[r] += s[l] / sum * bf16_to_float(in.c_kv[(b * L + l) * R + r]);
      for (size_t r = 0; r < R; ++r) {
        const double g = bf16_to_float(got[(b * H + h) * R + r]);
        const double err = std::fabs(g - out[r]), tol = 0x1p-8 * cmax + 0x1p-8 * std::fabs(out[r]);
        worst = std::max(worst, err / tol);
        if (err > tol) ++bad;
      }
    }
  }
  std::printf("mla-decode %s [%s]: %lld outside tolerance, worst error / tolerance %.3f\n", kMlaDecodeImplementation,
              p.describe().c_str(), static_cast<long long>(bad), worst);
  INFO(p.describe());
  CHECK(bad == 0);
}

TEST_CASE("mla decode: problems it cannot run are refused and recorded as skipped", "[gpu][mla][invalid]") {
  for (const MlaDecodeProblem& p : {MlaDecodeProblem{1, 128, 16, 500, 64}, MlaDecodeProblem{1, 128, 0, 512, 64}}) {
    v3sim::gpu_tests::check_refused(
        "mla decode " + p.describe(), [&] { p.validate(); }, [&] { return make_mla_decode_op(p); });
  }
}
