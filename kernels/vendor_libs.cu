// Run-time loading of cuBLASLt and cuBLAS (see vendor_libs.h).
#include <mutex>
#include <string>

#include "kernels/dynlib.h"
#include "kernels/vendor_libs.h"

namespace v3sim::kernels {

namespace {

#define V3SIM_STR2(x) #x
#define V3SIM_STR(x) V3SIM_STR2(x)
// The sonames of the toolkit these headers come from ("libcublasLt.so.13").
constexpr const char* kCublasLtSoname = "libcublasLt.so." V3SIM_STR(CUBLAS_VER_MAJOR);
constexpr const char* kCublasSoname = "libcublas.so." V3SIM_STR(CUBLAS_VER_MAJOR);

template <typename Fn>
void bind(const SharedLibrary& lib, const char* name, Fn& out) {
  std::string error;
  void* p = library_symbol(lib, name, &error);
  if (p == nullptr) throw DeviceUnavailable(error);
  out = reinterpret_cast<Fn>(p);
}

}  // namespace

const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "cublasStatus (unknown)";
}

const CublasLtApi& cublaslt_api() {
  static std::mutex mutex;
  static CublasLtApi api;
  static bool ready = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (!ready) {
    const SharedLibrary& lib = shared_library(kCublasLtSoname);
    if (!lib.loaded()) throw DeviceUnavailable(lib.error);
    CublasLtApi a;
    a.path = lib.path;
    bind(lib, "cublasLtGetVersion", a.get_version);
    bind(lib, "cublasLtCreate", a.create);
    bind(lib, "cublasLtDestroy", a.destroy);
    bind(lib, "cublasLtMatmulDescCreate", a.desc_create);
    bind(lib, "cublasLtMatmulDescDestroy", a.desc_destroy);
    bind(lib, "cublasLtMatmulDescSetAttribute", a.desc_set);
    bind(lib, "cublasLtMatrixLayoutCreate", a.layout_create);
    bind(lib, "cublasLtMatrixLayoutDestroy", a.layout_destroy);
    bind(lib, "cublasLtMatmulPreferenceCreate", a.pref_create);
    bind(lib, "cublasLtMatmulPreferenceDestroy", a.pref_destroy);
    bind(lib, "cublasLtMatmulPreferenceSetAttribute", a.pref_set);
    bind(lib, "cublasLtMatmulAlgoGetHeuristic", a.heuristic);
    bind(lib, "cublasLtMatmul", a.matmul);
    a.version = a.get_version();
    api = a;
    ready = true;
  }
  return api;
}

const CublasApi& cublas_api() {
  static std::mutex mutex;
  static CublasApi api;
  static bool ready = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (!ready) {
    const SharedLibrary& lib = shared_library(kCublasSoname);
    if (!lib.loaded()) throw DeviceUnavailable(lib.error);
    CublasApi a;
    a.path = lib.path;
    bind(lib, "cublasCreate_v2", a.create);
    bind(lib, "cublasDestroy_v2", a.destroy);
    bind(lib, "cublasGemmStridedBatchedEx", a.gemm_strided_batched);
    api = a;
    ready = true;
  }
  return api;
}

}  // namespace v3sim::kernels
