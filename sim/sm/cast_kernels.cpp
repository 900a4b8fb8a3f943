#include "sim/sm/cast_kernels.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "core/resources.h"
#include "sim/engine/engine.h"
#include "sim/sm/sm.h"
#include "sim/sm/smem_banks.h"

namespace v3sim::sm {

const char* to_string(CastKernel k) {
  return k == CastKernel::Quantize ? "quantize" : "transpose-requant";
}

namespace {

constexpr int kStages = 4;

// Per-warp work of one 128 x 128 tile (the worker warpgroup's 4 warps run it in parallel on the 4 sub-partitions;
// their shared-memory wavefronts add up on the one port).
struct TileWork {
  int64_t load_wavefronts = 0;   // per warp
  int64_t store_wavefronts = 0;  // per warp
  int64_t alu_before = 0;        // issue cycles between the loads and the stores
  int64_t alu_after = 0;
  int64_t in_bytes = 0, out_bytes = 0;  // TMA traffic per tile
  int64_t store_wavefronts_per_instruction = 0;
};

// Transpose: thread (warp w, lane l) reads rows 32w..32w+31 in 8 groups of 4 rows, 4 bytes (columns 4l..4l+3)
// per row, transposes each 4x4 byte block with 8 prmt, dequantizes (cvt e4m3x2 -> f16x2 -> f32, times the row's
// scale), takes the amax of each of its 4 output rows (then across the 4 warps through shared memory),
// requantizes and writes output rows 4l..4l+3, bytes 32w..32w+31, as 8 4-byte words each.
TileWork transpose_work(const HardwareConfig& hw) {
  TileWork t;
  const int banks = static_cast<int>(hw.smem.banks), width = static_cast<int>(hw.smem.bank_width);
  std::array<uint32_t, 32> a{};
  // Loads: lane l, row r: byte r*128 + 4l through the 128-byte swizzle (a permutation within the row).
  for (int g = 0; g < 8; ++g)
    for (int i = 0; i < 4; ++i) {
      const uint32_t row = static_cast<uint32_t>(4 * g + i);
      for (uint32_t l = 0; l < 32; ++l) a[l] = swizzle(row * 128 + 4 * l, 128);
      t.load_wavefronts += smem_wavefronts(a, 4, banks, width);
    }
  // Stores: instruction (c, q): lane l writes output row 4l + c, bytes 32w + 4q (warp 0 shown; the others are
  // the same pattern shifted by 32 bytes).
  int64_t worst = 0;
  for (int c = 0; c < 4; ++c)
    for (int q = 0; q < 8; ++q) {
      for (uint32_t l = 0; l < 32; ++l)
        a[l] = swizzle((4 * l + static_cast<uint32_t>(c)) * 128 + 4 * static_cast<uint32_t>(q), 128);
      const int wf = smem_wavefronts(a, 4, banks, width);
      t.store_wavefronts += wf;
      worst = std::max<int64_t>(worst, wf);
    }
  t.store_wavefronts_per_instruction = worst;
  // 64 prmt, 64 cvt.f16x2 + 128 cvt.f32 + 128 fmul (dequantize), 128 fmax; then 128 fmul + 64 cvt.e4m3x2
  // (requantize) and 32 prmt to pack; plus the scale exchange (4 sts, barrier, 16 lds, 4 rcp) and addressing.
  t.alu_before = 64 + 64 + 128 + 128 + 128 + 24;
  t.alu_after = 128 + 64 + 32 + 16;
  t.in_bytes = kQuantTile * kQuantTile + kQuantTile * 4;
  t.out_bytes = kQuantTile * kQuantTile + kQuantTile * 4;
  return t;
}

// Quantize: each warp casts 32 rows of one 128-column block: per row 256 B of BF16 (8 B per lane: two
// half-warp wavefronts), amax (4 fmax + 5 shuffle steps), scale and reciprocal, 4 fmul + 2 cvt.e4m3x2 per lane,
// one 4-byte store per lane (1 wavefront) and the scale.
TileWork quantize_work(const HardwareConfig& hw) {
  TileWork t;
  const int banks = static_cast<int>(hw.smem.banks), width = static_cast<int>(hw.smem.bank_width);
  std::array<uint32_t, 32> a{};
  for (uint32_t l = 0; l < 32; ++l) a[l] = 8 * l;
  const int64_t load = smem_wavefronts(a, 8, banks, width);
  for (uint32_t l = 0; l < 32; ++l) a[l] = 4 * l;
  const int64_t store = smem_wavefronts(a, 4, banks, width);
  t.load_wavefronts = 32 * load;
  t.store_wavefronts = 32 * (store + 1);
  t.store_wavefronts_per_instruction = store;
  t.alu_before = 32 * (4 + 10 + 4);
  t.alu_after = 32 * (4 + 2 + 2);
  t.in_bytes = kQuantTile * kQuantTile * 2;
  t.out_bytes = kQuantTile * kQuantTile + kQuantTile * 4;
  return t;
}

struct Shape {
  TileWork work;
  int64_t tiles_per_row = 0;
};

class LoaderProgram : public Program {
 public:
  LoaderProgram(std::shared_ptr<const Shape> s, std::vector<int64_t> tiles)
      : m_s(std::move(s)), m_tiles(std::move(tiles)) {}
  Instr next() override {
    while (true) {
      if (m_i >= m_tiles.size()) return Instr{};
      const int64_t stage = static_cast<int64_t>(m_i) % kStages;
      Instr in;
      switch (m_step++) {
        case 0:
          if (m_i < static_cast<size_t>(kStages)) continue;
          in.op = Instr::Op::BarrierWait;
          in.barrier = static_cast<int>(kStages + stage);
          in.phase = static_cast<int64_t>(m_i) / kStages - 1;
          return in;
        case 1:
          in.op = Instr::Op::ExpectTx;
          in.barrier = static_cast<int>(stage);
          in.bytes = m_s->work.in_bytes;
          return in;
        case 2:
          in.op = Instr::Op::TmaLoad;
          in.barrier = static_cast<int>(stage);
          in.bytes = m_s->work.in_bytes;
          in.key = (uint64_t{5} << 60) | static_cast<uint64_t>(m_tiles[m_i]);
          return in;
        default:
          m_step = 0;
          ++m_i;
          continue;
      }
    }
  }

 private:
  std::shared_ptr<const Shape> m_s;
  std::vector<int64_t> m_tiles;
  size_t m_i = 0;
  int m_step = 0;
};

class WorkerProgram : public Program {
 public:
  WorkerProgram(std::shared_ptr<const Shape> s, size_t tiles) : m_s(std::move(s)), m_tiles(tiles) {}
  Instr next() override {
    if (m_q < m_queue.size()) return m_queue[m_q++];
    m_queue.clear();
    m_q = 0;
    if (m_i >= m_tiles) return Instr{};
    const TileWork& w = m_s->work;
    const int64_t stage = static_cast<int64_t>(m_i) % kStages;
    Instr wait;
    wait.op = Instr::Op::BarrierWait;
    wait.barrier = static_cast<int>(stage);
    wait.phase = static_cast<int64_t>(m_i) / kStages;
    m_queue.push_back(wait);
    Instr lds;
    lds.op = Instr::Op::Smem;
    lds.count = 4 * w.load_wavefronts;  // the 4 warps' loads share the port
    m_queue.push_back(lds);
    Instr release;
    release.op = Instr::Op::BarrierArrive;
    release.barrier = static_cast<int>(kStages + stage);
    m_queue.push_back(release);
    m_queue.push_back(Instr::issue(w.alu_before));
    Instr sw;
    sw.op = Instr::Op::TmaStoreWait;  // the previous tile's store has read the output buffer
    m_queue.push_back(sw);
    m_queue.push_back(Instr::issue(w.alu_after));
    Instr sts;
    sts.op = Instr::Op::Smem;
    sts.store = true;
    sts.count = 4 * w.store_wavefronts;
    m_queue.push_back(sts);
    Instr st;
    st.op = Instr::Op::TmaStore;
    st.bytes = w.out_bytes;
    m_queue.push_back(st);
    ++m_i;
    if (m_i == m_tiles) m_queue.push_back(sw);
    return m_queue[m_q++];
  }

 private:
  std::shared_ptr<const Shape> m_s;
  size_t m_tiles;
  size_t m_i = 0;
  std::vector<Instr> m_queue;
  size_t m_q = 0;
};

}  // namespace

void CastDesc::validate(const HardwareConfig& hw) const {
  if (rows <= 0 || cols <= 0) {
    throw ConfigError(SourceLoc{}, rows <= 0 ? "cast.rows" : "cast.cols", "positive rows and columns",
                      fmt::format("{} x {}", rows, cols));
  }
  if (rows % kQuantTile != 0 || cols % kQuantTile != 0) {
    throw ConfigError(SourceLoc{}, rows % kQuantTile != 0 ? "cast.rows" : "cast.cols",
                      "rows and columns that are multiples of 128 (the kernel works on 128 x 128 tiles of 1x128 "
                      "quantization groups)",
                      fmt::format("{} x {}", rows, cols));
  }
  if (sms < 0 || sms > hw.sms) {
    throw ConfigError(SourceLoc{}, "cast.sms", fmt::format("between 1 and the chip's {} SMs", hw.sms),
                      std::to_string(sms));
  }
}

void check_cast(const CastDesc& d, const HardwareConfig& hw) {
  d.validate(hw);
  const int64_t tiles = (d.rows / kQuantTile) * (d.cols / kQuantTile);
  const int64_t grid = std::min(d.sms > 0 ? d.sms : hw.sms, tiles);
  // About 30 events per 128 x 128 tile at 4.5M events per second (16384 x 16384: 16384 tiles in 0.08 s); a tile
  // index per tile and each SM's state in memory.
  WorkEstimate work;
  work.steps = 30 * static_cast<double>(d.rows / kQuantTile) * static_cast<double>(d.cols / kQuantTile);
  work.steps_per_second = 4.5e6;
  work.step_name = "events";
  work.bytes = 8 * static_cast<double>(tiles) + static_cast<double>(grid) * (1 << 16);
  check_work(SourceLoc{}, "cast", fmt::format("{} of {} x {}", to_string(d.kernel), d.rows, d.cols), work);
}

CastResult simulate_cast(const CastDesc& d, const HardwareConfig& hw) {
  check_cast(d, hw);
  auto shape = std::make_shared<Shape>();
  shape->work = d.kernel == CastKernel::Quantize ? quantize_work(hw) : transpose_work(hw);
  const int64_t tiles = (d.rows / kQuantTile) * (d.cols / kQuantTile);
  const int64_t grid = std::min(d.sms > 0 ? d.sms : hw.sms, tiles);
  engine::Engine engine;
  engine::Clock clock(hw.sustained_clock);
  memory::MemorySystem memory(engine, hw, clock);
  std::vector<std::unique_ptr<Sm>> sms;
  for (int64_t c = 0; c < grid; ++c) {
    auto sm = std::make_unique<Sm>(static_cast<int>(c), engine, hw, clock, memory);
    std::vector<int64_t> mine;
    for (int64_t t = c; t < tiles; t += grid) mine.push_back(t);
    for (int s = 0; s < kStages; ++s) {
      sm->add_barrier(s, 1);
      sm->add_barrier(kStages + s, 1);
    }
    const size_t n = mine.size();
    sm->add_warpgroup(std::make_unique<LoaderProgram>(shape, std::move(mine)));
    sm->add_warpgroup(std::make_unique<WorkerProgram>(shape, n));
    sms.push_back(std::move(sm));
  }
  for (auto& sm : sms) sm->start(hw.kernel.launch_overhead);
  engine.run();

  CastResult r;
  r.time = engine.now();
  r.cycles = clock.cycle_at(r.time);
  r.bytes = tiles * (shape->work.in_bytes + shape->work.out_bytes);
  r.gbps = static_cast<double>(r.bytes) / r.time.seconds() * 1e-9;
  r.store_wavefronts_per_instruction = shape->work.store_wavefronts_per_instruction;
  double smem = 0, issue = 0;
  for (const auto& sm : sms) {
    const SmStats s = sm->stats();
    smem += static_cast<double>(s.smem_busy.picoseconds());
    issue += static_cast<double>(s.issue_busy.picoseconds());
  }
  const double sm_time = static_cast<double>(r.time.picoseconds()) * static_cast<double>(sms.size());
  r.smem_util = smem / sm_time;
  r.issue_util = issue / sm_time;
  const memory::MemoryStats m = memory.stats();
  // Writes accepted by the L2 may drain to HBM after the last SM finishes: cap the shares at 1.
  r.l2_util = std::min(1.0, static_cast<double>(m.l2_busy.picoseconds()) / static_cast<double>(r.time.picoseconds()));
  r.hbm_util = std::min(1.0, static_cast<double>(m.hbm_busy.picoseconds()) / static_cast<double>(r.time.picoseconds()));
  r.bound = "latency";
  double best = 0.5;
  for (const auto& [name, u] : {std::pair<const char*, double>{"hbm", r.hbm_util},
                                {"l2", r.l2_util},
                                {"smem", r.smem_util},
                                {"issue", r.issue_util}}) {
    if (u > best) {
      best = u;
      r.bound = name;
    }
  }
  return r;
}

}  // namespace v3sim::sm
