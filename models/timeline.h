// A Timeline is the common currency of the projected (sim/) and the measured (kernels/) halves: per op its id,
// name, kind, device, stream, start, end, FLOPs and bytes. report/ compares two of them op by op.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/units.h"

namespace v3sim {

struct TimelineEvent {
  uint32_t op = 0;     // op id in its graph (or index of the measured kernel)
  std::string name;    // "L3.attn.wq_b", "gemm m4096 n7168 k16384"
  std::string kind;    // "gemm", "all_to_all_dispatch", ...
  int32_t device = 0;  // GPU (or symmetry class of GPUs)
  int32_t stream = 0;  // 0 compute, 1 communication, ...
  Time start;
  Time end;
  double flops = 0;
  double bytes = 0;

  Time duration() const { return end - start; }
};

struct Timeline {
  std::string source;  // "projected" or "measured"
  std::vector<TimelineEvent> events;

  // From the first start to the last end (zero when empty).
  Time span() const {
    if (events.empty()) return Time();
    Time lo = events.front().start, hi = events.front().end;
    for (const auto& e : events) {
      lo = std::min(lo, e.start);
      hi = std::max(hi, e.end);
    }
    return hi - lo;
  }
};

}  // namespace v3sim
