#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/fit.h"

namespace v3sim::fit {
namespace {

// A roofline with a launch overhead: the shape of the constants v3sim fits (a peak rate, a bandwidth, a latency).
struct Kernel {
  double flops, bytes;
};
double roofline(const std::vector<double>& c, const Kernel& k) {
  return std::max(k.flops / c[0], k.bytes / c[1]) + c[2];
}

const std::vector<Kernel> kKernels = {
    {2e12, 1e9}, {8e12, 3e9}, {3e13, 8e9},  {1e14, 2e10}, {5e11, 4e8}, {4e10, 2e7},  // compute-bound
    {1e9, 4e9},  {5e9, 2e10}, {2e10, 1e11}, {1e8, 3e8},   {4e8, 1e9},  {2e9, 6e9}};  // memory-bound

std::vector<Parameter> roofline_params() {
  return {{"peak_flops", 0.5e15, 1e13, 1e17, true},
          {"hbm_Bps", 7e12, 1e10, 1e14, true},
          {"launch_s", 1.5e-5, 1e-8, 1e-3, true}};
}

TEST_CASE("least_squares recovers the constants that generated noise-free data", "[core][fit]") {
  const std::vector<double> truth = {1.5e15, 3.0e12, 5e-6};
  std::vector<double> measured;
  for (const Kernel& k : kKernels) measured.push_back(roofline(truth, k));
  const Result r = least_squares(roofline_params(), [&](const std::vector<double>& c) {
    std::vector<double> res;
    for (size_t i = 0; i < kKernels.size(); ++i) res.push_back(roofline(c, kKernels[i]) / measured[i] - 1);
    return res;
  });
  REQUIRE(r.converged);
  for (size_t i = 0; i < truth.size(); ++i) {
    CAPTURE(i, r.values[i]);
    CHECK(r.values[i] == Approx(truth[i]).epsilon(1e-6));
    CHECK(r.identifiable[i]);
    CHECK_FALSE(r.at_bound[i]);
  }
  CHECK(r.cost < 1e-20);
  CHECK(r.residuals.size() == kKernels.size());
}

TEST_CASE("least_squares gives standard errors that scale with the noise", "[core][fit]") {
  const std::vector<double> truth = {1.5e15, 3.0e12, 5e-6};
  auto fit_with_noise = [&](double amplitude) {
    std::vector<double> measured;
    for (size_t i = 0; i < kKernels.size(); ++i) {
      const double noise = amplitude * (i % 3 == 0 ? 1 : i % 3 == 1 ? -1 : 0.5);  // deterministic "noise"
      measured.push_back(roofline(truth, kKernels[i]) * (1 + noise));
    }
    return least_squares(roofline_params(), [&](const std::vector<double>& c) {
      std::vector<double> res;
      for (size_t i = 0; i < kKernels.size(); ++i) res.push_back(roofline(c, kKernels[i]) / measured[i] - 1);
      return res;
    });
  };
  const Result small = fit_with_noise(0.01), large = fit_with_noise(0.04);
  REQUIRE(small.converged);
  REQUIRE(large.converged);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(std::isfinite(small.std_errors[i]));
    CHECK(small.std_errors[i] > 0);
    CHECK(large.std_errors[i] > 2 * small.std_errors[i]);  // ~4x the noise, ~4x the error
    CHECK(std::abs(small.values[i] - truth[i]) < 5 * small.std_errors[i] + 1e-9 * truth[i]);
  }
}

TEST_CASE("a parameter the data cannot move is reported, not given a made-up error", "[core][fit]") {
  // y = a * x; b never enters the model. And c, d enter only as their product: one of them is redundant.
  const std::vector<double> x = {1, 2, 3, 4, 5};
  const Result r =
      least_squares({{"a", 1, 0.01, 100, true}, {"b", 1, 0.01, 100, true}}, [&](const std::vector<double>& v) {
        std::vector<double> res;
        for (double xi : x) res.push_back(v[0] * xi - 3 * xi);
        return res;
      });
  CHECK(r.values[0] == Approx(3).epsilon(1e-8));
  CHECK(r.identifiable[0]);
  CHECK_FALSE(r.identifiable[1]);
  CHECK(std::isnan(r.std_errors[1]));

  const Result p =
      least_squares({{"c", 1, 0.01, 100, true}, {"d", 1, 0.01, 100, true}}, [&](const std::vector<double>& v) {
        std::vector<double> res;
        for (double xi : x) res.push_back(v[0] * v[1] * xi - 6 * xi + 0.01 * (xi - 3));
        return res;
      });
  CHECK(p.identifiable[0]);
  CHECK_FALSE(p.identifiable[1]);
}

TEST_CASE("least_squares keeps parameters within their bounds and says which one rests on a bound", "[core][fit]") {
  // The data want a = 5, but a <= 2.
  const std::vector<double> x = {1, 2, 3};
  const Result r = least_squares({{"a", 1, 0.5, 2, true}, {"b", 0, -10, 10, false}}, [&](const std::vector<double>& v) {
    std::vector<double> res;
    for (double xi : x) res.push_back(v[0] * xi + v[1] - (5 * xi + 1));
    return res;
  });
  CHECK(r.values[0] <= 2.0);
  CHECK(r.values[0] == Approx(2.0));
  CHECK(r.at_bound[0]);
  CHECK_FALSE(r.at_bound[1]);
  CHECK(r.values[1] == Approx(7.0).epsilon(1e-6));  // the best b given a = 2: mean of 5x + 1 - 2x over x = 1..3
}

TEST_CASE("bad fits are refused with the parameter or datum named", "[core][fit]") {
  auto line = [](const std::vector<double>& v) { return std::vector<double>{v[0] - 1, v[0] - 2}; };
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const FitError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message([&] {
               least_squares({{"clock", 5, 1, 2, true}}, line);
             }),
             Catch::Contains("parameter 'clock': start 5 is outside its bounds"));
  CHECK_THAT(message([&] {
               least_squares({{"offset", 0.5, 0, 2, true}}, line);
             }),
             Catch::Contains("parameter 'offset': a log-scale parameter needs a positive lower bound"));
  CHECK_THAT(message([&] {
               least_squares({{"a", 1, 0.1, 9, true}, {"b", 1, 0.1, 9, true}, {"c", 1, 0.1, 9, true}}, line);
             }),
             Catch::Contains("2 data cannot determine 3 parameters"));
  CHECK_THAT(message([&] {
               least_squares({{"a", 1, 0.1, 9, true}}, [](const std::vector<double>& v) {
                 return std::vector<double>{v[0], std::nan("")};
               });
             }),
             Catch::Contains("datum 1: the residual at the start is nan"));
  int calls = 0;
  CHECK_THAT(message([&] {
               least_squares({{"a", 1, 0.1, 9, true}}, [&](const std::vector<double>& v) {
                 return std::vector<double>(++calls == 1 ? 3 : 2, v[0]);
               });
             }),
             Catch::Contains("returned 3 residuals, then 2"));
  CHECK_THAT(message([&] { least_squares({}, line); }), Catch::Contains("at least one parameter"));
}

TEST_CASE("leave-one-out cross-validation of a line matches the closed form (hat matrix)", "[core][fit]") {
  const std::vector<double> x = {1, 2, 3, 5, 8, 9, 12};
  const std::vector<double> y = {2.9, 5.2, 6.8, 11.3, 16.6, 19.4, 24.1};
  const size_t n = x.size();
  auto fit_line = [&](const std::vector<size_t>& train) {
    const Result r =
        least_squares({{"c0", 0, -100, 100, false}, {"c1", 1, -100, 100, false}}, [&](const std::vector<double>& c) {
          std::vector<double> res;
          for (size_t i : train) res.push_back(c[0] + c[1] * x[i] - y[i]);
          return res;
        });
    REQUIRE(r.converged);
    return r.values;
  };
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  std::set<size_t> seen_held_out;
  const CrossValidation cv = cross_validate(
      y,
      [&](const std::vector<size_t>& train) {
        REQUIRE(train.size() == n - 1);
        for (size_t i = 0; i < n; ++i)
          if (std::find(train.begin(), train.end(), i) == train.end()) seen_held_out.insert(i);
        return fit_line(train);
      },
      [&](const std::vector<double>& c, size_t i) { return c[0] + c[1] * x[i]; });
  CHECK(cv.folds == n);
  CHECK(seen_held_out.size() == n);

  // Closed form: the LOO prediction of datum i is y_i - e_i / (1 - h_ii), e the full fit's residuals.
  const std::vector<double> c = fit_line(all);
  double mean = 0, sxx = 0;
  for (double xi : x) mean += xi / static_cast<double>(n);
  for (double xi : x) sxx += (xi - mean) * (xi - mean);
  double ape = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = y[i] - (c[0] + c[1] * x[i]);
    const double h = 1.0 / static_cast<double>(n) + (x[i] - mean) * (x[i] - mean) / sxx;
    const double loo = y[i] - e / (1 - h);
    CAPTURE(i);
    CHECK(cv.predicted[i] == Approx(loo).epsilon(1e-7));
    ape += std::abs(loo - y[i]) / y[i];
  }
  CHECK(cv.mape == Approx(ape / static_cast<double>(n)).epsilon(1e-6));
  CHECK(cv.mape > mape(y, [&] {
          std::vector<double> in;
          for (double xi : x) in.push_back(c[0] + c[1] * xi);
          return in;
        }()));  // out of sample is worse than the fit residual
}

TEST_CASE("k-fold cross-validation predicts every datum once, from fits that never saw it", "[core][fit]") {
  const std::vector<double> measured = {1, 2, 3, 4, 5, 6, 7};
  std::vector<int> predicted_times(measured.size(), 0);
  const CrossValidation cv = cross_validate(
      measured,
      [&](const std::vector<size_t>& train) {
        return std::vector<double>(train.begin(), train.end());  // "values": the training indices
      },
      [&](const std::vector<double>& train, size_t i) {
        CHECK(std::find(train.begin(), train.end(), static_cast<double>(i)) == train.end());
        ++predicted_times[i];
        return measured[i] * 1.1;
      },
      3);
  CHECK(cv.folds == 3);
  for (int t : predicted_times) CHECK(t == 1);
  CHECK(cv.mape == Approx(0.1));
  CHECK(cv.max_ape == Approx(0.1));
  CHECK_THROWS_AS(cross_validate({1.0}, nullptr, nullptr), FitError);
  CHECK_THROWS_WITH(cross_validate({1.0, 0.0}, nullptr, nullptr), Catch::Contains("datum 1"));
}

}  // namespace
}  // namespace v3sim::fit
