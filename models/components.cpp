#include "models/components.h"

#include "models/deployment.h"
#include "models/model_config.h"

namespace v3sim {

std::vector<const ComponentSpec*> model_component_specs() {
  return {&model_spec(), &deployment_spec()};
}

}  // namespace v3sim
