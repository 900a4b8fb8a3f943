// FP32 -> FP8/BF16/FP16 conversions against NVIDIA's own bit-level definitions: the host functions of the CUDA
// toolkit's cuda_fp8.h, cuda_bf16.h and cuda_fp16.h (../shared/reference/oracles.md). Built only where the CUDA
// toolkit headers are found. The exhaustive runs over all 2^32 FP32 patterns are tagged [slow].
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "sim/numerics/formats.h"

using namespace v3sim::numerics;

namespace {

uint32_t oracle(Format f, float x) {
  switch (f) {
    case Format::E4M3:
      return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
    case Format::E5M2:
      return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2);
    case Format::BF16: {
      __nv_bfloat16 b = __float2bfloat16_rn(x);
      uint16_t u;
      std::memcpy(&u, &b, 2);
      return u;
    }
    case Format::FP16: {
      __half h = __float2half_rn(x);
      uint16_t u;
      std::memcpy(&u, &h, 2);
      return u;
    }
    default:
      return 0;
  }
}

// Compares encode() with the oracle for every pattern p = start + i * stride below 2^32; returns mismatches
// and records the first.
uint64_t sweep(Format f, uint64_t stride, uint32_t& first_bad) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> first{0};
  std::vector<std::thread> pool;
  const uint64_t total = (uint64_t{1} << 32) / stride;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = t; i < total; i += threads) {
        const auto p = static_cast<uint32_t>(i * stride + (i * 7919 % stride));  // vary the low bits too
        const float x = bits_float(p);
        if (encode(f, x) != oracle(f, x)) {
          if (bad.fetch_add(1) == 0) first = p;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  first_bad = first;
  return bad;
}

}  // namespace

TEST_CASE("FP8 codes decode as cuda_fp8.h does", "[sim][numerics][oracle]") {
  for (int c = 0; c < 256; ++c) {
    for (auto [f, nv] : {std::pair{Format::E4M3, __NV_E4M3}, std::pair{Format::E5M2, __NV_E5M2}}) {
      __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), nv);
      __half hh(h);
      const float ref = __half2float(hh);
      const float ours = fp8_to_float(static_cast<uint8_t>(c), f);
      CAPTURE(c, to_string(f));
      if (std::isnan(ref)) {
        CHECK(std::isnan(ours));
      } else {
        CHECK(float_bits(ours) == float_bits(ref));
      }
    }
  }
}

TEST_CASE("FP32 -> E4M3/E5M2/BF16/FP16 matches the CUDA headers on a spread of 2^22 patterns",
          "[sim][numerics][oracle]") {
  for (Format f : {Format::E4M3, Format::E5M2, Format::BF16, Format::FP16}) {
    uint32_t first = 0;
    const uint64_t bad = sweep(f, 1024, first);
    INFO(to_string(f) << ": first mismatch at FP32 pattern 0x" << std::hex << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("every FP32 pattern converts to E4M3 and E5M2 as cuda_fp8.h does", "[sim][numerics][oracle][slow]") {
  for (Format f : {Format::E4M3, Format::E5M2}) {
    uint32_t first = 0;
    const uint64_t bad = sweep(f, 1, first);
    INFO(to_string(f) << ": first mismatch at FP32 pattern 0x" << std::hex << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("every FP32 pattern converts to BF16 and FP16 as cuda_bf16.h / cuda_fp16.h do",
          "[sim][numerics][oracle][slow]") {
  for (Format f : {Format::BF16, Format::FP16}) {
    uint32_t first = 0;
    const uint64_t bad = sweep(f, 1, first);
    INFO(to_string(f) << ": first mismatch at FP32 pattern 0x" << std::hex << first);
    CHECK(bad == 0);
  }
}
