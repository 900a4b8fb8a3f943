// Measured against projected, op by op: each measured op is paired with the projected op of the same name (and
// occurrence), and their durations compared.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/timeline.h"

namespace v3sim {

struct OpComparison {
  std::string name;
  std::string kind;
  Time measured;
  std::optional<Time> projected;  // absent when the projection has no such op
  double error = 0;               // (projected - measured) / measured
};

struct Comparison {
  std::vector<OpComparison> ops;
  double mape = 0;        // mean |error| over the paired ops
  double worst = 0;       // largest |error|
  int64_t unmatched = 0;  // measured ops without a projection
};

Comparison compare_timelines(const Timeline& measured, const Timeline& projected);

}  // namespace v3sim
