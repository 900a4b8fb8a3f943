// Index and layout math of the FP8 block-scaled GEMM (kernels/fp8_gemm.cu), shared by the kernel and the host
// tests; constexpr, builds without CUDA. Four pieces:
//   - the 128-byte swizzle: where TMA puts byte `b` of row `r` of a [rows x 128 B] box, and the address a K-major
//     SWIZZLE_128B wgmma descriptor makes the tensor core read for the same element (they must agree);
//   - the shared-memory plan of one CTA (stages of A, B and A-scales, then the mbarriers) and its stage count;
//   - the persistent tile scheduler: tile index -> (group, m-block, n-block), rasterized in bands of n-blocks;
//   - the scale layouts the kernel reads.
// Reference: hopper-microarch.md §3.2-3.3; PTX ISA "Matrix Descriptor Format", "Tensor copy swizzle modes";
// benchmarks.md (DeepGEMM's design).
#pragma once

#include <cstdint>

#include "core/math.h"
#include "core/quant.h"
#include "kernels/wgmma_layout.h"

namespace v3sim::kernels::fp8gemm {

// ---- constants ---------------------------------------------------------------------------------------------------

inline constexpr int kBlockK = kQuantTile;  // K per pipeline stage = the scale block: one promotion per stage
inline constexpr int kWgmmaK = wgmma::kK;   // 32 FP8 elements per wgmma
inline constexpr int kWgmmasPerStage = kBlockK / kWgmmaK;
inline constexpr int kWarpgroupRows = wgmma::kM;  // 64 rows of A per math warpgroup
inline constexpr int kThreadsPerWarpgroup = 128;
inline constexpr int kSwizzleRowBytes = 128;            // one row of a 128B-swizzled box
inline constexpr uint32_t kSwizzleAtomBytes = 8 * 128;  // 8 rows: the repeat of the XOR pattern (= SBO)
inline constexpr uint32_t kSmemBudget = 227 * 1024;     // sm_90 opt-in dynamic shared memory per block
inline constexpr int kMaxStages = 8;
inline constexpr int kRasterBandN = 8;  // n-blocks per rasterization band (L2 reuse of B across m-blocks)

static_assert(kBlockK == kSwizzleRowBytes, "one 128-byte swizzled row must hold exactly one stage's K of FP8");
static_assert(kBlockK % kWgmmaK == 0, "a stage must be a whole number of wgmma k32 steps");

// ---- 128-byte swizzle ----------------------------------------------------------------------------------------------

// Byte offset of byte `b` of row `r` in a 128B-swizzled box of 128-byte rows, as TMA writes it: the 16-byte chunk
// index (b / 16) is XOR-ed with r % 8.
// @pre 0 <= b < 128, the box starts 1024-byte aligned   @post bijection onto [0, rows * 128)
// Worked example: (r 3, b 37): chunk 2 ^ 3 = 1 -> 3*128 + 1*16 + 5 = 405.
V3SIM_HD constexpr uint32_t sw128_offset(int r, int b) {
  return static_cast<uint32_t>(r) * kSwizzleRowBytes +
         ((static_cast<uint32_t>(b / 16) ^ static_cast<uint32_t>(r % 8)) * 16) + static_cast<uint32_t>(b % 16);
}

// The 128B swizzle as the hardware applies it to a shared-memory address: bits [4,7) ^= bits [7,10).
V3SIM_HD constexpr uint32_t sw128_apply(uint32_t address) {
  return address ^ (((address >> 7) & 0x7u) << 4);
}

// The shared address a K-major SWIZZLE_128B wgmma operand descriptor with start address `start` reads for
// element (row, byte) of the instruction's tile (byte < 32 for FP8 k32): the canonical layout
// ((8, m), (T, 2)) : ((8T, SBO), (1, T)) puts row r at (r / 8) * SBO + (r % 8) * 128 + byte, then the swizzle is
// applied to the absolute address. Advancing along K inside the 128-byte row moves `start` by 32 bytes per k32.
// @pre the tile's 1024-byte atom is aligned (base offset 0)
V3SIM_HD constexpr uint32_t wgmma_sw128_address(uint32_t start, int row, int byte) {
  return sw128_apply(start + static_cast<uint32_t>(row / 8) * kSwizzleAtomBytes +
                     static_cast<uint32_t>(row % 8) * kSwizzleRowBytes + static_cast<uint32_t>(byte));
}

// The descriptor of a K-major SWIZZLE_128B operand at shared address `smem_address`: LBO unused by K-major
// swizzled layouts (0), SBO = 1024 (from one 8-row group to the next), base offset 0.
// Worked example: 0x1000 -> (0x1000 >> 4) | (1024 >> 4) << 32 | 1 << 62 = 0x4000'0040'0000'0100.
V3SIM_HD constexpr uint64_t sw128_descriptor(uint32_t smem_address) {
  return wgmma::encode_descriptor(wgmma::Descriptor{smem_address, 0, kSwizzleAtomBytes, 0, wgmma::Swizzle::B128});
}

// ---- shared-memory plan
// ----------------------------------------------------------------------------------------------

struct SmemPlan {
  uint32_t a_stage = 0, b_stage = 0, sfa_stage = 0;                         // bytes per stage
  uint32_t a_offset = 0, b_offset = 0, sfa_offset = 0, barrier_offset = 0;  // from the 1024-aligned base
  uint32_t used = 0;     // bytes from the aligned base to the end of the barriers
  uint32_t dynamic = 0;  // bytes to request: `used` plus the slack to align the base to 1024
};

// Layout of `stages` stages: [A x stages][B x stages][A scales x stages][full x stages][empty x stages].
// A and B tiles stay 1024-aligned (the swizzle atom); the A-scale tiles 128-aligned (TMA destination).
// Worked example: block 128 x 128, 6 stages: A 16384, B 16384, scales 512 per stage; used = 6*33280 + 96 = 199776.
V3SIM_HD constexpr SmemPlan smem_plan(int block_m, int block_n, int stages) {
  SmemPlan p;
  p.a_stage = static_cast<uint32_t>(block_m) * kBlockK;
  p.b_stage = static_cast<uint32_t>(block_n) * kBlockK;
  p.sfa_stage = static_cast<uint32_t>(block_m) * 4;
  const uint32_t s = static_cast<uint32_t>(stages);
  p.a_offset = 0;
  p.b_offset = p.a_offset + s * p.a_stage;
  p.sfa_offset = p.b_offset + s * p.b_stage;
  p.barrier_offset = p.sfa_offset + s * p.sfa_stage;
  p.used = p.barrier_offset + 2 * s * 8;
  p.dynamic = p.used + kSwizzleAtomBytes;
  return p;
}

// The deepest pipeline (<= kMaxStages) whose plan fits the shared-memory budget; 0 when not even 2 fit.
V3SIM_HD constexpr int max_stages(int block_m, int block_n) {
  for (int s = kMaxStages; s >= 2; --s)
    if (smem_plan(block_m, block_n, s).dynamic <= kSmemBudget) return s;
  return 0;
}

// ---- tile scheduler -------------------------------------------------------------------------------------------------

enum class Layout : uint8_t {
  Dense = 0,              // D[M,N] = A[M,K] B[N,K]^T
  GroupedContiguous = 1,  // groups' rows concatenated in A and D; B is [groups, N, K]; m-blocks never straddle
  GroupedMasked = 2,      // A [groups, M_max, K], D [groups, M_max, N]; rows >= count[g] are neither read nor written
};

// The tiles of one launch. A and D are seen as 2-D [rows, K] / [rows, N] matrices in every layout.
struct TileSpace {
  int64_t outer_groups = 1;  // masked: groups; otherwise 1 (contiguous groups are found per m-block at run time)
  int64_t group_rows = 0;    // masked: M_max (rows per group in A and D); otherwise 0
  int64_t m_blocks = 0;      // per outer group
  int64_t n_blocks = 0;
  int block_m = 128, block_n = 128;
};

struct Tile {
  int64_t group = 0;    // outer group (masked), else 0
  int64_t m_block = 0;  // within the outer group
  int64_t n_block = 0;
  int64_t row0 = 0;  // first row of the tile in the 2-D view of A and D
  int64_t col0 = 0;  // first column of D
};

using v3sim::ceil_div;

// The tile space of a layout: `rows` = rows of A (dense: M; contiguous: sum of group rows; masked: M_max).
V3SIM_HD constexpr TileSpace tile_space(Layout layout, int64_t rows, int64_t n, int64_t groups, int block_m,
                                        int block_n) {
  TileSpace s;
  s.block_m = block_m;
  s.block_n = block_n;
  s.outer_groups = layout == Layout::GroupedMasked ? groups : 1;
  s.group_rows = layout == Layout::GroupedMasked ? rows : 0;
  s.m_blocks = ceil_div(rows, block_m);
  s.n_blocks = ceil_div(n, block_n);
  return s;
}

V3SIM_HD constexpr int64_t num_tiles(const TileSpace& s) {
  return s.outer_groups * s.m_blocks * s.n_blocks;
}

// Tile `t` (0 <= t < num_tiles): outer group first, then bands of kRasterBandN n-blocks; inside a band the tile
// index runs along n fastest, then m, so the CTAs of one wave share a few B panels and sweep the A panels.
// @post a bijection of [0, num_tiles) onto (group, m_block, n_block)
// Worked example: m_blocks 3, n_blocks 10, t = 25: band 0 holds 3*8 = 24 tiles, so t is tile 1 of band 1
// (n-blocks 8..9, width 2): m_block 0, n_block 9.
V3SIM_HD constexpr Tile tile_at(const TileSpace& s, int64_t t) {
  Tile tile;
  const int64_t per_group = s.m_blocks * s.n_blocks;
  tile.group = t / per_group;
  const int64_t r = t - tile.group * per_group;
  const int64_t per_band = s.m_blocks * kRasterBandN;
  const int64_t band = r / per_band;
  const int64_t first_n = band * kRasterBandN;
  const int64_t width = (s.n_blocks - first_n) < kRasterBandN ? (s.n_blocks - first_n) : kRasterBandN;
  const int64_t in_band = r - band * per_band;
  tile.m_block = in_band / width;
  tile.n_block = first_n + in_band % width;
  tile.row0 = tile.group * s.group_rows + tile.m_block * s.block_m;
  tile.col0 = tile.n_block * s.block_n;
  return tile;
}

// ---- scales
// ----------------------------------------------------------------------------------------------------------

// A scales on the device: K-block-major [K/128][ld] with ld = rows rounded up to 128 (a multiple of the 16-byte
// global stride TMA needs, and no box of block_m <= 128 floats ever leaves the row); element (row, kb) at
// kb * ld + row. One TMA box of block_m floats per stage. The padding holds zeros.
V3SIM_HD constexpr int64_t sfa_ld(int64_t rows) {
  return ceil_div(rows, 128) * 128;
}
V3SIM_HD constexpr int64_t sfa_index(int64_t ld, int64_t row, int64_t kb) {
  return kb * ld + row;
}

// B scales: [groups][ceil(N/128)][K/128] row-major, as numerics::quantize lays out a Block128x128 matrix per group.
V3SIM_HD constexpr int64_t sfb_index(int64_t group, int64_t n, int64_t kb, int64_t n_scale_blocks, int64_t kb_count) {
  return (group * n_scale_blocks + n / kBlockK) * kb_count + kb;
}

// ---- block configuration
// ---------------------------------------------------------------------------------------------

// BLOCK_M of a problem whose groups have `rows_per_group` rows (dense: M): one math warpgroup (64) for the small
// M of decode, two (128) otherwise; the contiguous layout always uses 128 (its segments are 128-aligned).
V3SIM_HD constexpr int pick_block_m(Layout layout, int64_t rows_per_group) {
  return (layout != Layout::GroupedContiguous && rows_per_group <= 64) ? 64 : 128;
}

inline constexpr int kBlockN = 128;

}  // namespace v3sim::kernels::fp8gemm
