// The wgmma probe kernel: one warpgroup per 64 x N x 32 problem issues exactly one FP8
// `wgmma.mma_async.sync.aligned.m64nNk32.f32.<atype>.<btype>` with A and B from shared memory (no swizzle, K-major)
// and C in the accumulator registers (scale-d = 1, imm-scale-a = imm-scale-b = 1; FP8 has no transpose).
// Layout math lives in wgmma_layout.h, where the host tests check it.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/device.h"
#include "kernels/wgmma_layout.h"
#include "kernels/wgmma_probe.h"

// wgmma exists only in the arch-specific sm_90a target: __CUDA_ARCH_FEAT_SM90_ALL marks it (not plain sm_90, and
// not sm_100, which has tcgen05 instead).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define V3SIM_WGMMA_ENABLED 1
#endif

namespace v3sim::kernels {
namespace {

// A CUDA runtime error, with the call's text and file:line; run_wgmma_probe turns it into `reason`.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda(cudaError_t err, const char* expr, const char* file, int line) {
  throw CudaError(std::string(expr) + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + " (" +
                  file + ":" + std::to_string(line) + ")");
}

#define V3SIM_CUDA_CHECK(expr)                                                        \
  do {                                                                                \
    const cudaError_t v3sim_err_ = (expr);                                            \
    if (v3sim_err_ != cudaSuccess) throw_cuda(v3sim_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Device memory owned by a unique_ptr, freed with cudaFree.
struct CudaFree {
  void operator()(void* p) const { cudaFree(p); }
};
template <typename T>
using DeviceBuffer = std::unique_ptr<T, CudaFree>;

template <typename T>
DeviceBuffer<T> device_alloc(size_t count) {
  void* p = nullptr;
  V3SIM_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T) + (count == 0 ? 1 : 0)));
  return DeviceBuffer<T>(static_cast<T*>(p));
}

// ---- device side ------------------------------------------------------------------------------------------------

#if defined(V3SIM_WGMMA_ENABLED)

// Tells the compiler a register's value is produced/consumed here, so it cannot move accumulator reads or writes
// across the wgmma fence and wait (the async instruction reads and writes them behind the compiler's back).
__device__ __forceinline__ void fence_operand(float& x) {
  asm volatile("" : "+f"(x)::"memory");
}

// Accumulator operand lists: N/2 registers "+f"(d[0]) ... of the fragment array `d`.
#define V3SIM_ACC4(i) "+f"(d[i]), "+f"(d[(i) + 1]), "+f"(d[(i) + 2]), "+f"(d[(i) + 3])
#define V3SIM_ACC16(i) V3SIM_ACC4(i), V3SIM_ACC4((i) + 4), V3SIM_ACC4((i) + 8), V3SIM_ACC4((i) + 12)
#define V3SIM_ACC32(i) V3SIM_ACC16(i), V3SIM_ACC16((i) + 16)
#define V3SIM_ACC128 V3SIM_ACC32(0), V3SIM_ACC32(32), V3SIM_ACC32(64), V3SIM_ACC32(96)

// Register lists %0 .. %(N/2 - 1) of the PTX text; the descriptors and scale-d follow them.
// clang-format off
#define V3SIM_REGS4 "%0, %1, %2, %3"
#define V3SIM_REGS32                                                                      \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define V3SIM_REGS128                                                                     \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "      \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "      \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "      \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "      \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "      \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, " \
  "%111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, "  \
  "%125, %126, %127"

// One wgmma: D = A * B^T + D. Operand numbers: %0..%(R-1) accumulators, %R desc-a, %(R+1) desc-b, %(R+2) the
// scale-d flag turned into the predicate p; imm-scale-a = imm-scale-b = 1 (no negation).
#define V3SIM_WGMMA(SHAPE, REGS, DESC_A, DESC_B, SCALE_D, OPERANDS, TA, TB)                          \
  asm volatile("{\n"                                                                                 \
               ".reg .pred p;\n"                                                                     \
               "setp.ne.b32 p, " SCALE_D ", 0;\n"                                                    \
               "wgmma.mma_async.sync.aligned." SHAPE ".f32." TA "." TB                               \
               " {" REGS "}, " DESC_A ", " DESC_B ", p, 1, 1;\n"                                     \
               "}\n"                                                                                 \
               : OPERANDS                                                                            \
               : "l"(desc_a), "l"(desc_b), "r"(1)                                                    \
               : "memory")
// clang-format on

#define V3SIM_WGMMA_N8(TA, TB) V3SIM_WGMMA("m64n8k32", V3SIM_REGS4, "%4", "%5", "%6", V3SIM_ACC4(0), TA, TB)
#define V3SIM_WGMMA_N64(TA, TB) V3SIM_WGMMA("m64n64k32", V3SIM_REGS32, "%32", "%33", "%34", V3SIM_ACC32(0), TA, TB)
#define V3SIM_WGMMA_N256(TA, TB) V3SIM_WGMMA("m64n256k32", V3SIM_REGS128, "%128", "%129", "%130", V3SIM_ACC128, TA, TB)

#define V3SIM_WGMMA_TYPES(NMACRO)       \
  if constexpr (!A_E5M2 && !B_E5M2)     \
    NMACRO("e4m3", "e4m3");             \
  else if constexpr (!A_E5M2 && B_E5M2) \
    NMACRO("e4m3", "e5m2");             \
  else if constexpr (A_E5M2 && !B_E5M2) \
    NMACRO("e5m2", "e4m3");             \
  else                                  \
    NMACRO("e5m2", "e5m2")

template <int N, bool A_E5M2, bool B_E5M2>
__device__ __forceinline__ void wgmma_k32(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b) {
  if constexpr (N == 8) {
    V3SIM_WGMMA_TYPES(V3SIM_WGMMA_N8);
  } else if constexpr (N == 64) {
    V3SIM_WGMMA_TYPES(V3SIM_WGMMA_N64);
  } else {
    static_assert(N == 256, "instantiate the wgmma for this N (wgmma_probe_n_values)");
    V3SIM_WGMMA_TYPES(V3SIM_WGMMA_N256);
  }
}

#endif  // V3SIM_WGMMA_ENABLED

// One CTA = one warpgroup = one tile t: D[t] = A[t] * B[t]^T + C[t] through a single wgmma k32.
// `missing_feature` is set when this image was compiled without sm_90a (then D is not written).
template <int N, bool A_E5M2, bool B_E5M2>
__global__ void __launch_bounds__(wgmma::kThreads, 1)
    wgmma_probe_kernel(const uint8_t* a, const uint8_t* b, const uint32_t* c, uint32_t* d, unsigned* missing_feature) {
#if defined(V3SIM_WGMMA_ENABLED)
  static_assert(wgmma::valid_n(N), "FP8 wgmma N is 8..256 in steps of 8");
  constexpr int kRegs = N / 2;
  constexpr uint32_t kBytesA = wgmma::operand_bytes(wgmma::kM), kBytesB = wgmma::operand_bytes(N);
  // Both tiles 128-byte aligned (core matrices are 128 bytes); no-swizzle descriptors need 16.
  __shared__ __align__(128) uint8_t smem_a[kBytesA];
  __shared__ __align__(128) uint8_t smem_b[kBytesB];

  const int tid = static_cast<int>(threadIdx.x);
  const size_t tile = blockIdx.x;
  const uint8_t* ga = a + tile * kBytesA;
  const uint8_t* gb = b + tile * kBytesB;

  // Copy A and B, 16 bytes (one core-matrix line) at a time: chunk i is row i / 2, K-half i % 2.
  for (int i = tid; i < wgmma::kM * 2; i += wgmma::kThreads) {
    const int row = i / 2, k0 = (i % 2) * 16;
    *reinterpret_cast<uint4*>(smem_a + wgmma::operand_offset(row, k0)) =
        *reinterpret_cast<const uint4*>(ga + row * wgmma::kK + k0);
  }
  for (int i = tid; i < N * 2; i += wgmma::kThreads) {
    const int row = i / 2, k0 = (i % 2) * 16;
    *reinterpret_cast<uint4*>(smem_b + wgmma::operand_offset(row, k0)) =
        *reinterpret_cast<const uint4*>(gb + row * wgmma::kK + k0);
  }
  // NOTES: wgmma reads shared memory through the async proxy; generic-proxy stores become visible to it only
  // after a proxy fence, and to the other threads after the barrier.
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();

  // C into the accumulator fragment.
  const uint32_t* gc = c + tile * wgmma::kM * N;
  float acc[kRegs];
#pragma unroll
  for (int r = 0; r < kRegs; ++r) {
    const wgmma::Coord rc = wgmma::accumulator_coord(tid, r);
    acc[r] = __uint_as_float(gc[rc.row * N + rc.col]);
  }

  const uint64_t desc_a = wgmma::operand_descriptor(static_cast<uint32_t>(__cvta_generic_to_shared(smem_a)));
  const uint64_t desc_b = wgmma::operand_descriptor(static_cast<uint32_t>(__cvta_generic_to_shared(smem_b)));

#pragma unroll
  for (int r = 0; r < kRegs; ++r) fence_operand(acc[r]);
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  wgmma_k32<N, A_E5M2, B_E5M2>(acc, desc_a, desc_b);
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#pragma unroll
  for (int r = 0; r < kRegs; ++r) fence_operand(acc[r]);

  (void)missing_feature;
  uint32_t* gd = d + tile * wgmma::kM * N;
#pragma unroll
  for (int r = 0; r < kRegs; ++r) {
    const wgmma::Coord rc = wgmma::accumulator_coord(tid, r);
    gd[rc.row * N + rc.col] = __float_as_uint(acc[r]);
  }
#else
  (void)a, (void)b, (void)c, (void)d;
  if (threadIdx.x == 0 && blockIdx.x == 0) *missing_feature = 1;
#endif
}

// ---- host side --------------------------------------------------------------------------------------------------

using KernelFn = void (*)(const uint8_t*, const uint8_t*, const uint32_t*, uint32_t*, unsigned*);

template <int N>
KernelFn kernel_for_types(bool a_e5m2, bool b_e5m2) {
  if (!a_e5m2 && !b_e5m2) return wgmma_probe_kernel<N, false, false>;
  if (!a_e5m2 && b_e5m2) return wgmma_probe_kernel<N, false, true>;
  if (a_e5m2 && !b_e5m2) return wgmma_probe_kernel<N, true, false>;
  return wgmma_probe_kernel<N, true, true>;
}

KernelFn kernel_for(int n, bool a_e5m2, bool b_e5m2) {
  switch (n) {
    case 8:
      return kernel_for_types<8>(a_e5m2, b_e5m2);
    case 64:
      return kernel_for_types<64>(a_e5m2, b_e5m2);
    case 256:
      return kernel_for_types<256>(a_e5m2, b_e5m2);
    default:
      throw std::invalid_argument("WgmmaProbeInput: n=" + std::to_string(n) + " has no kernel");
  }
}

}  // namespace

std::string wgmma_probe_unavailable_reason() {
  const DeviceInfo dev = query_device(0);
  if (!dev.available) return "no CUDA device: " + dev.reason;
  if (dev.cc_major != 9) {
    return dev.name + " has compute capability " + std::to_string(dev.cc_major) + "." + std::to_string(dev.cc_minor) +
           "; wgmma needs 9.x (Hopper, sm_90a)";
  }
  // The image must hold sm_90a code (CMAKE_CUDA_ARCHITECTURES=90a): a plain sm_90 build has no wgmma.
  cudaFuncAttributes attr{};
  const cudaError_t err = cudaFuncGetAttributes(&attr, kernel_for(256, false, false));
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable wgmma kernel image for ") + dev.name + ": " + cudaGetErrorName(err) + ": " +
           cudaGetErrorString(err);
  }
  return {};
}

WgmmaProbeOutput run_wgmma_probe(const WgmmaProbeInput& in) {
  validate_wgmma_probe_input(in);
  WgmmaProbeOutput out;
  out.reason = wgmma_probe_unavailable_reason();
  if (!out.reason.empty()) return out;
  out.device = query_device(0).name;
  try {
    V3SIM_CUDA_CHECK(cudaSetDevice(0));
    auto a = device_alloc<uint8_t>(in.a.size());
    auto b = device_alloc<uint8_t>(in.b.size());
    auto c = device_alloc<uint32_t>(in.c.size());
    auto d = device_alloc<uint32_t>(in.c.size());
    auto flag = device_alloc<unsigned>(1);
    V3SIM_CUDA_CHECK(cudaMemcpy(a.get(), in.a.data(), in.a.size(), cudaMemcpyHostToDevice));
    V3SIM_CUDA_CHECK(cudaMemcpy(b.get(), in.b.data(), in.b.size(), cudaMemcpyHostToDevice));
    V3SIM_CUDA_CHECK(cudaMemcpy(c.get(), in.c.data(), in.c.size() * sizeof(uint32_t), cudaMemcpyHostToDevice));
    // D starts as a pattern no wgmma result has in its low mantissa bits, so unwritten outputs stand out.
    V3SIM_CUDA_CHECK(cudaMemset(d.get(), 0xFF, in.c.size() * sizeof(uint32_t)));
    V3SIM_CUDA_CHECK(cudaMemset(flag.get(), 0, sizeof(unsigned)));

    kernel_for(in.n, in.a_e5m2, in.b_e5m2)<<<in.tiles, wgmma::kThreads>>>(a.get(), b.get(), c.get(), d.get(),
                                                                          flag.get());
    V3SIM_CUDA_CHECK(cudaGetLastError());
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());

    unsigned missing = 0;
    V3SIM_CUDA_CHECK(cudaMemcpy(&missing, flag.get(), sizeof(unsigned), cudaMemcpyDeviceToHost));
    if (missing != 0) {
      out.reason = "the kernel image was compiled without sm_90a features (set CMAKE_CUDA_ARCHITECTURES=90a)";
      return out;
    }
    out.d.resize(in.c.size());
    V3SIM_CUDA_CHECK(cudaMemcpy(out.d.data(), d.get(), out.d.size() * sizeof(uint32_t), cudaMemcpyDeviceToHost));
    out.ran = true;
  } catch (const CudaError& e) {
    out.reason = e.what();
    out.d.clear();
  }
  return out;
}

}  // namespace v3sim::kernels
