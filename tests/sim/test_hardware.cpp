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
  CHECK(h800.sustained_clock < h800.boost_clock);  // power-limited under FP8 load
  CHECK(h800.smem.max_per_block.count() == 232448);
  CHECK(h800.l2.capacity.count() == 50'000'000);
  CHECK(!h800.features.fp8_transposed_smem_reads);
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
  for (const char* p : {"proposals/block-scaled-mma.yaml", "proposals/transposed-fp8-smem-reads.yaml",
                        "proposals/tma-fp8-cast.yaml", "h100-sxm.yaml", "gb200.yaml"}) {
    CAPTURE(p);
    CHECK(hw(p).sms > 0);
  }
  CHECK(hw("proposals/block-scaled-mma.yaml").features.block_scaled_mma);
  CHECK(hw("proposals/transposed-fp8-smem-reads.yaml").features.fp8_transposed_smem_reads);
  CHECK(hw("h200.yaml").hbm.bandwidth.bytes_per_second() == 4'800'000'000'000);
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
  CHECK_THROWS_WITH(load_hardware(root), Catch::Contains("from 1 to 23"));
  ConfigNode bad_unit = load_config_file(base);
  apply_override(bad_unit, "clocks.boost", "1.83", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(bad_unit), Catch::Contains("clocks.boost: expected a frequency with a unit"));
  ConfigNode too_fast = load_config_file(base);
  apply_override(too_fast, "clocks.sustained", "2GHz", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(too_fast), Catch::Contains("at most the boost clock"));
  ConfigNode unknown = load_config_file(base);
  apply_override(unknown, "numerics.fp8.guard_bits", "3", SourceLoc{"--set", 0});
  CHECK_THROWS_WITH(load_hardware(unknown), Catch::Contains("unknown key 'guard_bits'"));
}
