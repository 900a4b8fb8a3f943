// cuBLASLt and cuBLAS entry points, loaded at run time (kernels/dynlib.h says why and where from). The headers
// give the types and prototypes; nothing links against the libraries. Include only from .cu files.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

#include <string>

#include "kernels/cuda_common.h"

namespace v3sim::kernels {

struct CublasLtApi {
  std::string path;  // the library file loaded
  size_t version = 0;
  decltype(&::cublasLtGetVersion) get_version = nullptr;
  decltype(&::cublasLtCreate) create = nullptr;
  decltype(&::cublasLtDestroy) destroy = nullptr;
  decltype(&::cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&::cublasLtMatmulDescDestroy) desc_destroy = nullptr;
  decltype(&::cublasLtMatmulDescSetAttribute) desc_set = nullptr;
  decltype(&::cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&::cublasLtMatrixLayoutDestroy) layout_destroy = nullptr;
  decltype(&::cublasLtMatmulPreferenceCreate) pref_create = nullptr;
  decltype(&::cublasLtMatmulPreferenceDestroy) pref_destroy = nullptr;
  decltype(&::cublasLtMatmulPreferenceSetAttribute) pref_set = nullptr;
  decltype(&::cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&::cublasLtMatmul) matmul = nullptr;
};

struct CublasApi {
  std::string path;
  decltype(&::cublasCreate_v2) create = nullptr;
  decltype(&::cublasDestroy_v2) destroy = nullptr;
  cublasStatus_t (*gemm_strided_batched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                         const void*, const void*, cudaDataType, int, long long int, const void*,
                                         cudaDataType, int, long long int, const void*, void*, cudaDataType, int,
                                         long long int, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// Loaded on first use. @throws DeviceUnavailable naming the library and every place searched, or the missing symbol
const CublasLtApi& cublaslt_api();
const CublasApi& cublas_api();

const char* cublas_status_name(cublasStatus_t status);

// Evaluates a cuBLAS / cuBLASLt call; on failure throws CudaError naming the call, the status and file:line.
#define V3SIM_CUBLAS_CHECK(expr)                                                                              \
  do {                                                                                                        \
    const cublasStatus_t v3sim_st_ = (expr);                                                                  \
    if (v3sim_st_ != CUBLAS_STATUS_SUCCESS)                                                                   \
      ::v3sim::kernels::throw_library_error(::v3sim::kernels::cublas_status_name(v3sim_st_), #expr, __FILE__, \
                                            __LINE__);                                                        \
  } while (0)

}  // namespace v3sim::kernels
