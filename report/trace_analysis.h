// What a timeline says per stream, op kind, pass, layer and annotation: the figures `v3sim import` prints and
// `v3sim compare` sets side by side for measured and projected.
//
// Example:
//   TimelineAnalysis a = analyze_timeline(imported.timeline);
//   a.streams[0].busy        // union of the compute stream's kernel intervals
//   a.by_kind.at("gemm").time.microseconds() / a.layers   // GEMM time per layer
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/timeline.h"

namespace v3sim::report {

// Summed durations of a group of events.
struct Total {
  int64_t events = 0;
  Time time;
};

// The gaps between consecutive events of one stream: next start minus the latest end before it (0 when they
// overlap), so that they add up to the stream's idle time. Median and p90 by nearest rank (zero when no gaps).
struct GapStats {
  int64_t count = 0;
  Time total, median, p90;
};

struct StreamStats {
  int32_t device = 0;
  int32_t stream = 0;               // a code of kTimelineStreams
  std::vector<int64_t> stream_ids;  // device streams of a measured trace that play it (none when unknown)
  int64_t events = 0;
  Time time;  // summed durations
  Time busy;  // union of the events' intervals (time when concurrent events on the stream overlap)
  Time span;  // first start to last end
  Time idle;  // span - busy
  GapStats gaps;
};

struct TimelineAnalysis {
  std::vector<StreamStats> streams;  // by device, then stream code
  std::map<std::string, Total> by_kind;
  std::map<std::pair<std::string, std::string>, Total> by_kind_pass;  // (kind, pass); pass "" when none
  std::map<int32_t, Total> by_layer;                                  // -1: events of no layer
  std::map<std::string, Total> by_annotation;                         // "mlp(B)#2"; "" when none
  int64_t layers = 0;                                                 // distinct layers >= 0

  // Milliseconds per layer (the whole time when no event has a layer).
  double per_layer_ms(Time t) const;
};

TimelineAnalysis analyze_timeline(const Timeline& timeline);

// The analysis as one JSON object (times in ms, gap median and p90 in us), for `--json` outputs.
nlohmann::json analysis_json(const TimelineAnalysis& a);

}  // namespace v3sim::report
