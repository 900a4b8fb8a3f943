#include "sim/hardware.h"

namespace v3sim {

namespace {

const ComponentSpec& numerics_spec() {
  static const ComponentSpec spec{"numerics",
                                  "tensor-core arithmetic",
                                  {
                                      {.name = "fp8",
                                       .type = ParamType::Section,
                                       .description = "FP8 MMA accumulation",
                                       .section = &numerics::accumulator_spec()},
                                      {.name = "bf16",
                                       .type = ParamType::Section,
                                       .description = "BF16/FP16 MMA accumulation",
                                       .section = &numerics::accumulator_spec()},
                                  }};
  return spec;
}

}  // namespace

const ComponentSpec& hardware_spec() {
  static const ComponentSpec spec{
      "hardware",
      "one GPU: identity, SMs, clocks and tensor-core numerics",
      {
          {.name = "name", .type = ParamType::String, .description = "chip name shown in outputs"},
          {.name = "arch", .type = ParamType::String, .description = "compute architecture, e.g. sm_90a"},
          {.name = "sms",
           .type = ParamType::Int,
           .description = "streaming multiprocessors",
           .unit = "SMs",
           .bound = Bound::Positive},
          {.name = "boost_clock",
           .type = ParamType::Frequency,
           .description = "SM boost clock",
           .bound = Bound::Positive},
          {.name = "numerics",
           .type = ParamType::Section,
           .description = "tensor-core numerics",
           .section = &numerics_spec()},
      }};
  return spec;
}

HardwareConfig load_hardware(const ConfigNode& root) {
  ParamReader r(root, hardware_spec());
  HardwareConfig h;
  h.name = r.get_string("name");
  h.arch = r.get_string("arch");
  h.sms = r.get_int("sms");
  h.boost_clock = r.get_frequency("boost_clock");
  const ParamReader& num = r.section("numerics");
  h.fp8 = numerics::read_accumulator(num.section("fp8"), h.name + " fp8");
  h.bf16 = numerics::read_accumulator(num.section("bf16"), h.name + " bf16");
  return h;
}

std::vector<const ComponentSpec*> sim_component_specs() {
  return {&hardware_spec(), &numerics::accumulator_spec()};
}

}  // namespace v3sim
