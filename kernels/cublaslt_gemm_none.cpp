// The cuBLASLt baseline of a build without CUDA: validates, then reports that nothing can run.
#include "kernels/cublaslt_gemm.h"

namespace v3sim::kernels {

CublasLtGemmResult run_cublaslt_fp8_gemm(const Fp8GemmProblem& p, const Fp8GemmOperands& operands,
                                         CublasLtScaling /*want*/) {
  validate_cublaslt_problem(p);
  check_fp8_gemm_operands(p, operands);
  require_hopper();
  return {};
}

std::unique_ptr<DeviceOp> make_cublaslt_fp8_gemm_op(const Fp8GemmProblem& p, uint64_t /*seed*/,
                                                    CublasLtScaling /*want*/) {
  validate_cublaslt_problem(p);
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
