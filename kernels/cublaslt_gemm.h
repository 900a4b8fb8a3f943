// The vendor baseline: cuBLASLt FP8 GEMM on the same problem as kernels/fp8_gemm.h (dense layout only),
// D[M,N] (BF16) = A[M,K] (E4M3) x B[N,K]^T (E4M3), FP32 compute, timed the same way by the runner.
//
// Scaling: DeepSeek's block scaling where the installed cuBLASLt offers it (cuBLAS >= 12.9 on Hopper:
// CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F for A's 1x128 tiles, BLK128x128_32F for B's blocks); otherwise one FP32
// scale per tensor (SCALAR_32F). The mode used is reported (`scaling`), never silently substituted in a result.
// cuBLASLt is column-major and wants FP8 as "TN": it computes D^T[N,M] = B[N,K] . A^T with op(A_lt) = T, so its
// "A" is our B (the weights) and its "B" our A (the activations).
//
// Host interface: no CUDA types; builds with and without CUDA. cuBLASLt is loaded at run time (dynlib.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/fp8_gemm.h"
#include "kernels/kernel_op.h"

namespace v3sim::kernels {

enum class CublasLtScaling : uint8_t {
  Block,      // A 1x128 (VEC128_32F), B 128x128 (BLK128x128_32F)
  PerTensor,  // one FP32 scale for A and one for B (SCALAR_32F)
};
const char* to_string(CublasLtScaling s);  // "1x128/128x128 block", "per-tensor"

struct CublasLtGemmResult {
  std::vector<uint16_t> d;  // M x N BF16 bits
  CublasLtScaling scaling = CublasLtScaling::Block;
  std::string library;  // "cuBLASLt 130100 (/usr/local/cuda/lib64/libcublasLt.so.13)"
};

// Checks a problem for the baseline. @throws std::invalid_argument (not dense, or the fp8 gemm constraints)
void validate_cublaslt_problem(const Fp8GemmProblem& p);

// Runs cuBLASLt once. `want` = Block falls back to PerTensor when cuBLASLt has no block-scaled algorithm for the
// problem; with PerTensor the operands' scales must be uniform (every A scale equal, every B scale equal), else
// std::invalid_argument. @throws std::invalid_argument, DeviceUnavailable (no GPU, no cuBLASLt), CudaError
CublasLtGemmResult run_cublaslt_fp8_gemm(const Fp8GemmProblem& p, const Fp8GemmOperands& operands,
                                         CublasLtScaling want = CublasLtScaling::Block);

// The measured op (seeded random operands as make_fp8_gemm_op); attributes() reports the scaling used.
std::unique_ptr<DeviceOp> make_cublaslt_fp8_gemm_op(const Fp8GemmProblem& p, uint64_t seed = 1,
                                                    CublasLtScaling want = CublasLtScaling::Block);

}  // namespace v3sim::kernels
