// Device query of a build without CUDA.
#include "kernels/device.h"

namespace v3sim::kernels {

bool cuda_kernels_built() {
  return false;
}

DeviceInfo query_device(int /*index*/) {
  DeviceInfo info;
  info.reason = "this v3sim was built without CUDA (nvcc not found; see V3SIM_CUDA)";
  return info;
}

}  // namespace v3sim::kernels
