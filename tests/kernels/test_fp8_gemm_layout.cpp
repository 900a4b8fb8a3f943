// The FP8 GEMM's index math (kernels/fp8_gemm_layout.h) on the host: the 128-byte swizzle as TMA writes it and as
// the wgmma descriptors read it, the shared-memory plan, the persistent tile scheduler and the scale layouts.
#include <catch2/catch.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "kernels/fp8_gemm_layout.h"
#include "kernels/wgmma_layout.h"

using namespace v3sim::kernels::fp8gemm;
namespace wg = v3sim::kernels::wgmma;

// The worked examples of the header, checked at compile time.
static_assert(sw128_offset(3, 37) == 405);
static_assert(sw128_descriptor(0x1000) == 0x4000'0040'0000'0100ull);
static_assert(smem_plan(128, 128, 6).used == 199776);
static_assert(tile_at(TileSpace{1, 0, 3, 10, 128, 128}, 25).m_block == 0);
static_assert(tile_at(TileSpace{1, 0, 3, 10, 128, 128}, 25).n_block == 9);

TEST_CASE("the 128B swizzle is a bijection on each 1024-byte atom and permutes whole 16-byte chunks",
          "[kernels][fp8gemm]") {
  const int rows = 128;
  std::vector<int> hits(static_cast<size_t>(rows) * kSwizzleRowBytes, 0);
  for (int r = 0; r < rows; ++r) {
    for (int b = 0; b < kSwizzleRowBytes; ++b) {
      const uint32_t off = sw128_offset(r, b);
      REQUIRE(off / kSwizzleRowBytes == static_cast<uint32_t>(r));  // a row stays in its 128 bytes
      REQUIRE(off % 16 == static_cast<uint32_t>(b % 16));           // bytes keep their place inside a chunk
      ++hits[off];
    }
  }
  for (size_t i = 0; i < hits.size(); ++i) {
    INFO("byte " << i);
    REQUIRE(hits[i] == 1);
  }
  // Row 0 of every atom is unswizzled; row 7 reverses the chunk order.
  CHECK(sw128_offset(8, 16) == 8 * 128 + 16);
  CHECK(sw128_offset(7, 0) == 7 * 128 + 7 * 16);
}

TEST_CASE("the SWIZZLE_128B wgmma descriptor, advanced 32 bytes per k32, reads what TMA wrote", "[kernels][fp8gemm]") {
  // For a tile at a 1024-aligned base, instruction k (0..3) of a stage starts at base + 32 k; element (row, byte)
  // of that instruction is K byte 32 k + byte of the TMA box.
  auto base = GENERATE(0u, 1024u * 5, 0x8000u, 0x30000u);
  auto rows = GENERATE(64, 128);
  INFO("base " << base << ", rows " << rows);
  for (int k = 0; k < kWgmmasPerStage; ++k) {
    const uint32_t start = base + static_cast<uint32_t>(k * kWgmmaK);
    const wg::Descriptor d = wg::decode_descriptor(sw128_descriptor(start));
    REQUIRE(d.start_address == start);
    REQUIRE(d.stride_byte_offset == kSwizzleAtomBytes);
    REQUIRE(d.swizzle == wg::Swizzle::B128);
    REQUIRE(d.base_offset == 0);
    for (int row = 0; row < rows; ++row) {
      for (int byte = 0; byte < kWgmmaK; ++byte) {
        INFO("k " << k << ", row " << row << ", byte " << byte);
        REQUIRE(wgmma_sw128_address(start, row, byte) == base + sw128_offset(row, k * kWgmmaK + byte));
      }
    }
  }
}

TEST_CASE("the second math warpgroup's A descriptor starts on a swizzle atom", "[kernels][fp8gemm]") {
  const uint32_t base = 0x2000;
  const uint32_t wg1 = base + static_cast<uint32_t>(kWarpgroupRows * kBlockK);
  CHECK(wg1 % kSwizzleAtomBytes == 0);
  for (int row = 0; row < kWarpgroupRows; ++row)
    for (int byte = 0; byte < kWgmmaK; ++byte)
      REQUIRE(wgmma_sw128_address(wg1, row, byte) == base + sw128_offset(kWarpgroupRows + row, byte));
}

TEST_CASE("the shared-memory plan keeps every tile aligned and fits the 227 KB budget", "[kernels][fp8gemm]") {
  CHECK(max_stages(128, 128) == 6);
  CHECK(max_stages(64, 128) == 8);
  auto cfg = GENERATE(std::pair{128, 128}, std::pair{64, 128});
  const int stages = max_stages(cfg.first, cfg.second);
  const SmemPlan p = smem_plan(cfg.first, cfg.second, stages);
  INFO("BLOCK_M " << cfg.first << ", BLOCK_N " << cfg.second << ", stages " << stages);
  CHECK(p.dynamic <= kSmemBudget);
  if (stages < kMaxStages) CHECK(smem_plan(cfg.first, cfg.second, stages + 1).dynamic > kSmemBudget);
  CHECK(p.a_offset % kSwizzleAtomBytes == 0);
  CHECK(p.b_offset % kSwizzleAtomBytes == 0);
  CHECK(p.a_stage % kSwizzleAtomBytes == 0);
  CHECK(p.b_stage % kSwizzleAtomBytes == 0);
  CHECK(p.sfa_offset % 128 == 0);
  CHECK(p.sfa_stage % 128 == 0);
  CHECK(p.barrier_offset % 8 == 0);
  CHECK(p.used == p.barrier_offset + 16u * static_cast<uint32_t>(stages));
  CHECK(p.dynamic == p.used + kSwizzleAtomBytes);
}

TEST_CASE("the tile scheduler visits every tile of a launch exactly once", "[kernels][fp8gemm]") {
  using Case = std::tuple<Layout, int64_t, int64_t, int64_t, int>;  // layout, rows, n, groups, block_m
  auto c = GENERATE(Case{Layout::Dense, 4096, 7168, 1, 128}, Case{Layout::Dense, 1, 128, 1, 64},
                    Case{Layout::Dense, 200, 136, 1, 128}, Case{Layout::Dense, 384, 2112, 1, 128},
                    Case{Layout::GroupedContiguous, 512, 4096, 4, 128}, Case{Layout::GroupedMasked, 192, 256, 3, 128},
                    Case{Layout::GroupedMasked, 48, 7168, 5, 64});
  const auto [layout, rows, n, groups, block_m] = c;
  INFO("layout " << static_cast<int>(layout) << ", rows " << rows << ", n " << n << ", groups " << groups);
  const TileSpace s = tile_space(layout, rows, n, groups, block_m, 128);
  const int64_t outer = layout == Layout::GroupedMasked ? groups : 1;
  REQUIRE(num_tiles(s) == outer * ceil_div(rows, block_m) * ceil_div(n, 128));
  std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
  for (int64_t t = 0; t < num_tiles(s); ++t) {
    const Tile tile = tile_at(s, t);
    REQUIRE(tile.group >= 0);
    REQUIRE(tile.group < outer);
    REQUIRE(tile.m_block >= 0);
    REQUIRE(tile.m_block < s.m_blocks);
    REQUIRE(tile.n_block >= 0);
    REQUIRE(tile.n_block < s.n_blocks);
    REQUIRE(tile.row0 == tile.group * (layout == Layout::GroupedMasked ? rows : 0) + tile.m_block * block_m);
    REQUIRE(tile.col0 == tile.n_block * 128);
    REQUIRE(seen.insert({tile.group, tile.m_block, tile.n_block}).second);
  }
  CHECK(static_cast<int64_t>(seen.size()) == num_tiles(s));
}

TEST_CASE("consecutive tiles share a band of n-blocks (the CTAs of a wave reuse B panels)", "[kernels][fp8gemm]") {
  const TileSpace s = tile_space(Layout::Dense, 4096, 7168, 1, 128, 128);  // 32 x 56 tiles
  std::set<int64_t> n_blocks;
  for (int64_t t = 0; t < 132; ++t) n_blocks.insert(tile_at(s, t).n_block);
  CHECK(static_cast<int>(n_blocks.size()) <= kRasterBandN);
}

TEST_CASE("the math threads' fragment rows and columns are wgmma's accumulator layout", "[kernels][fp8gemm]") {
  // fp8_gemm.cu: r0 = wg * 64 + warp * 16 + lane / 4 holds registers 4i, 4i+1; r0 + 8 holds 4i+2, 4i+3; columns
  // 8i + 2 (lane % 4) + {0, 1}.
  for (int thread = 0; thread < 128; ++thread) {
    const int warp = thread / 32, lane = thread % 32;
    const int r0 = warp * 16 + lane / 4;
    for (int i = 0; i < 64; i += 4) {
      INFO("thread " << thread << ", register " << i);
      CHECK(wg::accumulator_coord(thread, i) == wg::Coord{r0, 8 * (i / 4) + 2 * (lane % 4)});
      CHECK(wg::accumulator_coord(thread, i + 1) == wg::Coord{r0, 8 * (i / 4) + 2 * (lane % 4) + 1});
      CHECK(wg::accumulator_coord(thread, i + 2) == wg::Coord{r0 + 8, 8 * (i / 4) + 2 * (lane % 4)});
      CHECK(wg::accumulator_coord(thread, i + 3) == wg::Coord{r0 + 8, 8 * (i / 4) + 2 * (lane % 4) + 1});
    }
  }
}

TEST_CASE("scale layouts and block configuration", "[kernels][fp8gemm]") {
  CHECK(sfa_ld(1) == 128);
  CHECK(sfa_ld(128) == 128);
  CHECK(sfa_ld(129) == 256);
  CHECK(sfa_ld(4096) % 4 == 0);  // 16-byte TMA row stride
  CHECK(sfa_index(256, 3, 2) == 2 * 256 + 3);
  // B scales: group 1 of N = 2112 (17 scale blocks), column 2050 (block 16), K-block 5 of 56.
  CHECK(sfb_index(1, 2050, 5, 17, 56) == (1 * 17 + 16) * 56 + 5);
  CHECK(pick_block_m(Layout::Dense, 64) == 64);
  CHECK(pick_block_m(Layout::Dense, 65) == 128);
  CHECK(pick_block_m(Layout::GroupedMasked, 32) == 64);
  CHECK(pick_block_m(Layout::GroupedContiguous, 0) == 128);
}
