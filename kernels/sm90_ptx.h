// Thin device wrappers of the sm_90a PTX this folder uses: mbarriers, TMA tensor loads, wgmma fences and the
// FP8 `wgmma.mma_async m64n128k32` (both operands from shared memory). Include only from .cu files, and call only
// under `#if defined(V3SIM_SM90A_ENABLED)` (kernels/cuda_common.h).
// Reference: PTX ISA 8.x, "mbarrier", "cp.async.bulk.tensor", "wgmma.mma_async"; hopper-microarch.md §3.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_common.h"

#if defined(V3SIM_SM90A_ENABLED)

namespace v3sim::kernels::ptx {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarriers (64-bit, in shared memory) --------------------------------------------------------------------------

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}

// Makes the initialized barriers visible to the other threads and to the async proxy (TMA's complete_tx).
__device__ __forceinline__ void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// One arrival that also announces `bytes` of transactions (TMA writes) the current phase must still see.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}

// The watchdog of mbar_wait: a phase of these kernels completes in microseconds, so a wait still open after 2 s is
// a hang (a wrong transaction count, a lost arrival). It traps, so that the launch fails with an error the host
// reports instead of spinning until the process is killed.
constexpr uint64_t kMbarWatchdogNs = 2'000'000'000ull;

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
  return t;
}

// Waits until the phase of parity `parity` has completed. A fresh barrier is in phase 0, so waiting for parity 1
// returns at once (the "previous" phase counts as complete): producers start by waiting on empty slots that way.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  uint64_t since = 0;
  do {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(smem_u32(bar)), "r"(parity)
        : "memory");
    if (done == 0) {
      const uint64_t now = global_timer_ns();
      if (since == 0) {
        since = now;
      } else if (now - since > kMbarWatchdogNs) {
        printf("v3sim: mbarrier wait (parity %u) of block %u thread %u still open after 2 s: trap\n", parity,
               blockIdx.x, threadIdx.x);
        __trap();
      }
    }
  } while (done == 0);
}

// ---- TMA ------------------------------------------------------------------------------------------------------------

__device__ __forceinline__ void prefetch_tensor_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// Copies the box at coordinates (c0 innermost, c1) of the tensor map into shared memory at `dst` and counts the
// box's bytes as transactions on `bar`. Out-of-bounds elements are written as zeros and still counted.
// clang-format off
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int32_t c0, int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
      :
      : "r"(smem_u32(dst)), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(smem_u32(bar))
      : "memory");
}
// clang-format on

// ---- wgmma ----------------------------------------------------------------------------------------------------------

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_wait_all() {
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

// Tells the compiler a register is produced/consumed here, so it keeps accumulator accesses on their side of the
// wgmma fence and wait (the asynchronous instruction reads and writes them behind the compiler's back).
__device__ __forceinline__ void fence_operand(float& x) {
  asm volatile("" : "+f"(x)::"memory");
}

// clang-format off
#define V3SIM_PTX_ACC4(i) "+f"(d[i]), "+f"(d[(i) + 1]), "+f"(d[(i) + 2]), "+f"(d[(i) + 3])
#define V3SIM_PTX_ACC16(i) V3SIM_PTX_ACC4(i), V3SIM_PTX_ACC4((i) + 4), V3SIM_PTX_ACC4((i) + 8), V3SIM_PTX_ACC4((i) + 12)
#define V3SIM_PTX_ACC64 V3SIM_PTX_ACC16(0), V3SIM_PTX_ACC16(16), V3SIM_PTX_ACC16(32), V3SIM_PTX_ACC16(48)

// D (64 x 128 FP32 fragment, 64 registers per thread) = A * B^T (+ D when scale_d != 0); A and B E4M3 from
// shared memory through descriptors; imm-scale-a = imm-scale-b = 1.
__device__ __forceinline__ void wgmma_m64n128k32_e4m3(float (&d)[64], uint64_t desc_a, uint64_t desc_b,
                                                      uint32_t scale_d) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p, 1, 1;\n"
      "}\n"
      : V3SIM_PTX_ACC64
      : "l"(desc_a), "l"(desc_b), "r"(scale_d)
      : "memory");
}
// clang-format on

#undef V3SIM_PTX_ACC4
#undef V3SIM_PTX_ACC16
#undef V3SIM_PTX_ACC64

}  // namespace v3sim::kernels::ptx

#endif  // V3SIM_SM90A_ENABLED
