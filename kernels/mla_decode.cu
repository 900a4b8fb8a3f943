// MLA decode attention, first version: cuBLAS strided-batched BF16 GEMMs around a softmax kernel (see mla_decode.h).
//
// cuBLAS is column-major; a row-major [rows][cols] matrix is its column-major transpose. Per sequence:
//   scores (row-major [H][ldp], FP32) = column-major S^T (L x H, ld ldp) = c_kv (L x R) . q^T:
//       A = c_kv as column-major R x L (lda R), op T;  B = q_latent as column-major R x H (ldb R), op N; m L, n H, k R;
//   the same with k_pe / q_pe (k = rope_dim) and beta = 1 adds the rope term;
//   out (row-major [H][R], BF16) = column-major Out^T (R x H, ld R) = c_kv^T (R x L) . P^T (L x H):
//       A = c_kv as column-major R x L (lda R), op N;  B = P as column-major ldp x H (ldb ldp), op N; m R, n H, k L.
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda_common.h"
#include "kernels/mla_decode.h"
#include "kernels/vendor_libs.h"

namespace v3sim::kernels {

namespace {

constexpr int kSoftmaxThreads = 256;

__device__ __forceinline__ float block_reduce(float v, bool is_max, float* scratch) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = is_max ? fmaxf(v, o) : v + o;
  }
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  __syncthreads();  // scratch may still be read by the previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < kSoftmaxThreads / 32; ++w) r = is_max ? fmaxf(r, scratch[w]) : r + scratch[w];
  return r;
}

// One CTA per (sequence, head) row: P = BF16(softmax(scale * scores)).
__global__ void __launch_bounds__(kSoftmaxThreads)
    mla_softmax_kernel(const float* __restrict__ scores, __nv_bfloat16* __restrict__ probs, int64_t len, int64_t ld,
                       float scale) {
  __shared__ float scratch[kSoftmaxThreads / 32];
  const float* row = scores + int64_t{blockIdx.x} * ld;
  __nv_bfloat16* out = probs + int64_t{blockIdx.x} * ld;
  float m = -INFINITY;
  for (int64_t l = threadIdx.x; l < len; l += blockDim.x) m = fmaxf(m, scale * row[l]);
  m = block_reduce(m, true, scratch);
  float sum = 0.0f;
  for (int64_t l = threadIdx.x; l < len; l += blockDim.x) sum += expf(scale * row[l] - m);
  sum = block_reduce(sum, false, scratch);
  const float inv = 1.0f / sum;
  for (int64_t l = threadIdx.x; l < len; l += blockDim.x) out[l] = __float2bfloat16_rn(expf(scale * row[l] - m) * inv);
}

int64_t padded_len(int64_t len) {
  return (len + 7) / 8 * 8;  // 16-byte rows of P for the tensor-core GEMM
}

class MlaLaunch {
 public:
  explicit MlaLaunch(const MlaDecodeProblem& p) : m_p(p), m_api(cublas_api()) {
    p.validate();
    use_hopper_device();
    m_ldp = padded_len(p.cache_len);
    m_q = device_alloc<uint16_t>(static_cast<size_t>(p.batch * p.heads * p.kv_rank));
    m_qpe = device_alloc<uint16_t>(static_cast<size_t>(p.batch * p.heads * p.rope_dim));
    m_ckv = device_alloc<uint16_t>(static_cast<size_t>(p.batch * p.cache_len * p.kv_rank));
    m_kpe = device_alloc<uint16_t>(static_cast<size_t>(p.batch * p.cache_len * p.rope_dim));
    m_scores = device_alloc<float>(static_cast<size_t>(p.batch * p.heads * m_ldp));
    m_probs = device_alloc<__nv_bfloat16>(static_cast<size_t>(p.batch * p.heads * m_ldp));
    m_out = device_alloc<__nv_bfloat16>(static_cast<size_t>(p.batch * p.heads * p.kv_rank));
    V3SIM_CUDA_CHECK(cudaMemset(m_probs.get(), 0, static_cast<size_t>(p.batch * p.heads * m_ldp) * 2));
    V3SIM_CUBLAS_CHECK(m_api.create(&m_handle));
  }
  ~MlaLaunch() {
    if (m_handle != nullptr) m_api.destroy(m_handle);
  }
  MlaLaunch(const MlaLaunch&) = delete;
  MlaLaunch& operator=(const MlaLaunch&) = delete;

  void set_inputs(const MlaDecodeInputs& in) {
    copy_to_device(m_q.get(), in.q_latent);
    copy_to_device(m_qpe.get(), in.q_pe);
    copy_to_device(m_ckv.get(), in.c_kv);
    copy_to_device(m_kpe.get(), in.k_pe);
  }

  void fill_random(uint64_t seed) {
    const MlaDecodeProblem& p = m_p;
    const float qs = 1.0f / std::sqrt(static_cast<float>(p.kv_rank));
    fill_normal_bf16(m_q.get(), static_cast<size_t>(p.batch * p.heads * p.kv_rank), qs, seed);
    fill_normal_bf16(m_qpe.get(), static_cast<size_t>(p.batch * p.heads * p.rope_dim), qs, seed + 1);
    fill_normal_bf16(m_ckv.get(), static_cast<size_t>(p.batch * p.cache_len * p.kv_rank), 1.0f, seed + 2);
    fill_normal_bf16(m_kpe.get(), static_cast<size_t>(p.batch * p.cache_len * p.rope_dim), 1.0f, seed + 3);
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void launch() {
    const MlaDecodeProblem& p = m_p;
    const int L = static_cast<int>(p.cache_len), H = p.heads, R = p.kv_rank, D = p.rope_dim;
    const int B = static_cast<int>(p.batch), ldp = static_cast<int>(m_ldp);
    const float one = 1.0f, zero = 0.0f;
    V3SIM_CUBLAS_CHECK(m_api.gemm_strided_batched(m_handle, CUBLAS_OP_T, CUBLAS_OP_N, L, H, R, &one, m_ckv.get(),
                                                  CUDA_R_16BF, R, int64_t{L} * R, m_q.get(), CUDA_R_16BF, R,
                                                  int64_t{H} * R, &zero, m_scores.get(), CUDA_R_32F, ldp,
                                                  int64_t{H} * ldp, B, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    V3SIM_CUBLAS_CHECK(m_api.gemm_strided_batched(m_handle, CUBLAS_OP_T, CUBLAS_OP_N, L, H, D, &one, m_kpe.get(),
                                                  CUDA_R_16BF, D, int64_t{L} * D, m_qpe.get(), CUDA_R_16BF, D,
                                                  int64_t{H} * D, &one, m_scores.get(), CUDA_R_32F, ldp,
                                                  int64_t{H} * ldp, B, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    mla_softmax_kernel<<<static_cast<unsigned>(p.batch * p.heads), kSoftmaxThreads>>>(
        m_scores.get(), m_probs.get(), p.cache_len, m_ldp, p.softmax_scale);
    V3SIM_CUDA_CHECK_LAUNCH();
    V3SIM_CUBLAS_CHECK(m_api.gemm_strided_batched(m_handle, CUBLAS_OP_N, CUBLAS_OP_N, R, H, L, &one, m_ckv.get(),
                                                  CUDA_R_16BF, R, int64_t{L} * R, m_probs.get(), CUDA_R_16BF, ldp,
                                                  int64_t{H} * ldp, &zero, m_out.get(), CUDA_R_16BF, R, int64_t{H} * R,
                                                  B, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }

  std::vector<uint16_t> result() const {
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
    return to_host(reinterpret_cast<const uint16_t*>(m_out.get()),
                   static_cast<size_t>(m_p.batch * m_p.heads * m_p.kv_rank));
  }

  const std::string& library() const { return m_api.path; }

 private:
  MlaDecodeProblem m_p;
  const CublasApi& m_api;
  int64_t m_ldp = 0;
  DeviceBuffer<uint16_t> m_q, m_qpe, m_ckv, m_kpe;
  DeviceBuffer<float> m_scores;
  DeviceBuffer<__nv_bfloat16> m_probs, m_out;
  cublasHandle_t m_handle = nullptr;
};

class MlaDecodeOp final : public DeviceOp {
 public:
  MlaDecodeOp(const MlaDecodeProblem& p, uint64_t seed) : m_p(p), m_launch(p) { m_launch.fill_random(seed); }
  std::string name() const override { return "mla-decode"; }
  std::string shape() const override { return m_p.describe(); }
  LaunchWork cost() const override { return m_p.cost(); }
  Attributes attributes() const override {
    return {{"implementation", kMlaDecodeImplementation},
            {"kernel", "cublasGemmStridedBatchedEx x3 (BF16, FP32 compute) + v3sim softmax"},
            {"library", m_launch.library()}};
  }
  void enqueue() override { m_launch.launch(); }

 private:
  MlaDecodeProblem m_p;
  MlaLaunch m_launch;
};

}  // namespace

std::vector<uint16_t> run_mla_decode(const MlaDecodeProblem& p, const MlaDecodeInputs& in) {
  check_mla_decode_inputs(p, in);
  MlaLaunch launch(p);
  launch.set_inputs(in);
  launch.launch();
  return launch.result();
}

std::unique_ptr<DeviceOp> make_mla_decode_op(const MlaDecodeProblem& p, uint64_t seed) {
  p.validate();
  return std::make_unique<MlaDecodeOp>(p, seed);
}

}  // namespace v3sim::kernels
