// The microbenchmarks of `v3sim measure --suite micro` (models/micro.h, kernels/micro.h), priced by the same mechanisms
// that price the step's ops, so that a fit of the physical constants to their measured times calibrates those
// mechanisms:
//   launch     N empty kernels back to back on one stream: each starts kernel.launch_gap after the previous one
//              ends (as the step's streams do) and takes kernel.launch_overhead (dispatch and prologue);
//   hbm_copy   a grid-stride copy of a buffer much larger than the L2, on the streaming model (sm/streaming.h):
//              every read misses to HBM, so sustained HBM (hbm.achievable_fraction) limits it;
//   l2_read    a buffer smaller than the L2, read `passes` times by every CTA's share, on the streaming model with
//              the reads resident in the L2 (l2.bytes_per_clk limits it);
//   tma_store  `ctas` CTAs (one per SM) storing a shared-memory tile again and again to consecutive global
//              addresses with bulk TMA stores, on the SM model (sm/sm.h): each SM's TMA unit drains shared memory
//              at tma.store_bytes_per_clk, the L2 and HBM take the writes behind it.
// FP8 GEMM shapes (the tensor cores at clocks.sustained) are priced by sm/gemm.h.
//
// Example: MicroResult r = simulate_micro({.op = MicroOp::TmaStore, .bytes = 1 << 28, .ctas = 8, .tile = 32768}, hw);
#pragma once

#include <cstdint>
#include <string>

#include "core/units.h"
#include "models/micro.h"
#include "sim/hardware.h"

namespace v3sim::sm {

// The hardware's rules on top of the problem's own (MicroProblem::validate): an l2_read buffer within the L2, a
// tma_store on at most the chip's SMs. @throws ConfigError naming "<op>.<field>"
void check_micro(const MicroProblem& p, const HardwareConfig& hw);

struct MicroResult {
  Time time;
  double gbps = 0;    // bytes moved per second (hbm_copy: read + written; l2_read: read; tma_store: stored)
  std::string bound;  // what limits it: "launch", "hbm", "l2", "latency", "tma"
};

MicroResult simulate_micro(const MicroProblem& p, const HardwareConfig& hw);

}  // namespace v3sim::sm
