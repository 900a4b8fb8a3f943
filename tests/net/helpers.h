// Shared by the net tests: shipped clusters with overrides, and small hand-built networks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "sim/net/cluster.h"

namespace v3sim::test {

inline std::string cluster_path(const std::string& name) {
  return std::string(V3SIM_SOURCE_DIR) + "/configs/clusters/" + name + ".yaml";
}

// A shipped cluster (a name under configs/clusters) with `key=value` overrides applied.
inline net::ClusterConfig cluster(const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& sets = {}) {
  ConfigNode root = load_config_file(cluster_path(name));
  for (const auto& [k, v] : sets) apply_override(root, k, v, SourceLoc{"--set", 0});
  return net::load_cluster(root);
}

}  // namespace v3sim::test
