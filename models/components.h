// The parameter tables of the components models/ reads from YAML (for `v3sim describe`).
#pragma once

#include <vector>

#include "core/params.h"

namespace v3sim {

std::vector<const ComponentSpec*> model_component_specs();

}  // namespace v3sim
