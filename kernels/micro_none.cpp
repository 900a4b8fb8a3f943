// The microbenchmarks of a build without CUDA: validate, then report that nothing can run.
#include "kernels/micro.h"

namespace v3sim::kernels {

std::unique_ptr<DeviceOp> make_micro_op(const MicroProblem& p) {
  p.validate();
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
