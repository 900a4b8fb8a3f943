// The MLA decode problem: validation, description, cost (shared by the CUDA and the no-CUDA builds).
#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "kernels/mla_decode.h"

namespace v3sim::kernels {

LaunchWork MlaDecodeProblem::cost() const {
  const double b = static_cast<double>(batch), h = heads, l = static_cast<double>(cache_len), r = kv_rank, d = rope_dim;
  LaunchWork c;
  c.flops = 2.0 * b * h * l * (r + d) + 2.0 * b * h * l * r;
  c.bytes = 2.0 * (b * l * (r + d) + b * h * (r + d) + b * h * r);
  return c;
}

std::string MlaDecodeProblem::describe() const {
  return fmt::format("batch={} heads={} cache={} kv_rank={} rope={}", batch, heads, cache_len, kv_rank, rope_dim);
}

void MlaDecodeProblem::validate() const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("mla decode: " + what + " (" + describe() + ")");
  };
  if (batch < 1 || heads < 1 || cache_len < 1) fail("batch, heads and cache_len must be >= 1");
  if (kv_rank < 8 || kv_rank % 8 != 0) fail(fmt::format("kv_rank={} must be a positive multiple of 8", kv_rank));
  if (rope_dim < 8 || rope_dim % 8 != 0) fail(fmt::format("rope_dim={} must be a positive multiple of 8", rope_dim));
  if (!(softmax_scale > 0.0f)) fail("softmax_scale must be > 0");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (batch > kMax || cache_len > kMax || batch * heads * (cache_len + 8) > kMax * int64_t{8})
    fail("the problem is too large for 32-bit cuBLAS dimensions");
}

void check_mla_decode_inputs(const MlaDecodeProblem& p, const MlaDecodeInputs& in) {
  p.validate();
  auto check = [&](const char* what, size_t got, int64_t want) {
    if (got != static_cast<size_t>(want))
      throw std::invalid_argument(
          fmt::format("mla decode: {} has {} elements, expected {} ({})", what, got, want, p.describe()));
  };
  check("q_latent", in.q_latent.size(), p.batch * p.heads * p.kv_rank);
  check("q_pe", in.q_pe.size(), p.batch * p.heads * p.rope_dim);
  check("c_kv", in.c_kv.size(), p.batch * p.cache_len * p.kv_rank);
  check("k_pe", in.k_pe.size(), p.batch * p.cache_len * p.rope_dim);
}

}  // namespace v3sim::kernels
