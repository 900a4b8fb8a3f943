// Pipeline schedules: the order in which one pipeline rank runs its chunks (a micro-batch's forward, backward or
// weight-gradient pass through the rank's stage), as the schedules' reference implementations issue them.
//
//   1F1B      warm-up forwards, then one forward / one full backward, then the remaining backwards
//             (bubble (PP-1)(F+B), B a full backward).
//   ZB1P      1F1B with the backward split (Qi et al., "Zero Bubble Pipeline Parallelism", ZB-H1): rank r keeps
//             its last r weight-gradient passes pending and runs them after later backwards, which shortens the
//             backward chain (bubble (PP-1)(F+B-2W)).
//   DualPipe  DeepSeek-V3 §3.2.1, deepseek-ai/DualPipe: micro-batches enter from both ends; rank r holds stage r
//             (phase 0, forward direction on the first half of the ranks) and stage PP-1-r; the eight phases of
//             DualPipe.step() (nF0, nF0F1, nB1W1F1, nF0B1F1B0, nB1F1B0, nB1B0, nWB0, nW) with forward and backward
//             chunks of the main phase overlapped in pairs (bubble (PP/2-1)(F&B+B-3W)).
//
// The bubbles are the formulas of ../shared/reference/deepseek-v3.yaml cluster.dualpipe; the tests check them
// against the executor for uniform chunks (a forward as long as an input-gradient backward, the case those
// formulas describe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/deployment.h"

namespace v3sim::exec {

enum class ChunkPart : uint8_t {
  Forward,
  Backward,        // input gradients only; the weight gradients follow in a Weight chunk
  BackwardWeight,  // the full backward (input and weight gradients)
  Weight,          // the deferred weight gradients of an earlier Backward chunk
};
const char* to_string(ChunkPart p);

struct Chunk {
  ChunkPart part = ChunkPart::Forward;
  int64_t micro_batch = 0;
};

// One issue slot of a rank: one chunk, or two overlapped ones (DualPipe's forward-backward pairs).
struct ScheduleStep {
  std::vector<Chunk> chunks;
};

// Checks that `schedule` can run `micro_batches` over `pp` ranks; throws ConfigError naming `where` (the
// deployment key) otherwise. DualPipe: PP even, micro-batches even and at least 2 x PP. 1F1B, ZB1P: at least one.
void validate_schedule(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, const std::string& where);

// The chunks rank `rank` runs, in order. Training: every micro-batch's forward and backward (and weight) chunk of
// the rank's stage(s). `forward_only`: forwards in micro-batch order (inference).
std::vector<ScheduleStep> rank_program(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, int64_t rank,
                                       bool forward_only = false);

// The program of a profiled DualPipe chunk pair (Deployment::profile_chunk_layers): micro-batch 1's forward first
// (it only gives the pair's backward its saved activations), then the pair itself: micro-batch 0's forward
// overlapped with micro-batch 1's full backward, as DualPipe's main phase overlaps them; then micro-batch 0's backward
// (which completes the graph; the trace shows it with the next pair).
std::vector<ScheduleStep> chunk_pair_program();
inline constexpr int64_t kChunkPairStep = 1;  // the step of that program a trace of the pair shows

// The stage rank `rank` runs for micro-batch `mb` (DualPipe: the second half of the micro-batches enter at the
// last rank, so they run stage pp-1-rank there). Matches models/graph_builder's placement.
int64_t stage_of(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, int64_t rank, int64_t mb);

// The published bubble of a schedule (per rank, the idle time of the busiest-waiting rank) for chunk times F, B (a
// full backward), W (its weight-gradient part) and FB (an overlapped forward+backward pair).
double bubble_formula(PipelineSchedule schedule, int64_t pp, double F, double B, double W, double FB);

// Micro-batches whose activations a rank holds at most under the schedule (1F1B, ZB1P: PP - rank; DualPipe: the
// peak over its program), computed by walking the program.
int64_t peak_in_flight(const std::vector<ScheduleStep>& program);

}  // namespace v3sim::exec
