// The NCCL all-to-all (kernels/alltoall.h) on every rank of MPI_COMM_WORLD: each rank sends a different number of
// token copies to every rank (itself included), the payload is checked byte for byte on arrival, then timed.
// Exit codes: 0 all ranks verified, 1 a failure, 77 (CTest: skipped) without MPI/NCCL in the build or without a GPU.
//
//   ctest -R gpu_alltoall                                   one rank (the GPU sends to itself)
//   mpirun -np 8 build/release/tests/v3sim_tests_alltoall   one rank per GPU of a node
//   mpirun -np 16 -H a:8,b:8 .../v3sim_tests_alltoall        two nodes
#include <cstdio>
#include <exception>

#include "kernels/alltoall.h"

using namespace v3sim::kernels;

int main() {
  const std::string why = alltoall_unavailable_reason();  // checked before MPI is touched
  if (!why.empty()) {
    std::printf("skipped: %s\n", why.c_str());
    return 77;
  }
  try {
    const int world = alltoall_world_size(), rank = alltoall_rank();
    bool ok = true;
    for (const v3sim::AllToAllPhase phase : v3sim::kAllToAllPhases) {
      AllToAllProblem p;
      p.phase = phase;
      p.hidden = 7168;
      for (int d = 0; d < world; ++d) p.send_tokens.push_back(3 + (rank + 2 * d) % 5 + (d == rank ? 0 : 8 * d));
      RunnerOptions o;
      o.warmup = 2;
      o.repeats = 5;
      const AllToAllMeasurement m = measure_alltoall(p, o, /*verify=*/true);
      ok = ok && m.verified;
      if (rank == 0) {
        std::printf("%s [%s] on %d ranks (NCCL %s, %s): verified %s, median %.1f us, busiest rank %.0f B, %.2f GB/s\n",
                    m.measurement.op.c_str(), m.measurement.shape.c_str(), world, m.nccl_version.c_str(),
                    m.measurement.provenance.gpu_name.c_str(), m.verified ? "yes" : "NO", m.measurement.stats.median_us,
                    m.measurement.cost.bytes, m.measurement.gbps);
      }
    }
    return ok ? 0 : 1;
  } catch (const DeviceUnavailable& e) {
    std::printf("skipped: %s\n", e.what());
    return 77;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alltoall test failed: %s\n", e.what());
    return 1;
  }
}
