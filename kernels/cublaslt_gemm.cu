// cuBLASLt FP8 GEMM baseline (see cublaslt_gemm.h).
#include <cuda_bf16.h>

#include <algorithm>

#include "core/math.h"
#include "core/quant.h"
#include "kernels/cublaslt_gemm.h"
#include "kernels/cuda_common.h"
#include "kernels/vendor_libs.h"

namespace v3sim::kernels {

namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's own recommendation for Hopper is 32 MiB

// One cuBLASLt matmul: handle, descriptors, operands, scales and the chosen algorithm.
class LtGemm {
 public:
  LtGemm(const Fp8GemmProblem& p, CublasLtScaling want) : m_p(p), m_api(cublaslt_api()) {
    validate_cublaslt_problem(p);
    use_hopper_device();
    m_kb = p.k / kQuantTile;
    m_nb = ceil_div(p.n, kQuantTile);
    m_kb4 = round_up(m_kb, 4);
    m_a = device_alloc<uint8_t>(static_cast<size_t>(p.m * p.k));
    m_b = device_alloc<uint8_t>(static_cast<size_t>(p.n * p.k));
    m_d = device_alloc<__nv_bfloat16>(static_cast<size_t>(p.m * p.n));
    m_sfa = device_alloc<float>(static_cast<size_t>(m_kb * p.m));
    m_sfb = device_alloc<float>(static_cast<size_t>(m_nb * m_kb4));
    m_scalars = device_alloc<float>(2);
    m_workspace = device_alloc<uint8_t>(kWorkspaceBytes);
    V3SIM_CUDA_CHECK(cudaMemset(m_sfb.get(), 0, static_cast<size_t>(m_nb * m_kb4) * sizeof(float)));
    V3SIM_CUBLAS_CHECK(m_api.create(&m_handle));
    // NOTES: Block is tried first; cuBLASLt answers "no algorithm" (NOT_SUPPORTED or zero results) where the
    // installed version or the GPU lacks block scaling, and the per-tensor plan is the documented fallback.
    if (want == CublasLtScaling::Block && plan(CublasLtScaling::Block)) {
      m_scaling = CublasLtScaling::Block;
    } else if (plan(CublasLtScaling::PerTensor)) {
      m_scaling = CublasLtScaling::PerTensor;
    } else {
      throw CudaError("cuBLASLt has no FP8 algorithm for " + p.describe() + " (neither block nor per-tensor scaling)");
    }
  }

  ~LtGemm() {
    destroy_plan();
    if (m_handle != nullptr) m_api.destroy(m_handle);
  }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  void fill_random(uint64_t seed) {
    fill_e4m3_normal(m_a.get(), static_cast<size_t>(m_p.m * m_p.k), seed);
    fill_e4m3_normal(m_b.get(), static_cast<size_t>(m_p.n * m_p.k), seed + 1);
    fill_uniform_f32(m_sfa.get(), static_cast<size_t>(m_kb * m_p.m), 0.004f, 0.008f, seed + 2);
    for (int64_t nb = 0; nb < m_nb; ++nb)
      fill_uniform_f32(m_sfb.get() + nb * m_kb4, static_cast<size_t>(m_kb), 0.004f, 0.008f, seed + 3 + nb);
    fill_uniform_f32(m_scalars.get(), 2, 0.004f, 0.008f, seed + 4);
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void set_operands(const Fp8GemmOperands& ops) {
    copy_to_device(m_a.get(), ops.a);
    copy_to_device(m_b.get(), ops.b);
    if (m_scaling == CublasLtScaling::Block) {
      // A scales: host [M][K/128] -> cuBLASLt VEC128 "outer-dim-major" [K/128][M].
      std::vector<float> sfa(static_cast<size_t>(m_kb * m_p.m));
      for (int64_t r = 0; r < m_p.m; ++r)
        for (int64_t kb = 0; kb < m_kb; ++kb)
          sfa[static_cast<size_t>(kb * m_p.m + r)] = ops.a_scales[static_cast<size_t>(r * m_kb + kb)];
      copy_to_device(m_sfa.get(), sfa);
      // B scales: host [N/128][K/128] -> BLK128x128 [N/128][round_up(K/128, 4)] (16-byte aligned rows).
      std::vector<float> sfb(static_cast<size_t>(m_nb * m_kb4), 0.0f);
      for (int64_t nb = 0; nb < m_nb; ++nb)
        for (int64_t kb = 0; kb < m_kb; ++kb)
          sfb[static_cast<size_t>(nb * m_kb4 + kb)] = ops.b_scales[static_cast<size_t>(nb * m_kb + kb)];
      copy_to_device(m_sfb.get(), sfb);
    } else {
      auto uniform = [](const std::vector<float>& v) {
        return std::all_of(v.begin(), v.end(), [&](float x) { return x == v.front(); });
      };
      if (!uniform(ops.a_scales) || !uniform(ops.b_scales))
        throw std::invalid_argument("cuBLASLt fell back to per-tensor scaling, which needs uniform operand scales (" +
                                    m_p.describe() + ")");
      copy_to_device(m_scalars.get(), std::vector<float>{ops.a_scales.front(), ops.b_scales.front()});
    }
  }

  void launch() {
    const float alpha = 1.0f, beta = 0.0f;
    V3SIM_CUBLAS_CHECK(m_api.matmul(m_handle, m_desc, &alpha, m_b.get(), m_layout_w, m_a.get(), m_layout_x, &beta,
                                    m_d.get(), m_layout_d, m_d.get(), m_layout_d, &m_algo, m_workspace.get(),
                                    kWorkspaceBytes, nullptr));
  }

  CublasLtScaling scaling() const { return m_scaling; }
  std::string library() const { return str_cat("cuBLASLt ", m_api.version, " (", m_api.path, ")"); }
  const __nv_bfloat16* d() const { return m_d.get(); }

 private:
  // Builds the descriptors for a scaling mode and asks the heuristic for an algorithm; false when there is none.
  bool plan(CublasLtScaling s) {
    destroy_plan();
    const auto& a = m_api;
    V3SIM_CUBLAS_CHECK(a.desc_create(&m_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t trans_w = CUBLAS_OP_T, trans_x = CUBLAS_OP_N;
    V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_w, sizeof(trans_w)));
    V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_x, sizeof(trans_x)));
    const void* scale_w = nullptr;
    const void* scale_x = nullptr;
    if (s == CublasLtScaling::Block) {
      const int32_t mode_w = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F,
                    mode_x = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode_w, sizeof(mode_w)));
      V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode_x, sizeof(mode_x)));
      scale_w = m_sfb.get();
      scale_x = m_sfa.get();
    } else {
      scale_x = m_scalars.get();
      scale_w = m_scalars.get() + 1;
    }
    V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale_w, sizeof(scale_w)));
    V3SIM_CUBLAS_CHECK(a.desc_set(m_desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale_x, sizeof(scale_x)));
    const uint64_t m = static_cast<uint64_t>(m_p.m), n = static_cast<uint64_t>(m_p.n), k = static_cast<uint64_t>(m_p.k);
    V3SIM_CUBLAS_CHECK(a.layout_create(&m_layout_w, CUDA_R_8F_E4M3, k, n, static_cast<int64_t>(k)));
    V3SIM_CUBLAS_CHECK(a.layout_create(&m_layout_x, CUDA_R_8F_E4M3, k, m, static_cast<int64_t>(k)));
    V3SIM_CUBLAS_CHECK(a.layout_create(&m_layout_d, CUDA_R_16BF, n, m, static_cast<int64_t>(n)));
    V3SIM_CUBLAS_CHECK(a.pref_create(&m_pref));
    const size_t ws = kWorkspaceBytes;
    V3SIM_CUBLAS_CHECK(a.pref_set(m_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st =
        a.heuristic(m_handle, m_desc, m_layout_w, m_layout_x, m_layout_d, m_layout_d, m_pref, 1, &result, &found);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0 || result.state != CUBLAS_STATUS_SUCCESS) return false;
    m_algo = result.algo;
    return true;
  }

  void destroy_plan() {
    if (m_pref != nullptr) m_api.pref_destroy(m_pref);
    if (m_layout_w != nullptr) m_api.layout_destroy(m_layout_w);
    if (m_layout_x != nullptr) m_api.layout_destroy(m_layout_x);
    if (m_layout_d != nullptr) m_api.layout_destroy(m_layout_d);
    if (m_desc != nullptr) m_api.desc_destroy(m_desc);
    m_pref = nullptr;
    m_layout_w = m_layout_x = m_layout_d = nullptr;
    m_desc = nullptr;
  }

  Fp8GemmProblem m_p;
  const CublasLtApi& m_api;
  int64_t m_kb = 0, m_nb = 0, m_kb4 = 0;
  DeviceBuffer<uint8_t> m_a, m_b, m_workspace;
  DeviceBuffer<__nv_bfloat16> m_d;
  DeviceBuffer<float> m_sfa, m_sfb, m_scalars;  // m_scalars: {A's scale, B's scale} of the per-tensor plan
  cublasLtHandle_t m_handle = nullptr;
  cublasLtMatmulDesc_t m_desc = nullptr;
  cublasLtMatrixLayout_t m_layout_w = nullptr, m_layout_x = nullptr, m_layout_d = nullptr;
  cublasLtMatmulPreference_t m_pref = nullptr;
  cublasLtMatmulAlgo_t m_algo{};
  CublasLtScaling m_scaling = CublasLtScaling::Block;
};

class CublasLtGemmOp final : public DeviceOp {
 public:
  CublasLtGemmOp(const Fp8GemmProblem& p, uint64_t seed, CublasLtScaling want) : m_problem(p), m_gemm(p, want) {
    m_gemm.fill_random(seed);
  }
  std::string name() const override { return "cublaslt-fp8-gemm"; }
  std::string shape() const override { return m_problem.describe(); }
  LaunchWork cost() const override { return m_problem.cost(); }
  Attributes attributes() const override {
    return {{"kernel", "cublasLtMatmul (FP8 E4M3 x E4M3 -> BF16, FP32 compute, heuristic's first algorithm)"},
            {"scaling", to_string(m_gemm.scaling())},
            {"library", m_gemm.library()}};
  }
  void enqueue() override { m_gemm.launch(); }

 private:
  Fp8GemmProblem m_problem;
  LtGemm m_gemm;
};

}  // namespace

CublasLtGemmResult run_cublaslt_fp8_gemm(const Fp8GemmProblem& p, const Fp8GemmOperands& operands,
                                         CublasLtScaling want) {
  validate_cublaslt_problem(p);
  check_fp8_gemm_operands(p, operands);
  LtGemm gemm(p, want);
  gemm.set_operands(operands);
  gemm.launch();
  V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  CublasLtGemmResult r;
  r.scaling = gemm.scaling();
  r.library = gemm.library();
  r.d = to_host(reinterpret_cast<const uint16_t*>(gemm.d()), static_cast<size_t>(p.m * p.n));
  return r;
}

std::unique_ptr<DeviceOp> make_cublaslt_fp8_gemm_op(const Fp8GemmProblem& p, uint64_t seed, CublasLtScaling want) {
  validate_cublaslt_problem(p);
  return std::make_unique<CublasLtGemmOp>(p, seed, want);
}

}  // namespace v3sim::kernels
