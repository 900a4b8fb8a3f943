// A Timeline is the common currency of the projected (sim/) and the measured (kernels/, imported traces) halves:
// per op its id, name, kind, device, stream, start, end, FLOPs and bytes, and where it belongs (layer, pass,
// micro-batch) and how it ran (kernel name, grid, block) when known. report/ compares two of them op by op.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/units.h"

namespace v3sim {

// The streams of a timeline by code (TimelineEvent::stream), declared once for every writer and reader:
// 0 compute, 1 communication (MoE all-to-all, TP collectives), 2 pipeline communication, 3 a second compute
// stream (DeepSeek's stack runs weight-gradient GEMMs on one while the first runs the rest).
inline constexpr std::array<const char*, 4> kTimelineStreams = {"compute", "comm", "pipe_comm", "compute2"};

// "compute", "comm", ...; "stream N" for a code outside the table.
inline std::string timeline_stream_name(int32_t code) {
  if (code >= 0 && static_cast<size_t>(code) < kTimelineStreams.size()) return kTimelineStreams[code];
  return "stream " + std::to_string(code);
}

// The streams that run computation (compute and compute2), as against communication.
inline bool is_compute_stream(int32_t code) {
  return code == 0 || code == 3;
}

struct TimelineEvent {
  uint32_t op = 0;     // op id in its graph (or index of the measured kernel)
  std::string name;    // "L3.attn.wq_b", "gemm m4096 n7168 k16384"
  std::string kind;    // "gemm", "all_to_all_dispatch", ...; "other" and "unmapped" for imported kernels
  int32_t device = 0;  // GPU (or symmetry class of GPUs)
  int32_t stream = 0;  // a code of kTimelineStreams
  Time start;
  Time end;
  double flops = 0;
  double bytes = 0;
  std::string kernel;              // full kernel name as the profiler recorded it ("" when none)
  int32_t layer = -1;              // transformer block, -1 for none
  std::string pass;                // "fwd", "dgrad", "wgrad" or ""
  int32_t micro_batch = -1;        // -1 for none
  std::string annotation;          // the profiler annotation that issued it, with its occurrence: "mlp(B)#2"
  int64_t stream_id = -1;          // the device stream as the trace numbers it (-1 when unknown)
  std::array<int32_t, 3> grid{};   // launch grid (0 when unknown)
  std::array<int32_t, 3> block{};  // thread block (0 when unknown)

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
