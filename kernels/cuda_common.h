// CUDA helpers shared by the .cu files of kernels/ (never included by host-only code): the checking macro,
// RAII device buffers and events, seeded random fills, and the sm_90a feature switch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/kernel_op.h"

// wgmma, TMA tensor copies and setmaxnreg exist only in the arch-specific sm_90a target:
// __CUDA_ARCH_FEAT_SM90_ALL marks it (not plain sm_90, and not sm_100, which has tcgen05 instead).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define V3SIM_SM90A_ENABLED 1
#endif

namespace v3sim::kernels {

// Concatenates the streamed form of every part (fmt does not build under nvcc's C++20 mode, so .cu files use this).
template <typename... T>
std::string str_cat(const T&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_library_error(const std::string& what, const char* expr, const char* file, int line);

// Evaluates a CUDA runtime call; on failure throws CudaError naming the call, the error and file:line.
#define V3SIM_CUDA_CHECK(expr)                                                                                \
  do {                                                                                                        \
    const cudaError_t v3sim_err_ = (expr);                                                                    \
    if (v3sim_err_ != cudaSuccess) ::v3sim::kernels::throw_cuda_error(v3sim_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Checks the last launch (configuration errors surface here; execution errors at the next synchronization).
#define V3SIM_CUDA_CHECK_LAUNCH() V3SIM_CUDA_CHECK(cudaGetLastError())

// Device memory owned by a unique_ptr, freed with cudaFree.
struct CudaFree {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
template <typename T>
using DeviceBuffer = std::unique_ptr<T, CudaFree>;

void* device_alloc_bytes(size_t bytes);
template <typename T>
DeviceBuffer<T> device_alloc(size_t count) {
  return DeviceBuffer<T>(static_cast<T*>(device_alloc_bytes(count * sizeof(T))));
}

template <typename T>
void copy_to_device(T* dst, const std::vector<T>& src) {
  if (!src.empty()) V3SIM_CUDA_CHECK(cudaMemcpy(dst, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
}
template <typename T>
DeviceBuffer<T> to_device(const std::vector<T>& src) {
  DeviceBuffer<T> d = device_alloc<T>(src.size());
  copy_to_device(d.get(), src);
  return d;
}
template <typename T>
std::vector<T> to_host(const T* src, size_t count) {
  std::vector<T> out(count);
  if (count != 0) V3SIM_CUDA_CHECK(cudaMemcpy(out.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost));
  return out;
}

// A CUDA event, destroyed with its owner.
class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return m_event; }

 private:
  cudaEvent_t m_event = nullptr;
};

// Seeded device fills for the measured ops (deterministic in the seed, the same on every GPU).
//   fill_normal_bf16: BF16 bits of N(0, sigma^2) values (Box-Muller over a counter hash);
//   fill_e4m3_normal: E4M3 codes of N(0, 1) * 150 saturated at +-448, about what 1x128 quantization of
//                     torch.randn gives (amax ~3 of 128 normals -> scale ~3/448);
//   fill_uniform_f32: uniform in [lo, hi).
void fill_normal_bf16(uint16_t* dst, size_t count, float sigma, uint64_t seed);
void fill_e4m3_normal(uint8_t* dst, size_t count, uint64_t seed);
void fill_uniform_f32(float* dst, size_t count, float lo, float hi, uint64_t seed);

// Sets device 0 current, after require_hopper().
void use_hopper_device();

}  // namespace v3sim::kernels
