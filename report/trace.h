// Chrome / Perfetto trace files (JSON "traceEvents"): one process per GPU, one thread per stream, one complete
// ("X") event per op. Several timelines (measured and projected) go into one file side by side, each with its own
// block of process ids. Written to a temporary name and renamed.
#pragma once

#include <string>
#include <vector>

#include "models/timeline.h"

namespace v3sim {

// Throws ConfigError when the file cannot be written or the name does not end in .json.
void write_chrome_trace(const std::string& path, const std::vector<const Timeline*>& timelines,
                        const std::vector<std::string>& stream_names = {"compute", "communication"});

// The trace as a JSON string (for tests and other writers).
std::string chrome_trace_json(const std::vector<const Timeline*>& timelines,
                              const std::vector<std::string>& stream_names = {"compute", "communication"});

}  // namespace v3sim
