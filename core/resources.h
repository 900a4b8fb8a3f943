// What this machine can hold. Commands estimate the memory and the work a problem needs before they start, and
// refuse (ConfigError, exit 2) what would not fit, instead of running out of memory or running for days.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace v3sim {

// The longest run a command starts: a sane but long simulation (up to this estimate) runs and shows its progress.
inline constexpr double kMaxWorkSeconds = 3600;

// Memory this process may use: the machine's physical memory, or its cgroup's limit when lower.
int64_t machine_memory_bytes();

// What a run needs: its memory, and its work in units whose single-core speed was measured (events of the
// discrete-event engine, products of the numerics emulator).
struct WorkEstimate {
  double bytes = 0;
  double steps = 0;
  double steps_per_second = 1;
  const char* step_name = "steps";

  double seconds() const { return steps / steps_per_second; }
};

// Throws ConfigError(loc, key, ...) naming `problem` when the estimate needs more than half of
// machine_memory_bytes() or more than kMaxWorkSeconds.
void check_work(const SourceLoc& loc, const std::string& key, const std::string& problem, const WorkEstimate& e);

// "12.3 GiB", "45 s", "2.1 h": sizes and durations in messages.
std::string human_bytes(double bytes);
std::string human_seconds(double seconds);

}  // namespace v3sim
