// Least-squares fitting of a few physical constants to measurements, and cross-validation of such a fit: the
// numerical core of `v3sim calibrate` (DESIGN.md). Nothing here knows what the constants mean: a caller gives
// the parameters (name, start, bounds), a function from their values to one residual per datum (typically the
// relative error of the model's prediction), and for cross-validation how to fit a subset and predict a datum.
//
// The solver is Levenberg-Marquardt with a forward-difference Jacobian and Marquardt's diagonal scaling,
// projected onto the bounds. A parameter with `log_scale` is searched in log space (rates, bandwidths,
// latencies: positive, spanning decades). After the fit, the Gauss-Newton covariance s^2 (J^T J)^-1 gives each
// parameter's standard error; a parameter the data cannot move (its Jacobian column zero or a combination of the
// others') is reported as not identifiable, with no standard error.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace v3sim::fit {

// Bad input to a fit: no parameters, a start outside the bounds, fewer data than parameters, a residual that is
// not finite at the start or whose count changes. The message names the parameter or the datum.
struct FitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Parameter {
  std::string name;
  double initial = 1.0;
  double lower = 0.0, upper = 0.0;  // bounds, lower < upper; with log_scale, lower > 0
  bool log_scale = true;            // search log(value) (a positive rate or time); false: the value itself
};

struct Options {
  int max_iterations = 200;
  double tolerance = 1e-12;       // stop when an accepted step lowers the cost by less than this fraction
  double step_tolerance = 1e-12;  // ... or moves every (internal) coordinate by less than this
  double fd_step = 1e-7;          // forward-difference step, relative to max(1, |internal coordinate|)
};

struct Result {
  std::vector<double> values;     // one per parameter, in order
  std::vector<double> residuals;  // at `values`
  double cost = 0;                // sum of squared residuals
  int iterations = 0;
  bool converged = false;  // stopped by a tolerance, not by max_iterations
  // One per parameter. identifiable[i] false: the data do not determine parameter i (its std_error is NaN).
  // std_error: sqrt of the covariance diagonal with s^2 = cost / (data - parameters); NaN when there are no
  // more data than parameters. For a log-scale parameter it is value * (standard error of log value).
  std::vector<bool> identifiable;
  std::vector<double> std_errors;
  // Each parameter's value is at (within 1e-9 relative of) one of its bounds.
  std::vector<bool> at_bound;
};

// residuals(values) -> one residual per datum; the count must not change between calls.
using ResidualFn = std::function<std::vector<double>(const std::vector<double>& values)>;

// Minimizes the sum of squared residuals over the parameters within their bounds. @throws FitError on bad input
// (see FitError); never throws for a fit that merely fails to converge (Result::converged is false).
Result least_squares(const std::vector<Parameter>& params, const ResidualFn& residuals, const Options& options = {});

// Out-of-sample predictions of every datum: the data are split into `folds` groups (datum i in group i % folds;
// folds == 0 or >= n: leave-one-out), each group predicted by a fit on all the others.
struct CrossValidation {
  std::vector<double> measured;
  std::vector<double> predicted;  // out of sample, one per datum
  size_t folds = 0;               // the number of fits made
  double mape = 0;                // mean |predicted - measured| / |measured|, as a fraction
  double max_ape = 0;             // the largest of those
};

// fit_subset(train) -> fitted values from the data listed in `train` (indices into measured);
// predict(values, i) -> the model's prediction of datum i with those values.
using SubsetFit = std::function<std::vector<double>(const std::vector<size_t>& train)>;
using Predict = std::function<double(const std::vector<double>& values, size_t datum)>;

// @throws FitError when fewer than two data, or a measured value is zero (no relative error).
CrossValidation cross_validate(const std::vector<double>& measured, const SubsetFit& fit_subset, const Predict& predict,
                               size_t folds = 0);

// mean |predicted[i] - measured[i]| / |measured[i]|, as a fraction. @pre same sizes, no zero measured value
double mape(const std::vector<double>& measured, const std::vector<double>& predicted);

}  // namespace v3sim::fit
