// The microbenchmark suite of `v3sim measure --suite micro`: short kernels, each exercising one physical constant
// of a hardware config, so that `v3sim calibrate micro` fits a new GPU's constants from one run (sim/sm/micro.h
// prices each on the model that the constant belongs to):
//   launch     `kernels` empty kernels (one CTA per SM) enqueued back to back: kernel.launch_overhead (+ launch_gap)
//   hbm_copy   a grid-stride copy of `bytes` (one 16-byte load per thread in flight, as the streaming model credits),
//              timed with a cold L2: hbm.achievable_fraction
//   l2_read    every CTA reads its share of a `bytes` buffer `passes` times with L2-only loads (ld.global.cg), the
//              buffer warm in the L2 (no flush before the timed launch): l2.bytes_per_clk
//   tma_store  `ctas` CTAs store one shared-memory tile of `tile` bytes again and again with bulk TMA stores
//              (cp.async.bulk.global.shared::cta) to consecutive addresses, `bytes` in all: tma.store_bytes_per_clk
// and FP8 GEMMs (cuBLASLt's, a production kernel) at compute-bound shapes: clocks.sustained.
// NVLink and the NIC need more than one GPU: the suite leaves them out (`v3sim alltoall` measures them).
//
// Every op checks its output against a CPU reference after the timed launches (DeviceOp::verify): the copy is the
// input, each CTA's checksum of l2_read is l2_read_reference()'s, every stored tile holds tma_store_word()'s
// pattern, and the launches counted themselves.
//
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/hd.h"
#include "kernels/kernel_op.h"
#include "models/micro.h"

namespace v3sim::kernels {

// The problem (MicroProblem, models/micro.h) is the simulator's too. Its work as the runner counts it: no FLOPs, the
// bytes it moves.
LaunchWork micro_cost(const MicroProblem& p);

// The suite for a GPU of `sms` SMs, two sizes of each (so that a cross-validation fold that leaves one out still
// has the other): 50 and 200 launches, copies of 1 and 2 GiB, 8 and 16 MiB L2-resident reads, 512 MiB of TMA
// stores from 4 and 8 SMs (few enough that the TMA units, not HBM, limit them). The GEMM shapes are
// micro_gemm_shapes().
std::vector<MicroProblem> micro_suite(int64_t sms);
struct GemmShape {
  int64_t m, n, k;
};
std::vector<GemmShape> micro_gemm_shapes();

// CPU references (the two patterns are computed the same way on the device).
// Word i (32-bit) of every source buffer: a counter hash (splitmix64's finalizer, low 32 bits).
V3SIM_HD constexpr uint32_t micro_fill_word(uint64_t i) {
  uint64_t z = i + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>(z ^ (z >> 31));
}
// tma_store: word w of the tile CTA c stores; the CTA that stores tile t is t % ctas.
V3SIM_HD constexpr uint32_t tma_store_word(int64_t cta, int64_t word) {
  return micro_fill_word((static_cast<uint64_t>(cta) << 40) ^ static_cast<uint64_t>(word));
}
// l2_read's per-CTA checksums: CTA c sums (mod 2^32) the words of its share [c * bytes / grid, (c + 1) * ...),
// `passes` times.
std::vector<uint32_t> l2_read_reference(const MicroProblem& p);

// The measured op. @throws ConfigError (the problem), std::invalid_argument (a block past the kernel's launch
// bounds), DeviceUnavailable, CudaError
std::unique_ptr<DeviceOp> make_micro_op(const MicroProblem& p);

}  // namespace v3sim::kernels
