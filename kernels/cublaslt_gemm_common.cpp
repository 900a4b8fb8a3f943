// Problem checks of the cuBLASLt baseline, shared by the CUDA and the no-CUDA builds.
#include <stdexcept>

#include "kernels/cublaslt_gemm.h"

namespace v3sim::kernels {

const char* to_string(CublasLtScaling s) {
  switch (s) {
    case CublasLtScaling::Block:
      return "1x128/128x128 block (VEC128_32F x BLK128x128_32F)";
    case CublasLtScaling::PerTensor:
      return "per-tensor (SCALAR_32F)";
  }
  return "?";
}

void validate_cublaslt_problem(const Fp8GemmProblem& p) {
  p.validate();
  if (p.layout != Fp8GemmLayout::Dense)
    throw std::invalid_argument("cublaslt fp8 gemm: the baseline runs the dense layout only (" + p.describe() + ")");
  if (p.m % 16 != 0 || p.n % 16 != 0)
    throw std::invalid_argument("cublaslt fp8 gemm: M and N must be multiples of 16 (cuBLASLt's FP8 alignment) (" +
                                p.describe() + ")");
}

}  // namespace v3sim::kernels
