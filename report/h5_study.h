// A study's results file (results.h5), readable with h5py or h5dump without knowing v3sim. The report script codes
// against exactly this layout:
//   /               attributes (variable-length UTF-8 strings): format = "v3sim-study-1", study, study_yaml,
//                   tool_version, git_revision, created_utc, study_fingerprint, evaluator
//   /points         1-D datasets of length n, in point order: index int64, label, group, phase, value, status
//                   (variable-length UTF-8 strings), value_num float64 (SI base units, NaN when not a number)
//   /metrics        one float64 dataset of length n per metric, NaN where the metric does not apply or the point
//                   failed; string attributes from the evaluator's metric registry (sim/exec/metrics.h): unit,
//                   label, description, and where they apply family (its prefix, "breakdown_s."), sweep (the order
//                   in a phase's sensitivity curves) with sweep_phases ("train,decode"), and traits such as stream
//                   (compute or comm, of a breakdown_s.<op kind>)
//   /tables/<name>  attributes title, source, columns (the column names in order, joined by ","); one dataset per
//                   column (float64 or string) with attribute unit
// Written to a temporary name and renamed. Only report/h5*.cpp include HDF5.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "report/table.h"

namespace v3sim::report {

inline constexpr const char* kStudyFormat = "v3sim-study-1";

struct StudyResults {
  std::map<std::string, std::string> attrs;  // the root attributes
  std::vector<int64_t> index;
  std::vector<std::string> label, group, phase, value, status;
  std::vector<double> value_num;
  std::vector<std::pair<std::string, std::vector<double>>> metrics;        // sorted by name
  std::map<std::string, std::map<std::string, std::string>> metric_attrs;  // by metric: its dataset's attributes
  std::vector<Table> tables;                                               // sorted by name

  size_t size() const { return index.size(); }
  // A metric's column; nullptr when absent.
  const std::vector<double>* metric(const std::string& name) const;
  const Table* table(const std::string& name) const;
};

// Throws ConfigError when the file cannot be written; InternalError when the columns disagree in length.
void write_study_results(const std::string& path, const StudyResults& results);

// Throws ConfigError naming the file for a missing file, a file that is not HDF5 (corrupt), or an HDF5 file that is
// not a v3sim study result (another tool's, or one missing a required field).
StudyResults read_study_results(const std::string& path);

}  // namespace v3sim::report
