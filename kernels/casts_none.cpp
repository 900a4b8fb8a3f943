// The casts of a build without CUDA: validate, then report that nothing can run.
#include "kernels/casts.h"

namespace v3sim::kernels {

Fp8Tensor run_quantize(const CastProblem& p, const std::vector<uint16_t>& input) {
  check_quantize_input(p, input);
  require_hopper();
  return {};
}

Fp8Tensor run_transpose_requant(const CastProblem& p, const Fp8Tensor& input) {
  check_transpose_input(p, input);
  require_hopper();
  return {};
}

std::unique_ptr<DeviceOp> make_cast_op(const CastProblem& p, uint64_t /*seed*/) {
  p.validate();
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
