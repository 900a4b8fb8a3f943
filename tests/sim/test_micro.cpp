// The microbenchmarks' projections (sim/sm/micro): each is limited by the mechanism it is meant to measure, and its
// time moves with that constant and not with the others.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "sim/sm/micro.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::sm;

namespace {

double us(const MicroProblem& d, const HardwareConfig& hw) {
  return simulate_micro(d, hw).time.microseconds();
}

MicroProblem copy_of(int64_t bytes) {
  return {.op = MicroOp::HbmCopy, .bytes = bytes, .grid = 8 * 132, .block = 256};
}
// `units` whole rounds of 16-byte vectors over 1056 CTAs of 256 threads (4.3 MB each).
MicroProblem l2_read_of(int64_t units) {
  return {.op = MicroOp::L2Read, .bytes = units * 1056 * 256 * 16, .passes = 32, .grid = 1056, .block = 256};
}
MicroProblem store_of(int64_t ctas) {
  return {.op = MicroOp::TmaStore, .bytes = int64_t{512} << 20, .ctas = ctas, .tile = 32 << 10};
}

}  // namespace

TEST_CASE("micro: N launches take N times the launch overhead and the stream's gap", "[micro]") {
  const HardwareConfig hw = test::h800_at_1ghz({{"kernel.launch_overhead", "0.5us"}, {"kernel.launch_gap", "2us"}});
  const MicroResult r = simulate_micro({.op = MicroOp::Launch, .kernels = 200}, hw);
  CHECK(r.time == Time::us(500));
  CHECK(r.bound == "launch");
}

TEST_CASE("micro: a copy far past the L2 runs at sustained HBM, and only HBM moves it", "[micro]") {
  const HardwareConfig hw = test::hardware("h100-sxm.yaml");
  const MicroProblem d = copy_of(int64_t{2} << 30);
  const MicroResult r = simulate_micro(d, hw);
  CHECK(r.bound == "hbm");
  const double sustained = hw.hbm.bandwidth.bytes_per_second() * hw.hbm.achievable_fraction * 1e-9;
  CHECK(r.gbps < sustained);
  CHECK(r.gbps > 0.8 * sustained);  // the streaming model adds the round trips' latency to the service time
  // A 10% faster HBM: close to 10% faster; a faster L2 or TMA: no change.
  const double base = us(d, hw);
  const double faster = us(
      d,
      test::hardware("h100-sxm.yaml", {{"hbm.achievable_fraction", std::to_string(hw.hbm.achievable_fraction * 1.1)}}));
  CHECK(base / faster == Approx(1.1).epsilon(0.02));
  CHECK(us(d, test::hardware("h100-sxm.yaml", {{"tma.store_bytes_per_clk", "200"}})) == Approx(base));
}

TEST_CASE("micro: a warm L2 read is served by the L2 alone", "[micro]") {
  const HardwareConfig hw = test::hardware("h100-sxm.yaml");
  const MicroProblem d = l2_read_of(4);  // 17.3 MB
  const MicroResult r = simulate_micro(d, hw);
  CHECK(r.bound == "l2");
  const double l2 = static_cast<double>(hw.l2.bytes_per_clk) * hw.sustained_clock.hertz() * 1e-9;
  CHECK(r.gbps < l2);
  CHECK(r.gbps > 0.5 * l2);
  // HBM does not enter; a faster L2 shortens it.
  CHECK(us(d, test::hardware("h100-sxm.yaml", {{"hbm.achievable_fraction", "0.5"}})) == Approx(us(d, hw)));
  CHECK(us(d, test::hardware("h100-sxm.yaml", {{"l2.bytes_per_clk", std::to_string(2 * hw.l2.bytes_per_clk)}})) <
        0.7 * us(d, hw));
  // A buffer larger than the L2 is not an L2 read.
  CHECK_THROWS_WITH(simulate_micro(l2_read_of(16), hw), Catch::Contains("l2_read.bytes: expected a buffer within"));
}

TEST_CASE("micro: TMA stores from a few SMs drain at the TMA units' rate; from all of them at HBM's", "[micro]") {
  const HardwareConfig hw = test::h800_at_1ghz({{"tma.store_bytes_per_clk", "20"}});
  // 4 SMs x 20 B per 1 GHz clock = 80 GB/s, far below HBM.
  MicroResult r = simulate_micro(store_of(4), hw);
  CHECK(r.bound == "tma");
  CHECK(r.gbps == Approx(80).epsilon(0.02));
  // Twice the SMs, twice the rate.
  CHECK(simulate_micro(store_of(8), hw).gbps == Approx(2 * r.gbps).epsilon(0.01));
  // From every SM at 128 B per clock the writes outrun HBM, which then sets the pace.
  const HardwareConfig fast = test::h800_at_1ghz({{"tma.store_bytes_per_clk", "128"}});
  r = simulate_micro(store_of(132), fast);
  CHECK(r.bound == "hbm");
  // The L2 takes its capacity of dirty data ahead of HBM; the rest drains at sustained HBM.
  const double bytes = static_cast<double>(store_of(132).bytes);
  const double hbm = fast.hbm.bandwidth.bytes_per_second() * fast.hbm.achievable_fraction;
  CHECK(r.gbps == Approx(bytes / ((bytes - static_cast<double>(fast.l2.capacity.count())) / hbm) * 1e-9).epsilon(0.02));
  // A tile that is not whole 16-byte vectors is refused, naming it.
  MicroProblem bad = store_of(4);
  bad.tile = 1000;
  CHECK_THROWS_WITH(simulate_micro(bad, hw), Catch::Contains("tma_store.tile"));
}
