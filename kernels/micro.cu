// The microbenchmark kernels (see micro.h). Each keeps to what the model that prices it assumes: the copy and the
// L2 read keep one 16-byte load per thread in flight (no unrolling), 8 CTAs of 256 threads per SM (launch bounds
// hold the registers to 32 per thread, so the threads, not the registers, limit occupancy); the TMA store issues
// bulk stores from one thread per CTA, one tile of shared memory again and again.
#include <algorithm>
#include <random>

#include "kernels/cuda_common.h"
#include "kernels/micro.h"

namespace v3sim::kernels {

namespace {

constexpr int kStreamBlock = 256;  // hbm_copy and l2_read: threads per CTA the launch bounds are written for
constexpr int kStoreThreads = 128;

__global__ void launch_kernel(unsigned int* counter) {
  if (blockIdx.x == 0 && threadIdx.x == 0) atomicAdd(counter, 1u);
}

__global__ void fill_kernel(uint32_t* dst, int64_t words) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < words; i += stride) {
    dst[i] = micro_fill_word(static_cast<uint64_t>(i));
  }
}

__global__ void __launch_bounds__(kStreamBlock, 8)
    copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst, int64_t vecs) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
#pragma unroll 1
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < vecs; i += stride) dst[i] = src[i];
}

// A load cached in the L2 only (not the L1, where a CTA's share would otherwise stay), volatile so that the passes
// are not merged.
__device__ __forceinline__ uint4 load_cg(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

__global__ void __launch_bounds__(kStreamBlock, 8)
    l2_read_kernel(const uint4* __restrict__ buf, uint32_t* __restrict__ sums, int64_t vecs_per_thread, int passes) {
  __shared__ uint32_t warp_sums[kStreamBlock / 32];
  const uint4* share = buf + int64_t{blockIdx.x} * blockDim.x * vecs_per_thread;
  uint32_t acc = 0;
#pragma unroll 1
  for (int p = 0; p < passes; ++p) {
#pragma unroll 1
    for (int64_t j = 0; j < vecs_per_thread; ++j) {
      const uint4 v = load_cg(share + threadIdx.x + j * blockDim.x);
      acc += v.x + v.y + v.z + v.w;
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) s += warp_sums[w];
    sums[blockIdx.x] = s;
  }
}

__global__ void __launch_bounds__(kStoreThreads)
    tma_store_kernel(uint8_t* __restrict__ dst, int64_t tiles, int tile_bytes) {
  extern __shared__ __align__(128) uint8_t smem[];
  uint32_t* words = reinterpret_cast<uint32_t*>(smem);
  for (int w = static_cast<int>(threadIdx.x); w < tile_bytes / 4; w += blockDim.x) {
    words[w] = tma_store_word(blockIdx.x, w);
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // The generic-proxy writes above become visible to the bulk copies (the async proxy).
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  if (threadIdx.x == 0) {
    const uint32_t src = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;\n" ::"l"(dst + t * tile_bytes),
                   "r"(src), "r"(tile_bytes)
                   : "memory");
      asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
    }
    // Shared memory must stay valid until the last store has completed.
    asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
  }
#else
  (void)dst;
  (void)tiles;
#endif
}

// Counts the words of `got` that differ from `want` (want == nullptr: from tma_store_word of tile t % ctas).
__global__ void mismatch_kernel(const uint32_t* got, const uint32_t* want, int64_t words, int64_t tile_words,
                                int64_t ctas, unsigned long long* mismatches) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  unsigned long long bad = 0;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < words; i += stride) {
    const uint32_t w = want != nullptr ? want[i] : tma_store_word((i / tile_words) % ctas, i % tile_words);
    bad += got[i] != w;
  }
  if (bad != 0) atomicAdd(mismatches, bad);
}

int sm_count() {
  int device = 0, sms = 0;
  V3SIM_CUDA_CHECK(cudaGetDevice(&device));
  V3SIM_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

// Mismatching words between a device buffer and a device reference (or the tma_store pattern).
unsigned long long count_mismatches(const uint32_t* got, const uint32_t* want, int64_t words, int64_t tile_words,
                                    int64_t ctas) {
  auto counter = device_alloc<unsigned long long>(1);
  V3SIM_CUDA_CHECK(cudaMemset(counter.get(), 0, sizeof(unsigned long long)));
  mismatch_kernel<<<4 * sm_count(), 256>>>(got, want, words, tile_words, ctas, counter.get());
  V3SIM_CUDA_CHECK_LAUNCH();
  return to_host(counter.get(), 1)[0];
}

void fill(uint32_t* dst, int64_t words) {
  fill_kernel<<<4 * sm_count(), 256>>>(dst, words);
  V3SIM_CUDA_CHECK_LAUNCH();
}

class MicroDeviceOp final : public DeviceOp {
 public:
  explicit MicroDeviceOp(const MicroProblem& p) : m_p(p) {
    switch (p.op) {
      case MicroOp::Launch:
        m_grid = sm_count();
        m_counter = device_alloc<uint32_t>(1);
        V3SIM_CUDA_CHECK(cudaMemset(m_counter.get(), 0, sizeof(uint32_t)));
        break;
      case MicroOp::HbmCopy:
      case MicroOp::L2Read:
        m_src = device_alloc<uint32_t>(static_cast<size_t>(p.bytes / 4));
        fill(m_src.get(), p.bytes / 4);
        m_dst = device_alloc<uint32_t>(static_cast<size_t>(p.op == MicroOp::HbmCopy ? p.bytes / 4 : p.grid));
        break;
      case MicroOp::TmaStore:
        m_dst = device_alloc<uint32_t>(static_cast<size_t>(p.bytes / 4));
        V3SIM_CUDA_CHECK(cudaFuncSetAttribute(tma_store_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              static_cast<int>(p.tile)));
        break;
    }
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  }
  std::string name() const override { return to_string(m_p.op); }
  std::string shape() const override { return m_p.name(); }
  LaunchWork cost() const override { return micro_cost(m_p); }
  Attributes attributes() const override {
    return {{"kernel", std::string("v3sim micro ") + to_string(m_p.op)}, {"sms", std::to_string(sm_count())}};
  }
  void enqueue() override {
    ++m_enqueued;
    switch (m_p.op) {
      case MicroOp::Launch:
        for (int64_t i = 0; i < m_p.kernels; ++i) launch_kernel<<<m_grid, 128>>>(m_counter.get());
        break;
      case MicroOp::HbmCopy:
        copy_kernel<<<static_cast<unsigned>(m_p.grid), static_cast<unsigned>(m_p.block)>>>(
            reinterpret_cast<const uint4*>(m_src.get()), reinterpret_cast<uint4*>(m_dst.get()), m_p.bytes / 16);
        break;
      case MicroOp::L2Read:
        l2_read_kernel<<<static_cast<unsigned>(m_p.grid), static_cast<unsigned>(m_p.block)>>>(
            reinterpret_cast<const uint4*>(m_src.get()), m_dst.get(), m_p.bytes / 16 / (m_p.grid * m_p.block),
            static_cast<int>(m_p.passes));
        break;
      case MicroOp::TmaStore:
        tma_store_kernel<<<static_cast<unsigned>(m_p.ctas), kStoreThreads, static_cast<size_t>(m_p.tile)>>>(
            reinterpret_cast<uint8_t*>(m_dst.get()), m_p.bytes / m_p.tile, static_cast<int>(m_p.tile));
        break;
    }
    V3SIM_CUDA_CHECK_LAUNCH();
  }
  std::string verify() override {
    V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
    switch (m_p.op) {
      case MicroOp::Launch: {
        const uint32_t got = to_host(m_counter.get(), 1)[0];
        const auto want = static_cast<uint32_t>(m_enqueued * m_p.kernels);
        return got == want ? "" : str_cat(got, " kernels ran, ", want, " were launched");
      }
      case MicroOp::HbmCopy: {
        // The source holds the pattern (sampled on the host), and the copy holds the source (compared on the device).
        std::mt19937_64 rng(7);
        const int64_t words = m_p.bytes / 4;
        for (int s = 0; s < 4096; ++s) {
          const auto i = static_cast<int64_t>(rng() % static_cast<uint64_t>(words));
          uint32_t got = 0;
          V3SIM_CUDA_CHECK(cudaMemcpy(&got, m_src.get() + i, 4, cudaMemcpyDeviceToHost));
          if (got != micro_fill_word(static_cast<uint64_t>(i)))
            return str_cat("source word ", i, " is not the pattern");
        }
        const unsigned long long bad = count_mismatches(m_dst.get(), m_src.get(), words, 1, 1);
        return bad == 0 ? "" : str_cat(bad, " of ", words, " copied words differ from the source");
      }
      case MicroOp::L2Read: {
        const std::vector<uint32_t> got = to_host(m_dst.get(), static_cast<size_t>(m_p.grid));
        const std::vector<uint32_t> want = l2_read_reference(m_p);
        for (size_t c = 0; c < want.size(); ++c) {
          if (got[c] != want[c])
            return str_cat("CTA ", c, "'s checksum ", got[c], " differs from the reference ", want[c]);
        }
        return "";
      }
      case MicroOp::TmaStore: {
        const int64_t words = m_p.bytes / 4;
        const unsigned long long bad = count_mismatches(m_dst.get(), nullptr, words, m_p.tile / 4, m_p.ctas);
        return bad == 0 ? "" : str_cat(bad, " of ", words, " stored words differ from the tiles' pattern");
      }
    }
    return "";
  }

 private:
  MicroProblem m_p;
  int m_grid = 0;
  int64_t m_enqueued = 0;
  DeviceBuffer<uint32_t> m_counter, m_src, m_dst;
};

}  // namespace

std::unique_ptr<DeviceOp> make_micro_op(const MicroProblem& p) {
  p.validate();
  if ((p.op == MicroOp::HbmCopy || p.op == MicroOp::L2Read) && p.block > kStreamBlock) {
    throw std::invalid_argument(str_cat(to_string(p.op), ": a block of at most ", kStreamBlock,
                                        " threads (the kernel's launch bounds) (", p.name(), ")"));
  }
  require_hopper();
  use_hopper_device();
  return std::make_unique<MicroDeviceOp>(p);
}

}  // namespace v3sim::kernels
