// Input checks of the wgmma probe, shared by the CUDA and the no-CUDA builds.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/wgmma_layout.h"
#include "kernels/wgmma_probe.h"

namespace v3sim::kernels {

const std::vector<int>& wgmma_probe_n_values() {
  // NOTES: each N is a separate kernel (the accumulator is N/2 named registers per thread), times four type
  // pairs; these three cover the smallest shape, a mid one and the one DeepGEMM uses.
  static const std::vector<int> kValues{8, 64, 256};
  return kValues;
}

bool wgmma_probe_n_supported(int n) {
  const auto& v = wgmma_probe_n_values();
  return std::find(v.begin(), v.end(), n) != v.end();
}

void validate_wgmma_probe_input(const WgmmaProbeInput& in) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("WgmmaProbeInput: " + what + " (n=" + std::to_string(in.n) +
                                ", tiles=" + std::to_string(in.tiles) + ")");
  };
  if (!wgmma::valid_n(in.n)) fail("n must be 8..256 in steps of 8");
  if (!wgmma_probe_n_supported(in.n)) {
    std::string list;
    for (int v : wgmma_probe_n_values()) list += (list.empty() ? "" : ", ") + std::to_string(v);
    fail("n is not one of the instantiated values {" + list + "}");
  }
  // One CTA per tile; 2^20 tiles is far beyond any probe and keeps the sizes below in 64-bit range.
  if (in.tiles < 1 || in.tiles > (1 << 20)) fail("tiles must be 1..2^20");
  const size_t tiles = static_cast<size_t>(in.tiles), n = static_cast<size_t>(in.n);
  auto check = [&](const char* field, size_t got, size_t want) {
    if (got != want)
      fail(std::string(field) + " has " + std::to_string(got) + " elements, expected " + std::to_string(want));
  };
  check("a", in.a.size(), tiles * wgmma::kM * wgmma::kK);
  check("b", in.b.size(), tiles * n * wgmma::kK);
  check("c", in.c.size(), tiles * wgmma::kM * n);
}

}  // namespace v3sim::kernels
