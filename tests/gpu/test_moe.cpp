// MoE permute / unpermute (kernels/moe.h) against the CPU reference, exactly: the GPU's layout (counts, offsets,
// row_token, row_group, dest_row) equals moe_layout(), the gathered codes and scales equal the CPU gather (padding
// rows zero), and the unpermute equals the CPU's FP32 FMA chain over k in order, rounded to BF16.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "kernels/moe.h"
#include "tests/gpu/kernel_check.h"

using namespace v3sim::kernels;
using v3sim::gpu_tests::SeededRng;

namespace {

// Routing of the problem with about 1 in `drop` pairs not routed (-1); drop = 0 keeps all.
MoeRouting routing_with_drops(const MoeProblem& p, uint64_t seed, int drop) {
  MoeRouting r = random_routing(p, seed);
  if (drop > 0) {
    SeededRng rng{seed + 99};
    for (auto& e : r.topk_idx)
      if (rng.uniform_int(0, drop - 1) == 0) e = -1;
  }
  return r;
}

}  // namespace

TEST_CASE("moe permute: the GPU layout and gather equal the CPU reference", "[gpu][moe]") {
  struct Case {
    MoeProblem p;
    int drop;
  };
  auto c =
      GENERATE(Case{{1, 128, 1, 1, 1}, 0}, Case{{37, 256, 4, 16, 128}, 0}, Case{{300, 7168, 8, 256, 128}, 0},
               Case{{64, 512, 8, 64, 1}, 5}, Case{{1000, 128, 6, 1024, 128}, 3}, Case{{4096, 256, 8, 256, 128}, 0});
  const MoeProblem& p = c.p;
  const MoeRouting routing = routing_with_drops(p, static_cast<uint64_t>(p.tokens + p.experts), c.drop);
  SeededRng rng{static_cast<uint64_t>(p.tokens * 13)};
  std::vector<uint8_t> codes(static_cast<size_t>(p.tokens * p.hidden));
  for (auto& x : codes) x = static_cast<uint8_t>(rng.next());
  std::vector<float> scales(static_cast<size_t>(p.tokens * (p.hidden / 128)));
  for (auto& s : scales) s = static_cast<float>(rng.uniform()) + 0.5f;

  const MoePermuteResult got = run_moe_permute(p, routing, codes, scales);
  const MoeLayout want = moe_layout(p, routing.topk_idx);
  std::printf("moe-permute [%s, drop 1/%d]: %lld rows\n", p.describe().c_str(), c.drop,
              static_cast<long long>(got.layout.rows()));
  INFO(p.describe() << ", drop 1/" << c.drop);
  CHECK(got.layout.counts == want.counts);
  REQUIRE(got.layout.offsets == want.offsets);
  CHECK(got.layout.row_token == want.row_token);
  CHECK(got.layout.row_group == want.row_group);
  CHECK(got.layout.dest_row == want.dest_row);
  const size_t hidden = static_cast<size_t>(p.hidden), ns = hidden / 128;
  REQUIRE(got.codes.size() == static_cast<size_t>(want.rows()) * hidden);
  REQUIRE(got.scales.size() == static_cast<size_t>(want.rows()) * ns);
  int64_t bad_rows = 0;
  for (size_t row = 0; row < static_cast<size_t>(want.rows()); ++row) {
    const int32_t t = want.row_token[row];
    bool ok = true;
    for (size_t j = 0; j < hidden && ok; ++j)
      ok = got.codes[row * hidden + j] == (t < 0 ? 0 : codes[static_cast<size_t>(t) * hidden + j]);
    for (size_t j = 0; j < ns && ok; ++j)
      ok = got.scales[row * ns + j] == (t < 0 ? 0.0f : scales[static_cast<size_t>(t) * ns + j]);
    if (!ok) ++bad_rows;
  }
  CHECK(bad_rows == 0);
}

TEST_CASE("moe unpermute: the weighted combine equals the CPU FMA chain, bit for bit", "[gpu][moe]") {
  struct Case {
    MoeProblem p;
    int drop;
  };
  auto c = GENERATE(Case{{1, 128, 1, 1, 1}, 0}, Case{{37, 256, 4, 16, 128}, 0}, Case{{300, 7168, 8, 256, 128}, 4},
                    Case{{2048, 384, 8, 256, 1}, 0});
  const MoeProblem& p = c.p;
  const MoeRouting routing = routing_with_drops(p, static_cast<uint64_t>(p.tokens * 3 + 1), c.drop);
  const MoeLayout layout = moe_layout(p, routing.topk_idx);
  SeededRng rng{static_cast<uint64_t>(p.hidden + p.tokens)};
  const size_t hidden = static_cast<size_t>(p.hidden);
  std::vector<uint16_t> y(static_cast<size_t>(layout.rows()) * hidden);
  for (auto& v : y) v = v3sim::gpu_tests::float_to_bf16(static_cast<float>(rng.normal()));

  const std::vector<uint16_t> got = run_moe_unpermute(p, routing, layout.dest_row, y);
  REQUIRE(got.size() == static_cast<size_t>(p.tokens) * hidden);
  int64_t mismatches = 0;
  for (size_t t = 0; t < static_cast<size_t>(p.tokens); ++t) {
    for (size_t h = 0; h < hidden; ++h) {
      float acc = 0.0f;
      for (size_t k = 0; k < static_cast<size_t>(p.topk); ++k) {
        const int32_t row = layout.dest_row[t * static_cast<size_t>(p.topk) + k];
        if (row < 0) continue;
        acc = std::fma(v3sim::gpu_tests::bf16_to_float(y[static_cast<size_t>(row) * hidden + h]),
                       routing.topk_weights[t * static_cast<size_t>(p.topk) + k], acc);
      }
      if (got[t * hidden + h] != v3sim::gpu_tests::float_to_bf16(acc)) ++mismatches;
    }
  }
  std::printf("moe-unpermute [%s]: %lld mismatches\n", p.describe().c_str(), static_cast<long long>(mismatches));
  INFO(p.describe());
  CHECK(mismatches == 0);
}

TEST_CASE("moe: problems the kernels cannot run are refused and recorded as skipped", "[gpu][moe][invalid]") {
  for (const MoeProblem& p :
       {MoeProblem{16, 100, 2, 8, 128}, MoeProblem{16, 128, 9, 8, 128}, MoeProblem{16, 128, 2, 2000, 128}}) {
    v3sim::gpu_tests::check_refused(
        "moe " + p.describe(), [&] { p.validate(); }, [&] { return make_moe_permute_op(p); });
  }
}
