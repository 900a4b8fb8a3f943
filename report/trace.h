// Chrome / Perfetto trace files (JSON "traceEvents"): one process per GPU and timeline, one thread per stream, one
// complete ("X") event per op, named as the op with its kind, layer, pass, micro-batch and category (report/
// compare.h) in args. Several timelines (measured and projected) go into one file side by side, each with its own
// block of process ids (timeline t, GPU g: pid 1000 t + g), named "<source> GPU <g>".
//
// Perfetto keeps only slices that nest on a thread (a slice that starts inside another and ends after it is
// dropped), so events of one stream that overlap without nesting (concurrent kernels on a stream, spinning
// communication kernels) go on extra threads of that stream ("compute (2)", tid 1000 lane + stream): each event
// takes the first lane where it nests in or follows what is open. Times are written in microseconds on a whole
// nanosecond (rounded monotonically, so the nesting survives Perfetto's own rounding to nanoseconds).
// Written to a temporary name and renamed; a name ending in .json.gz is written gzip-compressed.
#pragma once

#include <string>
#include <vector>

#include "models/timeline.h"
#include "sim/net/alltoall.h"

namespace v3sim::report {

// Throws ConfigError when the file cannot be written or the name does not end in .json or .json.gz.
// `memory`, when given, becomes a counter track ("memory GiB") in the process of GPU `memory_device` of the first
// timeline: (seconds from the timeline's origin, bytes) pairs.
struct MemoryCounter {
  int device = 0;
  const std::vector<std::pair<double, double>>* samples = nullptr;
  double origin_s = 0;  // where the samples' time 0 lies on the timelines
};
void write_chrome_trace(const std::string& path, const std::vector<const Timeline*>& timelines,
                        const std::vector<std::string>& stream_names = {"compute", "communication"},
                        MemoryCounter memory = {});

// A network simulation's links as a Chrome/Perfetto trace (`v3sim alltoall -o`): one process per GPU and one for
// the switches, one thread per link, one slice per busy interval, named by the link's class. `metadata_json` (a JSON
// object: tool, problem, configs) goes into the file's "metadata". Same file names and guarantees as above.
void write_link_trace(const std::string& path, const std::vector<net::TracedLink>& links,
                      const std::string& metadata_json);

// The trace as a JSON string (for tests and other writers).
std::string chrome_trace_json(const std::vector<const Timeline*>& timelines,
                              const std::vector<std::string>& stream_names = {"compute", "communication"},
                              MemoryCounter memory = {});

// What is wrong with a Chrome trace's complete events, one line each (empty: nothing): a text that is not JSON or has
// no traceEvents list, an "X" event without a numeric ts and a dur >= 0, or two events of one (pid, tid) that
// overlap without nesting ("pid 0 tid 1: 'a' [10, 30) and 'b' [20, 40) overlap without nesting"). Times are
// compared in whole nanoseconds, as Perfetto does.
std::vector<std::string> check_chrome_trace(const std::string& json);

}  // namespace v3sim::report
