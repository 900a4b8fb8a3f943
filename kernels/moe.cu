// MoE permute / unpermute kernels (see moe.h).
//
// permute = a stable counting sort of the (token, k) pairs by expert, then a gather:
//   1. chunk_count: per chunk of 512 pairs, a shared-memory histogram of experts;
//   2. offsets (one CTA): per expert, the exclusive prefix over chunks (each chunk's first row), the count, the
//      segment rounded up to `align`, the segment offsets, and the padding rows' row_token = -1 / row_group = e;
//   3. assign: one warp per chunk walks its pairs in order, 32 at a time; lanes with the same expert are ranked
//      with __match_any_sync, so every pair gets the row the CPU reference gives it (token order within an expert);
//   4. gather: one warp per permuted row copies the FP8 row (16 bytes per lane) and its scales, zeros for padding.
// unpermute: one CTA per token, 8 BF16 per thread, FP32 FMAs over k in order, BF16 (RNE) out.
#include <cuda_bf16.h>

#include <algorithm>

#include "core/math.h"
#include "core/quant.h"
#include "kernels/cuda_common.h"
#include "kernels/moe.h"

namespace v3sim::kernels {

namespace {

constexpr int kChunk = 512;  // (token, k) pairs per chunk
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) moe_chunk_count_kernel(const int32_t* __restrict__ idx, int64_t pairs,
                                                                   int experts, int32_t* __restrict__ chunk_counts) {
  extern __shared__ int32_t counts[];
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x) counts[e] = 0;
  __syncthreads();
  const int64_t begin = int64_t{blockIdx.x} * kChunk, end = min(begin + kChunk, pairs);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const int32_t e = idx[i];
    if (e >= 0) atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x)
    chunk_counts[int64_t{blockIdx.x} * experts + e] = counts[e];
}

// One CTA. In: chunk_counts[chunk][expert]. Out: chunk_counts replaced by each chunk's first row per expert,
// counts, offsets (experts + 1), and the padding rows of every segment.
__global__ void __launch_bounds__(1024)
    moe_offsets_kernel(int32_t* __restrict__ chunk_counts, int chunks, int experts, int align,
                       int32_t* __restrict__ counts, int32_t* __restrict__ offsets, int32_t* __restrict__ row_token,
                       int32_t* __restrict__ row_group) {
  __shared__ int32_t segment[1024];
  __shared__ int32_t start[1025];
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x) {
    int32_t running = 0;
    for (int c = 0; c < chunks; ++c) {
      int32_t& v = chunk_counts[int64_t{c} * experts + e];
      const int32_t n = v;
      v = running;
      running += n;
    }
    counts[e] = running;
    segment[e] = (running + align - 1) / align * align;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    // NOTES: a serial scan over at most 1024 experts; a few microseconds, fine for a first version.
    start[0] = 0;
    for (int e = 0; e < experts; ++e) start[e + 1] = start[e] + segment[e];
  }
  __syncthreads();
  for (int e = static_cast<int>(threadIdx.x); e <= experts; e += blockDim.x) offsets[e] = start[e];
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x) {
    for (int c = 0; c < chunks; ++c) chunk_counts[int64_t{c} * experts + e] += start[e];
    for (int32_t r = start[e] + counts[e]; r < start[e + 1]; ++r) {
      row_token[r] = -1;
      row_group[r] = e;
    }
  }
}

// One warp per chunk.
__global__ void __launch_bounds__(32)
    moe_assign_kernel(const int32_t* __restrict__ idx, int64_t pairs, int topk, int experts,
                      const int32_t* __restrict__ chunk_base, int32_t* __restrict__ dest_row,
                      int32_t* __restrict__ row_token, int32_t* __restrict__ row_group) {
  extern __shared__ int32_t next_row[];
  const int lane = static_cast<int>(threadIdx.x);
  for (int e = lane; e < experts; e += 32) next_row[e] = chunk_base[int64_t{blockIdx.x} * experts + e];
  __syncwarp();
  const int64_t begin = int64_t{blockIdx.x} * kChunk, end = min(begin + kChunk, pairs);
  const uint32_t lower_lanes = (1u << lane) - 1u;
  for (int64_t base = begin; base < end; base += 32) {
    const int64_t i = base + lane;
    const bool valid = i < end;
    const int32_t e = valid ? idx[i] : -1;
    const uint32_t peers = __match_any_sync(0xffffffffu, e);
    const bool routed = valid && e >= 0;
    if (routed) {
      const int32_t row = next_row[e] + __popc(peers & lower_lanes);
      dest_row[i] = row;
      row_token[row] = static_cast<int32_t>(i / topk);
      row_group[row] = e;
    } else if (valid) {
      dest_row[i] = -1;
    }
    __syncwarp();
    if (routed && (peers & lower_lanes) == 0) next_row[e] += __popc(peers);  // the lowest lane of each expert
    __syncwarp();
  }
}

__global__ void __launch_bounds__(kThreads)
    moe_gather_kernel(const uint8_t* __restrict__ codes, const float* __restrict__ scales,
                      const int32_t* __restrict__ row_token, const int32_t* __restrict__ offsets, int experts,
                      int64_t hidden, uint8_t* __restrict__ out_codes, float* __restrict__ out_scales) {
  const int64_t total = offsets[experts];
  const int64_t vec = hidden / 16, nscales = hidden / kQuantTile;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t warps = int64_t{gridDim.x} * blockDim.x / 32;
  for (int64_t row = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32; row < total; row += warps) {
    const int32_t t = row_token[row];
    uint4* dst = reinterpret_cast<uint4*>(out_codes + row * hidden);
    float* dst_s = out_scales + row * nscales;
    if (t >= 0) {
      const uint4* src = reinterpret_cast<const uint4*>(codes + int64_t{t} * hidden);
      for (int64_t j = lane; j < vec; j += 32) dst[j] = src[j];
      for (int64_t j = lane; j < nscales; j += 32) dst_s[j] = scales[int64_t{t} * nscales + j];
    } else {
      for (int64_t j = lane; j < vec; j += 32) dst[j] = make_uint4(0, 0, 0, 0);
      for (int64_t j = lane; j < nscales; j += 32) dst_s[j] = 0.0f;
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    moe_unpermute_kernel(const uint16_t* __restrict__ y, const int32_t* __restrict__ dest_row,
                         const float* __restrict__ weights, int topk, int64_t hidden, int64_t tokens,
                         uint16_t* __restrict__ out) {
  const int64_t vec = hidden / 8;
  for (int64_t t = blockIdx.x; t < tokens; t += gridDim.x) {
    for (int64_t j = threadIdx.x; j < vec; j += blockDim.x) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int k = 0; k < topk; ++k) {
        const int32_t row = __ldg(dest_row + t * topk + k);
        if (row < 0) continue;
        const float w = __ldg(weights + t * topk + k);
        const uint4 raw = *reinterpret_cast<const uint4*>(y + int64_t{row} * hidden + 8 * j);
        const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          acc[2 * i] = __fmaf_rn(__uint_as_float(words[i] << 16), w, acc[2 * i]);
          acc[2 * i + 1] = __fmaf_rn(__uint_as_float(words[i] & 0xFFFF0000u), w, acc[2 * i + 1]);
        }
      }
      uint32_t packed[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint32_t lo = __bfloat16_as_ushort(__float2bfloat16_rn(acc[2 * i]));
        const uint32_t hi = __bfloat16_as_ushort(__float2bfloat16_rn(acc[2 * i + 1]));
        packed[i] = lo | (hi << 16);
      }
      *reinterpret_cast<uint4*>(out + t * hidden + 8 * j) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
    }
  }
}

// ---- host side --------------------------------------------------------------------------------------------------

int chunks_of(const MoeProblem& p) {
  return static_cast<int>(ceil_div(p.tokens * p.topk, kChunk));
}

class PermuteLaunch {
 public:
  explicit PermuteLaunch(const MoeProblem& p) : m_p(p) {
    p.validate();
    use_hopper_device();
    const size_t pairs = static_cast<size_t>(p.tokens * p.topk), rows = static_cast<size_t>(p.max_rows());
    m_idx = device_alloc<int32_t>(pairs);
    m_chunk = device_alloc<int32_t>(static_cast<size_t>(chunks_of(p)) * static_cast<size_t>(p.experts));
    m_counts = device_alloc<int32_t>(static_cast<size_t>(p.experts));
    m_offsets = device_alloc<int32_t>(static_cast<size_t>(p.experts) + 1);
    m_dest = device_alloc<int32_t>(pairs);
    m_row_token = device_alloc<int32_t>(rows);
    m_row_group = device_alloc<int32_t>(rows);
    m_codes = device_alloc<uint8_t>(static_cast<size_t>(p.tokens * p.hidden));
    m_scales = device_alloc<float>(static_cast<size_t>(p.tokens * (p.hidden / kQuantTile)));
    m_out_codes = device_alloc<uint8_t>(rows * static_cast<size_t>(p.hidden));
    m_out_scales = device_alloc<float>(rows * static_cast<size_t>(p.hidden / kQuantTile));
  }

  void set_inputs(const std::vector<int32_t>& idx, const std::vector<uint8_t>& codes,
                  const std::vector<float>& scales) {
    copy_to_device(m_idx.get(), idx);
    copy_to_device(m_codes.get(), codes);
    copy_to_device(m_scales.get(), scales);
  }

  void fill_random(const std::vector<int32_t>& idx, uint64_t seed) {
    copy_to_device(m_idx.get(), idx);
    fill_e4m3_normal(m_codes.get(), static_cast<size_t>(m_p.tokens * m_p.hidden), seed);
    fill_uniform_f32(m_scales.get(), static_cast<size_t>(m_p.tokens * (m_p.hidden / kQuantTile)), 0.004f, 0.008f,
                     seed + 1);
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void launch() {
    const MoeProblem& p = m_p;
    const int64_t pairs = p.tokens * p.topk;
    const int chunks = chunks_of(p);
    const size_t expert_bytes = static_cast<size_t>(p.experts) * sizeof(int32_t);
    moe_chunk_count_kernel<<<chunks, kThreads, expert_bytes>>>(m_idx.get(), pairs, p.experts, m_chunk.get());
    V3SIM_CUDA_CHECK_LAUNCH();
    moe_offsets_kernel<<<1, 1024>>>(m_chunk.get(), chunks, p.experts, p.align, m_counts.get(), m_offsets.get(),
                                    m_row_token.get(), m_row_group.get());
    V3SIM_CUDA_CHECK_LAUNCH();
    moe_assign_kernel<<<chunks, 32, expert_bytes>>>(m_idx.get(), pairs, p.topk, p.experts, m_chunk.get(), m_dest.get(),
                                                    m_row_token.get(), m_row_group.get());
    V3SIM_CUDA_CHECK_LAUNCH();
    const int64_t gather_blocks = std::clamp<int64_t>((p.max_rows() + 7) / 8, 1, 132 * 16);
    moe_gather_kernel<<<static_cast<unsigned>(gather_blocks), kThreads>>>(
        m_codes.get(), m_scales.get(), m_row_token.get(), m_offsets.get(), p.experts, p.hidden, m_out_codes.get(),
        m_out_scales.get());
    V3SIM_CUDA_CHECK_LAUNCH();
  }

  MoePermuteResult result() const {
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
    MoePermuteResult r;
    MoeLayout& l = r.layout;
    const std::vector<int32_t> counts = to_host(m_counts.get(), static_cast<size_t>(m_p.experts));
    const std::vector<int32_t> offsets = to_host(m_offsets.get(), static_cast<size_t>(m_p.experts) + 1);
    l.counts.assign(counts.begin(), counts.end());
    l.offsets.assign(offsets.begin(), offsets.end());
    const size_t rows = static_cast<size_t>(l.rows());
    l.row_token = to_host(m_row_token.get(), rows);
    l.row_group = to_host(m_row_group.get(), rows);
    l.dest_row = to_host(m_dest.get(), static_cast<size_t>(m_p.tokens * m_p.topk));
    r.codes = to_host(m_out_codes.get(), rows * static_cast<size_t>(m_p.hidden));
    r.scales = to_host(m_out_scales.get(), rows * static_cast<size_t>(m_p.hidden / kQuantTile));
    return r;
  }

 private:
  MoeProblem m_p;
  DeviceBuffer<int32_t> m_idx, m_chunk, m_counts, m_offsets, m_dest, m_row_token, m_row_group;
  DeviceBuffer<uint8_t> m_codes, m_out_codes;
  DeviceBuffer<float> m_scales, m_out_scales;
};

class UnpermuteLaunch {
 public:
  UnpermuteLaunch(const MoeProblem& p, int64_t rows) : m_p(p), m_rows(rows) {
    p.validate();
    use_hopper_device();
    const size_t pairs = static_cast<size_t>(p.tokens * p.topk);
    m_dest = device_alloc<int32_t>(pairs);
    m_weights = device_alloc<float>(pairs);
    m_y = device_alloc<uint16_t>(static_cast<size_t>(rows * p.hidden));
    m_out = device_alloc<uint16_t>(static_cast<size_t>(p.tokens * p.hidden));
  }

  void set_inputs(const std::vector<int32_t>& dest, const std::vector<float>& weights, const std::vector<uint16_t>& y) {
    copy_to_device(m_dest.get(), dest);
    copy_to_device(m_weights.get(), weights);
    copy_to_device(m_y.get(), y);
  }

  void fill_random(const std::vector<int32_t>& dest, const std::vector<float>& weights, uint64_t seed) {
    copy_to_device(m_dest.get(), dest);
    copy_to_device(m_weights.get(), weights);
    fill_normal_bf16(m_y.get(), static_cast<size_t>(m_rows * m_p.hidden), 1.0f, seed);
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void launch() {
    const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>(m_p.tokens, 1, 132 * 16));
    moe_unpermute_kernel<<<blocks, kThreads>>>(m_y.get(), m_dest.get(), m_weights.get(), m_p.topk, m_p.hidden,
                                               m_p.tokens, m_out.get());
    V3SIM_CUDA_CHECK_LAUNCH();
  }

  std::vector<uint16_t> result() const {
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
    return to_host(m_out.get(), static_cast<size_t>(m_p.tokens * m_p.hidden));
  }

 private:
  MoeProblem m_p;
  int64_t m_rows;
  DeviceBuffer<int32_t> m_dest;
  DeviceBuffer<float> m_weights;
  DeviceBuffer<uint16_t> m_y, m_out;
};

int64_t routed_pairs(const std::vector<int32_t>& idx) {
  return std::count_if(idx.begin(), idx.end(), [](int32_t e) { return e >= 0; });
}

class MoePermuteOp final : public DeviceOp {
 public:
  MoePermuteOp(const MoeProblem& p, uint64_t seed) : m_p(p), m_launch(p) {
    const MoeRouting r = random_routing(p, seed);
    m_routed = routed_pairs(r.topk_idx);
    m_rows = moe_layout(p, r.topk_idx).rows();
    m_launch.fill_random(r.topk_idx, seed + 1);
  }
  std::string name() const override { return "moe-permute"; }
  std::string shape() const override { return m_p.describe(); }
  LaunchWork cost() const override { return m_p.permute_cost(m_routed, m_rows); }
  Attributes attributes() const override {
    return {{"kernel", "v3sim moe permute (stable counting sort by expert + FP8 row gather, 4 kernels)"},
            {"routing", "uniform random distinct top-k experts per token (seeded)"},
            {"rows", std::to_string(m_rows)}};
  }
  void enqueue() override { m_launch.launch(); }

 private:
  MoeProblem m_p;
  PermuteLaunch m_launch;
  int64_t m_routed = 0, m_rows = 0;
};

class MoeUnpermuteOp final : public DeviceOp {
 public:
  MoeUnpermuteOp(const MoeProblem& p, uint64_t seed, const MoeRouting& r, const MoeLayout& l)
      : m_p(p), m_launch(p, l.rows()), m_routed(routed_pairs(r.topk_idx)) {
    m_launch.fill_random(l.dest_row, r.topk_weights, seed + 1);
  }
  std::string name() const override { return "moe-unpermute"; }
  std::string shape() const override { return m_p.describe(); }
  LaunchWork cost() const override { return m_p.unpermute_cost(m_routed); }
  Attributes attributes() const override {
    return {{"kernel", "v3sim moe unpermute (weighted gather-reduce per token, FP32 FMA, BF16 out)"},
            {"routing", "uniform random distinct top-k experts per token (seeded)"}};
  }
  void enqueue() override { m_launch.launch(); }

 private:
  MoeProblem m_p;
  UnpermuteLaunch m_launch;
  int64_t m_routed = 0;
};

}  // namespace

MoePermuteResult run_moe_permute(const MoeProblem& p, const MoeRouting& routing, const std::vector<uint8_t>& codes,
                                 const std::vector<float>& scales) {
  check_permute_input(p, routing, codes, scales);
  PermuteLaunch launch(p);
  launch.set_inputs(routing.topk_idx, codes, scales);
  launch.launch();
  return launch.result();
}

std::vector<uint16_t> run_moe_unpermute(const MoeProblem& p, const MoeRouting& routing,
                                        const std::vector<int32_t>& dest_row, const std::vector<uint16_t>& expert_out) {
  check_unpermute_input(p, routing, dest_row, expert_out);
  UnpermuteLaunch launch(p, static_cast<int64_t>(expert_out.size()) / p.hidden);
  launch.set_inputs(dest_row, routing.topk_weights, expert_out);
  launch.launch();
  return launch.result();
}

std::unique_ptr<DeviceOp> make_moe_permute_op(const MoeProblem& p, uint64_t seed) {
  p.validate();
  return std::make_unique<MoePermuteOp>(p, seed);
}

std::unique_ptr<DeviceOp> make_moe_unpermute_op(const MoeProblem& p, uint64_t seed) {
  p.validate();
  const MoeRouting r = random_routing(p, seed);
  const MoeLayout l = moe_layout(p, r.topk_idx);
  return std::make_unique<MoeUnpermuteOp>(p, seed, r, l);
}

}  // namespace v3sim::kernels
