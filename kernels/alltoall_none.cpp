// The all-to-all of a build without MPI or NCCL: validates, then reports why nothing can run.
#include "kernels/alltoall.h"

namespace v3sim::kernels {

namespace {
constexpr const char* kWhy = "built without MPI/NCCL (needs find_package(MPI) and nccl.h next to the CUDA toolkit)";
}

std::string alltoall_unavailable_reason() {
  return kWhy;
}

int alltoall_world_size() {
  throw DeviceUnavailable(kWhy);
}

int alltoall_rank() {
  throw DeviceUnavailable(kWhy);
}

AllToAllMeasurement measure_alltoall(const AllToAllProblem& p, const RunnerOptions& options, bool /*verify*/) {
  options.validate();
  p.validate(static_cast<int>(p.send_tokens.size()));
  throw DeviceUnavailable(kWhy);
}

}  // namespace v3sim::kernels
