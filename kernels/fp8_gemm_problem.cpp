// The FP8 GEMM problem: validation, description, cost and kernel configuration (shared by the CUDA and the
// no-CUDA builds, so bad shapes are rejected the same way everywhere).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "kernels/fp8_gemm.h"

namespace v3sim::kernels {

const char* to_string(Fp8GemmLayout layout) {
  switch (layout) {
    case Fp8GemmLayout::Dense:
      return "dense";
    case Fp8GemmLayout::GroupedContiguous:
      return "grouped-contiguous";
    case Fp8GemmLayout::GroupedMasked:
      return "grouped-masked";
  }
  return "?";
}

int64_t Fp8GemmProblem::a_rows() const {
  switch (layout) {
    case Fp8GemmLayout::Dense:
      return m;
    case Fp8GemmLayout::GroupedContiguous:
      return std::accumulate(group_rows.begin(), group_rows.end(), int64_t{0});
    case Fp8GemmLayout::GroupedMasked:
      return int64_t{groups} * m;
  }
  return 0;
}

int64_t Fp8GemmProblem::valid_rows() const {
  return layout == Fp8GemmLayout::Dense ? m : std::accumulate(group_rows.begin(), group_rows.end(), int64_t{0});
}

LaunchWork Fp8GemmProblem::cost() const {
  LaunchWork c;
  const double dn = static_cast<double>(n), dk = static_cast<double>(k);
  c.flops = 2.0 * static_cast<double>(valid_rows()) * dn * dk;
  auto bytes_of = [&](double rows) { return rows * dk + dn * dk + 2.0 * rows * dn; };
  if (layout == Fp8GemmLayout::Dense) {
    c.bytes = bytes_of(static_cast<double>(m));
  } else {
    for (int64_t r : group_rows) c.bytes += bytes_of(static_cast<double>(r));
  }
  return c;
}

std::string Fp8GemmProblem::describe() const {
  if (layout == Fp8GemmLayout::Dense) return fmt::format("M={} N={} K={} dense", m, n, k);
  std::string rows;
  const size_t shown = std::min<size_t>(group_rows.size(), 8);
  for (size_t i = 0; i < shown; ++i) rows += fmt::format("{}{}", i ? "," : "", group_rows[i]);
  if (group_rows.size() > shown) rows += fmt::format(",... ({} total)", valid_rows());
  if (layout == Fp8GemmLayout::GroupedContiguous)
    return fmt::format("groups={} rows=[{}] N={} K={} grouped-contiguous", groups, rows, n, k);
  return fmt::format("groups={} M_max={} counts=[{}] N={} K={} grouped-masked", groups, m, rows, n, k);
}

void Fp8GemmProblem::validate() const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("fp8 gemm: " + what + " (" + describe() + ")");
  };
  constexpr int64_t kMaxCoord = std::numeric_limits<int32_t>::max();  // TMA coordinates are 32-bit
  if (k <= 0 || k % fp8gemm::kBlockK != 0)
    fail(fmt::format("K={} must be a positive multiple of 128 (the scale block and BLOCK_K)", k));
  if (n <= 0 || n % 8 != 0) fail(fmt::format("N={} must be a positive multiple of 8 (the wgmma N granularity)", n));
  if (k > kMaxCoord) fail(fmt::format("K={} exceeds 2^31-1", k));
  if (num_sms < 0) fail(fmt::format("num_sms={} must be >= 0 (0: every SM)", num_sms));
  switch (layout) {
    case Fp8GemmLayout::Dense:
      if (m <= 0) fail(fmt::format("M={} must be >= 1", m));
      if (groups != 1 || !group_rows.empty()) fail("the dense layout has one group and no group_rows");
      break;
    case Fp8GemmLayout::GroupedContiguous: {
      if (groups < 1) fail(fmt::format("groups={} must be >= 1", groups));
      if (group_rows.size() != static_cast<size_t>(groups))
        fail(fmt::format("group_rows has {} entries for {} groups", group_rows.size(), groups));
      for (size_t g = 0; g < group_rows.size(); ++g) {
        if (group_rows[g] < 0 || group_rows[g] % 128 != 0)
          fail(
              fmt::format("group {} has M={}: every group's M must be a multiple of 128 in the contiguous layout "
                          "(no tile may straddle two groups)",
                          g, group_rows[g]));
      }
      if (a_rows() <= 0) fail("the groups hold no rows");
      break;
    }
    case Fp8GemmLayout::GroupedMasked:
      if (groups < 1) fail(fmt::format("groups={} must be >= 1", groups));
      if (m <= 0) fail(fmt::format("M_max={} must be >= 1", m));
      if (group_rows.size() != static_cast<size_t>(groups))
        fail(fmt::format("the masked layout needs one count per group ({} counts for {} groups)", group_rows.size(),
                         groups));
      for (size_t g = 0; g < group_rows.size(); ++g) {
        if (group_rows[g] < 0 || group_rows[g] > m)
          fail(fmt::format("group {} counts {} valid rows, outside [0, M_max={}]", g, group_rows[g], m));
      }
      break;
  }
  if (a_rows() > kMaxCoord) fail(fmt::format("{} rows of A exceed 2^31-1", a_rows()));
  if (int64_t{groups} * n > kMaxCoord) fail(fmt::format("groups x N = {} exceeds 2^31-1", int64_t{groups} * n));
}

Fp8GemmProblem Fp8GemmProblem::dense(int64_t m_, int64_t n_, int64_t k_) {
  Fp8GemmProblem p;
  p.m = m_;
  p.n = n_;
  p.k = k_;
  return p;
}

Fp8GemmProblem Fp8GemmProblem::contiguous(std::vector<int64_t> rows, int64_t n_, int64_t k_) {
  Fp8GemmProblem p;
  p.layout = Fp8GemmLayout::GroupedContiguous;
  p.groups = static_cast<int>(rows.size());
  p.group_rows = std::move(rows);
  p.n = n_;
  p.k = k_;
  return p;
}

Fp8GemmProblem Fp8GemmProblem::masked(int groups_, int64_t m_max, std::vector<int64_t> counts, int64_t n_, int64_t k_) {
  Fp8GemmProblem p;
  p.layout = Fp8GemmLayout::GroupedMasked;
  p.groups = groups_;
  p.m = m_max;
  p.group_rows = std::move(counts);
  p.n = n_;
  p.k = k_;
  return p;
}

void check_fp8_gemm_operands(const Fp8GemmProblem& p, const Fp8GemmOperands& ops) {
  p.validate();
  const int64_t kb = p.k / fp8gemm::kBlockK, nsb = fp8gemm::ceil_div(p.n, fp8gemm::kBlockK);
  auto check = [&](const char* field, size_t got, int64_t want) {
    if (got != static_cast<size_t>(want))
      throw std::invalid_argument(
          fmt::format("fp8 gemm operands: {} has {} elements, expected {} ({})", field, got, want, p.describe()));
  };
  check("a", ops.a.size(), p.a_rows() * p.k);
  check("a_scales", ops.a_scales.size(), p.a_rows() * kb);
  check("b", ops.b.size(), int64_t{p.groups} * p.n * p.k);
  check("b_scales", ops.b_scales.size(), int64_t{p.groups} * nsb * kb);
}

std::string Fp8GemmConfig::describe() const {
  return fmt::format("BLOCK {}x{}x{}, {} stages, {} math WGs, {} threads, grid {}, {} tiles, smem {} B", block_m,
                     block_n, block_k, stages, math_warpgroups, threads, grid, tiles, smem_bytes);
}

Fp8GemmConfig fp8_gemm_config(const Fp8GemmProblem& p, int sm_count) {
  p.validate();
  Fp8GemmConfig c;
  // Dense: M; masked: M_max; contiguous: always 128 (pick_block_m ignores the rows).
  c.block_m = fp8gemm::pick_block_m(p.layout, p.m);
  c.block_n = fp8gemm::kBlockN;
  c.math_warpgroups = c.block_m / fp8gemm::kWarpgroupRows;
  c.threads = (c.math_warpgroups + 1) * fp8gemm::kThreadsPerWarpgroup;
  c.stages = fp8gemm::max_stages(c.block_m, c.block_n);
  c.smem_bytes = fp8gemm::smem_plan(c.block_m, c.block_n, c.stages).dynamic;
  const int64_t rows = p.layout == Fp8GemmLayout::GroupedMasked ? p.m : p.a_rows();
  c.tiles = fp8gemm::num_tiles(fp8gemm::tile_space(p.layout, rows, p.n, p.groups, c.block_m, c.block_n));
  const int64_t sms = p.num_sms > 0 ? p.num_sms : std::max(sm_count, 1);
  c.grid = static_cast<int>(std::max<int64_t>(1, std::min(c.tiles, sms)));
  return c;
}

}  // namespace v3sim::kernels
