// The FP8 cast kernels (see casts.h). All three are memory-bound; each computes a tile's amax, then its scale and
// codes exactly as numerics::quantize does: FP32 division by the scale, cvt.rn.satfinite to E4M3.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "core/math.h"
#include "kernels/casts.h"
#include "kernels/cuda_common.h"

namespace v3sim::kernels {

namespace {

// ---- device helpers -------------------------------------------------------------------------------------------------

// scale = max(amax, 1e-4) / 448, optionally the smallest power of two >= it (numerics::ue8m0_round_up: exact powers
// of two stay, anything else goes up one binade).
__device__ __forceinline__ float cast_scale(float amax, bool ue8m0) {
  float s = __fdiv_rn(fmaxf(amax, kCastMinAmax), kE4m3Max);
  if (ue8m0) {
    const uint32_t bits = __float_as_uint(s);  // s >= 1e-4 / 448: a positive normal number
    int e = static_cast<int>((bits >> 23) & 0xFFu) - 127 + ((bits & 0x7FFFFFu) != 0 ? 1 : 0);
    e = max(-127, min(127, e));
    s = scalbnf(1.0f, e);
  }
  return s;
}

__device__ __forceinline__ uint32_t to_e4m3(float x) {
  return static_cast<uint32_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}

// The exact value of an E4M3 code (E4M3 -> FP16 is exact, FP16 -> FP32 too).
__device__ __forceinline__ float e4m3_value(uint8_t code) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), __NV_E4M3)));
}

__device__ __forceinline__ float bf16_lo(uint32_t pair) {
  return __uint_as_float(pair << 16);
}
__device__ __forceinline__ float bf16_hi(uint32_t pair) {
  return __uint_as_float(pair & 0xFFFF0000u);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// ---- quant 1x128: one warp per (row, 128 columns), 4 elements per lane ----------------------------------------------

__global__ void __launch_bounds__(256)
    quant_1x128_kernel(const uint16_t* __restrict__ x, uint8_t* __restrict__ q, float* __restrict__ scales,
                       int64_t rows, int64_t cols, bool ue8m0) {
  static_assert(kCastBlock == 32 * 4, "a warp covers one 128-element tile with 4 elements per lane");
  const int64_t tiles_per_row = cols / kCastBlock, tiles = rows * tiles_per_row;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t warps = int64_t{gridDim.x} * blockDim.x / 32;
  for (int64_t w = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32; w < tiles; w += warps) {
    const int64_t r = w / tiles_per_row, t = w % tiles_per_row;
    const int64_t base = r * cols + t * kCastBlock + lane * 4;
    const uint2 raw = *reinterpret_cast<const uint2*>(x + base);
    const float v[4] = {bf16_lo(raw.x), bf16_hi(raw.x), bf16_lo(raw.y), bf16_hi(raw.y)};
    float amax = fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3])));
    amax = warp_max(amax);
    const float s = cast_scale(amax, ue8m0);
    uint32_t packed = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) packed |= to_e4m3(__fdiv_rn(v[i], s)) << (8 * i);
    *reinterpret_cast<uint32_t*>(q + base) = packed;
    if (lane == 0) scales[scale_index_1x128(cols, r, t * kCastBlock)] = s;
  }
}

// ---- quant 128x128: one CTA of 256 threads per block; 16 threads x 8 elements per row, 16 rows per pass ------------

constexpr int kBlockThreads = 256;
constexpr int kThreadsPerRow = kCastBlock / 8;                // 16
constexpr int kRowsPerPass = kBlockThreads / kThreadsPerRow;  // 16
constexpr int kPasses = kCastBlock / kRowsPerPass;            // 8
static_assert(kPasses * kRowsPerPass == kCastBlock, "the passes must cover the 128 rows of a block exactly");

__global__ void __launch_bounds__(kBlockThreads)
    quant_128x128_kernel(const uint16_t* __restrict__ x, uint8_t* __restrict__ q, float* __restrict__ scales,
                         int64_t rows, int64_t cols, bool ue8m0) {
  __shared__ float warp_amax[kBlockThreads / 32];
  const int64_t rb = blockIdx.y, cb = blockIdx.x;
  const int tx = static_cast<int>(threadIdx.x % kThreadsPerRow), ty = static_cast<int>(threadIdx.x / kThreadsPerRow);
  float v[kPasses][8];
  float amax = 0.0f;
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    const int64_t r = rb * kCastBlock + p * kRowsPerPass + ty;
    if (r < rows) {
      const uint4 raw = *reinterpret_cast<const uint4*>(x + r * cols + cb * kCastBlock + tx * 8);
      const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        v[p][2 * i] = bf16_lo(w[i]);
        v[p][2 * i + 1] = bf16_hi(w[i]);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) v[p][i] = 0.0f;  // rows past the matrix: no contribution to amax, not written
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(v[p][i]));
  }
  amax = warp_max(amax);
  if (threadIdx.x % 32 == 0) warp_amax[threadIdx.x / 32] = amax;
  __syncthreads();
  float block_amax = warp_amax[0];
#pragma unroll
  for (int i = 1; i < kBlockThreads / 32; ++i) block_amax = fmaxf(block_amax, warp_amax[i]);
  const float s = cast_scale(block_amax, ue8m0);
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    const int64_t r = rb * kCastBlock + p * kRowsPerPass + ty;
    if (r >= rows) continue;
    uint32_t lo = 0, hi = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      lo |= to_e4m3(__fdiv_rn(v[p][i], s)) << (8 * i);
      hi |= to_e4m3(__fdiv_rn(v[p][4 + i], s)) << (8 * i);
    }
    *reinterpret_cast<uint2*>(q + r * cols + cb * kCastBlock + tx * 8) = make_uint2(lo, hi);
  }
  if (threadIdx.x == 0) scales[scale_index_128x128(cols, rb * kCastBlock, cb * kCastBlock)] = s;
}

// ---- transpose-requant: one CTA per 128x128 input tile
// ---------------------------------------------------------------

// NOTES: the tile is staged with rows of 33 words (132 bytes): reading one column, lane l takes rows l + 32j, whose
// words fall in 32 distinct banks ((33 r + c / 4) mod 32 = (r + c / 4) mod 32).
constexpr int kTileWords = kCastBlock / 4 + 1;

__global__ void __launch_bounds__(kBlockThreads)
    transpose_requant_kernel(const uint8_t* __restrict__ in, const float* __restrict__ in_scales,
                             uint8_t* __restrict__ out, float* __restrict__ out_scales, int64_t rows, int64_t cols,
                             bool ue8m0) {
  __shared__ uint32_t tile[kCastBlock * kTileWords];
  __shared__ float row_scale[kCastBlock];
  const int64_t cb = blockIdx.x, rb = blockIdx.y;
  // Stage: 128 rows x 8 uint4 per row, 4 uint4 per thread; each warp reads 4 whole rows (coalesced).
  for (int i = static_cast<int>(threadIdx.x); i < kCastBlock * 8; i += kBlockThreads) {
    const int r = i / 8, q4 = i % 8;
    const uint4 raw = *reinterpret_cast<const uint4*>(in + (rb * kCastBlock + r) * cols + cb * kCastBlock + q4 * 16);
    uint32_t* dst = tile + r * kTileWords + q4 * 4;
    dst[0] = raw.x;
    dst[1] = raw.y;
    dst[2] = raw.z;
    dst[3] = raw.w;
  }
  if (threadIdx.x < kCastBlock) {
    const int64_t r = rb * kCastBlock + threadIdx.x;
    row_scale[threadIdx.x] = in_scales[scale_index_1x128(cols, r, cb * kCastBlock)];
  }
  __syncthreads();

  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const int64_t out_cols = rows;  // the output is [cols, rows]
  for (int c = warp; c < kCastBlock; c += kBlockThreads / 32) {
    float v[4];
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int r = lane + 32 * j;
      const uint32_t word = tile[r * kTileWords + c / 4];
      const uint8_t code = static_cast<uint8_t>(word >> (8 * (c % 4)));
      v[j] = __fmul_rn(e4m3_value(code), row_scale[r]);  // numerics::dequantize: fp8_to_float(code) * scale
      amax = fmaxf(amax, fabsf(v[j]));
    }
    amax = warp_max(amax);
    const float s = cast_scale(amax, ue8m0);
    const int64_t out_row = cb * kCastBlock + c;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t out_col = rb * kCastBlock + lane + 32 * j;
      out[out_row * out_cols + out_col] = static_cast<uint8_t>(to_e4m3(__fdiv_rn(v[j], s)));
    }
    if (lane == 0) out_scales[scale_index_1x128(out_cols, out_row, rb * kCastBlock)] = s;
  }
}

// ---- host side --------------------------------------------------------------------------------------------------

unsigned quant_1x128_blocks(const CastProblem& p) {
  const int64_t tiles = p.rows * (p.cols / kCastBlock);
  return static_cast<unsigned>(std::clamp<int64_t>((tiles + 7) / 8, 1, 132 * 64));
}

// Device buffers of one cast and its launch.
class CastLaunch {
 public:
  explicit CastLaunch(const CastProblem& p) : m_p(p) {
    p.validate();
    use_hopper_device();
    const size_t elems = static_cast<size_t>(p.rows * p.cols);
    if (p.kind == CastKind::TransposeRequant) {
      m_in_codes = device_alloc<uint8_t>(elems);
      m_in_scales = device_alloc<float>(static_cast<size_t>(p.in_scales()));
    } else {
      m_in_bf16 = device_alloc<uint16_t>(elems);
    }
    m_out_codes = device_alloc<uint8_t>(elems);
    m_out_scales = device_alloc<float>(static_cast<size_t>(p.out_scales()));
  }

  void launch() {
    const CastProblem& p = m_p;
    switch (p.kind) {
      case CastKind::Quant1x128:
        quant_1x128_kernel<<<quant_1x128_blocks(p), kBlockThreads>>>(m_in_bf16.get(), m_out_codes.get(),
                                                                     m_out_scales.get(), p.rows, p.cols, p.ue8m0);
        break;
      case CastKind::Quant128x128: {
        const dim3 grid(static_cast<unsigned>(p.cols / kCastBlock),
                        static_cast<unsigned>(ceil_div(p.rows, kCastBlock)));
        quant_128x128_kernel<<<grid, kBlockThreads>>>(m_in_bf16.get(), m_out_codes.get(), m_out_scales.get(), p.rows,
                                                      p.cols, p.ue8m0);
        break;
      }
      case CastKind::TransposeRequant: {
        const dim3 grid(static_cast<unsigned>(p.cols / kCastBlock), static_cast<unsigned>(p.rows / kCastBlock));
        transpose_requant_kernel<<<grid, kBlockThreads>>>(m_in_codes.get(), m_in_scales.get(), m_out_codes.get(),
                                                          m_out_scales.get(), p.rows, p.cols, p.ue8m0);
        break;
      }
    }
    V3SIM_CUDA_CHECK_LAUNCH();
  }

  // Seeded inputs: BF16 N(0,1); for transpose-requant their 1x128 quantization.
  void fill_random(uint64_t seed) {
    const size_t elems = static_cast<size_t>(m_p.rows * m_p.cols);
    if (m_p.kind != CastKind::TransposeRequant) {
      fill_normal_bf16(m_in_bf16.get(), elems, 1.0f, seed);
    } else {
      DeviceBuffer<uint16_t> bf16 = device_alloc<uint16_t>(elems);
      fill_normal_bf16(bf16.get(), elems, 1.0f, seed);
      CastProblem q = m_p;
      q.kind = CastKind::Quant1x128;
      quant_1x128_kernel<<<quant_1x128_blocks(q), kBlockThreads>>>(bf16.get(), m_in_codes.get(), m_in_scales.get(),
                                                                   q.rows, q.cols, q.ue8m0);
      V3SIM_CUDA_CHECK_LAUNCH();
    }
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void set_bf16(const std::vector<uint16_t>& x) { copy_to_device(m_in_bf16.get(), x); }
  void set_fp8(const Fp8Tensor& t) {
    copy_to_device(m_in_codes.get(), t.codes);
    copy_to_device(m_in_scales.get(), t.scales);
  }

  Fp8Tensor result() const {
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
    Fp8Tensor t;
    t.rows = m_p.out_rows();
    t.cols = m_p.out_cols();
    t.codes = to_host(m_out_codes.get(), static_cast<size_t>(m_p.rows * m_p.cols));
    t.scales = to_host(m_out_scales.get(), static_cast<size_t>(m_p.out_scales()));
    return t;
  }

 private:
  CastProblem m_p;
  DeviceBuffer<uint16_t> m_in_bf16;
  DeviceBuffer<uint8_t> m_in_codes, m_out_codes;
  DeviceBuffer<float> m_in_scales, m_out_scales;
};

class CastOp final : public DeviceOp {
 public:
  CastOp(const CastProblem& p, uint64_t seed) : m_p(p), m_launch(p) { m_launch.fill_random(seed); }
  std::string name() const override { return to_string(m_p.kind); }
  std::string shape() const override { return m_p.describe(); }
  LaunchWork cost() const override { return m_p.cost(); }
  Attributes attributes() const override {
    return {{"kernel", std::string("v3sim ") + to_string(m_p.kind) + " (E4M3, FP32 scales" +
                           (m_p.ue8m0 ? ", UE8M0 power-of-two" : "") + ")"}};
  }
  void enqueue() override { m_launch.launch(); }

 private:
  CastProblem m_p;
  CastLaunch m_launch;
};

}  // namespace

Fp8Tensor run_quantize(const CastProblem& p, const std::vector<uint16_t>& input) {
  check_quantize_input(p, input);
  CastLaunch launch(p);
  launch.set_bf16(input);
  launch.launch();
  return launch.result();
}

Fp8Tensor run_transpose_requant(const CastProblem& p, const Fp8Tensor& input) {
  check_transpose_input(p, input);
  CastLaunch launch(p);
  launch.set_fp8(input);
  launch.launch();
  return launch.result();
}

std::unique_ptr<DeviceOp> make_cast_op(const CastProblem& p, uint64_t seed) {
  p.validate();
  return std::make_unique<CastOp>(p, seed);
}

}  // namespace v3sim::kernels
