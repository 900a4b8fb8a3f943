// `v3sim calibrate`: fits physical constants of a hardware or cluster config to measurements, with out-of-sample
// error, and writes a config that `extends:` the base with each fitted value citing its data and residual.
//
// A calibration spec (configs/calibration/*.yaml) declares the data and which constants each dataset may inform:
//   name: h800-gemm
//   hardware: h800                  # the base config: `hardware:` (configs/hardware) or `cluster:` (configs/clusters)
//   folds: 0                        # cross-validation: 0 leave-one-out, else k-fold
//   data:
//     - {name: deepgemm_dense, trace: ../../traces/published/deepgemm-h800.h5, source: "..."}
//     - {name: deepep_normal, table: deepep_h800.normal_v1_2025_04_22, reference: ../../tests/data/reference/...}
//     - {name: micro, suite: micro}    # measured on the user's GPU (`measure --suite micro`), given with --data
//   constants:
//     - {key: clocks.sustained, unit: GHz, range: [1.0, 1.83], data: deepgemm_dense}
// Each datum has one role: a dataset that informs a constant is fitted on (its figures are fit residuals, and
// cross-validated), a dataset that informs none is predicted (validation). A constant is fitted on one dataset.
// Two kinds of dataset: a measured trace (`trace:`, kernel times in seconds; a hardware base), whose ops are projected
// op by op as `v3sim compare` does (report::project_kernel_trace); and DeepEP's normal-kernel table (`table:` in a
// reference YAML, bandwidths in GB/s; a cluster base), projected as the validation table does
// (report::project_deepep_figure).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/fit.h"

namespace v3sim::study {

struct CalibrationSpec {
  struct Dataset {
    std::string name;
    std::string trace;      // a measured trace (.h5), the path resolved against the spec's folder; or
    std::string suite;      // (with or without a trace) the `v3sim measure --suite` that measures it on a GPU
    std::string table;      // a DeepEP normal table: its dotted key in
    std::string reference;  // this reference YAML (resolved against the spec's folder)
    std::string source;     // where its figures come from
  };
  enum class Base { Hardware, Cluster };
  struct Constant {
    std::string key;   // a hardware config key ("clocks.sustained")
    std::string unit;  // the unit the value is written in ("GHz", "us", "" for a plain number)
    double lower = 0, upper = 0;
    bool log_scale = true;
    double resolution = 0;  // the config takes multiples of this (an integer key: 1); 0: any value
    std::string data;       // the dataset it is fitted on
  };
  std::string name, file;
  Base base_kind = Base::Hardware;
  std::string base;  // the base config as written (a name or a path); the caller resolves it
  size_t folds = 0;
  std::vector<Dataset> data;
  std::vector<Constant> constants;
};

// @throws ConfigError naming the file, line and key: unknown keys, a missing or malformed entry, a range with
// lower >= upper, a constant on an unknown dataset or on two, a key given twice
CalibrationSpec parse_calibration(const ConfigNode& root, const std::string& file);

struct CalibratedDatum {
  std::string dataset, op, unit;  // unit: "s" (a kernel time) or "GB/s" (a DeepEP bandwidth)
  double measured = 0, base = 0, fitted = 0;
  double cv = 0;  // out of sample: cross-validated for a fitted dataset, the projection with the fit for a predicted
  bool fitted_on = false;
};

struct CalibratedConstant {
  std::string key, unit, dataset;
  std::string fitted_text;  // as the config takes it ("1.413740GHz")
  double base = 0, fitted = 0, std_error = 0;
  bool identifiable = true, at_bound = false;
};

struct CalibrationResult {
  std::vector<CalibratedConstant> constants;
  std::vector<CalibratedDatum> data;
  bool converged = true;
  int evaluations = 0;  // projections of a dataset with trial constants, over all fits
  // Per dataset: MAPE with the base constants, in-sample (fit residual) and out-of-sample (cross-validated; for a
  // predicted dataset, the prediction error with the fitted constants).
  struct Score {
    std::string dataset;
    bool fitted_on = false;
    size_t ops = 0;
    double base_mape = 0, fit_mape = 0, cv_mape = 0, cv_max = 0;
  };
  std::vector<Score> scores;
  std::string config_yaml;  // extends: the base, each fitted value with its data and residuals
};

// The calibrated config: `extends: EXTENDS` (the base, as the output file will find it) and each fitted constant
// as {value, assumption} naming its dataset, standard error and the MAPE before, in sample and cross-validated.
std::string calibrated_config_yaml(const CalibrationSpec& spec, const CalibrationResult& r, const std::string& extends);

// Runs the fits. `base_file` is the resolved base config (hardware or cluster, as the spec says). progress(what) is
// called before each fit. Each fold of the cross-validation starts from the fit on all data (a warm start: the
// folds converge in a few steps), and projections are memoized by the constants' values.
// @throws ConfigError (a constant's key missing from the base, written in another unit, a trace that is not
// measured or has no op v3sim models), fit::FitError (a fit that cannot start)
CalibrationResult calibrate(const CalibrationSpec& spec, const std::string& base_file,
                            const std::function<void(const std::string&)>& progress = {});

// The result as JSON (format v3sim-calibration-1): the spec, the base, each constant, each dataset's scores and
// each datum (measured, base, fitted, cross-validated). `v3sim calibrate --json` prints it, and `--record FILE`
// writes it with provenance; the study's validation table reads a record's cross-validated figures.
std::string calibration_json(const CalibrationSpec& spec, const CalibrationResult& r, const std::string& base_file,
                             const std::map<std::string, std::string>& provenance = {});

}  // namespace v3sim::study
