// The MoE problem, routing and reference layout (shared by the CUDA and the no-CUDA builds).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "core/math.h"
#include "core/quant.h"
#include "core/random.h"
#include "kernels/moe.h"

namespace v3sim::kernels {

int64_t MoeProblem::max_rows() const {
  return tokens * topk + int64_t{experts} * (align - 1);
}

int64_t MoeProblem::fp8_row_bytes() const {
  return hidden + 4 * (hidden / kQuantTile);
}

LaunchWork MoeProblem::permute_cost(int64_t routed_rows, int64_t total_rows) const {
  LaunchWork c;
  const double row = static_cast<double>(fp8_row_bytes());
  c.bytes = static_cast<double>(routed_rows) * row + static_cast<double>(total_rows) * row;
  return c;
}

LaunchWork MoeProblem::unpermute_cost(int64_t routed_rows) const {
  LaunchWork c;
  const double row = 2.0 * static_cast<double>(hidden);
  c.bytes = static_cast<double>(routed_rows) * row + static_cast<double>(tokens) * row;
  c.flops = 2.0 * static_cast<double>(routed_rows) * static_cast<double>(hidden);
  return c;
}

std::string MoeProblem::describe() const {
  return fmt::format("tokens={} hidden={} topk={} experts={} align={}", tokens, hidden, topk, experts, align);
}

void MoeProblem::validate() const {
  auto fail = [&](const std::string& what) { throw std::invalid_argument("moe: " + what + " (" + describe() + ")"); };
  if (tokens < 1) fail("tokens must be >= 1");
  if (hidden < kQuantTile || hidden % kQuantTile != 0)
    fail(fmt::format("hidden={} must be a positive multiple of 128", hidden));
  if (experts < 1 || experts > 1024) fail(fmt::format("experts={} must be in [1, 1024]", experts));
  if (topk < 1 || topk > experts) fail(fmt::format("topk={} must be in [1, experts]", topk));
  if (align < 1) fail(fmt::format("align={} must be >= 1", align));
  if (max_rows() > std::numeric_limits<int32_t>::max()) fail("tokens x topk (+ padding) must stay below 2^31 rows");
}

MoeRouting random_routing(const MoeProblem& p, uint64_t seed) {
  p.validate();
  SplitMix64 rng{seed};
  auto next = [&rng]() { return rng.next(); };
  MoeRouting r;
  const size_t k = static_cast<size_t>(p.topk);
  r.topk_idx.resize(static_cast<size_t>(p.tokens) * k);
  r.topk_weights.resize(r.topk_idx.size());
  for (int64_t t = 0; t < p.tokens; ++t) {
    int32_t* idx = &r.topk_idx[static_cast<size_t>(t) * k];
    float* w = &r.topk_weights[static_cast<size_t>(t) * k];
    float sum = 0;
    for (size_t j = 0; j < k; ++j) {
      int32_t e = 0;
      bool fresh = false;
      while (!fresh) {  // distinct experts per token
        e = static_cast<int32_t>(next() % static_cast<uint64_t>(p.experts));
        fresh = std::find(idx, idx + j, e) == idx + j;
      }
      idx[j] = e;
      w[j] = (static_cast<float>(next() >> 40) + 1.0f) / 16777217.0f;
      sum += w[j];
    }
    for (size_t j = 0; j < k; ++j) w[j] /= sum;
  }
  return r;
}

void check_routing(const MoeProblem& p, const MoeRouting& r) {
  p.validate();
  const size_t pairs = static_cast<size_t>(p.tokens) * static_cast<size_t>(p.topk);
  if (r.topk_idx.size() != pairs || r.topk_weights.size() != pairs)
    throw std::invalid_argument(
        fmt::format("moe routing: topk_idx has {} and topk_weights {} entries, expected {} ({})", r.topk_idx.size(),
                    r.topk_weights.size(), pairs, p.describe()));
  for (size_t i = 0; i < pairs; ++i) {
    if (r.topk_idx[i] < -1 || r.topk_idx[i] >= p.experts)
      throw std::invalid_argument(
          fmt::format("moe routing: topk_idx[{}] = {} is outside [-1, experts={})", i, r.topk_idx[i], p.experts));
  }
}

std::vector<int64_t> MoeLayout::segment_rows() const {
  std::vector<int64_t> out;
  for (size_t e = 0; e + 1 < offsets.size(); ++e) out.push_back(offsets[e + 1] - offsets[e]);
  return out;
}

MoeLayout moe_layout(const MoeProblem& p, const std::vector<int32_t>& topk_idx) {
  p.validate();
  MoeLayout l;
  const size_t experts = static_cast<size_t>(p.experts);
  l.counts.assign(experts, 0);
  for (int32_t e : topk_idx)
    if (e >= 0) ++l.counts[static_cast<size_t>(e)];
  l.offsets.assign(experts + 1, 0);
  for (size_t e = 0; e < experts; ++e) l.offsets[e + 1] = l.offsets[e] + round_up(l.counts[e], p.align);
  l.row_token.assign(static_cast<size_t>(l.rows()), -1);
  l.row_group.assign(static_cast<size_t>(l.rows()), -1);
  for (size_t e = 0; e < experts; ++e)
    for (int64_t r = l.offsets[e]; r < l.offsets[e + 1]; ++r)
      l.row_group[static_cast<size_t>(r)] = static_cast<int32_t>(e);
  std::vector<int64_t> next(l.offsets.begin(), l.offsets.end() - 1);
  l.dest_row.assign(topk_idx.size(), -1);
  for (size_t i = 0; i < topk_idx.size(); ++i) {  // (token, k) in order: stable within each expert
    const int32_t e = topk_idx[i];
    if (e < 0) continue;
    const int64_t row = next[static_cast<size_t>(e)]++;
    l.dest_row[i] = static_cast<int32_t>(row);
    l.row_token[static_cast<size_t>(row)] = static_cast<int32_t>(i / static_cast<size_t>(p.topk));
  }
  return l;
}

void check_permute_input(const MoeProblem& p, const MoeRouting& routing, const std::vector<uint8_t>& codes,
                         const std::vector<float>& scales) {
  check_routing(p, routing);
  const size_t want_codes = static_cast<size_t>(p.tokens * p.hidden);
  const size_t want_scales = static_cast<size_t>(p.tokens * (p.hidden / kQuantTile));
  if (codes.size() != want_codes || scales.size() != want_scales)
    throw std::invalid_argument(fmt::format("moe permute: codes has {} and scales {} elements, expected {} and {} ({})",
                                            codes.size(), scales.size(), want_codes, want_scales, p.describe()));
}

void check_unpermute_input(const MoeProblem& p, const MoeRouting& routing, const std::vector<int32_t>& dest_row,
                           const std::vector<uint16_t>& expert_out) {
  check_routing(p, routing);
  if (dest_row.size() != routing.topk_idx.size())
    throw std::invalid_argument(fmt::format("moe unpermute: dest_row has {} entries, expected tokens x topk = {}",
                                            dest_row.size(), routing.topk_idx.size()));
  if (expert_out.size() % static_cast<size_t>(p.hidden) != 0)
    throw std::invalid_argument(fmt::format("moe unpermute: expert_out has {} elements, not a multiple of hidden={}",
                                            expert_out.size(), p.hidden));
  const int64_t rows = static_cast<int64_t>(expert_out.size()) / p.hidden;
  for (size_t i = 0; i < dest_row.size(); ++i)
    if (dest_row[i] < -1 || dest_row[i] >= rows)
      throw std::invalid_argument(
          fmt::format("moe unpermute: dest_row[{}] = {} is outside [-1, {})", i, dest_row[i], rows));
}

}  // namespace v3sim::kernels
