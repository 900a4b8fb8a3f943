// Host interface to the local GPU: what is there, or why nothing is. Builds with and without CUDA, so every
// other folder links against it unconditionally; only files of kernels/ include CUDA headers.
#pragma once

#include <cstdint>
#include <string>

namespace v3sim::kernels {

struct DeviceInfo {
  bool available = false;
  std::string reason;  // why no device is usable (when !available)
  std::string name;    // "NVIDIA H200"
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  int64_t memory_bytes = 0;
  int driver_version = 0;   // CUDA driver API version, e.g. 13000
  int runtime_version = 0;  // CUDA runtime the binary was built against
};

// True when this binary was built with the CUDA kernels (V3SIM_CUDA found nvcc).
bool cuda_kernels_built();
// Queries device `index`. Never throws; a missing driver or device is reported in `reason`.
DeviceInfo query_device(int index = 0);

}  // namespace v3sim::kernels
