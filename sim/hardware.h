// A chip as the simulator sees it, read from configs/hardware/*.yaml: identity, SM count and clocks, and the
// numerics of its tensor cores. Proposals are small files that `extends:` a base chip and override a few keys.
// The SM-level model (tensor pipes, shared memory, TMA, memory system) adds its sections here.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/params.h"
#include "core/units.h"
#include "sim/numerics/accumulator.h"

namespace v3sim {

struct HardwareConfig {
  std::string name;
  std::string arch;  // e.g. sm_90a
  int64_t sms = 0;
  Frequency boost_clock;
  numerics::AccumulatorModel fp8;   // FP8 MMA (wgmma k32 on Hopper)
  numerics::AccumulatorModel bf16;  // BF16/FP16 MMA
};

const ComponentSpec& hardware_spec();
// Reads and validates a hardware config; throws ConfigError naming file, line and key.
HardwareConfig load_hardware(const ConfigNode& root);

// The parameter tables of everything sim/ reads from YAML (for `v3sim describe`).
std::vector<const ComponentSpec*> sim_component_specs();

}  // namespace v3sim
