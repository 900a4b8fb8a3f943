// Run-time loading of the large vendor libraries (cuBLAS, cuBLASLt, NCCL, NVML), so that a binary that never uses
// them starts on a machine that lacks them (libcublasLt alone is over 500 MB: a GPU machine may hold the binaries
// of this project and not the toolkit). Search order for a soname such as "libcublasLt.so.13":
//   1. every directory of $V3SIM_CUDA_LIB_PATH (colon-separated);
//   2. the dynamic loader's own path (LD_LIBRARY_PATH, ldconfig cache);
//   3. /usr/local/cuda/lib64 and /usr/local/cuda/targets/x86_64-linux/lib.
// A library is opened once per process and never closed.
#pragma once

#include <string>

namespace v3sim::kernels {

struct SharedLibrary {
  void* handle = nullptr;  // null when not found
  std::string path;        // where it was found
  std::string error;       // why not, listing every place tried
  bool loaded() const { return handle != nullptr; }
};

// The library for `soname`, opened on first use (thread-safe). Never throws.
const SharedLibrary& shared_library(const std::string& soname);

// The address of `symbol` in `lib`, or null (with `error` set when given).
void* library_symbol(const SharedLibrary& lib, const char* symbol, std::string* error = nullptr);

}  // namespace v3sim::kernels
