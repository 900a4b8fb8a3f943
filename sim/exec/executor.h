// Runs an operator graph on the streams of its pipeline ranks: an event-driven list scheduler.
//
// Each op instance belongs to a pipeline rank (OpNode::pp_rank: one representative GPU of a symmetry class), a
// stream (compute, layer communication, pipeline/DP communication) and a step of its rank's program (pipeline.h):
// the chunk its micro-batch and pass belong to. A stream runs one op at a time. It issues the steps of its rank in
// order (an op of step k+1 waits until every op of step k on that stream has started, as a CUDA stream would), and
// within a step it picks, among the ops whose inputs are ready, the one that became ready first (then the lowest
// op id). So two chunks issued together (DualPipe's forward-backward pairs, the two micro-batches of prefill and
// decode) overlap as far as their dependencies allow: one's attention computes while the other's all-to-all is on
// the communication stream.
//
// Per-step ops (pass Optimizer): the FP8 weight casts run in the first step, the gradient reduction, optimizer and
// parameter all-gather after the last. Inference (`forward_only`) issues all micro-batches in one step.
//
// Idle time of a compute stream is attributed when the op that ends it starts: to exposed communication when it
// waited on a communication op of its own rank (all-to-all, TP or DP collective), to the pipeline bubble otherwise
// (an input from another rank, or its step not issued yet); after a rank's last compute op, the time until its
// last op ends is exposed communication and the rest until the end of the step is bubble.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/units.h"
#include "models/deployment.h"
#include "models/op_graph.h"
#include "sim/exec/op_cost.h"

namespace v3sim::exec {

struct ExecOptions {
  PipelineSchedule schedule = PipelineSchedule::None;
  int64_t pp = 1;
  int64_t micro_batches = 1;
  bool forward_only = false;  // inference: all micro-batches issued together
  bool chunk_pair = false;    // a profiled chunk pair (pp 1, 2 micro-batches): chunk_pair_program()
  // Copies of the pipeline (ranks pp..2pp-1 run the programs of ranks 0..pp-1): the slow GPUs of an imbalanced EP
  // group (build_graph with experts.load_cv).
  int64_t replicas = 1;
  // Every op with a duration starts this long after its stream could run it (hw kernel.launch_gap): the gaps a
  // profiler shows between a stream's kernels. The stream is held through the gap.
  Time launch_gap;
};

struct RankStats {
  std::array<Time, kStreams> busy{};  // sum of op times per stream
  Time bubble;                        // compute-stream idle attributed to the pipeline
  Time exposed_comm;                  // compute-stream idle attributed to the rank's own communication
  Time launch_gaps;                   // compute-stream idle between kernels: ExecOptions::launch_gap each
  Time end;                           // when the rank's last op ends
  int64_t steps = 0;
  int64_t peak_in_flight = 0;  // micro-batches whose activations the rank holds at once (from its program)
};

struct ExecResult {
  Time makespan;
  std::vector<RankStats> ranks;  // by pipeline rank
  std::vector<Time> start, end;  // per op instance
  uint64_t events = 0;
};

// `desc_time` and `desc_stream` are indexed by descriptor. Throws InternalError when the program and the
// dependencies deadlock (which names the rank, stream and step that could not proceed).
ExecResult execute(const OpGraph& graph, const std::vector<Time>& desc_time, const std::vector<Stream>& desc_stream,
                   const ExecOptions& options);

}  // namespace v3sim::exec
