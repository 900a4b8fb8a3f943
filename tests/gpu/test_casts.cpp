// The FP8 casts (kernels/casts.h) against numerics::quantize, exactly: every code and every scale bit for bit.
// Inputs: BF16 N(0,1) rows at magnitudes 2^-20..2^20, plus rows of zeros (amax clamped to 1e-4), of tiny values
// (below the clamp) and of large values; scales in FP32 and UE8M0. transpose-requant's reference is
// numerics::dequantize -> transpose -> numerics::quantize(1x128).
#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

#include "kernels/casts.h"
#include "sim/numerics/quantize.h"
#include "tests/gpu/kernel_check.h"

using namespace v3sim::kernels;
using v3sim::gpu_tests::SeededRng;
namespace num = v3sim::numerics;

namespace {

// BF16 bits and their float values.
struct Bf16Matrix {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};

Bf16Matrix make_input(int64_t rows, int64_t cols, uint64_t seed) {
  SeededRng rng{seed};
  Bf16Matrix m;
  m.bits.resize(static_cast<size_t>(rows * cols));
  m.values.resize(m.bits.size());
  for (int64_t r = 0; r < rows; ++r) {
    const int kind = static_cast<int>(r % 7);
    const double mag = kind == 0 ? 0.0 : kind == 1 ? 1e-7 : kind == 2 ? 3e4 : std::ldexp(1.0, rng.uniform_int(-20, 20));
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      m.bits[i] = v3sim::gpu_tests::float_to_bf16(static_cast<float>(mag * rng.normal()));
      m.values[i] = v3sim::gpu_tests::bf16_to_float(m.bits[i]);
    }
  }
  return m;
}

struct Diff {
  int64_t codes = 0, scales = 0;
  std::string first;
};

Diff compare(const Fp8Tensor& got, const num::QuantizedMatrix& want) {
  Diff d;
  REQUIRE(got.codes.size() == want.codes.size());
  REQUIRE(got.scales.size() == want.scales.size());
  for (size_t i = 0; i < want.codes.size(); ++i) {
    if (got.codes[i] == want.codes[i]) continue;
    if (d.codes++ < 5) {
      std::ostringstream os;
      os << "  code " << i << " (row " << i / static_cast<size_t>(want.cols) << "): got 0x" << std::hex
         << int{got.codes[i]} << ", expected 0x" << int{want.codes[i]} << std::dec << "\n";
      d.first += os.str();
    }
  }
  for (size_t i = 0; i < want.scales.size(); ++i) {
    if (num::float_bits(got.scales[i]) == num::float_bits(want.scales[i])) continue;
    if (d.scales++ < 5)
      d.first += "  scale " + std::to_string(i) + ": got " + std::to_string(got.scales[i]) + ", expected " +
                 std::to_string(want.scales[i]) + "\n";
  }
  return d;
}

// Prints the mismatch counts of `got` against the reference `want` and checks there are none.
void check_bit_exact(const CastProblem& p, const Fp8Tensor& got, const num::QuantizedMatrix& want) {
  const Diff d = compare(got, want);
  std::printf("%s: %lld code and %lld scale mismatches\n", p.describe().c_str(), static_cast<long long>(d.codes),
              static_cast<long long>(d.scales));
  INFO(p.describe() << "\n" << d.first);
  CHECK(d.codes == 0);
  CHECK(d.scales == 0);
}

void refuse(const CastProblem& p) {
  v3sim::gpu_tests::check_refused(
      p.describe(), [&] { p.validate(); }, [&] { return make_cast_op(p); });
}

}  // namespace

TEST_CASE("quant 1x128 and 128x128 match numerics::quantize bit for bit", "[gpu][casts]") {
  auto kind = GENERATE(CastKind::Quant1x128, CastKind::Quant128x128);
  auto shape = GENERATE(std::pair<int64_t, int64_t>{1, 128}, std::pair<int64_t, int64_t>{7, 384},
                        std::pair<int64_t, int64_t>{300, 7168}, std::pair<int64_t, int64_t>{2112, 256});
  auto ue8m0 = GENERATE(false, true);
  const CastProblem p{kind, shape.first, shape.second, ue8m0};
  const Bf16Matrix x = make_input(p.rows, p.cols, static_cast<uint64_t>(p.rows * 3 + p.cols));
  const Fp8Tensor got = run_quantize(p, x.bits);
  const num::QuantizedMatrix want =
      num::quantize(x.values.data(), p.rows, p.cols, num::Format::E4M3,
                    kind == CastKind::Quant1x128 ? num::Granularity::Tile1x128 : num::Granularity::Block128x128, ue8m0);
  check_bit_exact(p, got, want);
}

TEST_CASE("transpose-requant matches dequantize -> transpose -> quantize(1x128) bit for bit", "[gpu][casts]") {
  auto shape = GENERATE(std::pair<int64_t, int64_t>{128, 128}, std::pair<int64_t, int64_t>{256, 384},
                        std::pair<int64_t, int64_t>{512, 7168});
  auto ue8m0 = GENERATE(false, true);
  const CastProblem p{CastKind::TransposeRequant, shape.first, shape.second, ue8m0};
  const Bf16Matrix x = make_input(p.rows, p.cols, static_cast<uint64_t>(p.rows + p.cols * 5));
  const num::QuantizedMatrix q =
      num::quantize(x.values.data(), p.rows, p.cols, num::Format::E4M3, num::Granularity::Tile1x128, ue8m0);
  Fp8Tensor in;
  in.rows = p.rows;
  in.cols = p.cols;
  in.codes = q.codes;
  in.scales = q.scales;
  const Fp8Tensor got = run_transpose_requant(p, in);
  REQUIRE(got.rows == p.cols);
  REQUIRE(got.cols == p.rows);
  const std::vector<float> deq = num::dequantize(q);
  std::vector<float> t(deq.size());
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t c = 0; c < p.cols; ++c)
      t[static_cast<size_t>(c * p.rows + r)] = deq[static_cast<size_t>(r * p.cols + c)];
  const num::QuantizedMatrix want =
      num::quantize(t.data(), p.cols, p.rows, num::Format::E4M3, num::Granularity::Tile1x128, ue8m0);
  check_bit_exact(p, got, want);
}

TEST_CASE("casts: shapes the kernels cannot run are refused and recorded as skipped", "[gpu][casts][invalid]") {
  refuse(CastProblem{CastKind::Quant1x128, 16, 100, false});
  refuse(CastProblem{CastKind::Quant128x128, 16, 200, false});
  refuse(CastProblem{CastKind::TransposeRequant, 100, 128, false});
}
