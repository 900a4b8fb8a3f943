// MLA decode of a build without CUDA: validates, then reports that nothing can run.
#include "kernels/mla_decode.h"

namespace v3sim::kernels {

std::vector<uint16_t> run_mla_decode(const MlaDecodeProblem& p, const MlaDecodeInputs& in) {
  check_mla_decode_inputs(p, in);
  require_hopper();
  return {};
}

std::unique_ptr<DeviceOp> make_mla_decode_op(const MlaDecodeProblem& p, uint64_t /*seed*/) {
  p.validate();
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
