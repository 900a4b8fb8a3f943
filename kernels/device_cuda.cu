// Device query through the CUDA runtime (built only when nvcc is found).
#include <cuda_runtime.h>

#include <string>

#include "kernels/device.h"

namespace v3sim::kernels {

bool cuda_kernels_built() {
  return true;
}

DeviceInfo query_device(int index) {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return info;
  }
  if (index < 0 || index >= count) {
    info.reason = "device " + std::to_string(index) + " not present (" + std::to_string(count) + " found)";
    return info;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, index);
  if (err != cudaSuccess) {
    info.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return info;
  }
  info.available = true;
  info.name = prop.name;
  info.sm_count = prop.multiProcessorCount;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  return info;
}

}  // namespace v3sim::kernels
