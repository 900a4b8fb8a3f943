// The wgmma probe of a build without CUDA: validates, then reports why nothing ran.
#include "kernels/wgmma_probe.h"

namespace v3sim::kernels {

std::string wgmma_probe_unavailable_reason() {
  return "built without CUDA";
}

WgmmaProbeOutput run_wgmma_probe(const WgmmaProbeInput& in) {
  validate_wgmma_probe_input(in);
  WgmmaProbeOutput out;
  out.reason = wgmma_probe_unavailable_reason();
  return out;
}

}  // namespace v3sim::kernels
