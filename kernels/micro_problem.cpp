// The microbenchmark suite, its cost and CPU references (kernels/micro.h), shared by both builds.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/micro.h"

namespace v3sim::kernels {

LaunchWork micro_cost(const MicroProblem& p) {
  return {0, p.bytes_moved()};
}

std::vector<MicroProblem> micro_suite(int64_t sms) {
  if (sms < 1) throw std::invalid_argument(fmt::format("micro suite: {} SMs (expected at least 1)", sms));
  std::vector<MicroProblem> out;
  const auto add = [&](MicroProblem p) {
    p.validate();
    out.push_back(p);
  };
  // 50 and 200 launches: the event pair around them costs once, not per kernel.
  for (int64_t kernels : {50, 200}) add({.op = MicroOp::Launch, .kernels = kernels});
  // Copies well past any Hopper L2 (50-60 MB), 8 CTAs of 256 threads per SM: every thread slot of the GPU.
  for (int64_t gib : {1, 2}) {
    add({.op = MicroOp::HbmCopy, .bytes = gib << 30, .grid = 8 * sms, .block = 256});
  }
  // 8 and 16 MiB buffers (within the L2 of every Hopper part) read 32 times; the grid as the copy's, the buffer
  // rounded so that every thread reads whole 16-byte vectors.
  for (int64_t mib : {8, 16}) {
    const int64_t grid = 8 * sms, block = 256, unit = grid * block * 16;
    const int64_t bytes = std::max<int64_t>(1, (mib << 20) / unit) * unit;
    add({.op = MicroOp::L2Read, .bytes = bytes, .passes = 32, .grid = grid, .block = block});
  }
  // 512 MiB of 32 KiB bulk stores from 4 and 8 SMs.
  for (int64_t ctas : {4, 8}) {
    add({.op = MicroOp::TmaStore, .bytes = int64_t{512} << 20, .ctas = ctas, .tile = 32 << 10});
  }
  return out;
}

std::vector<GemmShape> micro_gemm_shapes() {
  // Compute-bound FP8 shapes of DeepSeek-V3's training (DeepGEMM's table: 1300-1550 TFLOPS on H800).
  return {{4096, 7168, 16384}, {4096, 24576, 1536}, {4096, 4096, 7168}};
}

std::vector<uint32_t> l2_read_reference(const MicroProblem& p) {
  p.validate();
  if (p.op != MicroOp::L2Read) throw std::invalid_argument("l2_read_reference: not an l2_read problem");
  const int64_t words = p.bytes / 4, share = words / p.grid;
  std::vector<uint32_t> out(static_cast<size_t>(p.grid));
  for (int64_t c = 0; c < p.grid; ++c) {
    uint32_t s = 0;
    for (int64_t w = c * share; w < (c + 1) * share; ++w) s += micro_fill_word(static_cast<uint64_t>(w));
    out[static_cast<size_t>(c)] = s * static_cast<uint32_t>(p.passes);
  }
  return out;
}

}  // namespace v3sim::kernels
