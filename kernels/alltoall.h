// The MoE all-to-all over NCCL with DeepEP's volumes (benchmarks.md "DeepEP normal kernels"): one MPI rank per GPU,
// grouped ncclSend/ncclRecv between every pair of ranks (self included), runnable under mpirun across the GPUs of a
// node and across nodes.
//   dispatch: per token copy `hidden` FP8 bytes + one FP32 scale per 128 values (7392 B for hidden 7168);
//   combine:  per token copy `hidden` BF16 values (14336 B).
// Each rank gives its own send counts (token copies to each destination rank); the receive counts follow from an
// MPI_Alltoall of them. Timing: per repeat, MPI_Barrier, then CUDA events around the NCCL group on this rank's
// stream; the repeat's time is the slowest rank's (MPI_Allreduce MAX), so every rank returns the same times.
//
// Collective: every rank of MPI_COMM_WORLD calls measure_alltoall with the same phase, hidden and options.
// MPI is initialized on first use when the caller has not (and finalized at exit); the device is the local rank
// (MPI_COMM_TYPE_SHARED) modulo the visible GPUs. NCCL is loaded at run time (libnccl.so.2, see dynlib.h).
//
// Host interface: no CUDA, MPI or NCCL types. Built into its own library (v3sim_kernels_alltoall, which links MPI)
// when MPI and nccl.h are found; otherwise the functions report "built without MPI/NCCL".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/runner.h"
#include "models/op.h"  // AllToAllPhase

namespace v3sim::kernels {

struct AllToAllProblem {
  AllToAllPhase phase = AllToAllPhase::Dispatch;
  int64_t hidden = 7168;
  std::vector<int64_t> send_tokens;  // token copies this rank sends to each rank (one entry per rank)

  // Dispatch: hidden + 4 * hidden / 128; combine: 2 * hidden.
  int64_t bytes_per_token() const;
  // @throws std::invalid_argument naming the constraint: hidden a positive multiple of 128, one non-negative
  // count per rank of a world of `world_size`
  void validate(int world_size) const;
  std::string describe() const;  // "dispatch hidden=7168 send=[512,498,...]"
};

struct AllToAllMeasurement {
  int rank = 0, world_size = 0;
  int device = 0;                    // CUDA device of this rank
  std::vector<int64_t> recv_tokens;  // from each rank
  std::vector<int64_t> send_bytes;   // of every rank (gathered), in rank order
  std::vector<int64_t> recv_bytes;   // of every rank
  std::string nccl_version;          // "2.27.7"
  bool verified = false;             // the payload check ran and every byte arrived where expected (all ranks)
  // op "alltoall-dispatch" / "alltoall-combine"; cost.bytes = the busiest rank's max(send, recv) bytes; times are
  // the slowest rank's per repeat; gbps = cost.bytes / median. options.flush_l2 is ignored (no L2 to flush for
  // network transfers). The provenance is this rank's GPU.
  Measurement measurement;
};

// Empty when this build and machine can run the all-to-all (MPI and NCCL built in, at least one CUDA device);
// otherwise why not. Does not initialize MPI. Never throws.
std::string alltoall_unavailable_reason();

// MPI_COMM_WORLD's size and this process's rank (initializing MPI if needed). @throws DeviceUnavailable when built
// without MPI
int alltoall_world_size();
int alltoall_rank();

// Collective (see above). With `verify`, each rank first sends a known byte pattern and checks what it receives.
// @throws std::invalid_argument, DeviceUnavailable, CudaError (CUDA, NCCL or MPI failure)
AllToAllMeasurement measure_alltoall(const AllToAllProblem& p, const RunnerOptions& options, bool verify = false);

}  // namespace v3sim::kernels
