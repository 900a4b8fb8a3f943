// Shared-memory bank conflicts from actual addresses (hopper-microarch.md §3.4): 32 banks of 4 bytes, bank =
// (address / 4) mod 32. A warp's request is served in wavefronts: accesses wider than 4 bytes go in phases (8-byte
// per half-warp, 16-byte per quarter-warp, 128 bytes per phase); within a phase each bank serves one distinct
// 4-byte word per wavefront, identical words broadcast. So the wavefronts of a phase are the largest number of
// distinct words any one bank is asked for.
//
// Examples: 32 lanes reading consecutive 4-byte words -> 1 wavefront; 32 lanes reading a column of a row-major
// 128-byte-wide tile (stride 128 B) -> all in bank 0 -> 32 wavefronts; the same column through the 128-byte TMA
// swizzle -> 4 wavefronts (8 distinct 16-byte chunks cover 32 banks, rows 8 apart repeat).
#pragma once

#include <cstdint>
#include <span>

namespace v3sim::sm {

// @pre addresses.size() <= 32 (one warp), width in {1, 2, 4, 8, 16}, each access aligned to its width.
int smem_wavefronts(std::span<const uint32_t> addresses, int width, int banks = 32, int bank_width = 4);

// The TMA / wgmma swizzle of a byte offset inside a tile: the 16-byte chunk index (bits 4..) is XOR-ed with the
// row index (the 128-byte line, bits 7..) within the swizzle span. span_bytes 0 (none), 32, 64 or 128.
// Example (128B): offset 0x80 + 0x10 (row 1, chunk 1) -> chunk 1 ^ 1 = 0 -> 0x80.
constexpr uint32_t swizzle(uint32_t offset, int span_bytes) {
  if (span_bytes <= 16) return offset;
  const uint32_t chunks = static_cast<uint32_t>(span_bytes) / 16;  // 2, 4 or 8 chunks per span
  const uint32_t chunk = (offset >> 4) & (chunks - 1);
  const uint32_t row = (offset / static_cast<uint32_t>(span_bytes)) & (chunks - 1);
  return (offset & ~((chunks - 1) << 4)) | ((chunk ^ row) << 4);
}

}  // namespace v3sim::sm
