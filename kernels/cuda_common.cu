// CUDA helpers of kernels/: errors, allocation, events, seeded fills, the Hopper availability check.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cmath>
#include <string>

#include "core/random.h"
#include "kernels/cuda_common.h"
#include "kernels/device.h"

namespace v3sim::kernels {

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw CudaError(std::string(expr) + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + " (" +
                  file + ":" + std::to_string(line) + ")");
}

void throw_library_error(const std::string& what, const char* expr, const char* file, int line) {
  throw CudaError(std::string(expr) + " failed: " + what + " (" + file + ":" + std::to_string(line) + ")");
}

void* device_alloc_bytes(size_t bytes) {
  void* p = nullptr;
  // NOTES: a zero-byte request still returns a valid, distinct pointer so that kernels may take its address.
  V3SIM_CUDA_CHECK(cudaMalloc(&p, bytes == 0 ? 16 : bytes));
  return p;
}

Event::Event() {
  V3SIM_CUDA_CHECK(cudaEventCreate(&m_event));
}

Event::~Event() {
  if (m_event != nullptr) cudaEventDestroy(m_event);
}

namespace {

// A standard normal from one 64-bit hash (Box-Muller on two 24-bit uniforms in (0, 1]).
__device__ __forceinline__ float normal_of(uint64_t h) {
  const float u1 = (static_cast<float>(h & 0xFFFFFFu) + 1.0f) * (1.0f / 16777216.0f);
  const float u2 = static_cast<float>((h >> 24) & 0xFFFFFFu) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
}

__global__ void fill_normal_bf16_kernel(uint16_t* dst, size_t count, float sigma, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count; i += size_t{gridDim.x} * blockDim.x) {
    const __nv_bfloat16 v = __float2bfloat16_rn(sigma * normal_of(mix64(seed * 0x100000001B3ull + i)));
    dst[i] = __bfloat16_as_ushort(v);
  }
}

__global__ void fill_e4m3_normal_kernel(uint8_t* dst, size_t count, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count; i += size_t{gridDim.x} * blockDim.x) {
    const float v = 150.0f * normal_of(mix64(seed * 0x100000001B3ull + i));
    dst[i] = static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
  }
}

__global__ void fill_uniform_f32_kernel(float* dst, size_t count, float lo, float hi, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count; i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t h = mix64(seed * 0x100000001B3ull + i);
    dst[i] = lo + (hi - lo) * static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
  }
}

unsigned fill_blocks(size_t count) {
  const size_t blocks = (count + 255) / 256;
  return static_cast<unsigned>(blocks < 4096 ? (blocks == 0 ? 1 : blocks) : 4096);
}

}  // namespace

void fill_normal_bf16(uint16_t* dst, size_t count, float sigma, uint64_t seed) {
  fill_normal_bf16_kernel<<<fill_blocks(count), 256>>>(dst, count, sigma, seed);
  V3SIM_CUDA_CHECK_LAUNCH();
}

void fill_e4m3_normal(uint8_t* dst, size_t count, uint64_t seed) {
  fill_e4m3_normal_kernel<<<fill_blocks(count), 256>>>(dst, count, seed);
  V3SIM_CUDA_CHECK_LAUNCH();
}

void fill_uniform_f32(float* dst, size_t count, float lo, float hi, uint64_t seed) {
  fill_uniform_f32_kernel<<<fill_blocks(count), 256>>>(dst, count, lo, hi, seed);
  V3SIM_CUDA_CHECK_LAUNCH();
}

std::string hopper_unavailable_reason() {
  const DeviceInfo dev = query_device(0);
  if (!dev.available) return "no CUDA device: " + dev.reason;
  if (dev.cc_major != 9) {
    return dev.name + " has compute capability " + std::to_string(dev.cc_major) + "." + std::to_string(dev.cc_minor) +
           "; these kernels need 9.x (Hopper, sm_90a)";
  }
  // The binary must hold code this device can load (CMAKE_CUDA_ARCHITECTURES=90a).
  cudaFuncAttributes attr{};
  const cudaError_t err = cudaFuncGetAttributes(&attr, fill_uniform_f32_kernel);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable kernel image for ") + dev.name + ": " + cudaGetErrorName(err) + ": " +
           cudaGetErrorString(err);
  }
  return {};
}

void require_hopper() {
  const std::string why = hopper_unavailable_reason();
  if (!why.empty()) throw DeviceUnavailable(why);
}

void use_hopper_device() {
  require_hopper();
  V3SIM_CUDA_CHECK(cudaSetDevice(0));
}

}  // namespace v3sim::kernels
