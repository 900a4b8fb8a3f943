#include "sim/sm/micro.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/math.h"
#include "sim/engine/engine.h"
#include "sim/memory/memory_system.h"
#include "sim/sm/sm.h"
#include "sim/sm/streaming.h"

namespace v3sim::sm {

namespace {

// One warpgroup of a tma_store CTA: `stores` bulk stores of `tile` bytes out of the same shared-memory tile, then
// the wait for the last to have left shared memory (the kernel may exit only then).
class StoreProgram : public Program {
 public:
  StoreProgram(int64_t stores, int64_t tile) : m_stores(stores), m_tile(tile) {}
  Instr next() override {
    Instr in;
    if (m_i < m_stores) {
      in.op = Instr::Op::TmaStore;
      in.bytes = m_tile;
    } else if (m_i == m_stores) {
      in.op = Instr::Op::TmaStoreWait;
    }
    ++m_i;
    return in;
  }

 private:
  int64_t m_stores, m_tile;
  int64_t m_i = 0;
};

MicroResult tma_store(const MicroProblem& d, const HardwareConfig& hw) {
  const int64_t tiles = d.bytes / d.tile;
  engine::Engine engine;
  engine::Clock clock(hw.sustained_clock);
  memory::MemorySystem memory(engine, hw, clock);
  std::vector<std::unique_ptr<Sm>> sms;
  for (int64_t c = 0; c < d.ctas; ++c) {
    // Tile t goes to CTA t % ctas, as the kernel deals them.
    const int64_t mine = tiles / d.ctas + (c < tiles % d.ctas ? 1 : 0);
    auto sm = std::make_unique<Sm>(static_cast<int>(c), engine, hw, clock, memory);
    sm->add_warpgroup(std::make_unique<StoreProgram>(mine, d.tile));
    sms.push_back(std::move(sm));
  }
  for (auto& sm : sms) sm->start(hw.kernel.launch_overhead);
  engine.run();
  MicroResult r;
  r.time = engine.now();
  const memory::MemoryStats m = memory.stats();
  const double hbm = static_cast<double>(m.hbm_busy.picoseconds()) / static_cast<double>(r.time.picoseconds());
  r.bound = hbm > 0.9 ? "hbm" : "tma";
  return r;
}

}  // namespace

void check_micro(const MicroProblem& p, const HardwareConfig& hw) {
  p.validate();
  if (p.op == MicroOp::L2Read && p.bytes > hw.l2.capacity.count()) {
    throw ConfigError(SourceLoc{}, "l2_read.bytes",
                      fmt::format("a buffer within the {} B L2 of {}", hw.l2.capacity.count(), hw.name),
                      std::to_string(p.bytes));
  }
  if (p.op == MicroOp::TmaStore && p.ctas > hw.sms) {
    throw ConfigError(SourceLoc{}, "tma_store.ctas", fmt::format("at most the {} SMs of {}", hw.sms, hw.name),
                      std::to_string(p.ctas));
  }
  if (p.op == MicroOp::TmaStore && p.tile > hw.smem.max_per_block.count()) {
    throw ConfigError(SourceLoc{}, "tma_store.tile",
                      fmt::format("a tile within the {} B of shared memory a CTA of {} may hold",
                                  hw.smem.max_per_block.count(), hw.name),
                      std::to_string(p.tile));
  }
}

MicroResult simulate_micro(const MicroProblem& d, const HardwareConfig& hw) {
  check_micro(d, hw);
  MicroResult r;
  switch (d.op) {
    case MicroOp::Launch:
      r.time = Time::ps((hw.kernel.launch_overhead + hw.kernel.launch_gap).picoseconds() * d.kernels);
      r.bound = "launch";
      return r;
    case MicroOp::HbmCopy:
    case MicroOp::L2Read: {
      StreamingDesc s;
      s.launch = Launch{d.grid, d.block, 0, 0};
      if (d.op == MicroOp::HbmCopy) {
        s.bytes_read = d.bytes;
        s.bytes_written = d.bytes;
      } else {
        s.bytes_read = d.bytes * d.passes;
        s.bytes_written = 4 * d.grid;  // one checksum per CTA
        s.l2_resident = true;
      }
      const StreamingResult x = simulate_streaming(s, hw);
      r.time = x.time;
      r.bound = x.bound;
      r.gbps = d.bytes_moved() / r.time.seconds() * 1e-9;
      return r;
    }
    case MicroOp::TmaStore:
      r = tma_store(d, hw);
      r.gbps = d.bytes_moved() / r.time.seconds() * 1e-9;
      return r;
  }
  return r;
}

}  // namespace v3sim::sm
