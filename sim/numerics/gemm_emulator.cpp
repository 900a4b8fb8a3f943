#include "sim/numerics/gemm_emulator.h"

#include <fmt/format.h>

#include <cmath>
#include <thread>

#include "core/error.h"

namespace v3sim::numerics {

namespace {

// Runs body(row_begin, row_end) over [0, rows) in `threads` contiguous slices.
template <typename F>
void parallel_rows(int64_t rows, int threads, F&& body) {
  const int t = std::max(1, std::min<int>(threads, static_cast<int>(rows)));
  if (t == 1) {
    body(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < t; ++i) {
    const int64_t lo = rows * i / t, hi = rows * (i + 1) / t;
    pool.emplace_back([&body, lo, hi] { body(lo, hi); });
  }
  for (auto& th : pool) th.join();
}

std::vector<Term> split_all(const QuantizedMatrix& q) {
  std::vector<Term> out(q.codes.size());
  for (size_t i = 0; i < q.codes.size(); ++i) out[i] = term_of(q.format, q.codes[i]);
  return out;
}

bool scales_constant_along_k(const QuantizedMatrix& q) {
  return q.granularity == Granularity::PerRow || q.granularity == Granularity::PerTensor ||
         (q.granularity == Granularity::Tile128x1) || q.cols <= kQuantTile;
}

}  // namespace

void check_promotion(const AccumulatorModel& model, int promote_every) {
  const int group = model.products_per_group;
  const int P = promote_every;
  if (P < 0 || (P > 0 && P % group != 0)) {
    throw ConfigError(SourceLoc{}, "numerics_gemm.promote_every",
                      fmt::format("0 or a multiple of the {}-product MMA group", group), std::to_string(P));
  }
  if (P > 0 && (kQuantTile % P != 0)) {
    throw ConfigError(SourceLoc{}, "numerics_gemm.promote_every",
                      fmt::format("an interval that divides the {}-element scale blocks (the scales change every {} "
                                  "elements of K and are applied at promotion)",
                                  kQuantTile, kQuantTile),
                      std::to_string(P));
  }
}

std::vector<float> emulate_gemm(const QuantizedMatrix& a, const QuantizedMatrix& b, const GemmEmulation& e) {
  V3SIM_ASSERT(a.cols == b.cols);
  const int64_t M = a.rows, N = b.rows, K = a.cols;
  check_promotion(e.model, e.promote_every);
  const int P = e.promote_every;
  if (P == 0 && (!scales_constant_along_k(a) || !scales_constant_along_k(b))) {
    throw ConfigError(SourceLoc{}, "numerics_gemm.promote_every",
                      "per-row or per-tensor scales when accumulating only in the tensor core (it cannot apply "
                      "scales that change along K)",
                      "0 with per-block scales");
  }
  const std::vector<Term> ta = split_all(a), tb = split_all(b);
  const int pf = info(a.format).mantissa_bits + info(b.format).mantissa_bits;
  std::vector<float> d(static_cast<size_t>(M * N));
  parallel_rows(M, e.threads, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const Term* arow = ta.data() + i * K;
      for (int64_t j = 0; j < N; ++j) {
        const Term* brow = tb.data() + j * K;
        float out;
        if (P == 0) {
          const uint32_t acc = mma_terms(e.model, arow, brow, static_cast<int>(K), pf, 0u);
          out = bits_float(acc) * (a.scale(i, 0) * b.scale(j, 0));
        } else {
          float acc = 0.0f;
          for (int64_t k0 = 0; k0 < K; k0 += P) {
            const int n = static_cast<int>(std::min<int64_t>(P, K - k0));
            const uint32_t part = mma_terms(e.model, arow + k0, brow + k0, n, pf, 0u);
            const float s = a.scale(i, k0) * b.scale(j, k0);
            acc = std::fma(bits_float(part), s, acc);
          }
          out = acc;
        }
        d[static_cast<size_t>(i * N + j)] = out;
      }
    }
  });
  return d;
}

std::vector<double> reference_gemm(const QuantizedMatrix& a, const QuantizedMatrix& b, int threads) {
  V3SIM_ASSERT(a.cols == b.cols);
  const int64_t M = a.rows, N = b.rows, K = a.cols;
  std::vector<double> av(static_cast<size_t>(M * K)), bv(static_cast<size_t>(N * K));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) av[static_cast<size_t>(i * K + k)] = a.value(i, k);
  for (int64_t j = 0; j < N; ++j)
    for (int64_t k = 0; k < K; ++k) bv[static_cast<size_t>(j * K + k)] = b.value(j, k);
  std::vector<double> d(static_cast<size_t>(M * N));
  parallel_rows(M, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      for (int64_t j = 0; j < N; ++j) {
        // Neumaier-compensated sum: far below the errors studied.
        double s = 0, comp = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = av[static_cast<size_t>(i * K + k)] * bv[static_cast<size_t>(j * K + k)];
          const double t = s + x;
          comp += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
          s = t;
        }
        d[static_cast<size_t>(i * N + j)] = s + comp;
      }
  });
  return d;
}

}  // namespace v3sim::numerics
