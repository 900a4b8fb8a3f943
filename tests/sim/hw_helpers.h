// Hardware configs for sim tests: the shipped files, optionally with overrides (e.g. a 1 GHz clock so cycles and
// nanoseconds coincide in hand-computed expectations).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "sim/hardware.h"

namespace v3sim::test {

inline HardwareConfig hardware(const std::string& rel,
                               const std::vector<std::pair<std::string, std::string>>& sets = {}) {
  ConfigNode root = load_config_file(std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/" + rel);
  for (const auto& [k, v] : sets) apply_override(root, k, v, SourceLoc{"test", 0});
  return load_hardware(root);
}

// The H800 with a 1 GHz clock: one cycle is exactly 1000 ps.
inline HardwareConfig h800_at_1ghz(std::vector<std::pair<std::string, std::string>> sets = {}) {
  sets.emplace_back("clocks.sustained", "1GHz");
  return hardware("h800.yaml", sets);
}

}  // namespace v3sim::test
