// The timing runner: times a DeviceOp (kernels/kernel_op.h) the way the published benchmarks do.
//   warm-up launches (not timed) -> for each repeat: L2 flush (a memset of a buffer larger than the L2), CUDA event,
//   one enqueue of the op, CUDA event -> median/min/max/mean of the per-launch event times.
// The flush stays outside the events, so only the op is timed, and every timed launch starts with a cold L2, as
// DeepGEMM's benchmark does. While the timed launches run, a thread samples the SM and memory clocks (and power and
// temperature) through NVML when libnvidia-ml is present; otherwise only the peak clocks are known and
// Provenance::clock_source says so.
//
// No git revision or command line here: the CLI adds those to what it writes.
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_op.h"

namespace v3sim::kernels {

struct RunnerOptions {
  int warmup = 3;
  int repeats = 20;
  bool flush_l2 = true;
  int64_t flush_bytes = 0;  // 0: twice the device's L2 (at least 64 MiB)
  bool sample_clocks = true;
  int sample_interval_ms = 2;
  // @throws std::invalid_argument naming the option
  void validate() const;
};

// Where and under which conditions a measurement was taken.
struct Provenance {
  std::string gpu_name;    // "NVIDIA H200"
  std::string pci_bus_id;  // "0000:19:00.0"
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  int64_t memory_bytes = 0;
  int64_t l2_bytes = 0;
  int driver_version = 0;      // CUDA driver API version (13000)
  int runtime_version = 0;     // CUDA runtime this binary was built against
  std::string driver_release;  // NVIDIA driver release ("580.159.03") from NVML, when available
  int peak_sm_clock_mhz = 0;   // from the CUDA device attributes
  int peak_mem_clock_mhz = 0;
  // Sampled during the timed launches (NVML); all zero when clock_source is not "nvml".
  std::string clock_source;  // "nvml", or "none: <why NVML is unavailable>"
  int clock_samples = 0;
  double sm_clock_mhz_min = 0, sm_clock_mhz_mean = 0, sm_clock_mhz_max = 0;
  double mem_clock_mhz_min = 0, mem_clock_mhz_mean = 0, mem_clock_mhz_max = 0;
  double power_w_max = 0;
  double temperature_c_max = 0;
};

struct TimingStats {
  int count = 0;
  double median_us = 0, min_us = 0, max_us = 0, mean_us = 0, stddev_us = 0;
};

// Statistics of per-launch times (median of an even count: the mean of the two middle values; stddev with n - 1).
// @throws std::invalid_argument when `times_us` is empty
TimingStats summarize(const std::vector<double>& times_us);

struct Measurement {
  std::string op;     // DeviceOp::name()
  std::string shape;  // DeviceOp::shape()
  Attributes attributes;
  LaunchWork cost;
  RunnerOptions options;
  std::vector<double> times_us;  // every timed launch, in order
  TimingStats stats;
  double tflops = 0;  // cost.flops / median, in 10^12 FLOP/s
  double gbps = 0;    // cost.bytes / median, in 10^9 B/s
  Provenance provenance;
};

// Achieved rates of a cost at a time: {TFLOPS, GB/s}. @pre time_us > 0
inline std::pair<double, double> achieved(const LaunchWork& c, double time_us) {
  return {c.flops / (time_us * 1e6), c.bytes / (time_us * 1e3)};
}

// Times `op` on device 0. @throws std::invalid_argument (options), DeviceUnavailable, CudaError
Measurement measure(DeviceOp& op, const RunnerOptions& options = {});

// The static part of the provenance of CUDA device `device` (no clock sampling; any CUDA GPU, the current device
// is left as it is). @throws DeviceUnavailable, CudaError
Provenance collect_provenance(int device = 0);

}  // namespace v3sim::kernels
