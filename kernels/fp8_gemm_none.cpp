// The FP8 GEMM of a build without CUDA: validates, then reports that nothing can run.
#include "kernels/fp8_gemm.h"

namespace v3sim::kernels {

Fp8GemmResult run_fp8_gemm(const Fp8GemmProblem& p, const Fp8GemmOperands& operands) {
  check_fp8_gemm_operands(p, operands);
  require_hopper();
  return {};
}

std::unique_ptr<DeviceOp> make_fp8_gemm_op(const Fp8GemmProblem& p, uint64_t /*seed*/) {
  p.validate();
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
