// v3sim's HDF5 result file (DESIGN.md "Outputs"), readable with h5py or h5dump without knowing v3sim:
//   /meta       attributes: format, tool version, git revision, command line, resolved config (YAML), seed, time
//   /timeline   one compound row per op: op, name, kind, device, stream, start_ps, end_ps, duration_ps, flops, bytes,
//               kernel, layer, pass, micro_batch, annotation, stream_id, grid[3], block[3] (the columns from kernel
//               on are absent from files written before them and read as their defaults); attributes
//               `stream_names` (the name of each stream code, by index) and `<column>.unit`
//   /summary    attributes: named scalars (tflops, step_time_s, ...)
//   /stats      attributes: component counters
// Written to a temporary name and renamed, so a crash never leaves a half-written file under the real name.
// The only file of v3sim that includes HDF5 is h5_file.cpp.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/timeline.h"

namespace v3sim::report {

inline constexpr const char* kResultFormat = "v3sim-result-1";

struct ResultFile {
  std::map<std::string, std::string> meta;
  Timeline timeline;
  std::vector<std::pair<std::string, double>> summary;
  std::vector<std::pair<std::string, double>> stats;
  // Memory in use over time on one GPU (seconds from the step's start, bytes): /memory, an n x 2 dataset; empty when
  // the file has none.
  std::vector<std::pair<double, double>> memory;

  // A summary value by name; nullptr when absent.
  const double* summary_value(const std::string& name) const;
};

// Throws ConfigError when the file cannot be written (the message names it).
void write_result_h5(const std::string& path, const ResultFile& file);
// Throws ConfigError for a missing file, a file that is not HDF5, or an HDF5 file that is not a v3sim result
// (another tool's, or one missing a required field), naming the file and what is missing.
ResultFile read_result_h5(const std::string& path);

// The meta attributes every output carries: format, tool version, git revision, creation time (UTC).
std::map<std::string, std::string> standard_meta();

}  // namespace v3sim::report
