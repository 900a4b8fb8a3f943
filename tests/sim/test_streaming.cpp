// The memory-bound kernel model (sim/sm/streaming): occupancy from a launch, Little's law, HBM and L2 bounds.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "sim/sm/streaming.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::sim;

namespace {

StreamingDesc desc(Launch l, int64_t read, int64_t written) {
  StreamingDesc d;
  d.launch = l;
  d.bytes_read = read;
  d.bytes_written = written;
  return d;
}

}  // namespace

TEST_CASE("streaming: occupancy is the least of registers, shared memory, threads and CTA slots", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  // profile-data's RMSNorm: 168 registers x 128 threads = 4 warps x 5376 (168 x 32 rounded to 256) = 21504 of 65536.
  StreamingResult r = simulate_streaming(desc({396, 128, 168, 64}, 1 << 20, 1 << 20), hw);
  CHECK(r.ctas_per_sm == 3);
  CHECK(r.limiter == "registers");
  CHECK(r.occupancy == Approx(3.0 * 128 / 2048));
  CHECK(r.waves == 1);
  // A 128-thread cast with 31 registers: 16 CTAs fill the 2048 thread slots.
  r = simulate_streaming(desc({4096, 128, 31, 0}, 1 << 20, 1 << 20), hw);
  CHECK(r.ctas_per_sm == 16);
  CHECK(r.limiter == "threads");
  CHECK(r.waves == 2);  // 4096 CTAs over 132 x 16 slots
  // Shared memory: 67584 B + 1 KiB reserved per CTA, of 233472 B.
  r = simulate_streaming(desc({32, 512, 32, 67584}, 1 << 20, 1 << 20), hw);
  CHECK(r.ctas_per_sm == 3);
  CHECK(r.limiter == "shared memory");
  CHECK(r.active_sms == 32);
  // 32-thread CTAs run out of CTA slots first.
  r = simulate_streaming(desc({10000, 32, 16, 0}, 1 << 20, 1 << 20), hw);
  CHECK(r.ctas_per_sm == 32);
  CHECK(r.limiter == "CTAs");
}

TEST_CASE("streaming: a full GPU streams at the sustained HBM bandwidth", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  const int64_t bytes = int64_t{1} << 30;
  const StreamingResult r = simulate_streaming(desc({1 << 16, 128, 18, 0}, bytes / 2, bytes / 2), hw);
  CHECK(r.bound == "hbm");
  const double hbm = static_cast<double>(hw.hbm.bandwidth.bytes_per_second()) * hw.hbm.achievable_fraction;
  const double expected_ps = static_cast<double>(bytes) / hbm * 1e12;
  CHECK(static_cast<double>((r.time - hw.kernel.launch_overhead).picoseconds()) == Approx(expected_ps).epsilon(1e-6));
}

TEST_CASE("streaming: few resident threads are latency-bound by Little's law", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();  // 1 GHz: the latency in cycles is in ns
  // 32 CTAs of 512 threads, 16 B in flight each, over the L2 + HBM latency: reads at 262144 B per (263 + 479) ns.
  const int64_t read = 64 << 20;
  const StreamingResult r = simulate_streaming(desc({32, 512, 36, 67584}, read, read), hw);
  CHECK(r.bound == "latency");
  const double latency_ns = static_cast<double>(hw.l2.hit_latency_cycles + hw.hbm.latency_cycles);
  const double read_bw = 32.0 * 512 * kBytesInFlightPerThread / (latency_ns * 1e-9);
  const double expected_ps = static_cast<double>(read) / read_bw * 1e12;  // the writes follow the reads
  CHECK(static_cast<double>((r.time - hw.kernel.launch_overhead).picoseconds()) == Approx(expected_ps).epsilon(1e-6));
  // More resident threads, less time, until HBM binds.
  const StreamingResult wider = simulate_streaming(desc({128, 512, 36, 67584}, read, read), hw);
  CHECK(wider.time < r.time);
}

TEST_CASE("streaming: launches that cannot run are refused", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  CHECK_THROWS_AS(simulate_streaming(desc({0, 128, 32, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 2048, 32, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 128, 300, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 1024, 255, 0}, 1, 1), hw), ConfigError);  // 261120 registers
  CHECK_THROWS_AS(simulate_streaming(desc({1, 128, 32, 1 << 20}, 1, 1), hw), ConfigError);
}
