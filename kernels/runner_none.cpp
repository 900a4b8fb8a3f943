// The runner of a build without CUDA: checks the options, then reports that nothing can run.
#include "kernels/runner.h"

namespace v3sim::kernels {

Provenance collect_provenance(int /*device*/) {
  require_hopper();
  return {};
}

Measurement measure(DeviceOp& /*op*/, const RunnerOptions& options) {
  options.validate();
  require_hopper();
  return {};
}

}  // namespace v3sim::kernels
