// A measurable device operation: one kernel (or a short fixed sequence of kernels) with its inputs already on
// the GPU, ready to be launched again and again by the runner (kernels/runner.h). Every kernel family of this
// folder has a factory `make_<family>_op(problem)` that allocates and fills the inputs (seeded random data of the
// distribution its benchmark uses) and returns a DeviceOp; the factories validate the problem first.
//
// Host interface: no CUDA types; builds with and without CUDA.
//
// Errors, as the CLI maps them:
//   std::invalid_argument  a shape the kernel cannot run (the message names the constraint)      -> exit 2
//   DeviceUnavailable      no usable GPU, or a build without CUDA (the message says why)          -> exit 2,
//                          "error: no CUDA device: <what()>"
//   CudaError              a CUDA / library call failed (the call's text and file:line)           -> exit 1
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace v3sim::kernels {

// No device to run on (or this build has no CUDA). what() is the reason only, without a prefix.
struct DeviceUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failed CUDA runtime, driver or library call: what() holds the call's text, the error and file:line.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The work of one launch, as the op's benchmark counts it (benchmarks.md): FLOPs (0 for data movement) and the
// bytes the metric divides by (for GEMMs DeepGEMM's `M*K + N*K + 2*M*N`, scales ignored).
struct LaunchWork {
  double flops = 0;
  double bytes = 0;
};

// Named string attributes of an op: kernel configuration, scaling mode used, library versions.
using Attributes = std::vector<std::pair<std::string, std::string>>;

class DeviceOp {
 public:
  virtual ~DeviceOp() = default;
  DeviceOp() = default;
  DeviceOp(const DeviceOp&) = delete;
  DeviceOp& operator=(const DeviceOp&) = delete;

  // The kernel family: "fp8-gemm", "cublaslt-fp8-gemm", "quant-1x128", "quant-128x128", "transpose-requant",
  // "moe-permute", "moe-unpermute", "mla-decode".
  virtual std::string name() const = 0;
  // The problem in one line: "M=4096 N=7168 K=16384 dense".
  virtual std::string shape() const = 0;
  virtual LaunchWork cost() const = 0;
  virtual Attributes attributes() const { return {}; }
  // Enqueues one execution on the legacy default stream. No host synchronization, no allocation: the runner
  // brackets it with CUDA events. @throws CudaError when a launch fails
  virtual void enqueue() = 0;
  // After the timed launches: empty when the op's outputs match its CPU reference, else what differs. Ops whose
  // correctness the tests check on their own (tests/kernels) say nothing here.  @throws CudaError
  virtual std::string verify() { return {}; }
};

// Empty when device 0 can run this folder's sm_90a kernels (a CUDA build, a compute capability 9.x GPU);
// otherwise why not ("built without CUDA", "no CUDA device: ...", "<name> has compute capability 8.0 ...").
// Never throws.
std::string hopper_unavailable_reason();

// Throws DeviceUnavailable(hopper_unavailable_reason()) unless it is empty.
void require_hopper();

}  // namespace v3sim::kernels
