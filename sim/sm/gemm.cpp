#include "sim/sm/gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/math.h"
#include "core/quant.h"
#include "core/resources.h"
#include "sim/engine/engine.h"
#include "sim/sm/sm.h"

namespace v3sim::sm {

const char* to_string(GemmLayout l) {
  switch (l) {
    case GemmLayout::Dense:
      return "dense";
    case GemmLayout::Contiguous:
      return "contiguous";
    case GemmLayout::Masked:
      return "masked";
  }
  return "?";
}

namespace {

constexpr int64_t kBlockK = kQuantTile;    // one scale block of K per pipeline stage
constexpr int64_t kContiguousAlign = 128;  // DeepGEMM's M alignment of the contiguous grouped layout
constexpr int64_t kSwizzleGroup = 16;      // DeepGEMM scheduler: tiles grouped 16 at a time for L2 reuse

// An error about one key of gemm_spec() ("gemm.k"); the command line names its flag beside it.
ConfigError desc_error(const std::string& key, const std::string& expected, const std::string& found) {
  return ConfigError(SourceLoc{}, "gemm." + key, expected, found);
}

ParamSpec size_param(const char* name, const char* description, double min, const char* default_text) {
  return {.name = name,
          .type = ParamType::Int,
          .description = description,
          .required = false,
          .default_text = default_text,
          .range = range(min, 1 << 24)};
}
ParamSpec override_param(const char* name, const char* description, Range r) {
  return {.name = name, .type = ParamType::Int, .description = description, .required = false, .range = r};
}

int64_t sms_of(const GemmDesc& d, const HardwareConfig& hw) {
  return d.sms > 0 ? d.sms : hw.sms;
}

int64_t m_blocks_of(const GemmDesc& d, int64_t bm) {
  return ceil_div(d.m, bm) * d.groups;
}

}  // namespace

std::string GemmDesc::str() const {
  std::string s = fmt::format("GEMM M={} N={} K={}", m, n, k);
  if (groups > 1) s += fmt::format(" groups={} ({})", groups, to_string(layout));
  if (sms) s += fmt::format(" on {} SMs", sms);
  if (!promote) s += " tensor-core accumulation";
  if (a_mn_major || b_mn_major) s += fmt::format(" {}{}-major", a_mn_major ? "A:MN " : "", b_mn_major ? "B:MN" : "");
  if (a_bf16_cast) s += " A BF16 cast in TMA";
  if (c_accumulate) s += " D=C+AB in FP32";
  if (b_row_scales) s += " B 1x128 scales";
  if (!promotion_overlap) s += " promotion not overlapped";
  return s;
}

std::string GemmConfig::str() const {
  return fmt::format("BLOCK_M={} BLOCK_N={} stages={} multicast={}{} smem={} B grid={} tiles={} waves={}", block_m,
                     block_n, stages, multicast, multicast > 1 ? (multicast_on_a ? " (A)" : " (B)") : "", smem_bytes,
                     grid, tiles, waves);
}

const ComponentSpec& gemm_spec() {
  static const ComponentSpec spec{
      "gemm",
      "one FP8 block-scaled GEMM problem (v3sim gemm): sizes, groups, SMs and the heuristic's overrides",
      {size_param("m", "rows of A and D (per group for grouped layouts)", 1, "4096"),
       size_param("n", "rows of B, columns of D (a multiple of 16)", 16, "7168"),
       size_param("k", "reduction length (a multiple of 128)", kBlockK, "16384"),
       {.name = "groups",
        .type = ParamType::Int,
        .description = "grouped GEMM: number of experts",
        .required = false,
        .default_text = "1",
        .range = range(1, 4096)},
       override_param("sms", "SMs the kernel may use (default: all of the chip's)", range(1, 1024)),
       override_param("block_m", "the heuristic's BLOCK_M overridden: 64, 128 or 256", range(64, 256)),
       override_param("block_n", "the heuristic's BLOCK_N overridden: 16 to 256 in steps of 8", range(16, 256)),
       override_param("stages", "the heuristic's pipeline depth overridden", range(1, 16))}};
  return spec;
}

GemmDesc read_gemm_desc(const ParamReader& r) {
  GemmDesc d;
  d.m = r.get_int("m");
  d.n = r.get_int("n");
  d.k = r.get_int("k");
  d.groups = r.get_int("groups");
  for (auto [key, field] : {std::pair{"sms", &d.sms}, std::pair{"block_m", &d.block_m},
                            std::pair{"block_n", &d.block_n}, std::pair{"stages", &d.stages}}) {
    if (r.has(key)) *field = r.get_int(key);
  }
  return d;
}

void GemmDesc::validate(const HardwareConfig& hw) const {
  if (m <= 0 || n <= 0 || k <= 0) {
    throw desc_error(m <= 0 ? "m" : n <= 0 ? "n" : "k", "positive sizes", fmt::format("M={} N={} K={}", m, n, k));
  }
  if (groups <= 0) throw desc_error("groups", "a positive number of groups", std::to_string(groups));
  if (layout == GemmLayout::Dense && groups != 1) {
    throw desc_error("layout", "contiguous or masked for more than one group", "dense with groups > 1");
  }
  if (k % kBlockK != 0) {
    throw desc_error("k",
                     "a multiple of 128: each K block has one FP32 scale per 1x128 tile of A and 128x128 block of B",
                     std::to_string(k));
  }
  if (n % 16 != 0) {
    throw desc_error("n", "a multiple of 16 (TMA needs 16-byte-aligned rows of the FP8 B operand and BF16 output)",
                     std::to_string(n));
  }
  if (layout == GemmLayout::Contiguous && m % kContiguousAlign != 0) {
    throw desc_error("m",
                     "rows per group that are a multiple of 128 (the contiguous layout aligns each expert's "
                     "segment to the kernel's BLOCK_M so no tile straddles two groups)",
                     std::to_string(m));
  }
  if (sms < 0 || sms > hw.sms) {
    throw desc_error("sms", fmt::format("between 1 and the chip's {} SMs", hw.sms), std::to_string(sms));
  }
  if ((a_mn_major || b_mn_major) && !hw.features.fp8_transposed_smem_reads) {
    throw desc_error(
        a_mn_major ? "a_major" : "b_major",
        fmt::format("K-major FP8 operands on {}: Hopper's FP8 wgmma cannot read them transposed "
                    "(features.fp8_transposed_smem_reads is false; see proposals/transposed-fp8-smem-reads)",
                    hw.name),
        "mn");
  }
  if (a_bf16_cast && !hw.features.tma_fp8_cast) {
    throw desc_error("a_dtype",
                     fmt::format("e4m3 on {}: its TMA cannot cast BF16 to FP8 in flight "
                                 "(features.tma_fp8_cast is false; see proposals/tma-fp8-cast)",
                                 hw.name),
                     "bf16");
  }
  if (block_m && block_m != 64 && block_m != 128 && block_m != 256) {
    throw desc_error("block_m", "64, 128 or 256 (one or two math warpgroups of m64 wgmmas)", std::to_string(block_m));
  }
  if (block_n && (block_n < 16 || block_n > 256 || block_n % 8 != 0)) {
    throw desc_error("block_n", "16 to 256 in steps of 8 (the N of a wgmma)", std::to_string(block_n));
  }
  if (block_m > 128 && block_n > 128) {
    throw desc_error("block_n", "at most 128 with BLOCK_M 256 (one side of a tile at most 128)",
                     std::to_string(block_n));
  }
  for (auto [key, block] : {std::pair{"block_m", block_m}, std::pair{"block_n", block_n}}) {
    if (block > hw.tma.box_dim_max) {
      throw desc_error(key,
                       fmt::format("at most the TMA's largest box extent on {} (hw.tma.box_dim_max {})", hw.name,
                                   hw.tma.box_dim_max),
                       std::to_string(block));
    }
  }
  if (stages && (stages < 1 || stages > 16)) {
    throw desc_error("stages", "1 to 16 pipeline stages", std::to_string(stages));
  }
}

int64_t gemm_smem_bytes(int64_t bm, int64_t bn, int64_t stages, int64_t k, int64_t out_bytes, bool b_row_scales) {
  const int64_t d = bm * bn * out_bytes;
  // Per stage: A, B, A's scales, and B's when it has one per row (otherwise B's block scales for all of K).
  const int64_t per_stage = bm * kBlockK + bn * kBlockK + bm * 4 + (b_row_scales ? bn * 4 : 0);
  const int64_t scales_b = b_row_scales ? 0 : ceil_div(ceil_div(k, kBlockK) * 4 * (kBlockK % bn == 0 ? 1 : 2), 8) * 8;
  return d + stages * per_stage + scales_b + stages * 16;
}

GemmConfig choose_gemm_config(const GemmDesc& d, const HardwareConfig& hw) {
  d.validate(hw);
  const int64_t sms = sms_of(d, hw);
  const int64_t out_bytes = d.out_bytes();  // the output tile staged in shared memory
  const int64_t capacity = hw.smem.max_per_block.count();
  const bool forced = d.block_m || d.block_n;
  std::vector<int64_t> block_ms =
      d.layout == GemmLayout::Contiguous ? std::vector<int64_t>{kContiguousAlign} : std::vector<int64_t>{64, 128, 256};
  std::vector<int64_t> block_ns;
  for (int64_t bn = 16; bn <= 128; bn += 8) block_ns.push_back(bn);
  block_ns.push_back(144);
  block_ns.push_back(160);
  if (d.block_m) block_ms = {d.block_m};
  if (d.block_n) block_ns = {d.block_n};
  auto tiles = [&](int64_t bm, int64_t bn) { return m_blocks_of(d, bm) * ceil_div(d.n, bn); };
  auto waves = [&](int64_t bm, int64_t bn) { return ceil_div(tiles(bm, bn), sms); };
  auto util = [&](int64_t bm, int64_t bn) {
    const int64_t r = tiles(bm, bn) % sms;
    return r == 0 ? sms : r;
  };
  // DeepGEMM's heuristic (benchmarks.md): fewest waves, then the fullest last wave, then on a tie the larger
  // BLOCK_N (among equal BLOCK_M the smaller BLOCK_N, among equal BLOCK_N the smaller BLOCK_M: less waste).
  int64_t best_m = 0, best_n = 0;
  for (int64_t bm : block_ms) {
    for (int64_t bn : block_ns) {
      if (bm > 128 && bn > 128) continue;                                // at least one side of the tile at most 128
      if (bm > hw.tma.box_dim_max || bn > hw.tma.box_dim_max) continue;  // A and B tiles are one TMA box each
      // A tile whose 3-stage pipeline cannot fit is no candidate (an FP32 output tile takes twice the space).
      if (!forced && gemm_smem_bytes(bm, bn, 3, d.k, out_bytes, d.b_row_scales) > capacity) continue;
      bool take = best_m == 0;
      if (!take) {
        const int64_t w = waves(bm, bn), bw = waves(best_m, best_n);
        if (w != bw) {
          take = w < bw;
        } else {
          const int64_t u = util(bm, bn), bu = util(best_m, best_n);
          take = u > bu || (u == bu && ((bm == best_m && bn < best_n) || (bn == best_n && bm < best_m) ||
                                        (bm != best_m && bn > best_n)));
        }
      }
      if (take) {
        best_m = bm;
        best_n = bn;
      }
    }
  }
  if (best_m == 0) {
    // Every tile's 3-stage pipeline, with the B scales of the whole K range, overflows shared memory.
    throw desc_error("k",
                     fmt::format("a K whose B scales and a 3-stage pipeline fit the {} B of shared memory a CTA may "
                                 "use on {} (the scales of all of K stay in shared memory)",
                                 capacity, hw.name),
                     fmt::format("{} ({} B of B scales)", d.k, ceil_div(d.k, kBlockK) * 4));
  }
  GemmConfig c;
  c.block_m = best_m;
  c.block_n = best_n;
  if (d.stages) {
    c.stages = d.stages;
    c.smem_bytes = gemm_smem_bytes(best_m, best_n, d.stages, d.k, out_bytes, d.b_row_scales);
    if (c.smem_bytes > capacity) {
      throw desc_error(
          "stages", fmt::format("a tile that fits the {} B of shared memory a CTA may use", capacity),
          fmt::format("BLOCK_M={} BLOCK_N={} with {} stages needing {} B", best_m, best_n, d.stages, c.smem_bytes));
    }
  } else {
    for (int64_t s = 8; s >= 3; --s) {
      if (gemm_smem_bytes(best_m, best_n, s, d.k, out_bytes, d.b_row_scales) <= capacity) {
        c.stages = s;
        break;
      }
    }
    if (c.stages == 0) {
      throw desc_error(d.block_n ? "block_n" : "block_m",
                       fmt::format("a tile whose 3-stage pipeline fits the {} B of shared memory "
                                   "a CTA may use",
                                   capacity),
                       fmt::format("BLOCK_M={} BLOCK_N={} needing {} B", best_m, best_n,
                                   gemm_smem_bytes(best_m, best_n, 3, d.k, out_bytes, d.b_row_scales)));
    }
    c.smem_bytes = gemm_smem_bytes(best_m, best_n, c.stages, d.k, out_bytes, d.b_row_scales);
  }
  c.math_warpgroups = best_m == 64 ? 1 : 2;
  c.m_tiles_per_warpgroup = best_m / 64 / c.math_warpgroups;
  c.tiles = tiles(best_m, best_n);
  c.waves = waves(best_m, best_n);
  // 2-CTA TMA multicast of the operand both CTAs share, on the larger tile side first, when M >= 512.
  if (hw.tma.multicast && d.layout == GemmLayout::Dense && d.total_m() >= 512 && sms % 2 == 0) {
    const bool a_legal = d.n % (best_n * 2) == 0;
    const bool b_legal = d.m % (best_m * 2) == 0;
    for (bool on_a : best_m > best_n ? std::vector<bool>{true, false} : std::vector<bool>{false, true}) {
      if (on_a ? a_legal : b_legal) {
        c.multicast = 2;
        c.multicast_on_a = on_a;
        break;
      }
    }
  }
  // Launch only the SMs the waves need ("less L2 usage and less frequency drop"), a multiple of the cluster.
  c.grid = std::min(sms, ceil_div(ceil_div(c.tiles, c.waves), c.multicast) * c.multicast);
  return c;
}

namespace {

enum Tensor : uint64_t { kA = 1, kB = 2, kScaleA = 3, kScaleB = 4, kC = 5 };
uint64_t key(Tensor t, int64_t group, int64_t block, int64_t kb, int64_t part = 0) {
  return (static_cast<uint64_t>(t) << 60) | (static_cast<uint64_t>(group & 0xFFFF) << 44) |
         (static_cast<uint64_t>(block & 0xFFFFF) << 24) | (static_cast<uint64_t>(kb & 0x3FFFFF) << 2) |
         static_cast<uint64_t>(part & 3);
}

struct Tile {
  int64_t group = 0;
  int64_t m_block = 0;  // within the group
  int64_t n_block = 0;
};

// The tiles one CTA runs: DeepGEMM's persistent scheduler (block index = iteration x grid + CTA) with its
// swizzle (groups of 16 along the multicast-shared dimension, so concurrent CTAs reuse boxes in the L2).
std::vector<Tile> tiles_of_cta(const GemmDesc& d, const GemmConfig& c, int64_t cta) {
  const int64_t m_blocks = ceil_div(d.m, c.block_m);  // per group
  const int64_t n_blocks = ceil_div(d.n, c.block_n);
  const int64_t per_group = m_blocks * n_blocks;
  std::vector<Tile> out;
  for (int64_t it = 0;; ++it) {
    const int64_t idx = it * c.grid + cta;
    if (idx >= per_group * d.groups) break;
    Tile t;
    t.group = idx / per_group;
    const int64_t b = idx % per_group;
    const bool on_a = c.multicast_on_a;
    const int64_t primary = on_a ? n_blocks : m_blocks;
    const int64_t secondary = on_a ? m_blocks : n_blocks;
    const int64_t per_swizzle = secondary * kSwizzleGroup;
    const int64_t first = (b / per_swizzle) * kSwizzleGroup;
    const int64_t in_group = b % per_swizzle;
    const int64_t count = std::min(kSwizzleGroup, primary - first);
    if (on_a) {
      t.m_block = in_group / count;
      t.n_block = first + in_group % count;
    } else {
      t.m_block = first + in_group % count;
      t.n_block = in_group / count;
    }
    out.push_back(t);
  }
  return out;
}

struct KernelShape {
  GemmDesc d;
  GemmConfig c;
  int64_t k_blocks = 0;
  int64_t cluster_rank = 0;   // 0 or 1 within a 2-CTA cluster
  bool block_scaled = false;  // the tensor core applies the scales: no promotion FFMAs
  bool promote = true;
  int64_t fp32_lanes = 32;  // FFMA lanes per sub-partition: a warp's FFMA takes 32 / lanes issue cycles
  int64_t fp32_cycles(int64_t warp_instructions) const { return ceil_div(warp_instructions * 32, fp32_lanes); }
  int barrier_full(int64_t s) const { return static_cast<int>(s); }
  int barrier_empty(int64_t s) const { return static_cast<int>(c.stages + s); }
  int barrier_epilogue() const { return static_cast<int>(2 * c.stages); }
  // Without promotion overlap the math warpgroups meet when their wgmmas are done and again when they have
  // promoted, every K block.
  int barrier_mma_done() const { return static_cast<int>(2 * c.stages + 1); }
  int barrier_promoted() const { return static_cast<int>(2 * c.stages + 2); }
  bool lockstep() const { return !d.promotion_overlap && c.math_warpgroups > 1 && promote && !block_scaled; }
};

// The TMA producer warpgroup: for every tile and K block, wait for a free stage, announce its bytes, load A (or
// this CTA's half of a multicast A), A's scales and B.
class ProducerProgram : public Program {
 public:
  ProducerProgram(std::shared_ptr<const KernelShape> s, std::vector<Tile> tiles)
      : m_s(std::move(s)), m_tiles(std::move(tiles)) {}

  Instr next() override {
    const KernelShape& s = *m_s;
    const GemmConfig& c = s.c;
    while (true) {
      if (m_tile >= m_tiles.size()) return Instr{};
      const Tile& t = m_tiles[m_tile];
      const int64_t stage = m_iter % c.stages;
      Instr in;
      switch (m_step++) {
        case 0:
          if (m_iter < c.stages) continue;
          in.op = Instr::Op::BarrierWait;
          in.barrier = s.barrier_empty(stage);
          in.phase = m_iter / c.stages - 1;
          return in;
        case 1: {
          in.op = Instr::Op::ExpectTx;
          in.barrier = s.barrier_full(stage);
          in.bytes = c.block_m * kBlockK + c.block_n * kBlockK + c.block_m * 4 + (s.d.b_row_scales ? c.block_n * 4 : 0);
          return in;
        }
        case 2: {  // A: BLOCK_M x 128 FP8 (BF16 when the TMA casts it), half of it when multicast on A
          const bool shared = c.multicast > 1 && c.multicast_on_a;
          const int64_t elem = s.d.a_bf16_cast ? 2 : 1;
          in.op = Instr::Op::TmaLoad;
          in.barrier = s.barrier_full(stage);
          in.bytes = c.block_m * kBlockK * elem / (shared ? 2 : 1);
          in.tx_bytes = c.block_m * kBlockK / (shared ? 2 : 1);  // FP8 in shared memory either way
          in.key = key(kA, t.group, t.m_block, m_kb, shared ? s.cluster_rank : 0);
          in.peer = shared;
          return in;
        }
        case 3:
          in.op = Instr::Op::TmaLoad;
          in.barrier = s.barrier_full(stage);
          in.bytes = c.block_m * 4;
          in.key = key(kScaleA, t.group, t.m_block, m_kb);
          return in;
        case 4: {
          const bool shared = c.multicast > 1 && !c.multicast_on_a;
          in.op = Instr::Op::TmaLoad;
          in.barrier = s.barrier_full(stage);
          in.bytes = c.block_n * kBlockK / (shared ? 2 : 1);
          in.key = key(kB, t.group, t.n_block, m_kb, shared ? s.cluster_rank : 0);
          in.peer = shared;
          return in;
        }
        case 5:
          if (!s.d.b_row_scales) continue;
          in.op = Instr::Op::TmaLoad;  // B's 1x128 scales of this K block
          in.barrier = s.barrier_full(stage);
          in.bytes = c.block_n * 4;
          in.key = key(kScaleB, t.group, t.n_block, m_kb);
          return in;
        default:
          m_step = 0;
          ++m_iter;
          if (++m_kb == s.k_blocks) {
            m_kb = 0;
            ++m_tile;
          }
          continue;
      }
    }
  }

 private:
  std::shared_ptr<const KernelShape> m_s;
  std::vector<Tile> m_tiles;
  size_t m_tile = 0;
  int64_t m_kb = 0;
  int64_t m_iter = 0;
  int m_step = 0;
};

// A math warpgroup: for every K block, wait for the stage, issue 4 k32 wgmmas per m64 block, wait for them,
// free the stage and promote (FFMA of the partial sums with scale_a * scale_b into the FP32 accumulators); then
// the BF16 epilogue through shared memory and a TMA store.
class MathProgram : public Program {
 public:
  MathProgram(std::shared_ptr<const KernelShape> s, std::vector<Tile> tiles, int wg)
      : m_s(std::move(s)), m_tiles(std::move(tiles)), m_wg(wg) {}

  Instr next() override {
    if (m_queue_pos < m_queue.size()) return m_queue[m_queue_pos++];
    m_queue.clear();
    m_queue_pos = 0;
    if (m_tile >= m_tiles.size()) return Instr{};
    fill();
    return m_queue[m_queue_pos++];
  }

 private:
  void push(Instr in) { m_queue.push_back(in); }
  // Arrive on a barrier of the math warpgroups and wait for this K block's phase of it.
  void meet(int barrier) {
    Instr arrive;
    arrive.op = Instr::Op::BarrierArrive;
    arrive.barrier = barrier;
    push(arrive);
    Instr wait;
    wait.op = Instr::Op::BarrierWait;
    wait.barrier = barrier;
    wait.phase = m_iter;
    push(wait);
  }

  void fill() {
    const KernelShape& s = *m_s;
    const GemmConfig& c = s.c;
    const int64_t stage = m_iter % c.stages;
    const int64_t mt = c.m_tiles_per_warpgroup;
    const bool multicast = c.multicast > 1;
    const bool tc_accumulates = s.block_scaled || !s.promote;  // no per-K-block promotion
    if (m_kb == 0 && !s.d.b_row_scales) {
      // The B scales of the whole K range for this tile, read from global memory at the tile's start.
      Instr sb;
      sb.op = Instr::Op::GlobalLoad;
      sb.bytes = s.k_blocks * 4 * (kBlockK % c.block_n == 0 ? 1 : 2);
      sb.key = key(kScaleB, m_tiles[m_tile].group, m_tiles[m_tile].n_block, 0);
      push(sb);
    }
    Instr wait;
    wait.op = Instr::Op::BarrierWait;
    wait.barrier = s.barrier_full(stage);
    wait.phase = m_iter / c.stages;
    push(wait);
    if (!tc_accumulates) {
      // This thread's A scales (two rows per m64 block) and the B scale; with B scales per row, those of the
      // thread's BLOCK_N / 4 columns (wgmma's accumulator layout: two adjacent columns in every 8), as 8-byte loads
      // that the 8 lanes of a column pair share: BLOCK_N / 8 wavefronts per warp, BLOCK_N / 2 per warpgroup.
      Instr lds;
      lds.op = Instr::Op::Smem;
      lds.count = s.d.b_row_scales ? c.block_n / 2 : 1;
      push(lds);
    }
    Instr w;  // 4 k32 steps for each m64 block of this warpgroup
    w.op = Instr::Op::Wgmma;
    w.n = static_cast<int32_t>(c.block_n);
    w.k = 32;
    w.count = kBlockK / 32 * mt;
    push(w);
    Instr commit;
    commit.op = Instr::Op::WgmmaCommit;
    push(commit);
    Instr wg_wait;
    wg_wait.op = Instr::Op::WgmmaWait;
    Instr release;
    release.op = Instr::Op::BarrierArrive;
    release.peer = multicast;
    if (!tc_accumulates) {
      wg_wait.count = 0;
      push(wg_wait);
      release.barrier = s.barrier_empty(stage);
      push(release);
      if (s.lockstep()) meet(s.barrier_mma_done());
      // Promotion: one FFMA per accumulator (BLOCK_N/2 per thread per m64 block) plus the scale products; with B
      // scales per row, each accumulator's own scale product first (an FMUL more per accumulator).
      const int64_t per_acc = s.d.b_row_scales ? 2 : 1;
      push(Instr::issue(s.fp32_cycles((per_acc * c.block_n / 2 + 2) * mt), IssueKind::Promotion));
      if (s.lockstep()) meet(s.barrier_promoted());
    } else {
      // The tensor core keeps accumulating: keep one group in flight and free the previous stage.
      const bool last = m_kb + 1 == s.k_blocks;
      wg_wait.count = last ? 0 : 1;
      push(wg_wait);
      if (m_kb > 0) {
        release.barrier = s.barrier_empty((m_iter - 1) % c.stages);
        push(release);
      }
      if (last) {
        release.barrier = s.barrier_empty(stage);
        push(release);
      }
    }
    ++m_iter;
    if (++m_kb < s.k_blocks) return;
    // Epilogue: FP32 -> BF16 pairs, stmatrix into the output tile, the math warpgroups meet, one TMA store.
    // Accumulating into C instead: each thread loads its FP32 C values, adds its accumulators and stores FP32.
    m_kb = 0;
    const int64_t out_bytes = s.d.out_bytes();
    if (s.d.c_accumulate) {
      const Tile& t = m_tiles[m_tile];
      Instr ld;
      ld.op = Instr::Op::GlobalLoad;
      ld.bytes = 64 * mt * c.block_n * 4;
      ld.key = key(kC, t.group, t.m_block * ceil_div(s.d.n, c.block_n) + t.n_block, 0, m_wg);  // each tile's own C
      push(ld);
      push(Instr::issue(s.fp32_cycles(c.block_n / 2 * mt), IssueKind::Epilogue));  // one FADD per accumulator
    } else {
      push(Instr::issue(c.block_n / 4 * mt + 2, IssueKind::Epilogue));
    }
    Instr stsm;
    stsm.op = Instr::Op::Smem;
    stsm.store = true;
    stsm.count = 64 * mt * c.block_n * out_bytes / 128;
    push(stsm);
    Instr arrive;
    arrive.op = Instr::Op::BarrierArrive;
    arrive.barrier = s.barrier_epilogue();
    push(arrive);
    Instr meet;
    meet.op = Instr::Op::BarrierWait;
    meet.barrier = s.barrier_epilogue();
    meet.phase = static_cast<int64_t>(m_tile);
    push(meet);
    if (m_wg == 0) {
      // One thread stores the tile and waits until the TMA has read it out of shared memory (DeepGEMM's
      // tma_store_arrive + tma_store_wait<0>), before the next tile may write the output buffer again.
      Instr st;
      st.op = Instr::Op::TmaStore;
      st.bytes = c.block_m * c.block_n * out_bytes;
      push(st);
      Instr sw;
      sw.op = Instr::Op::TmaStoreWait;
      push(sw);
    }
    ++m_tile;
  }

  std::shared_ptr<const KernelShape> m_s;
  std::vector<Tile> m_tiles;
  int m_wg;
  size_t m_tile = 0;
  int64_t m_kb = 0;
  int64_t m_iter = 0;
  std::vector<Instr> m_queue;
  size_t m_queue_pos = 0;
};

}  // namespace

WorkEstimate estimate_gemm_work(const GemmDesc& d, const GemmConfig& c, const HardwareConfig& hw) {
  // Measured on `v3sim gemm` (4096 x 7168 x 16384 on H800: 896 tiles x 128 K blocks, 2.4M events in 0.53 s):
  // about 21 events per tile and K block, 4.5M events per second on one core.
  constexpr double kEventsPerStep = 22, kEventsPerSecond = 4.5e6;
  const double tiles = static_cast<double>(c.tiles);
  const double steps = tiles * static_cast<double>(ceil_div(d.k, kBlockK));
  WorkEstimate e;
  e.steps = kEventsPerStep * steps;
  e.steps_per_second = kEventsPerSecond;
  e.step_name = "events";
  // Each CTA's list of tiles (one copy per warpgroup), the L2's lines (one per box, at most its capacity in the
  // smallest boxes), and the SMs' own state.
  const double boxes = std::min(3 * steps, static_cast<double>(hw.l2.capacity.count()) / 512);
  e.bytes = 3 * 24 * tiles + 96 * boxes + static_cast<double>(c.grid) * (1 << 16);
  return e;
}

GemmPlan plan_gemm(const GemmDesc& d, const HardwareConfig& hw) {
  GemmPlan p;
  p.config = choose_gemm_config(d, hw);
  p.work = estimate_gemm_work(d, p.config, hw);
  check_work(SourceLoc{}, "gemm", d.str() + " on " + hw.name, p.work);
  return p;
}

GemmResult simulate_gemm(const GemmDesc& d, const HardwareConfig& hw, const std::function<void(double)>& progress) {
  GemmResult r;
  r.desc = d;
  const GemmPlan plan = plan_gemm(d, hw);
  r.config = plan.config;
  const GemmConfig& c = r.config;
  const WorkEstimate& work = plan.work;

  engine::Engine engine;
  if (progress) {
    engine.set_reporter([&](uint64_t events) { progress(static_cast<double>(events) / work.steps); }, 1 << 22);
  }
  engine::Clock clock(hw.sustained_clock);
  memory::MemorySystem memory(engine, hw, clock);
  std::vector<std::unique_ptr<Sm>> sms;
  const int64_t k_blocks = ceil_div(d.k, kBlockK);
  for (int64_t cta = 0; cta < c.grid; ++cta) {
    auto sm = std::make_unique<Sm>(static_cast<int>(cta), engine, hw, clock, memory);
    auto shape = std::make_shared<KernelShape>();
    shape->d = d;
    shape->c = c;
    shape->k_blocks = k_blocks;
    shape->cluster_rank = cta % c.multicast;
    shape->block_scaled = hw.features.block_scaled_mma;
    shape->promote = d.promote;
    shape->fp32_lanes = hw.cuda_cores.fp32_lanes_per_sub_partition;
    for (int64_t s = 0; s < c.stages; ++s) {
      sm->add_barrier(shape->barrier_full(s), 1);
      sm->add_barrier(shape->barrier_empty(s), static_cast<int>(c.math_warpgroups * c.multicast));
    }
    sm->add_barrier(shape->barrier_epilogue(), static_cast<int>(c.math_warpgroups));
    sm->add_barrier(shape->barrier_mma_done(), static_cast<int>(c.math_warpgroups));
    sm->add_barrier(shape->barrier_promoted(), static_cast<int>(c.math_warpgroups));
    std::vector<Tile> tiles = tiles_of_cta(d, c, cta);
    sm->add_warpgroup(std::make_unique<ProducerProgram>(shape, tiles));
    for (int64_t w = 0; w < c.math_warpgroups; ++w) {
      sm->add_warpgroup(std::make_unique<MathProgram>(shape, tiles, static_cast<int>(w)));
    }
    sms.push_back(std::move(sm));
  }
  if (c.multicast > 1) {
    for (size_t i = 0; i + 1 < sms.size(); i += 2) {
      sms[i]->set_peer(sms[i + 1].get());
      sms[i + 1]->set_peer(sms[i].get());
    }
  }
  const Time start = hw.kernel.launch_overhead;
  for (auto& sm : sms) sm->start(start);
  engine.run();

  r.time = engine.now();
  r.cycles = clock.cycle_at(r.time);
  r.events = engine.events_run();
  const double secs = r.time.seconds();
  r.tflops = d.flops() / secs * 1e-12;
  r.gbps = d.bytes() / secs * 1e-9;
  const double sm_time = static_cast<double>(r.time.picoseconds()) * static_cast<double>(sms.size());
  double tensor = 0, smem = 0, issue = 0, tma = 0, promotion = 0;
  for (const auto& sm : sms) {
    const SmStats s = sm->stats();
    tensor += static_cast<double>(s.tensor_busy.picoseconds());
    smem += static_cast<double>(s.smem_busy.picoseconds());
    issue += static_cast<double>(s.issue_busy.picoseconds());
    tma += static_cast<double>(s.tma_busy.picoseconds());
    promotion += static_cast<double>(s.issue_by_kind[static_cast<int>(IssueKind::Promotion)].picoseconds());
  }
  r.tensor_util = tensor / sm_time;
  r.smem_util = smem / sm_time;
  r.issue_util = issue / sm_time;
  r.tma_util = tma / sm_time;
  r.promotion_share = issue > 0 ? promotion / issue : 0;
  r.memory = memory.stats();
  // Writes accepted by the L2 may drain to HBM after the last SM finishes: cap the shares at 1.
  r.l2_util =
      std::min(1.0, static_cast<double>(r.memory.l2_busy.picoseconds()) / static_cast<double>(r.time.picoseconds()));
  r.hbm_util =
      std::min(1.0, static_cast<double>(r.memory.hbm_busy.picoseconds()) / static_cast<double>(r.time.picoseconds()));
  const std::pair<const char*, double> candidates[] = {{"tensor", r.tensor_util},
                                                       {"hbm", r.hbm_util},
                                                       {"l2", r.l2_util},
                                                       {"smem", r.smem_util},
                                                       {"issue", r.issue_util}};
  r.bound = "latency";
  double best = 0.5;
  for (const auto& [name, u] : candidates) {
    if (u > best) {
      best = u;
      r.bound = name;
    }
  }
  return r;
}

}  // namespace v3sim::sm
