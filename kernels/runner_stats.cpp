// Runner statistics and option checks (shared by the CUDA and the no-CUDA builds).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "kernels/runner.h"

namespace v3sim::kernels {

void RunnerOptions::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("runner: " + what); };
  if (warmup < 0) fail("warmup=" + std::to_string(warmup) + " must be >= 0");
  if (repeats < 1) fail("repeats=" + std::to_string(repeats) + " must be >= 1");
  if (flush_bytes < 0) fail("flush_bytes=" + std::to_string(flush_bytes) + " must be >= 0 (0: twice the L2)");
  if (sample_interval_ms < 1) fail("sample_interval_ms=" + std::to_string(sample_interval_ms) + " must be >= 1");
}

TimingStats summarize(const std::vector<double>& times_us) {
  if (times_us.empty()) throw std::invalid_argument("runner: no timed launches to summarize");
  std::vector<double> t = times_us;
  std::sort(t.begin(), t.end());
  TimingStats s;
  s.count = static_cast<int>(t.size());
  const size_t n = t.size();
  s.median_us = n % 2 == 1 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  s.min_us = t.front();
  s.max_us = t.back();
  s.mean_us = std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(n);
  if (n > 1) {
    double ss = 0;
    for (double x : t) ss += (x - s.mean_us) * (x - s.mean_us);
    s.stddev_us = std::sqrt(ss / static_cast<double>(n - 1));
  }
  return s;
}

}  // namespace v3sim::kernels
