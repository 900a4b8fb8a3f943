// A memory-bound kernel on the SM and memory model, as a software stack launches it: its grid, block, registers
// and shared memory give the CTAs resident on an SM (occupancy) and the rounds (waves) the grid takes over the SMs.
// Each resident thread keeps one 16-byte load in flight; a round trip costs the idle memory latency plus the time
// the shared bandwidth (sustained HBM, or the L2 of the SMs held) takes to serve every resident thread's share of
// it. So a few-CTA kernel is latency-bound, a full GPU bandwidth-bound, and a grid that leaves a partial last round
// (a persistent kernel sized for all 132 SMs when the all-to-all holds 20) pays for that round whole.
//
// Example: the RMSNorm of DeepSeek's stack (profile-data: 396 CTAs of 128 threads, 168 registers each):
//   StreamingDesc d{.launch = {396, 128, 168, 64}, .bytes_read = 58.7e6, .bytes_written = 58.7e6};
//   StreamingResult r = simulate_streaming(d, hw);  // r.ctas_per_sm == 3: the register file holds 3 such CTAs
#pragma once

#include <cstdint>
#include <string>

#include "core/units.h"
#include "models/op.h"
#include "sim/hardware.h"

namespace v3sim::sm {

// Bytes one resident thread of a streaming kernel keeps in flight: one 16-byte vector load (LDG.128), the widest a
// thread issues; kernels that unroll further are not credited with it.
inline constexpr int64_t kBytesInFlightPerThread = 16;

struct StreamingDesc {
  Launch launch;
  int64_t bytes_read = 0, bytes_written = 0;
  int64_t sms = 0;  // SMs the kernel may use (0: all)
  // The bytes read are in the L2 already (a buffer smaller than the L2, read again): a round trip costs the L2's hit
  // latency and the L2 alone serves it. Otherwise every read misses to HBM.
  bool l2_resident = false;
  void validate(const HardwareConfig& hw) const;
};

struct StreamingResult {
  Time time;
  int64_t ctas_per_sm = 0;  // resident CTAs per SM (occupancy)
  double occupancy = 0;     // resident threads / the SM's thread limit
  int64_t active_sms = 0;   // SMs holding at least one CTA
  int64_t waves = 0;        // rounds of CTAs over the SMs
  double gbps = 0;          // bytes read + written per second
  std::string limiter;      // what limits the CTAs per SM: "registers", "shared memory", "threads", "CTAs"
  std::string bound;        // what most of the time goes to: "hbm" or "l2" (serving the bytes), "latency" (round trips)
};

StreamingResult simulate_streaming(const StreamingDesc& d, const HardwareConfig& hw);

}  // namespace v3sim::sm
