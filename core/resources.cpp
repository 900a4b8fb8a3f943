#include "core/resources.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace v3sim {

int64_t machine_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  int64_t bytes = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{1} << 34;
  // cgroup v2 (containers, CI runners): "max" or a number of bytes.
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string limit;
  if (in >> limit && !limit.empty() && limit != "max") {
    try {
      bytes = std::min<int64_t>(bytes, std::stoll(limit));
    } catch (const std::exception&) {
      // An unreadable limit: keep the physical memory.
    }
  }
  return bytes;
}

std::string human_bytes(double bytes) {
  if (bytes >= 0x1p30) return fmt::format("{:.1f} GiB", bytes / 0x1p30);
  if (bytes >= 0x1p20) return fmt::format("{:.1f} MiB", bytes / 0x1p20);
  return fmt::format("{:.0f} KiB", bytes / 0x1p10);
}

std::string human_seconds(double seconds) {
  if (seconds >= 86400 * 365) return fmt::format("{:.1e} years", seconds / (86400 * 365));
  if (seconds >= 86400) return fmt::format("{:.1f} days", seconds / 86400);
  if (seconds >= 3600) return fmt::format("{:.1f} h", seconds / 3600);
  if (seconds >= 60) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.1f} s", seconds);
}

void check_work(const SourceLoc& loc, const std::string& key, const std::string& problem, const WorkEstimate& e) {
  const double memory = static_cast<double>(machine_memory_bytes()) / 2;
  // NaN or infinite estimates (sizes far out of range) fail both comparisons' negation.
  if (!(e.bytes <= memory)) {
    throw ConfigError(
        loc, key,
        fmt::format("a problem whose simulation fits in half of this machine's memory ({})", human_bytes(memory)),
        fmt::format("{} needing about {}", problem, human_bytes(e.bytes)));
  }
  if (!(e.seconds() <= kMaxWorkSeconds)) {
    throw ConfigError(
        loc, key,
        fmt::format("a problem this machine simulates within {} (about {:.0e} {} at {:.1e} per second)",
                    human_seconds(kMaxWorkSeconds), kMaxWorkSeconds * e.steps_per_second, e.step_name,
                    e.steps_per_second),
        fmt::format("{} needing about {:.1e} {} ({})", problem, e.steps, e.step_name, human_seconds(e.seconds())));
  }
}

}  // namespace v3sim
