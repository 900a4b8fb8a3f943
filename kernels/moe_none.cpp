// The MoE permute / unpermute of a build without CUDA: validate, then report that nothing can run.
#include "kernels/moe.h"

namespace v3sim::kernels {

MoePermuteResult run_moe_permute(const MoeProblem& p, const MoeRouting& routing, const std::vector<uint8_t>& codes,
                                 const std::vector<float>& scales) {
  check_permute_input(p, routing, codes, scales);
  require_hopper();
  return {};
}

std::vector<uint16_t> run_moe_unpermute(const MoeProblem& p, const MoeRouting& routing,
                                        const std::vector<int32_t>& dest_row, const std::vector<uint16_t>& expert_out) {
  check_unpermute_input(p, routing, dest_row, expert_out);
  require_hopper();
  return {};
}

std::unique_ptr<DeviceOp> make_moe_permute_op(const MoeProblem& p, uint64_t /*seed*/) {
  p.validate();
  require_hopper();
  return nullptr;
}

std::unique_ptr<DeviceOp> make_moe_unpermute_op(const MoeProblem& p, uint64_t /*seed*/) {
  p.validate();
  require_hopper();
  return nullptr;
}

}  // namespace v3sim::kernels
