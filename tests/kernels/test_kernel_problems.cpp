// The host side of every kernel family (no GPU): problem validation with messages that name the constraint, the
// cost metrics, the GEMM's configuration, the casts' scale layouts, the MoE layout reference, the all-to-all volumes,
// the runner's statistics, and what the factories do without a usable device.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "kernels/alltoall.h"
#include "kernels/casts.h"
#include "kernels/cublaslt_gemm.h"
#include "kernels/fp8_gemm.h"
#include "kernels/micro.h"
#include "kernels/mla_decode.h"
#include "kernels/moe.h"
#include "kernels/runner.h"

using namespace v3sim;
using namespace v3sim::kernels;
using Catch::Matchers::Contains;

static_assert(scale_index_1x128(7168, 3, 300) == 170);
static_assert(scale_index_128x128(7168, 3, 300) == 2);

TEST_CASE("fp8 gemm problems name the violated constraint", "[kernels][gemm]") {
  REQUIRE_NOTHROW(Fp8GemmProblem::dense(4096, 7168, 16384).validate());
  REQUIRE_NOTHROW(Fp8GemmProblem::dense(1, 8, 128).validate());
  CHECK_THROWS_WITH(Fp8GemmProblem::dense(128, 128, 192).validate(),
                    Contains("K=192 must be a positive multiple of 128"));
  CHECK_THROWS_WITH(Fp8GemmProblem::dense(128, 100, 128).validate(),
                    Contains("N=100 must be a positive multiple of 8"));
  CHECK_THROWS_WITH(Fp8GemmProblem::dense(0, 128, 128).validate(), Contains("M=0 must be >= 1"));
  CHECK_THROWS_WITH(Fp8GemmProblem::contiguous({128, 100}, 256, 256).validate(),
                    Contains("group 1 has M=100: every group's M must be a multiple of 128"));
  CHECK_THROWS_WITH(Fp8GemmProblem::masked(2, 64, {10, 65}, 256, 256).validate(),
                    Contains("group 1 counts 65 valid rows, outside [0, M_max=64]"));
  CHECK_THROWS_WITH(Fp8GemmProblem::masked(2, 64, {10}, 256, 256).validate(), Contains("one count per group"));
  // The whole problem is in the message.
  CHECK_THROWS_WITH(Fp8GemmProblem::dense(128, 128, 100).validate(), Contains("M=128 N=128 K=100 dense"));
}

TEST_CASE("fp8 gemm cost follows DeepGEMM's metrics", "[kernels][gemm]") {
  // benchmarks.md: TFLOPS = 2MNK / t, GB/s = (MK + NK + 2MN) / t. The published 4096 x 7168 x 16384 row: 1426 TFLOPS
  // and 361 GB/s, so FLOPs / bytes = 1426e12 / 361e9 within rounding.
  const LaunchWork c = Fp8GemmProblem::dense(4096, 7168, 16384).cost();
  CHECK(c.flops == Approx(2.0 * 4096 * 7168 * 16384));
  CHECK(c.bytes == Approx(4096.0 * 16384 + 7168.0 * 16384 + 2.0 * 4096 * 7168));
  CHECK(c.flops / c.bytes == Approx(1426e12 / 361e9).epsilon(0.003));
  // Grouped: per group rows*K + N*K + 2*rows*N; masked counts only the valid rows.
  const LaunchWork g = Fp8GemmProblem::masked(2, 256, {256, 0}, 512, 1024).cost();
  CHECK(g.flops == Approx(2.0 * 256 * 512 * 1024));
  CHECK(g.bytes == Approx((256.0 * 1024 + 512.0 * 1024 + 2.0 * 256 * 512) + 512.0 * 1024));
}

TEST_CASE("fp8 gemm configuration: block sizes, stages, persistent grid", "[kernels][gemm]") {
  const Fp8GemmConfig big = fp8_gemm_config(Fp8GemmProblem::dense(4096, 7168, 16384), 132);
  CHECK(big.block_m == 128);
  CHECK(big.block_n == 128);
  CHECK(big.stages == 6);
  CHECK(big.math_warpgroups == 2);
  CHECK(big.threads == 384);
  CHECK(big.tiles == 32 * 56);
  CHECK(big.grid == 132);
  const Fp8GemmConfig small = fp8_gemm_config(Fp8GemmProblem::dense(64, 2112, 7168), 132);
  CHECK(small.block_m == 64);
  CHECK(small.stages == 8);
  CHECK(small.threads == 256);
  CHECK(small.tiles == 17);
  CHECK(small.grid == 17);  // never more CTAs than tiles
  Fp8GemmProblem training = Fp8GemmProblem::dense(4096, 7168, 2048);
  training.num_sms = 112;  // DeepSeek's training kept 20 SMs for communication
  CHECK(fp8_gemm_config(training, 132).grid == 112);
  const Fp8GemmConfig masked = fp8_gemm_config(Fp8GemmProblem::masked(4, 192, {1, 2, 3, 4}, 256, 256), 132);
  CHECK(masked.tiles == 4 * 2 * 2);
}

TEST_CASE("fp8 gemm operands must match the problem", "[kernels][gemm]") {
  const Fp8GemmProblem p = Fp8GemmProblem::contiguous({128, 256}, 136, 256);
  Fp8GemmOperands ops;
  ops.a.resize(384 * 256);
  ops.a_scales.resize(384 * 2);
  ops.b.resize(2 * 136 * 256);
  ops.b_scales.resize(2 * 2 * 2);
  REQUIRE_NOTHROW(check_fp8_gemm_operands(p, ops));
  ops.b_scales.pop_back();
  CHECK_THROWS_WITH(check_fp8_gemm_operands(p, ops), Contains("b_scales has 7 elements, expected 8"));
}

TEST_CASE("the cuBLASLt baseline takes dense problems aligned to 16", "[kernels][gemm]") {
  REQUIRE_NOTHROW(validate_cublaslt_problem(Fp8GemmProblem::dense(64, 2112, 7168)));
  CHECK_THROWS_WITH(validate_cublaslt_problem(Fp8GemmProblem::contiguous({128}, 256, 256)),
                    Contains("dense layout only"));
  CHECK_THROWS_WITH(validate_cublaslt_problem(Fp8GemmProblem::dense(8, 256, 256)), Contains("multiples of 16"));
}

TEST_CASE("cast problems: shapes, scale counts, constraints", "[kernels][casts]") {
  CastProblem q{CastKind::Quant1x128, 4096, 7168, false};
  REQUIRE_NOTHROW(q.validate());
  CHECK(q.out_scales() == 4096 * 56);
  CHECK(q.cost().bytes == Approx(2.0 * 4096 * 7168 + 4096.0 * 7168 + 4.0 * 4096 * 56));
  CastProblem w{CastKind::Quant128x128, 2112, 7168, false};
  CHECK(w.out_scales() == 17 * 56);  // 2112 rows: 16.5 blocks -> 17
  CastProblem t{CastKind::TransposeRequant, 4096, 7168, true};
  CHECK(t.out_rows() == 7168);
  CHECK(t.out_cols() == 4096);
  CHECK(t.in_scales() == 4096 * 56);
  CHECK(t.out_scales() == 7168 * 32);
  CHECK_THROWS_WITH((CastProblem{CastKind::Quant1x128, 4, 100, false}.validate()),
                    Contains("cols=100 must be a multiple of 128"));
  CHECK_THROWS_WITH((CastProblem{CastKind::TransposeRequant, 100, 128, false}.validate()),
                    Contains("rows=100 must be a multiple of 128"));
  CHECK_THROWS_WITH(check_quantize_input(q, std::vector<uint16_t>(3)), Contains("input has 3 elements"));
}

TEST_CASE("the MoE layout reference: the header's worked example", "[kernels][moe]") {
  const MoeProblem p{3, 128, 2, 3, 4};
  const MoeLayout l = moe_layout(p, {0, 2, 2, 0, 1, -1});
  CHECK(l.counts == std::vector<int64_t>{2, 1, 2});
  CHECK(l.offsets == std::vector<int64_t>{0, 4, 8, 12});
  CHECK(l.dest_row == std::vector<int32_t>{0, 8, 9, 1, 4, -1});
  CHECK(l.row_token == std::vector<int32_t>{0, 1, -1, -1, 2, -1, -1, -1, 0, 1, -1, -1});
  CHECK(l.row_group == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(l.segment_rows() == std::vector<int64_t>{4, 4, 4});
}

TEST_CASE("the MoE layout of a random routing: aligned segments, one row per routed pair, token order",
          "[kernels][moe]") {
  auto p = GENERATE(MoeProblem{4096, 7168, 8, 256, 128}, MoeProblem{37, 256, 4, 16, 1}, MoeProblem{5, 128, 3, 3, 8});
  INFO(p.describe());
  const MoeRouting r = random_routing(p, 7);
  REQUIRE_NOTHROW(check_routing(p, r));
  const MoeLayout l = moe_layout(p, r.topk_idx);
  REQUIRE(l.offsets.size() == static_cast<size_t>(p.experts) + 1);
  REQUIRE(l.rows() <= p.max_rows());
  for (int e = 0; e < p.experts; ++e) {
    CHECK(l.offsets[static_cast<size_t>(e)] % p.align == 0);
    CHECK(l.offsets[static_cast<size_t>(e) + 1] - l.offsets[static_cast<size_t>(e)] >=
          l.counts[static_cast<size_t>(e)]);
  }
  std::set<int32_t> rows;
  for (size_t i = 0; i < r.topk_idx.size(); ++i) {
    const int32_t row = l.dest_row[i];
    REQUIRE(row >= 0);
    REQUIRE(rows.insert(row).second);
    REQUIRE(l.row_group[static_cast<size_t>(row)] == r.topk_idx[i]);
    REQUIRE(l.row_token[static_cast<size_t>(row)] == static_cast<int32_t>(i / static_cast<size_t>(p.topk)));
  }
  // Inside a segment the routed rows come first, in token order, then padding.
  for (int e = 0; e < p.experts; ++e) {
    int32_t last = -1;
    for (int64_t row = l.offsets[static_cast<size_t>(e)]; row < l.offsets[static_cast<size_t>(e) + 1]; ++row) {
      const int32_t t = l.row_token[static_cast<size_t>(row)];
      if (row - l.offsets[static_cast<size_t>(e)] < l.counts[static_cast<size_t>(e)]) {
        CHECK(t > last);
        last = t;
      } else {
        CHECK(t == -1);
      }
    }
  }
  // Weights of a token sum to 1; its experts are distinct.
  for (int64_t t = 0; t < p.tokens; ++t) {
    float sum = 0;
    std::set<int32_t> experts;
    for (int k = 0; k < p.topk; ++k) {
      sum += r.topk_weights[static_cast<size_t>(t * p.topk + k)];
      experts.insert(r.topk_idx[static_cast<size_t>(t * p.topk + k)]);
    }
    CHECK(sum == Approx(1.0f).epsilon(1e-5));
    CHECK(static_cast<int>(experts.size()) == p.topk);
  }
}

TEST_CASE("MoE problems and routings are checked", "[kernels][moe]") {
  CHECK(MoeProblem{4096, 7168, 8, 256, 128}.fp8_row_bytes() == 7392);
  CHECK_THROWS_WITH((MoeProblem{4, 100, 2, 4, 1}.validate()),
                    Contains("hidden=100 must be a positive multiple of 128"));
  CHECK_THROWS_WITH((MoeProblem{4, 128, 5, 4, 1}.validate()), Contains("topk=5 must be in [1, experts]"));
  const MoeProblem p{2, 128, 2, 4, 1};
  MoeRouting r = random_routing(p, 1);
  r.topk_idx[3] = 4;
  CHECK_THROWS_WITH(check_routing(p, r), Contains("topk_idx[3] = 4 is outside [-1, experts=4)"));
}

TEST_CASE("MLA decode problems", "[kernels][mla]") {
  const MlaDecodeProblem p{64, 128, 4096, 512, 64};
  REQUIRE_NOTHROW(p.validate());
  CHECK(p.cost().flops == Approx(2.0 * 64 * 128 * 4096 * 576 + 2.0 * 64 * 128 * 4096 * 512));
  CHECK(p.cost().bytes == Approx(2.0 * (64.0 * 4096 * 576 + 64.0 * 128 * 576 + 64.0 * 128 * 512)));
  CHECK_THROWS_WITH((MlaDecodeProblem{1, 128, 16, 500, 64}.validate()), Contains("kv_rank=500"));
  CHECK_THROWS_WITH((MlaDecodeProblem{1, 128, 0, 512, 64}.validate()), Contains("cache_len must be >= 1"));
  CHECK(std::string(kMlaDecodeImplementation) == "cublas-batched (first version)");
}

TEST_CASE("all-to-all volumes are DeepEP's", "[kernels][alltoall]") {
  // benchmarks.md: dispatch 7168 FP8 bytes + one FP32 scale per 128 = 7392 B per token copy; combine BF16 14336 B.
  AllToAllProblem d{v3sim::AllToAllPhase::Dispatch, 7168, {1, 2}};
  CHECK(d.bytes_per_token() == 7392);
  AllToAllProblem c{v3sim::AllToAllPhase::Combine, 7168, {1, 2}};
  CHECK(c.bytes_per_token() == 14336);
  REQUIRE_NOTHROW(d.validate(2));
  CHECK_THROWS_WITH(d.validate(3), Contains("send_tokens has 2 entries for 3 ranks"));
  AllToAllProblem neg{v3sim::AllToAllPhase::Dispatch, 7168, {1, -2}};
  CHECK_THROWS_WITH(neg.validate(2), Contains("send_tokens[1] = -2 must be >= 0"));
}

TEST_CASE("runner statistics and options", "[kernels][runner]") {
  const TimingStats s = summarize({5.0, 1.0, 3.0, 2.0});
  CHECK(s.count == 4);
  CHECK(s.median_us == 2.5);
  CHECK(s.min_us == 1.0);
  CHECK(s.max_us == 5.0);
  CHECK(s.mean_us == 2.75);
  CHECK(s.stddev_us == Approx(1.707825127659933));
  CHECK(summarize({4.0, 1.0, 9.0}).median_us == 4.0);
  CHECK_THROWS_AS(summarize({}), std::invalid_argument);
  const auto [tflops, gbps] = achieved(LaunchWork{2e12, 1e9}, 1000.0);  // 1 ms
  CHECK(tflops == Approx(2000.0));
  CHECK(gbps == Approx(1000.0));
  RunnerOptions o;
  REQUIRE_NOTHROW(o.validate());
  o.repeats = 0;
  CHECK_THROWS_WITH(o.validate(), Contains("repeats=0 must be >= 1"));
}

TEST_CASE("without a usable GPU the factories refuse with the reason; bad shapes are refused first",
          "[kernels][device]") {
  // Bad input is std::invalid_argument whatever the machine (the CLI maps it to exit 2).
  CHECK_THROWS_AS(make_fp8_gemm_op(Fp8GemmProblem::dense(128, 128, 100)), std::invalid_argument);
  CHECK_THROWS_AS(make_cast_op(CastProblem{CastKind::TransposeRequant, 100, 128, false}), std::invalid_argument);
  CHECK_THROWS_AS(make_moe_permute_op(MoeProblem{0, 128, 1, 1, 1}), std::invalid_argument);
  const std::string why = hopper_unavailable_reason();
  if (why.empty()) {
    WARN("a usable Hopper GPU is present: the no-device path is not exercised here");
    return;
  }
  INFO(why);
  CHECK_THROWS_AS(make_fp8_gemm_op(Fp8GemmProblem::dense(128, 128, 128)), DeviceUnavailable);
  CHECK_THROWS_AS(make_cast_op(CastProblem{CastKind::Quant1x128, 4, 128, false}), DeviceUnavailable);
  CHECK_THROWS_AS(run_quantize(CastProblem{CastKind::Quant1x128, 1, 128, false}, std::vector<uint16_t>(128)),
                  DeviceUnavailable);
  CHECK_THROWS_AS(make_mla_decode_op(MlaDecodeProblem{1, 16, 16, 64, 16}), DeviceUnavailable);
  CHECK_THROWS_AS(make_moe_unpermute_op(MoeProblem{4, 128, 2, 4, 1}), DeviceUnavailable);
  // A DeviceUnavailable names the reason itself, so the CLI can print "error: no CUDA device: <reason>".
  try {
    make_fp8_gemm_op(Fp8GemmProblem::dense(128, 128, 128));
  } catch (const DeviceUnavailable& e) {
    CHECK(std::string(e.what()) == why);
  }
}

#if defined(V3SIM_HAVE_CUDA)
#include "kernels/dynlib.h"

TEST_CASE("vendor libraries are found at run time, or the error lists every place searched", "[kernels][device]") {
  const SharedLibrary& missing = shared_library("libv3sim-no-such-library.so.1");
  CHECK(!missing.loaded());
  CHECK_THAT(missing.error,
             Contains("V3SIM_CUDA_LIB_PATH") && Contains("/usr/local/cuda/lib64/libv3sim-no-such-library.so.1"));
  CHECK(library_symbol(missing, "anything") == nullptr);
  // Where the toolkit's cuBLASLt / cuBLAS are present, every entry point binds: the factories then fail only for
  // want of a GPU, with exactly the device reason.
  const std::string why = hopper_unavailable_reason();
  if (!why.empty() && shared_library("libcublasLt.so.13").loaded()) {
    try {
      make_cublaslt_fp8_gemm_op(Fp8GemmProblem::dense(128, 128, 128));
      FAIL("no exception");
    } catch (const DeviceUnavailable& e) {
      CHECK(std::string(e.what()) == why);
    }
  }
  if (!why.empty() && shared_library("libcublas.so.13").loaded()) {
    try {
      make_mla_decode_op(MlaDecodeProblem{1, 16, 16, 64, 16});
      FAIL("no exception");
    } catch (const DeviceUnavailable& e) {
      CHECK(std::string(e.what()) == why);
    }
  }
}
#endif

TEST_CASE("the micro suite: names the projection reads, sizes the models need, refusals that name the rule",
          "[kernels][micro]") {
  const std::vector<MicroProblem> suite = micro_suite(132);
  REQUIRE(suite.size() == 8);
  int per_kind[4] = {};
  for (const MicroProblem& p : suite) {
    ++per_kind[static_cast<int>(p.op)];
    CHECK_NOTHROW(p.validate());
    CHECK(p.name().starts_with(std::string(to_string(p.op)) + ":"));
    CHECK(p.flush_l2() == (p.op != MicroOp::L2Read));
    if (p.op == MicroOp::HbmCopy) CHECK(p.bytes >= int64_t{1} << 30);  // far past any Hopper L2
    if (p.op == MicroOp::L2Read) CHECK(p.bytes <= int64_t{16} << 20);  // within every Hopper L2
    if (p.op == MicroOp::TmaStore) CHECK(p.ctas <= 8);                 // the TMA units, not HBM, limit it
  }
  for (int n : per_kind) CHECK(n == 2);  // two sizes of each: a leave-one-out fold keeps the other
  CHECK(suite[0].name() == "launch:kernels=50");
  CHECK(MicroProblem{.op = MicroOp::TmaStore, .bytes = 1 << 20, .ctas = 4, .tile = 1 << 15}.name() ==
        "tma_store:bytes=1048576,ctas=4,tile=32768");
  CHECK(micro_cost(MicroProblem{.op = MicroOp::HbmCopy, .bytes = 1 << 20, .grid = 8, .block = 256}).bytes == 2 << 20);
  // The name reads back as the same problem.
  for (const MicroProblem& p : suite) {
    const auto colon = p.name().find(':');
    std::vector<std::pair<std::string, std::string>> kv;
    std::string rest = p.name().substr(colon + 1);
    for (size_t at = 0; at <= rest.size();) {
      const size_t comma = std::min(rest.find(',', at), rest.size());
      const std::string item = rest.substr(at, comma - at);
      kv.emplace_back(item.substr(0, item.find('=')), item.substr(item.find('=') + 1));
      at = comma + 1;
    }
    const auto back = MicroProblem::from_name(p.name().substr(0, colon), kv);
    REQUIRE(back);
    CHECK(back->name() == p.name());
  }
  CHECK_FALSE(MicroProblem::from_name("gemm", {}));
  // The L2 read of a 114-SM part: the buffer rounded to whole vectors per thread.
  for (const MicroProblem& p : micro_suite(114))
    if (p.op == MicroOp::L2Read) CHECK(p.bytes % (p.grid * p.block * 16) == 0);
  CHECK_THROWS_WITH(MicroProblem({.op = MicroOp::L2Read, .bytes = 1040, .grid = 1, .block = 64}).validate(),
                    Catch::Contains("l2_read.bytes: expected a multiple of grid * block * 16"));
  CHECK_THROWS_WITH(MicroProblem({.op = MicroOp::TmaStore, .bytes = 1 << 20, .ctas = 4, .tile = 300 << 10}).validate(),
                    Catch::Contains("tma_store.tile: expected a multiple of 16 bytes within 227 KiB"));
  CHECK_THROWS_WITH(MicroProblem({.op = MicroOp::Launch, .kernels = 0}).validate(), Catch::Contains("kernels"));
  CHECK_THROWS_AS(micro_suite(0), std::invalid_argument);
  // Without a usable GPU the factory validates, then says why nothing can run.
  if (!hopper_unavailable_reason().empty()) CHECK_THROWS_AS(make_micro_op(suite[0]), DeviceUnavailable);
}

TEST_CASE("the micro suite's CPU references", "[kernels][micro]") {
  // The fill pattern: splitmix64's finalizer of i + golden ratio (its first output for seed 0 is 0xE220A8397B1DCDAF).
  CHECK(micro_fill_word(0) == 0x7B1DCDAFu);
  // l2_read: 2 CTAs of 32 threads over 2048 bytes (512 words, 256 per CTA), 3 passes: each CTA's wrapping sum of
  // its half, times 3.
  const MicroProblem p{.op = MicroOp::L2Read, .bytes = 2048, .passes = 3, .grid = 2, .block = 32};
  const std::vector<uint32_t> ref = l2_read_reference(p);
  REQUIRE(ref.size() == 2);
  for (int c = 0; c < 2; ++c) {
    uint32_t s = 0;
    for (int w = 256 * c; w < 256 * (c + 1); ++w) s += micro_fill_word(static_cast<uint64_t>(w));
    CHECK(ref[static_cast<size_t>(c)] == s + s + s);
  }
  CHECK(ref[0] != ref[1]);
  // Tiles of different CTAs differ, so a tile stored by the wrong CTA is caught.
  CHECK(tma_store_word(0, 5) != tma_store_word(1, 5));
  CHECK(tma_store_word(3, 0) != tma_store_word(3, 1));
  CHECK_THROWS_AS(l2_read_reference(MicroProblem{.op = MicroOp::Launch}), std::invalid_argument);
}
