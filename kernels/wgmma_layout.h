// Index math of one Hopper FP8 `wgmma.mma_async.sync.aligned.m64nNk32.f32.{e4m3|e5m2}.{e4m3|e5m2}` with both
// operands read from shared memory (hopper-microarch.md §3.2; PTX ISA "Asynchronous Warpgroup Level Matrix
// Shared Memory Layout" and "Matrix Descriptor Format", and the wgmma register fragments of D).
// Header-only and constexpr so the kernel and the host tests share one definition; builds without CUDA.
//
// Three pieces:
//   - operand_offset: where element (row, k) of a K-major FP8 operand tile (rows x 32 bytes) lives in shared
//     memory, in the no-swizzle ("interleave") canonical layout of 8 x 16-byte core matrices;
//   - encode_descriptor / decode_descriptor: the 64-bit matrix descriptor that points wgmma at such a tile;
//   - accumulator_coord: which (row, col) of the 64 x N accumulator each thread's register r holds.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace v3sim::kernels::wgmma {

// FP8 wgmma: M = 64 rows of A, K = 32 one-byte elements per instruction, 128 threads (one warpgroup).
inline constexpr int kM = 64;
inline constexpr int kK = 32;
inline constexpr int kThreads = 128;
// A core matrix: 8 rows x 16 bytes, its rows stored one after another (128 contiguous bytes).
inline constexpr int kCoreRows = 8;
inline constexpr int kCoreRowBytes = 16;
inline constexpr int kCoreMatrixBytes = kCoreRows * kCoreRowBytes;
// Our tile layout puts the two K-adjacent core matrices of an 8-row group side by side, then the next group:
//   LBO (leading dimension byte offset, K direction for a K-major operand) = 128 bytes,
//   SBO (stride dimension byte offset, M/N direction: from one 8-row group to the next) = 256 bytes.
// The same values serve A (64 rows) and B (N rows): neither depends on the row count.
inline constexpr uint32_t kLeadingByteOffset = kCoreMatrixBytes;
inline constexpr uint32_t kStrideByteOffset = 2 * kCoreMatrixBytes;

// True for the N values the FP8 instruction has: 8..256 in steps of 8.
V3SIM_HD constexpr bool valid_n(int n) {
  return n >= 8 && n <= 256 && n % 8 == 0;
}

// Bytes of a K-major FP8 operand tile of `rows` rows (A: 64, B: N).
V3SIM_HD constexpr uint32_t operand_bytes(int rows) {
  return static_cast<uint32_t>(rows) * kK;
}

// Byte offset, from the tile's start, of element (row, k) of a K-major FP8 operand (A[m][k] or B[n][k]):
//   core matrix (row / 8, k / 16) starts at (row / 8) * SBO + (k / 16) * LBO; inside it row % 8 is the
//   16-byte line and k % 16 the byte.
// @pre 0 <= row < rows (a multiple of 8), 0 <= k < 32   @post the map is a bijection onto [0, rows * 32)
// Worked example: (row 9, k 20): group 1, K-chunk 1, line 1, byte 4: 1*256 + 1*128 + 1*16 + 4 = 404.
V3SIM_HD constexpr uint32_t operand_offset(int row, int k) {
  return static_cast<uint32_t>(row / kCoreRows) * kStrideByteOffset +
         static_cast<uint32_t>(k / kCoreRowBytes) * kLeadingByteOffset +
         static_cast<uint32_t>(row % kCoreRows) * kCoreRowBytes + static_cast<uint32_t>(k % kCoreRowBytes);
}

// Swizzle modes, as the descriptor's bits 62-63 encode them.
enum class Swizzle : uint8_t { None = 0, B128 = 1, B64 = 2, B32 = 3 };

// The fields of a wgmma shared-memory matrix descriptor, in bytes (the encoding drops the low 4 bits).
struct Descriptor {
  uint32_t start_address = 0;        // shared-window address of the tile, 16-byte aligned, < 2^18
  uint32_t leading_byte_offset = 0;  // LBO, multiple of 16, < 2^18
  uint32_t stride_byte_offset = 0;   // SBO, multiple of 16, < 2^18
  uint32_t base_offset = 0;          // 3 bits; 0 for tiles aligned to their swizzle pattern (always for None)
  Swizzle swizzle = Swizzle::None;

  constexpr bool operator==(const Descriptor&) const = default;
};

// Packs a descriptor (PTX ISA "Matrix Descriptor Format"): bits 0-13 start address >> 4, 16-29 LBO >> 4,
// 32-45 SBO >> 4, 49-51 base offset, 62-63 swizzle mode; the other bits are zero.
// @pre the byte fields are multiples of 16 below 2^18, base_offset < 8 (bits beyond are dropped)
// Worked example: start 0x400, LBO 128, SBO 256, no swizzle:
//   (0x400 >> 4) | (128 >> 4) << 16 | (256 >> 4) << 32 = 0x40 | 0x8'0000 | 0x10'0000'0000 = 0x0000'0010'0008'0040.
V3SIM_HD constexpr uint64_t encode_descriptor(const Descriptor& d) {
  constexpr uint64_t kField = 0x3FFF;
  return ((uint64_t{d.start_address} >> 4) & kField) | (((uint64_t{d.leading_byte_offset} >> 4) & kField) << 16) |
         (((uint64_t{d.stride_byte_offset} >> 4) & kField) << 32) | ((uint64_t{d.base_offset} & 0x7) << 49) |
         ((static_cast<uint64_t>(d.swizzle) & 0x3) << 62);
}

// Unpacks a descriptor; the inverse of encode_descriptor on its domain.
// Worked example: 0x0000'0010'0008'0040 -> start 0x400, LBO 128, SBO 256, base offset 0, Swizzle::None.
V3SIM_HD constexpr Descriptor decode_descriptor(uint64_t bits) {
  Descriptor d;
  d.start_address = static_cast<uint32_t>(bits & 0x3FFF) << 4;
  d.leading_byte_offset = static_cast<uint32_t>((bits >> 16) & 0x3FFF) << 4;
  d.stride_byte_offset = static_cast<uint32_t>((bits >> 32) & 0x3FFF) << 4;
  d.base_offset = static_cast<uint32_t>((bits >> 49) & 0x7);
  d.swizzle = static_cast<Swizzle>((bits >> 62) & 0x3);
  return d;
}

// The descriptor of one of our no-swizzle K-major tiles starting at shared address `smem_address`.
V3SIM_HD constexpr uint64_t operand_descriptor(uint32_t smem_address) {
  return encode_descriptor(Descriptor{smem_address, kLeadingByteOffset, kStrideByteOffset, 0, Swizzle::None});
}

// A position in the 64 x N accumulator.
struct Coord {
  int row = 0;
  int col = 0;
  constexpr bool operator==(const Coord&) const = default;
};

// The element of D (and C) that register `reg` of warpgroup thread `thread` holds in wgmma.m64nNk32.f32.
// Warp w owns rows 16w..16w+15; within a warp the layout repeats every 8 columns, 4 registers per thread:
//   row = 16 * (thread / 32) + (thread % 32) / 4 + 8 * ((reg / 2) % 2)
//   col = 8 * (reg / 4) + 2 * (thread % 4) + reg % 2
// @pre 0 <= thread < 128, 0 <= reg < N / 2   @post covers every (row, col) of 64 x N exactly once
// Worked example: thread 37 (warp 1, lane 5), reg 6: row = 16 + 1 + 8 = 25, col = 8 + 2 + 0 = 10.
V3SIM_HD constexpr Coord accumulator_coord(int thread, int reg) {
  const int warp = thread / 32, lane = thread % 32;
  return Coord{16 * warp + lane / 4 + 8 * ((reg / 2) % 2), 8 * (reg / 4) + 2 * (lane % 4) + reg % 2};
}

}  // namespace v3sim::kernels::wgmma
