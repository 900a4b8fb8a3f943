// The memory-bound kernel model (sim/sm/streaming): occupancy from a launch, rounds of CTAs, round trips of loads
// in flight at the memory latency, and the HBM and L2 bandwidth that serves them.
#include <algorithm>
#include <catch2/catch.hpp>

#include "core/error.h"
#include "sim/sm/streaming.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::sm;

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

namespace {

double hbm_bw(const HardwareConfig& hw) {
  return static_cast<double>(hw.hbm.bandwidth.bytes_per_second()) * hw.hbm.achievable_fraction;
}
double miss_latency_s(const HardwareConfig& hw) {  // 1 GHz: cycles are ns
  return static_cast<double>(hw.l2.hit_latency_cycles + hw.hbm.latency_cycles) * 1e-9;
}
double seconds(const StreamingResult& r, const HardwareConfig& hw) {
  return static_cast<double>((r.time - hw.kernel.launch_overhead).picoseconds()) * 1e-12;
}

}  // namespace

TEST_CASE("streaming: a full GPU is bound by the sustained HBM bandwidth, plus its round trips", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  const int64_t bytes = int64_t{1} << 30;
  // 65536 CTAs of 128 threads, 16 per SM: 31 full rounds of 2112 and a tail of 64. Each thread reads 64 B: four
  // round trips of 16 B, in every round.
  const StreamingResult r = simulate_streaming(desc({1 << 16, 128, 18, 0}, bytes / 2, bytes / 2), hw);
  CHECK(r.waves == 32);
  CHECK(r.bound == "hbm");
  const double service = static_cast<double>(bytes) / hbm_bw(hw);
  CHECK(seconds(r, hw) == Approx(service + 32 * 4 * miss_latency_s(hw)).epsilon(1e-6));
  CHECK(r.gbps * 1e9 < hbm_bw(hw));
}

TEST_CASE("streaming: few resident threads are latency-bound by their round trips", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  // 32 CTAs of 512 threads (one round): each thread reads 4096 B, 256 round trips of 16 B; the bytes are served by
  // the L2 slices of the 32 SMs held (6000 B/clk x 32/132 = 1.45 TB/s, below HBM's 2.85).
  const int64_t read = 64 << 20;
  const StreamingResult r = simulate_streaming(desc({32, 512, 36, 67584}, read, read), hw);
  CHECK(r.bound == "latency");
  const double l2 = static_cast<double>(hw.l2.bytes_per_clk) * 1e9 * 32 / static_cast<double>(hw.sms);
  CHECK(seconds(r, hw) == Approx(256 * miss_latency_s(hw) + 2.0 * static_cast<double>(read) / l2).epsilon(1e-6));
  // More resident threads (the same bytes): fewer round trips each, less time.
  const StreamingResult wider = simulate_streaming(desc({128, 512, 36, 67584}, read, read), hw);
  CHECK(wider.time < r.time);
}

TEST_CASE("streaming: a thread that reads less than 16 B still waits a whole round trip", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  // 64 CTAs of 128 threads, one round: 4 B read per thread (a RoPE-like kernel) against 16 B. Both take one round
  // trip; the 4-byte kernel moves a quarter of the bytes in nearly the same time.
  const int64_t threads = 64 * 128;
  const StreamingResult narrow = simulate_streaming(desc({64, 128, 30, 0}, 4 * threads, 4 * threads), hw);
  const StreamingResult wide = simulate_streaming(desc({64, 128, 30, 0}, 16 * threads, 16 * threads), hw);
  CHECK(narrow.bound == "latency");
  const double bw = std::min(hbm_bw(hw), static_cast<double>(hw.l2.bytes_per_clk) * 1e9 * 64 / hw.sms);
  CHECK(seconds(narrow, hw) == Approx(miss_latency_s(hw) + 8.0 * threads / bw).epsilon(1e-4));
  CHECK(seconds(wide, hw) == Approx(miss_latency_s(hw) + 32.0 * threads / bw).epsilon(1e-4));
  CHECK(seconds(narrow, hw) > 0.9 * seconds(wide, hw));
}

TEST_CASE("streaming: a grid sized for every SM pays a whole extra round when fewer SMs are free", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  // DeepSeek's RMSNorm forward: 396 CTAs (3 per SM x 132), 4096 x 7168 BF16 in and out. With the all-to-all
  // holding 20 SMs, 336 fit and 60 wait for a second round: the round trips double, the bytes served do not.
  const int64_t io = int64_t{4096} * 7168 * 2;
  StreamingDesc all = desc({396, 128, 168, 64}, io, io);
  StreamingDesc fewer = all;
  fewer.sms = 112;
  const StreamingResult r132 = simulate_streaming(all, hw);
  const StreamingResult r112 = simulate_streaming(fewer, hw);
  CHECK(r132.waves == 1);
  CHECK(r112.waves == 2);
  // Each thread reads 4096 x 7168 x 2 / (396 x 128) = 1158.5 B: 73 round trips of 16 B per round. (The tail's
  // bytes are served a little slower, by the L2 slices of the 60 SMs it holds.)
  const double trips = 73 * miss_latency_s(hw);
  CHECK(seconds(r112, hw) - seconds(r132, hw) > trips);
  CHECK(seconds(r112, hw) - seconds(r132, hw) < 1.05 * trips);
  CHECK(r112.time > r132.time);
}

TEST_CASE("streaming: launches that cannot run are refused", "[streaming]") {
  const HardwareConfig hw = test::h800_at_1ghz();
  CHECK_THROWS_AS(simulate_streaming(desc({0, 128, 32, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 2048, 32, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 128, 300, 0}, 1, 1), hw), ConfigError);
  CHECK_THROWS_AS(simulate_streaming(desc({1, 1024, 255, 0}, 1, 1), hw), ConfigError);  // 261120 registers
  CHECK_THROWS_AS(simulate_streaming(desc({1, 128, 32, 1 << 20}, 1, 1), hw), ConfigError);
}
