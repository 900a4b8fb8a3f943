#include "core/fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace v3sim::fit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A dense symmetric positive-definite system A x = b (n small: the constants of one chip), by Cholesky.
// nullopt when A is not positive definite.
std::optional<std::vector<double>> solve_spd(std::vector<double> a, std::vector<double> b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return std::nullopt;
    a[j * n + j] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / a[j * n + j];
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L y = b
    for (size_t k = 0; k < i; ++k) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T x = y
    for (size_t k = i + 1; k < n; ++k) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
  return b;
}

double sum_squares(const std::vector<double>& r) {
  double s = 0;
  for (double v : r) s += v * v;
  return s;
}

bool all_finite(const std::vector<double>& r) {
  return std::all_of(r.begin(), r.end(), [](double v) { return std::isfinite(v); });
}

// The search runs in internal coordinates: log(value) for a log-scale parameter, the value otherwise.
class Problem {
 public:
  Problem(const std::vector<Parameter>& params, const ResidualFn& fn) : m_params(params), m_fn(fn) {
    if (params.empty()) throw FitError("a fit needs at least one parameter");
    for (const Parameter& p : params) {
      if (!(p.lower < p.upper)) {
        throw FitError(
            fmt::format("parameter '{}': expected lower < upper bound, found [{}, {}]", p.name, p.lower, p.upper));
      }
      if (p.log_scale && !(p.lower > 0)) {
        throw FitError(fmt::format("parameter '{}': a log-scale parameter needs a positive lower bound, found {}",
                                   p.name, p.lower));
      }
      if (!(p.initial >= p.lower && p.initial <= p.upper)) {
        throw FitError(fmt::format("parameter '{}': start {} is outside its bounds [{}, {}]", p.name, p.initial,
                                   p.lower, p.upper));
      }
      m_lo.push_back(internal(p, p.lower));
      m_hi.push_back(internal(p, p.upper));
    }
  }

  size_t n() const { return m_params.size(); }
  const Parameter& param(size_t i) const { return m_params[i]; }
  double lo(size_t i) const { return m_lo[i]; }
  double hi(size_t i) const { return m_hi[i]; }

  static double internal(const Parameter& p, double v) { return p.log_scale ? std::log(v) : v; }
  std::vector<double> values(const std::vector<double>& u) const {
    std::vector<double> x(u.size());
    for (size_t i = 0; i < u.size(); ++i) x[i] = m_params[i].log_scale ? std::exp(u[i]) : u[i];
    return x;
  }
  std::vector<double> clamp(std::vector<double> u) const {
    for (size_t i = 0; i < u.size(); ++i) u[i] = std::clamp(u[i], m_lo[i], m_hi[i]);
    return u;
  }
  std::vector<double> residuals(const std::vector<double>& u) const {
    std::vector<double> r = m_fn(values(u));
    if (m_count && r.size() != *m_count) {
      throw FitError(fmt::format("the residual function returned {} residuals, then {}", *m_count, r.size()));
    }
    m_count = r.size();
    return r;
  }

  // Forward differences, stepping inward at an upper bound. Column-major: J[j * m + i] = d r_i / d u_j.
  std::vector<double> jacobian(const std::vector<double>& u, const std::vector<double>& r, double fd_step) const {
    const size_t m = r.size();
    std::vector<double> jac(n() * m);
    for (size_t j = 0; j < n(); ++j) {
      double h = fd_step * std::max(1.0, std::abs(u[j]));
      if (u[j] + h > m_hi[j]) h = -h;
      std::vector<double> v = u;
      v[j] += h;
      const std::vector<double> rv = residuals(v);
      for (size_t i = 0; i < m; ++i) jac[j * m + i] = std::isfinite(rv[i]) ? (rv[i] - r[i]) / h : 0.0;
    }
    return jac;
  }

 private:
  const std::vector<Parameter>& m_params;
  const ResidualFn& m_fn;
  std::vector<double> m_lo, m_hi;
  mutable std::optional<size_t> m_count;
};

// J^T J restricted to `cols`, and J^T r on them.
void normal_equations(const std::vector<double>& jac, const std::vector<double>& r, const std::vector<size_t>& cols,
                      std::vector<double>& a, std::vector<double>& g) {
  const size_t m = r.size(), k = cols.size();
  a.assign(k * k, 0.0);
  g.assign(k, 0.0);
  for (size_t p = 0; p < k; ++p) {
    const double* cp = &jac[cols[p] * m];
    for (size_t i = 0; i < m; ++i) g[p] += cp[i] * r[i];
    for (size_t q = 0; q <= p; ++q) {
      const double* cq = &jac[cols[q] * m];
      double s = 0;
      for (size_t i = 0; i < m; ++i) s += cp[i] * cq[i];
      a[p * k + q] = a[q * k + p] = s;
    }
  }
}

// Which parameters the data determine at the solution, and their standard errors.
void uncertainty(const Problem& pb, const std::vector<double>& jac, size_t m, Result& res) {
  const size_t n = pb.n();
  res.identifiable.assign(n, false);
  res.std_errors.assign(n, kNaN);
  std::vector<double> norm(n, 0.0);
  double max_norm = 0;
  for (size_t j = 0; j < n; ++j) {
    for (size_t i = 0; i < m; ++i) norm[j] += jac[j * m + i] * jac[j * m + i];
    norm[j] = std::sqrt(norm[j]);
    max_norm = std::max(max_norm, norm[j]);
  }
  // Greedy: add each parameter whose scaled column is not (numerically) a combination of those already kept,
  // judged by the Cholesky pivot of the correlation matrix J^T J / (|J_i| |J_j|).
  std::vector<size_t> kept;
  for (size_t j = 0; j < n; ++j) {
    if (!(norm[j] > 1e-12 * max_norm) || max_norm == 0) continue;
    std::vector<size_t> trial = kept;
    trial.push_back(j);
    std::vector<double> a, g;
    normal_equations(jac, std::vector<double>(m, 0.0), trial, a, g);
    const size_t k = trial.size();
    for (size_t p = 0; p < k; ++p)
      for (size_t q = 0; q < k; ++q) a[p * k + q] /= norm[trial[p]] * norm[trial[q]];
    // The smallest pivot of the new column: its component orthogonal to the kept ones.
    bool independent = true;
    {
      std::vector<double> l = a;
      for (size_t c = 0; c < k && independent; ++c) {
        double d = l[c * k + c];
        for (size_t t = 0; t < c; ++t) d -= l[c * k + t] * l[c * k + t];
        if (d < 1e-10) {
          independent = false;
          break;
        }
        l[c * k + c] = std::sqrt(d);
        for (size_t i = c + 1; i < k; ++i) {
          double s = l[i * k + c];
          for (size_t t = 0; t < c; ++t) s -= l[i * k + t] * l[c * k + t];
          l[i * k + c] = s / l[c * k + c];
        }
      }
    }
    if (independent) kept.push_back(j);
  }
  for (size_t j : kept) res.identifiable[j] = true;
  if (kept.empty() || m <= n) return;
  const double s2 = res.cost / static_cast<double>(m - n);
  std::vector<double> a, g;
  normal_equations(jac, std::vector<double>(m, 0.0), kept, a, g);
  const size_t k = kept.size();
  for (size_t p = 0; p < k; ++p) {
    std::vector<double> e(k, 0.0);
    e[p] = 1.0;
    const auto col = solve_spd(a, e, k);  // column p of (J^T J)^-1
    if (!col) return;
    const double var_u = s2 * (*col)[p];
    const size_t j = kept[p];
    const double se_u = std::sqrt(std::max(var_u, 0.0));
    res.std_errors[j] = pb.param(j).log_scale ? res.values[j] * se_u : se_u;
  }
}

}  // namespace

Result least_squares(const std::vector<Parameter>& params, const ResidualFn& fn, const Options& options) {
  const Problem pb(params, fn);
  const size_t n = pb.n();
  std::vector<double> u(n);
  for (size_t i = 0; i < n; ++i) u[i] = Problem::internal(params[i], params[i].initial);
  std::vector<double> r = pb.residuals(u);
  const size_t m = r.size();
  if (m < n) throw FitError(fmt::format("{} data cannot determine {} parameters", m, n));
  for (size_t i = 0; i < m; ++i) {
    if (!std::isfinite(r[i])) throw FitError(fmt::format("datum {}: the residual at the start is {}", i, r[i]));
  }

  Result res;
  double cost = sum_squares(r);
  double lambda = 1e-3;
  std::vector<double> jac;
  for (res.iterations = 0; res.iterations < options.max_iterations && !res.converged; ++res.iterations) {
    if (cost <= 1e-300) {
      res.converged = true;
      break;
    }
    jac = pb.jacobian(u, r, options.fd_step);
    std::vector<size_t> all(n);
    for (size_t j = 0; j < n; ++j) all[j] = j;
    std::vector<double> a, g;
    normal_equations(jac, r, all, a, g);
    // Parameters held at a bound the gradient pushes them past stay there this iteration.
    std::vector<size_t> free;
    for (size_t j = 0; j < n; ++j) {
      const bool low = u[j] <= pb.lo(j) && g[j] > 0, high = u[j] >= pb.hi(j) && g[j] < 0;
      if (!low && !high) free.push_back(j);
    }
    if (free.empty()) {
      res.converged = true;
      break;
    }
    normal_equations(jac, r, free, a, g);
    const size_t k = free.size();
    bool accepted = false;
    while (lambda < 1e16) {
      std::vector<double> b = a;
      for (size_t p = 0; p < k; ++p) b[p * k + p] += lambda * std::max(a[p * k + p], 1e-300);
      std::vector<double> minus_g(k);
      for (size_t p = 0; p < k; ++p) minus_g[p] = -g[p];
      const auto delta = solve_spd(b, minus_g, k);
      if (!delta) {
        lambda *= 10;
        continue;
      }
      std::vector<double> trial = u;
      for (size_t p = 0; p < k; ++p) trial[free[p]] += (*delta)[p];
      trial = pb.clamp(trial);
      double step = 0;
      for (size_t j = 0; j < n; ++j) step = std::max(step, std::abs(trial[j] - u[j]));
      const std::vector<double> rt = pb.residuals(trial);
      const double ct = all_finite(rt) ? sum_squares(rt) : std::numeric_limits<double>::infinity();
      if (ct < cost) {
        const double gain = (cost - ct) / cost;
        u = trial;
        r = rt;
        cost = ct;
        lambda = std::max(lambda / 3, 1e-12);
        accepted = true;
        if (gain < options.tolerance || step < options.step_tolerance) res.converged = true;
        break;
      }
      if (step < options.step_tolerance) break;  // the step vanished without a decrease: a minimum
      lambda *= 4;
    }
    if (!accepted) {
      res.converged = true;  // no step lowers the cost: a (local) minimum to the working precision
      break;
    }
  }

  res.values = pb.values(u);
  res.residuals = r;
  res.cost = cost;
  res.at_bound.assign(n, false);
  for (size_t j = 0; j < n; ++j) {
    const double span = std::max(std::abs(params[j].upper), std::abs(params[j].lower));
    res.at_bound[j] = std::abs(res.values[j] - params[j].lower) <= 1e-9 * span ||
                      std::abs(res.values[j] - params[j].upper) <= 1e-9 * span;
  }
  uncertainty(pb, pb.jacobian(u, r, options.fd_step), m, res);
  return res;
}

double mape(const std::vector<double>& measured, const std::vector<double>& predicted) {
  double s = 0;
  for (size_t i = 0; i < measured.size(); ++i) s += std::abs(predicted[i] - measured[i]) / std::abs(measured[i]);
  return measured.empty() ? 0.0 : s / static_cast<double>(measured.size());
}

CrossValidation cross_validate(const std::vector<double>& measured, const SubsetFit& fit_subset, const Predict& predict,
                               size_t folds) {
  const size_t n = measured.size();
  if (n < 2) throw FitError(fmt::format("cross-validation needs at least 2 data, found {}", n));
  for (size_t i = 0; i < n; ++i) {
    if (!(measured[i] != 0) || !std::isfinite(measured[i])) {
      throw FitError(fmt::format("datum {}: measured value {} has no relative error", i, measured[i]));
    }
  }
  CrossValidation cv;
  cv.measured = measured;
  cv.predicted.assign(n, kNaN);
  cv.folds = folds == 0 || folds >= n ? n : folds;
  for (size_t f = 0; f < cv.folds; ++f) {
    std::vector<size_t> train;
    for (size_t i = 0; i < n; ++i)
      if (i % cv.folds != f) train.push_back(i);
    const std::vector<double> values = fit_subset(train);
    for (size_t i = f; i < n; i += cv.folds) cv.predicted[i] = predict(values, i);
  }
  cv.mape = mape(cv.measured, cv.predicted);
  for (size_t i = 0; i < n; ++i) {
    cv.max_ape = std::max(cv.max_ape, std::abs(cv.predicted[i] - measured[i]) / std::abs(measured[i]));
  }
  return cv;
}

}  // namespace v3sim::fit
