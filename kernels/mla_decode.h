// Decode attention of DeepSeek-V3's MLA in the absorbed form, FIRST VERSION on cuBLAS batched BF16 GEMMs
// ("mla-decode", implementation "cublas-batched (first version)"); a fused FlashMLA-style kernel would replace it.
// Per sequence b (all sequences hold cache_len tokens), over the heads h and cached tokens l:
//   scores[h][l] = q_latent[h] . c_kv[l] + q_pe[h] . k_pe[l]          (two strided-batched GEMMs, FP32 out)
//   P[h][l]      = softmax_l(softmax_scale * scores[h][l])             (FP32, rounded to BF16 for the next GEMM)
//   out[h]       = sum_l P[h][l] c_kv[l]                                (strided-batched GEMM, BF16 out)
// q_latent is the query already multiplied by W_UK (absorbed); W_UV and the output projection are separate GEMMs.
// Constraints (validate()): batch, heads, cache_len >= 1; kv_rank and rope_dim positive multiples of 8.
//
// Host interface: no CUDA types; builds with and without CUDA. cuBLAS is loaded at run time (dynlib.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel_op.h"

namespace v3sim::kernels {

inline constexpr const char* kMlaDecodeImplementation = "cublas-batched (first version)";

struct MlaDecodeProblem {
  int64_t batch = 1;
  int heads = 128;        // V3: 128 attention heads
  int64_t cache_len = 0;  // cached tokens per sequence
  int kv_rank = 512;      // V3: kv_lora_rank
  int rope_dim = 64;      // V3: qk_rope_head_dim
  // V3: 1 / sqrt(qk_nope_head_dim 128 + qk_rope_head_dim 64), YaRN's mscale left out.
  float softmax_scale = 0.07216878364870322f;

  // FLOPs of the three GEMMs; bytes: the cache (c_kv, k_pe) + queries + output, BF16.
  LaunchWork cost() const;
  // @throws std::invalid_argument naming the violated constraint and the whole problem
  void validate() const;
  std::string describe() const;  // "batch=64 heads=128 cache=4096 kv_rank=512 rope=64"
};

// BF16 bit patterns, row-major.
struct MlaDecodeInputs {
  std::vector<uint16_t> q_latent;  // batch x heads x kv_rank
  std::vector<uint16_t> q_pe;      // batch x heads x rope_dim
  std::vector<uint16_t> c_kv;      // batch x cache_len x kv_rank
  std::vector<uint16_t> k_pe;      // batch x cache_len x rope_dim
};

// @throws std::invalid_argument naming the input whose size is off
void check_mla_decode_inputs(const MlaDecodeProblem& p, const MlaDecodeInputs& in);

// Runs once on device 0; returns out (batch x heads x kv_rank BF16 bits).
// @throws std::invalid_argument, DeviceUnavailable (no GPU, no cuBLAS), CudaError
std::vector<uint16_t> run_mla_decode(const MlaDecodeProblem& p, const MlaDecodeInputs& in);

// The measured op over seeded N(0, 1) inputs (queries scaled by 1/sqrt(kv_rank) so the softmax is not one-hot).
std::unique_ptr<DeviceOp> make_mla_decode_op(const MlaDecodeProblem& p, uint64_t seed = 1);

}  // namespace v3sim::kernels
