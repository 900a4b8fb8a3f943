// The Hopper availability check of a build without CUDA.
#include "kernels/kernel_op.h"

namespace v3sim::kernels {

std::string hopper_unavailable_reason() {
  return "built without CUDA";
}

void require_hopper() {
  throw DeviceUnavailable(hopper_unavailable_reason());
}

}  // namespace v3sim::kernels
