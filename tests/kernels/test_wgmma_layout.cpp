// The wgmma index math of kernels/wgmma_layout.h, exhaustively on the host (no GPU): the shared-memory operand
// layout, the matrix descriptor encoding and the accumulator fragment map.
#include <catch2/catch.hpp>
#include <vector>

#include "kernels/wgmma_layout.h"
#include "kernels/wgmma_probe.h"

using namespace v3sim::kernels::wgmma;

// The worked examples of the header, checked at compile time.
static_assert(operand_offset(9, 20) == 404);
static_assert(encode_descriptor(Descriptor{0x400, 128, 256, 0, Swizzle::None}) == 0x0000'0010'0008'0040ull);
static_assert(decode_descriptor(0x0000'0010'0008'0040ull) == Descriptor{0x400, 128, 256, 0, Swizzle::None});
static_assert(accumulator_coord(37, 6) == Coord{25, 10});

TEST_CASE("the K-major operand layout is a bijection onto the tile's bytes", "[kernels][wgmma]") {
  // A has 64 rows, B has N rows; the same map serves both.
  auto rows = GENERATE(64, 8, 16, 64, 128, 256);
  INFO("rows = " << rows);
  const uint32_t bytes = operand_bytes(rows);
  REQUIRE(bytes == static_cast<uint32_t>(rows) * 32);
  std::vector<int> hits(bytes, 0);
  for (int row = 0; row < rows; ++row) {
    for (int k = 0; k < kK; ++k) {
      const uint32_t off = operand_offset(row, k);
      REQUIRE(off < bytes);
      ++hits[off];
    }
  }
  for (uint32_t i = 0; i < bytes; ++i) {
    INFO("byte " << i);
    REQUIRE(hits[i] == 1);
  }
}

TEST_CASE("each core matrix is 8 rows of 16 contiguous bytes, placed by LBO along K and SBO along rows",
          "[kernels][wgmma]") {
  // PTX ISA: a core matrix of an 8-bit K-major operand is 8 rows x 16 bytes, each row 16 contiguous bytes, the
  // 8 rows at a 16-byte stride (128 contiguous bytes in the no-swizzle layout).
  const int rows = 256;
  for (int group = 0; group < rows / kCoreRows; ++group) {
    for (int chunk = 0; chunk < kK / kCoreRowBytes; ++chunk) {
      const uint32_t base = operand_offset(group * kCoreRows, chunk * kCoreRowBytes);
      INFO("core matrix (row group " << group << ", K chunk " << chunk << ")");
      CHECK(base == group * kStrideByteOffset + chunk * kLeadingByteOffset);
      CHECK(base % kCoreMatrixBytes == 0);
      for (int r = 0; r < kCoreRows; ++r) {
        for (int b = 0; b < kCoreRowBytes; ++b) {
          const uint32_t off = operand_offset(group * kCoreRows + r, chunk * kCoreRowBytes + b);
          REQUIRE(off == base + static_cast<uint32_t>(r * kCoreRowBytes + b));
        }
      }
    }
  }
  // Descriptor offsets must be encodable: multiples of 16 below 2^18.
  STATIC_REQUIRE(kLeadingByteOffset % 16 == 0);
  STATIC_REQUIRE(kStrideByteOffset % 16 == 0);
  STATIC_REQUIRE(kStrideByteOffset < (1u << 18));
}

TEST_CASE("the accumulator fragment map covers 64 x N exactly once", "[kernels][wgmma]") {
  auto n = GENERATE(8, 16, 64, 128, 256);
  INFO("N = " << n);
  REQUIRE(valid_n(n));
  std::vector<int> hits(static_cast<size_t>(kM * n), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < n / 2; ++r) {
      const Coord c = accumulator_coord(t, r);
      INFO("thread " << t << " reg " << r << " -> (" << c.row << ", " << c.col << ")");
      REQUIRE(c.row >= 0);
      REQUIRE(c.row < kM);
      REQUIRE(c.col >= 0);
      REQUIRE(c.col < n);
      ++hits[static_cast<size_t>(c.row) * static_cast<size_t>(n) + static_cast<size_t>(c.col)];
    }
  }
  for (int i = 0; i < kM * n; ++i) {
    INFO("element (" << i / n << ", " << i % n << ")");
    REQUIRE(hits[static_cast<size_t>(i)] == 1);
  }
}

TEST_CASE("the fragment map follows the PTX figure for m64nNk32 D", "[kernels][wgmma]") {
  // Warp w owns rows 16w..16w+15; lane l holds rows l/4 and l/4+8, columns 2(l%4) and 2(l%4)+1 of every
  // 8-column block; registers come in fours per block: (row, c), (row, c+1), (row+8, c), (row+8, c+1).
  CHECK(accumulator_coord(0, 0) == Coord{0, 0});
  CHECK(accumulator_coord(0, 1) == Coord{0, 1});
  CHECK(accumulator_coord(0, 2) == Coord{8, 0});
  CHECK(accumulator_coord(0, 3) == Coord{8, 1});
  CHECK(accumulator_coord(0, 4) == Coord{0, 8});
  CHECK(accumulator_coord(3, 0) == Coord{0, 6});
  CHECK(accumulator_coord(4, 0) == Coord{1, 0});
  CHECK(accumulator_coord(31, 3) == Coord{15, 7});
  CHECK(accumulator_coord(32, 0) == Coord{16, 0});
  CHECK(accumulator_coord(127, 127) == Coord{63, 255});
}

TEST_CASE("descriptor fields round-trip through the 64-bit encoding", "[kernels][wgmma]") {
  SECTION("fields -> bits -> fields") {
    for (uint32_t addr : {0u, 16u, 0x400u, 0x3FFF0u}) {
      for (uint32_t lbo : {16u, 128u, 0x3FFF0u}) {
        for (uint32_t sbo : {16u, 256u, 1024u, 0x3FFF0u}) {
          for (uint32_t base : {0u, 5u, 7u}) {
            for (Swizzle s : {Swizzle::None, Swizzle::B128, Swizzle::B64, Swizzle::B32}) {
              const Descriptor d{addr, lbo, sbo, base, s};
              INFO("addr " << addr << " lbo " << lbo << " sbo " << sbo << " base " << base << " swizzle "
                           << static_cast<int>(s));
              REQUIRE(decode_descriptor(encode_descriptor(d)) == d);
            }
          }
        }
      }
    }
  }
  SECTION("bits -> fields -> bits, for every pattern of the defined bits") {
    // Defined bits: 0-13, 16-29, 32-45, 49-51, 62-63.
    constexpr uint64_t kDefined = 0x3FFFull | 0x3FFFull << 16 | 0x3FFFull << 32 | 0x7ull << 49 | 0x3ull << 62;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 10000; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
      const uint64_t bits = x & kDefined;
      REQUIRE(encode_descriptor(decode_descriptor(bits)) == bits);
      REQUIRE(decode_descriptor(x) == decode_descriptor(bits));  // undefined bits are ignored
    }
  }
  SECTION("each field lands in its PTX bit range") {
    CHECK(encode_descriptor(Descriptor{0x3FFF0, 0, 0, 0, Swizzle::None}) == 0x3FFFull);
    CHECK(encode_descriptor(Descriptor{0, 0x3FFF0, 0, 0, Swizzle::None}) == 0x3FFFull << 16);
    CHECK(encode_descriptor(Descriptor{0, 0, 0x3FFF0, 0, Swizzle::None}) == 0x3FFFull << 32);
    CHECK(encode_descriptor(Descriptor{0, 0, 0, 7, Swizzle::None}) == 0x7ull << 49);
    CHECK(encode_descriptor(Descriptor{0, 0, 0, 0, Swizzle::B128}) == 1ull << 62);
    CHECK(encode_descriptor(Descriptor{0, 0, 0, 0, Swizzle::B32}) == 3ull << 62);
  }
  SECTION("our operand descriptor: no swizzle, LBO 128, SBO 256") {
    const Descriptor d = decode_descriptor(operand_descriptor(0x1230));
    CHECK(d == Descriptor{0x1230, kLeadingByteOffset, kStrideByteOffset, 0, Swizzle::None});
    CHECK(kLeadingByteOffset == 128);
    CHECK(kStrideByteOffset == 256);
  }
}

TEST_CASE("the probe rejects malformed input naming the field", "[kernels][wgmma]") {
  v3sim::kernels::WgmmaProbeInput in;
  in.n = 8;
  in.tiles = 2;
  in.a.assign(size_t{2} * 64 * 32, 0);
  in.b.assign(size_t{2} * 8 * 32, 0);
  in.c.assign(size_t{2} * 64 * 8, 0);
  CHECK_NOTHROW(v3sim::kernels::validate_wgmma_probe_input(in));
  auto bad = in;
  bad.n = 12;
  CHECK_THROWS_WITH(v3sim::kernels::run_wgmma_probe(bad), Catch::Contains("n must be 8..256"));
  bad.n = 16;
  CHECK_THROWS_WITH(v3sim::kernels::run_wgmma_probe(bad), Catch::Contains("n is not one of the instantiated values"));
  bad = in;
  bad.tiles = 0;
  CHECK_THROWS_AS(v3sim::kernels::run_wgmma_probe(bad), std::invalid_argument);
  bad = in;
  bad.a.pop_back();
  CHECK_THROWS_WITH(v3sim::kernels::run_wgmma_probe(bad), Catch::Contains("a has 4095 elements, expected 4096"));
  bad = in;
  bad.b.push_back(0);
  CHECK_THROWS_WITH(v3sim::kernels::run_wgmma_probe(bad), Catch::Contains("b has"));
  bad = in;
  bad.c.clear();
  CHECK_THROWS_WITH(v3sim::kernels::run_wgmma_probe(bad), Catch::Contains("c has 0 elements"));
}

TEST_CASE("without a usable device the probe reports why instead of throwing", "[kernels][wgmma]") {
  const std::string why = v3sim::kernels::wgmma_probe_unavailable_reason();
  if (!why.empty()) {
    v3sim::kernels::WgmmaProbeInput in;
    in.n = 8;
    in.a.assign(size_t{64} * 32, 0);
    in.b.assign(size_t{8} * 32, 0);
    in.c.assign(size_t{64} * 8, 0);
    v3sim::kernels::WgmmaProbeOutput out;
    REQUIRE_NOTHROW(out = v3sim::kernels::run_wgmma_probe(in));
    CHECK_FALSE(out.ran);
    CHECK(out.reason == why);
    CHECK(out.d.empty());
  } else {
    SUCCEED("a Hopper device is present; the gpu suite runs the probe");
  }
}
