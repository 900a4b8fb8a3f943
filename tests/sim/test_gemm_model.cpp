#include <catch2/catch.hpp>

#include "core/error.h"
#include "hw_helpers.h"
#include "sim/sm/gemm.h"

using namespace v3sim;
using namespace v3sim::sm;

namespace {
GemmDesc shape(int64_t m, int64_t n, int64_t k) {
  GemmDesc d;
  d.m = m;
  d.n = n;
  d.k = k;
  return d;
}
}  // namespace

TEST_CASE("DeepGEMM's heuristic: fewest waves, fullest last wave, stages by shared memory, multicast", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  // M = 64, N = 2112: 132 tiles of 64 x 16 fill every SM exactly once.
  GemmConfig small = choose_gemm_config(shape(64, 2112, 7168), hw);
  CHECK(small.block_m == 64);
  CHECK(small.block_n == 16);
  CHECK(small.tiles == 132);
  CHECK(small.waves == 1);
  CHECK(small.stages == 8);
  CHECK(small.multicast == 1);  // M < 512
  // M = 4096, N = 7168: 256 x 128 tiles, 7 waves; 3 stages fit; the pair shares A.
  GemmConfig big = choose_gemm_config(shape(4096, 7168, 16384), hw);
  CHECK(big.block_m == 256);
  CHECK(big.block_n == 128);
  CHECK(big.waves == 7);
  CHECK(big.stages == 3);
  CHECK(big.smem_bytes <= hw.smem.max_per_block.count());
  CHECK(gemm_smem_bytes(256, 128, 4, 16384) > hw.smem.max_per_block.count());
  CHECK(big.multicast == 2);
  CHECK(big.multicast_on_a);
  // Fewer SMs, more waves.
  GemmDesc on112 = shape(4096, 7168, 16384);
  on112.sms = 112;
  CHECK(choose_gemm_config(on112, hw).grid <= 112);
}

TEST_CASE("fewer SMs (20 held by communication) slow a compute-bound GEMM", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  GemmDesc all = shape(4096, 7168, 2048), fewer = all;
  fewer.sms = 112;
  const GemmResult a = simulate_gemm(all, hw), b = simulate_gemm(fewer, hw);
  CHECK(b.time > a.time);
  CHECK(b.tflops < a.tflops);
}

TEST_CASE("a Wgrad accumulating into FP32 C reads C, writes FP32 and stages a twice-larger output tile",
          "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  // Same tile for both, so only the epilogue differs: 128 x 128 tiles of a 7168 x 2048 weight, K = 4096 tokens.
  GemmDesc bf16 = shape(7168, 2048, 4096);
  bf16.block_m = 128;
  bf16.block_n = 128;
  GemmDesc acc = bf16;
  acc.c_accumulate = true;
  const GemmResult b = simulate_gemm(bf16, hw), a = simulate_gemm(acc, hw);
  const double out = 7168.0 * 2048;
  CHECK(b.memory.hbm_write_bytes == Approx(2 * out).epsilon(0.01));
  CHECK(a.memory.hbm_write_bytes == Approx(4 * out).epsilon(0.01));
  // Reads: the operands (as much as the BF16 kernel reads) plus all of C once.
  CHECK(static_cast<double>(a.memory.hbm_read_bytes - b.memory.hbm_read_bytes) == Approx(4 * out).epsilon(0.02));
  CHECK(b.config.smem_bytes == gemm_smem_bytes(128, 128, b.config.stages, 4096));
  CHECK(a.config.smem_bytes == gemm_smem_bytes(128, 128, a.config.stages, 4096, 4));
  CHECK(gemm_smem_bytes(128, 128, 3, 4096, 4) - gemm_smem_bytes(128, 128, 3, 4096) == 128 * 128 * 2);
  CHECK(a.time > b.time);
  CHECK_THAT(acc.str(), Catch::Contains("FP32"));
  // Many N blocks (448 of 16 columns) per row of tiles: still every tile reads its own C, once.
  GemmDesc narrow = shape(256, 7168, 512);
  narrow.block_m = 128;
  narrow.block_n = 16;
  GemmDesc narrow_acc = narrow;
  narrow_acc.c_accumulate = true;
  const GemmResult nb = simulate_gemm(narrow, hw), na = simulate_gemm(narrow_acc, hw);
  CHECK(static_cast<double>(na.memory.hbm_read_bytes - nb.memory.hbm_read_bytes) ==
        Approx(4.0 * 256 * 7168).epsilon(0.02));
  // The heuristic skips tiles whose 3-stage pipeline no longer fits: 256 x 128 does for BF16, not for FP32.
  CHECK(gemm_smem_bytes(256, 128, 3, 4096) <= hw.smem.max_per_block.count());
  CHECK(gemm_smem_bytes(256, 128, 3, 4096, 4) > hw.smem.max_per_block.count());
  GemmDesc free_acc = shape(7168, 2048, 4096);
  free_acc.c_accumulate = true;
  const GemmConfig c = choose_gemm_config(free_acc, hw);
  CHECK(c.smem_bytes <= hw.smem.max_per_block.count());
  CHECK(c.stages >= 3);
  const GemmConfig plain = choose_gemm_config(shape(7168, 2048, 4096), hw);
  CHECK(plain.block_m * plain.block_n > c.block_m * c.block_n);
}

TEST_CASE("grouped GEMM: one group equals the dense GEMM; G groups cost at least one", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml", {{"tma.multicast", "false"}});
  GemmDesc dense = shape(1024, 4096, 7168);
  dense.block_m = 128;  // the contiguous layout's M alignment
  GemmDesc one = dense;
  one.layout = GemmLayout::Contiguous;
  one.block_m = 0;
  const GemmResult d = simulate_gemm(dense, hw), g1 = simulate_gemm(one, hw);
  CHECK(g1.config.block_m == 128);
  CHECK(g1.config.block_n == d.config.block_n);
  CHECK(g1.time == d.time);
  GemmDesc four = one;
  four.groups = 4;
  const GemmResult g4 = simulate_gemm(four, hw);
  CHECK(g4.time >= g1.time);
  CHECK(g4.desc.flops() == 4 * g1.desc.flops());
  GemmDesc masked = four;
  masked.layout = GemmLayout::Masked;
  const GemmResult m4 = simulate_gemm(masked, hw);
  CHECK(m4.time >= g1.time);
}

TEST_CASE("memory-bound shapes are bound by memory, large ones by the tensor pipe", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  const GemmResult skinny = simulate_gemm(shape(64, 7168, 16384), hw);
  CHECK((skinny.bound == "hbm" || skinny.bound == "l2"));
  CHECK(skinny.tensor_util < 0.5);
  CHECK(skinny.memory.hbm_read_bytes >= 7168LL * 16384);  // B streams from HBM once
  const GemmResult square = simulate_gemm(shape(4096, 4096, 7168), hw);
  CHECK(square.bound == "tensor");
  CHECK(square.tensor_util > 0.8);
}

TEST_CASE("proposals change the kernel's code, not a factor", "[sim][gemm][proposals]") {
  const HardwareConfig h800 = test::hardware("h800.yaml");
  const HardwareConfig scaled = test::hardware("proposals/block-scaled-mma.yaml");
  const HardwareConfig fp32 = test::hardware("proposals/fp32-accumulation.yaml");
  // Decode-sized GEMM: one math warpgroup, so promotion FFMAs cannot hide behind another warpgroup's wgmmas.
  const GemmDesc decode = shape(64, 7168, 2048);
  const GemmDesc train = shape(4096, 7168, 2048);
  const GemmResult base_d = simulate_gemm(decode, h800), scaled_d = simulate_gemm(decode, scaled);
  CHECK(base_d.promotion_share > 0);
  CHECK(scaled_d.promotion_share == 0);  // no promotion FFMAs are emitted
  CHECK(scaled_d.time <= base_d.time);
  const GemmResult base_t = simulate_gemm(train, h800), scaled_t = simulate_gemm(train, scaled);
  CHECK(scaled_t.time <= base_t.time);
  // FP32 accumulation alone changes the numerics, not the code: the per-128 scales still need the CUDA cores.
  CHECK(simulate_gemm(train, fp32).time == base_t.time);
  // Tensor-core-only accumulation (fine on a chip with FP32 accumulation) drops the promotion too.
  GemmDesc fast = train;
  fast.promote = false;
  CHECK(simulate_gemm(fast, fp32).promotion_share == 0);
}

TEST_CASE("transposed FP8 reads and the TMA cast need their features", "[sim][gemm][proposals]") {
  const HardwareConfig h800 = test::hardware("h800.yaml");
  GemmDesc wgrad = shape(7168, 2048, 4096);
  wgrad.a_mn_major = true;
  CHECK_THROWS_WITH(simulate_gemm(wgrad, h800), Catch::Contains("cannot read them transposed"));
  CHECK_NOTHROW(simulate_gemm(wgrad, test::hardware("proposals/transposed-fp8-smem-reads.yaml")));
  GemmDesc cast = shape(4096, 7168, 2048);
  cast.a_bf16_cast = true;
  CHECK_THROWS_WITH(simulate_gemm(cast, h800), Catch::Contains("cannot cast BF16 to FP8"));
  const GemmResult with = simulate_gemm(cast, test::hardware("proposals/tma-fp8-cast.yaml"));
  CHECK(with.memory.l2_bytes > simulate_gemm(shape(4096, 7168, 2048), h800).memory.l2_bytes);  // A read in BF16
}

TEST_CASE("impossible GEMMs are refused with the constraint that failed", "[sim][gemm][errors]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  CHECK_THROWS_WITH(simulate_gemm(shape(128, 4096, 1000), hw), Catch::Contains("a multiple of 128"));
  CHECK_THROWS_WITH(simulate_gemm(shape(128, 4100, 1024), hw), Catch::Contains("a multiple of 16"));
  GemmDesc big_tile = shape(4096, 7168, 16384);
  big_tile.block_m = 256;
  big_tile.block_n = 128;
  big_tile.stages = 6;
  CHECK_THROWS_WITH(simulate_gemm(big_tile, hw), Catch::Contains("fits the 232448 B of shared memory"));
  GemmDesc contiguous = shape(100, 4096, 1024);
  contiguous.layout = GemmLayout::Contiguous;
  contiguous.groups = 2;
  CHECK_THROWS_WITH(simulate_gemm(contiguous, hw), Catch::Contains("multiple of 128"));
  GemmDesc too_many = shape(128, 4096, 1024);
  too_many.sms = 200;
  CHECK_THROWS_WITH(simulate_gemm(too_many, hw), Catch::Contains("between 1 and the chip's 132 SMs"));
}

TEST_CASE("a Wgrad's B scales per row: loaded each stage, one scale product per accumulator", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  GemmDesc d = shape(7168, 2048, 8192);
  d.sms = 112;
  d.c_accumulate = true;
  d.block_m = 128;
  d.block_n = 128;
  d.stages = 4;
  GemmDesc rows = d;
  rows.b_row_scales = true;
  const GemmConfig c = choose_gemm_config(d, hw), cr = choose_gemm_config(rows, hw);
  REQUIRE(c.stages == cr.stages);
  // B's block scales for all of K leave the tile; 128 row scales per stage come in.
  CHECK(cr.smem_bytes - c.smem_bytes == cr.stages * 128 * 4 - (8192 / 128) * 4);
  const GemmResult r = simulate_gemm(d, hw), rr = simulate_gemm(rows, hw);
  // Twice the promotion work (FMUL + FFMA per accumulator) on the same MMAs.
  CHECK(rr.promotion_share > r.promotion_share);
  CHECK(rr.time >= r.time);
}

TEST_CASE("without promotion overlap the tensor cores wait while both warpgroups promote", "[sim][gemm]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  // A tensor-bound Wgrad on 128 x 128 tiles: per K block the two warpgroups' MMAs take 2 x 64 x 128 x 128 x 2 /
  // 8192 = 512 cycles; each thread's promotion is 2 x 64 + 2 issue cycles, and the two warpgroups' promotions share
  // the sub-partitions: 260 cycles. Overlapped (DeepGEMM), the tensor cores stay busy; in lockstep the K block
  // takes 512 + 260 cycles, 1.51 times as long.
  GemmDesc d = shape(7168, 16384, 4096);
  d.sms = 112;
  d.c_accumulate = true;
  d.b_row_scales = true;
  d.block_m = 128;
  d.block_n = 128;
  GemmDesc serial = d;
  serial.promotion_overlap = false;
  const GemmResult o = simulate_gemm(d, hw), s = simulate_gemm(serial, hw);
  const double ratio = s.time.seconds() / o.time.seconds();
  CHECK(ratio > 1.35);
  CHECK(ratio < 1.55);
  CHECK(s.tensor_util < o.tensor_util);
  // With a single math warpgroup (BLOCK_M 64) there is nothing to meet: the flag changes nothing.
  GemmDesc one = d;
  one.block_m = 64;
  GemmDesc one_serial = one;
  one_serial.promotion_overlap = false;
  CHECK(simulate_gemm(one, hw).time == simulate_gemm(one_serial, hw).time);
}
