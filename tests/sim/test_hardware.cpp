#include <catch2/catch.hpp>

#include "core/config.h"
#include "sim/hardware.h"

using namespace v3sim;

namespace {
HardwareConfig hw(const std::string& rel) {
  return load_hardware(load_config_file(std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/" + rel));
}
}  // namespace

TEST_CASE("shipped hardware configs carry their tensor-core numerics", "[sim][hardware]") {
  HardwareConfig h800 = hw("h800.yaml");
  CHECK(h800.sms == 132);
  CHECK(h800.boost_clock.hertz() == 1'830'000'000);
  numerics::AccumulatorModel hopper = numerics::AccumulatorModel::hopper_fp8();
  CHECK(h800.fp8.products_per_group == hopper.products_per_group);
  CHECK(h800.fp8.fraction_bits == 13);
  CHECK(h800.fp8.output_fraction_bits == 13);
  CHECK(h800.bf16.fraction_bits == 25);
  HardwareConfig h200 = hw("h200.yaml");
  CHECK(h200.fp8.fraction_bits == 13);
  CHECK(h200.name == "H200 SXM5");
  HardwareConfig b200 = hw("b200.yaml");
  CHECK(b200.fp8.fraction_bits == 25);
  CHECK(b200.sms == 148);
  HardwareConfig fp32 = hw("proposals/fp32-accumulation.yaml");
  CHECK(fp32.fp8.fraction_bits == 25);
  CHECK(fp32.fp8.output_fraction_bits == 23);
  CHECK(fp32.fp8.products_per_group == 32);  // kept from the base
  CHECK(fp32.sms == 132);
}

TEST_CASE("hardware configs are validated", "[sim][hardware]") {
  const std::string base = std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/h800.yaml";
  ConfigNode root = load_config_file(base);
  apply_override(root, "numerics.fp8.output_fraction_bits", "30", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(root), Catch::Contains("at most 23"));
  ConfigNode bad_unit = load_config_file(base);
  apply_override(bad_unit, "boost_clock", "1.83", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(bad_unit), Catch::Contains("boost_clock: expected a frequency with a unit"));
  ConfigNode unknown = load_config_file(base);
  apply_override(unknown, "numerics.fp8.guard_bits", "3", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(unknown), Catch::Contains("unknown key 'guard_bits'"));
}
