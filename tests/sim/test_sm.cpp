// Microbenchmarks of the SM model: the rules each resource implements, with hand-computed answers.
#include <array>
#include <catch2/catch.hpp>
#include <memory>

#include "hw_helpers.h"
#include "sim/memory/memory_system.h"
#include "sim/sm/sm.h"
#include "sim/sm/smem_banks.h"

using namespace v3sim;
using namespace v3sim::sm;
using v3sim::engine::Clock;
using v3sim::engine::Engine;
using v3sim::memory::MemorySystem;

namespace {

// One SM with its memory system at 1 GHz, running the given warpgroup programs from time 0.
struct Bench {
  HardwareConfig hw;
  Engine engine;
  Clock clock;
  MemorySystem memory;
  Sm sm;
  explicit Bench(HardwareConfig h)
      : hw(std::move(h)), clock(hw.sustained_clock), memory(engine, hw, clock), sm(0, engine, hw, clock, memory) {}
  void add(std::vector<Instr> program) { sm.add_warpgroup(std::make_unique<ListProgram>(std::move(program))); }
};

Instr wgmma(int n, int count) {
  Instr i;
  i.op = Instr::Op::Wgmma;
  i.n = n;
  i.k = 32;
  i.count = count;
  return i;
}
Instr op(Instr::Op o, int barrier = 0, int64_t phase = 0) {
  Instr i;
  i.op = o;
  i.barrier = barrier;
  i.phase = phase;
  return i;
}

// Cycles (1 GHz: nanoseconds) until a warpgroup finishes `n` back-to-back FP8 wgmmas of width N and waits for them.
int64_t wgmma_cycles(int n, int count) {
  Bench b(test::h800_at_1ghz({{"tensor.wgmma_issue_cycles", "1"}}));
  b.add({wgmma(n, count), op(Instr::Op::WgmmaCommit), [] {
           Instr w = op(Instr::Op::WgmmaWait);
           w.count = 0;
           return w;
         }()});
  b.sm.start(Time());
  b.engine.run();
  return b.engine.now().picoseconds() / 1000;
}

}  // namespace

TEST_CASE("an FP8 m64n256k32 wgmma issues every 128 cycles: 8192 FLOP per clock per SM", "[sim][sm]") {
  // 64 and 65 back-to-back instructions differ by exactly one pipe slot of 128 cycles.
  const int64_t t64 = wgmma_cycles(256, 64), t65 = wgmma_cycles(256, 65);
  CHECK(t65 - t64 == 128);
  const double flops_per_clk = 2.0 * 64 * 256 * 32 / 128;
  CHECK(flops_per_clk == 8192);
  // The first instruction enters the pipe after its 1-cycle issue; the others are issued while it runs.
  CHECK(t64 == 1 + 64 * 128);
}

TEST_CASE("wgmma latency is N/2 cycles for N >= 64", "[sim][sm]") {
  for (int n : {64, 128, 256}) {
    CAPTURE(n);
    CHECK(wgmma_cycles(n, 1) == 1 + n / 2);  // 1 issue cycle + N/2
  }
  // Below N = 64 the operand fetch from shared memory (A 64x32 B + B Nx32 B at 128 B/clk) dominates.
  CHECK(wgmma_cycles(16, 1) == 1 + (64 + 16) * 32 / 128);
}

TEST_CASE("shared-memory wavefronts come from the actual addresses", "[sim][sm][smem]") {
  std::array<uint32_t, 32> a{};
  for (uint32_t l = 0; l < 32; ++l) a[l] = 4 * l;  // 128 contiguous bytes
  CHECK(smem_wavefronts(a, 4) == 1);
  for (uint32_t l = 0; l < 32; ++l) a[l] = 128 * l;  // a column of a 128-byte-wide tile: all in bank 0
  CHECK(smem_wavefronts(a, 4) == 32);
  for (uint32_t l = 0; l < 32; ++l) a[l] = 0;  // one word for everybody: broadcast
  CHECK(smem_wavefronts(a, 4) == 1);
  for (uint32_t l = 0; l < 32; ++l) a[l] = swizzle(128 * l, 128);  // the column through the 128-byte swizzle
  CHECK(smem_wavefronts(a, 4) == 4);
  for (uint32_t l = 0; l < 32; ++l) a[l] = 16 * l;  // 16-byte accesses: 4 quarter-warp phases of 128 B
  CHECK(smem_wavefronts(a, 16) == 4);
  for (uint32_t l = 0; l < 32; ++l) a[l] = 8 * (l % 16) + 256 * (l / 16);  // 8-byte: two half-warp phases
  CHECK(smem_wavefronts(a, 8) == 2);
  CHECK(swizzle(0x80 + 0x10, 128) == 0x80);
  CHECK(swizzle(0x30, 0) == 0x30);
}

TEST_CASE("a shared-memory access holds the port for its wavefronts, then the load latency", "[sim][sm][smem]") {
  Bench b(test::h800_at_1ghz());
  Instr lds = op(Instr::Op::Smem);
  lds.count = 32;  // a 32-way conflict
  b.add({lds, Instr::issue(1)});
  b.sm.start(Time());
  b.engine.run();
  // 1 issue cycle, 32 port cycles, 29 cycles latency, then the 1-cycle instruction.
  CHECK(b.engine.now().picoseconds() == (1 + 32 + 29 + 1) * 1000);
}

TEST_CASE("TMA load: data lands at the computed cycle, not one picosecond earlier (boundary probe)", "[sim][sm][tma]") {
  // 1 GHz; L2 1000 B/clk; HBM 1 TB/s at full efficiency; a cold 1000-byte box.
  Bench b(test::h800_at_1ghz(
      {{"l2.bytes_per_clk", "1000"}, {"hbm.bandwidth", "1TB/s"}, {"hbm.achievable_fraction", "1.0"}}));
  b.sm.add_barrier(0, 1);
  Instr expect = op(Instr::Op::ExpectTx, 0);
  expect.bytes = 1000;
  Instr load = op(Instr::Op::TmaLoad, 0);
  load.bytes = 1000;
  load.key = 42;
  b.add({expect, load, op(Instr::Op::BarrierWait, 0, 0), Instr::issue(1)});
  const HardwareConfig& hw = b.hw;
  // Request at the end of the TMA issue; HBM: 1 ns transfer + latency; then the L2 hit latency and the 1 ns L2
  // transfer; then the TMA overhead.
  const int64_t request = hw.tma.issue_cycles;
  const int64_t in_l2 = request + 1 + hw.hbm.latency_cycles;
  const int64_t arrive = std::max(request + 1 + hw.l2.hit_latency_cycles, in_l2 + hw.l2.hit_latency_cycles);
  const int64_t landed = arrive + hw.tma.latency_overhead_cycles;
  b.sm.start(Time());
  b.engine.run(Time::ps(landed * 1000 - 1));
  CHECK(b.sm.barrier_phase(0) == 0);
  b.engine.run(Time::ps(landed * 1000));
  CHECK(b.sm.barrier_phase(0) == 1);
  b.engine.run();
  // The waiting warpgroup resumes after the barrier latency and runs its last 1-cycle instruction.
  CHECK(b.engine.now().picoseconds() == (landed + hw.kernel.barrier_latency_cycles + 1) * 1000);
}

TEST_CASE("a second TMA load of the same box hits in the L2", "[sim][sm][tma]") {
  Bench b(test::h800_at_1ghz({{"l2.bytes_per_clk", "1000"}}));
  bool first = false, second = false;
  b.memory.read(7, 1000, [&] { first = true; });
  b.engine.run();
  const Time cold = b.engine.now();
  b.memory.read(7, 1000, [&] { second = true; });
  b.engine.run();
  CHECK(first);
  CHECK(second);
  CHECK(b.memory.stats().l2_hits == 1);
  CHECK(b.memory.stats().l2_misses == 1);
  CHECK((b.engine.now() - cold).picoseconds() == (1 + b.hw.l2.hit_latency_cycles) * 1000);
}

TEST_CASE("an mbarrier completes when its last arrival comes, not before (boundary probe)", "[sim][sm][barrier]") {
  Bench b(test::h800_at_1ghz());
  b.sm.add_barrier(0, 2);
  b.add({Instr::issue(10), op(Instr::Op::BarrierArrive, 0)});  // arrives at 10
  b.add({Instr::issue(25), op(Instr::Op::BarrierArrive, 0)});  // arrives at 25
  b.add({op(Instr::Op::BarrierWait, 0, 0), Instr::issue(1)});
  b.sm.start(Time());
  // The issue slots are shared: the 25-cycle block starts after the 10-cycle one.
  b.engine.run(Time::ns(35) - Time::ps(1));
  CHECK(b.sm.barrier_phase(0) == 0);
  b.engine.run(Time::ns(35));
  CHECK(b.sm.barrier_phase(0) == 1);
  b.engine.run();
  CHECK(b.engine.now() == Time::ns(35 + b.hw.kernel.barrier_latency_cycles + 1));
}

TEST_CASE("a warpgroup waiting on a barrier that nobody completes is reported as a deadlock", "[sim][sm][barrier]") {
  Bench b(test::h800_at_1ghz());
  b.sm.add_barrier(0, 1);
  b.add({op(Instr::Op::BarrierWait, 0, 0)});
  b.sm.start(Time());
  CHECK_THROWS_WITH(b.engine.run(), Catch::Contains("deadlock") && Catch::Contains("barrier 0 phase 0"));
}
