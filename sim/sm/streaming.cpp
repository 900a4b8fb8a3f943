#include "sim/sm/streaming.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/math.h"

namespace v3sim::sm {

namespace {

constexpr int64_t kWarp = 32;
constexpr int64_t kRegisterAllocationUnit = 256;  // registers per warp are allocated in units of 256 (sm_90)
constexpr int64_t kSmemReservedPerCta = 1024;     // shared memory the system reserves per resident CTA (sm_80+)

}  // namespace

void StreamingDesc::validate(const HardwareConfig& hw) const {
  const auto bad = [](const char* key, const std::string& expected, int64_t found) {
    throw ConfigError(fmt::format("streaming kernel: {}: expected {}, found {}", key, expected, found));
  };
  if (launch.grid < 1 || launch.grid > (int64_t{1} << 40)) bad("grid", "between 1 and 2^40 CTAs", launch.grid);
  if (launch.block < 1 || launch.block > 1024) bad("block", "between 1 and 1024 threads", launch.block);
  if (launch.regs < 0 || launch.regs > 255) bad("registers per thread", "between 0 and 255", launch.regs);
  if (launch.smem < 0 || launch.smem > hw.smem.max_per_block.count()) {
    bad("shared memory per CTA", fmt::format("between 0 and {} B (smem.max_per_block)", hw.smem.max_per_block.count()),
        launch.smem);
  }
  if (bytes_read < 0 || bytes_written < 0) bad("bytes", "at least 0", std::min(bytes_read, bytes_written));
  if (sms < 0 || sms > hw.sms) bad("SMs", fmt::format("between 0 and the {} SMs of {}", hw.sms, hw.name), sms);
}

StreamingResult simulate_streaming(const StreamingDesc& d, const HardwareConfig& hw) {
  d.validate(hw);
  const Launch& l = d.launch;
  const int64_t sms = d.sms > 0 ? d.sms : hw.sms;
  const int64_t warps = ceil_div(l.block, kWarp);

  // Occupancy: the least of what the register file, shared memory, thread slots and CTA slots hold.
  StreamingResult r;
  int64_t ctas = hw.cuda_cores.max_ctas_per_sm;
  r.limiter = "CTAs";
  const int64_t by_threads = hw.cuda_cores.max_threads_per_sm / (warps * kWarp);
  if (by_threads < ctas) ctas = by_threads, r.limiter = "threads";
  if (l.regs > 0) {
    const int64_t per_cta = warps * round_up(l.regs * kWarp, kRegisterAllocationUnit);
    const int64_t by_regs = hw.cuda_cores.registers_per_sm / per_cta;
    if (by_regs < ctas) ctas = by_regs, r.limiter = "registers";
  }
  if (l.smem > 0) {
    const int64_t by_smem = hw.smem.capacity.count() / (l.smem + kSmemReservedPerCta);
    if (by_smem < ctas) ctas = by_smem, r.limiter = "shared memory";
  }
  if (ctas < 1) {
    throw ConfigError(
        fmt::format("streaming kernel: a CTA of {} threads, {} registers each and {} B of shared memory "
                    "does not fit on one SM of {}",
                    l.block, l.regs, l.smem, hw.name));
  }
  r.ctas_per_sm = ctas;
  r.occupancy = static_cast<double>(ctas * warps * kWarp) / static_cast<double>(hw.cuda_cores.max_threads_per_sm);
  const int64_t slots = ctas * sms;
  r.waves = ceil_div(l.grid, slots);
  r.active_sms = std::min(sms, l.grid);

  // The CTAs share the work evenly. A thread keeps one 16-byte load in flight, or less when it reads less in all.
  const double grid = static_cast<double>(l.grid);
  const double read_per_thread = static_cast<double>(d.bytes_read) / grid / static_cast<double>(l.block);
  const double bytes_per_cta = (static_cast<double>(d.bytes_read) + static_cast<double>(d.bytes_written)) / grid;
  const double in_flight = std::min(static_cast<double>(kBytesInFlightPerThread), read_per_thread);
  // Round trips per thread: its reads, `in_flight` bytes at a time; the writes follow the reads they are computed
  // from, within the same round trips.
  const double trips = d.bytes_read > 0 ? std::ceil(read_per_thread / in_flight - 1e-9) : 0.0;
  const double clock = static_cast<double>(hw.sustained_clock.hertz());
  const double latency_s =
      static_cast<double>(hw.l2.hit_latency_cycles + (d.l2_resident ? 0 : hw.hbm.latency_cycles)) / clock;
  const double hbm_bw = d.l2_resident
                            ? std::numeric_limits<double>::infinity()
                            : static_cast<double>(hw.hbm.bandwidth.bytes_per_second()) * hw.hbm.achievable_fraction;

  // A round of CTAs resident together: every round trip takes the idle latency (an L2 miss: the L2's latency plus
  // HBM's beyond it) and, on top of it, the time the memory takes to serve what all resident threads asked for in
  // it (queueing at the shared bandwidth: sustained HBM, or the L2 slices of the SMs held). So a kernel with few
  // resident threads is latency-bound, one that fills the GPU is bandwidth-bound, and between the two both count.
  // The rounds: as many full ones as the grid fills, then the tail (a partly filled round, which takes as many
  // round trips with less to serve).
  double latency_total = 0, service_total = 0;
  const auto round = [&](int64_t resident, int64_t times) {
    const double l2_bw = static_cast<double>(hw.l2.bytes_per_clk) * clock *
                         static_cast<double>(std::min(sms, resident)) / static_cast<double>(hw.sms);
    if (l2_bw < hbm_bw) r.bound = "l2";
    latency_total += static_cast<double>(times) * trips * latency_s;
    service_total +=
        static_cast<double>(times) * static_cast<double>(resident) * bytes_per_cta / std::min(hbm_bw, l2_bw);
  };
  r.bound = "hbm";
  if (l.grid >= slots) round(slots, l.grid / slots);
  if (l.grid % slots > 0) round(l.grid % slots, 1);
  if (latency_total > service_total) r.bound = "latency";
  const double seconds = latency_total + service_total;
  if (!(seconds < 1e6)) {
    throw ConfigError(fmt::format("streaming kernel: {} bytes take longer than the engine's time can hold",
                                  static_cast<double>(d.bytes_read) + static_cast<double>(d.bytes_written)));
  }
  r.time = hw.kernel.launch_overhead + Time::ps(static_cast<int64_t>(std::ceil(seconds * 1e12)));
  r.gbps = (static_cast<double>(d.bytes_read) + static_cast<double>(d.bytes_written)) /
           (static_cast<double>(r.time.picoseconds()) * 1e-12) / 1e9;
  return r;
}

}  // namespace v3sim::sm
