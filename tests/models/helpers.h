// Loading the shipped configs in tests.
#pragma once

#include <string>

#include "core/config.h"
#include "models/deployment.h"
#include "models/model_config.h"

namespace v3sim::test {

inline std::string config_path(const std::string& kind, const std::string& name) {
  return std::string(V3SIM_SOURCE_DIR) + "/configs/" + kind + "/" + name + ".yaml";
}
inline ModelConfig model(const std::string& name) {
  return load_model_config(load_config_file(config_path("models", name)));
}
inline Deployment deployment(const std::string& name, const ModelConfig& m) {
  return load_deployment(load_config_file(config_path("deployments", name)), m);
}
// A deployment from YAML text, checked against a model.
inline Deployment deployment_text(const std::string& yaml, const ModelConfig& m) {
  return load_deployment(parse_config_text(yaml, "deploy.yaml"), m);
}

}  // namespace v3sim::test
