// A chip as the simulator sees it, read from configs/hardware/*.yaml: identity, clocks, the SM (tensor cores,
// CUDA cores, shared memory, TMA), the memory system (L2, HBM), kernel-launch overheads, the numerics of its
// tensor cores, and the features DeepSeek proposes (transposed FP8 shared-memory reads, block-scaled MMA, FP8
// cast in TMA). Proposals are small files that `extends:` a base chip and override a few keys.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/params.h"
#include "core/units.h"
#include "sim/numerics/accumulator.h"

namespace v3sim {

struct TensorCoreConfig {
  int64_t fp8_flops_per_clk = 0;   // per SM (Hopper: 8192, one m64n256k32 per 128 cycles)
  int64_t bf16_flops_per_clk = 0;  // per SM (Hopper: 4096)
  int64_t wgmma_issue_cycles = 0;  // issue slots one wgmma instruction takes
};

struct CudaCoreConfig {
  int64_t sub_partitions = 4;                 // SM sub-partitions (warp schedulers), one instruction per clock each
  int64_t fp32_lanes_per_sub_partition = 32;  // FFMA lanes: 32 = one warp FFMA per clock per sub-partition
  int64_t registers_per_sm = 65536;           // occupancy limits of one SM
  int64_t max_threads_per_sm = 2048;
  int64_t max_ctas_per_sm = 32;
};

struct SmemConfig {
  Bytes capacity;       // per SM
  Bytes max_per_block;  // opt-in maximum of one CTA
  int64_t banks = 32;
  int64_t bank_width = 4;  // bytes
  int64_t bytes_per_clk = 128;
  int64_t latency_cycles = 0;
};

struct L2Config {
  Bytes capacity;
  int64_t bytes_per_clk = 0;  // aggregate L2 -> SM bandwidth, bytes per SM clock
  int64_t hit_latency_cycles = 0;
};

struct HbmConfig {
  Bytes capacity;
  Bandwidth bandwidth;             // peak
  double achievable_fraction = 1;  // sustained fraction of the peak under streaming reads
  int64_t latency_cycles = 0;      // beyond the L2
};

struct TmaConfig {
  int64_t issue_cycles = 0;             // issue slots of one cp.async.bulk.tensor
  int64_t latency_overhead_cycles = 0;  // TMA unit overhead on top of the memory latency
  int64_t store_bytes_per_clk = 0;      // bulk-store throughput of one SM's TMA unit (shared memory -> L2)
  bool multicast = true;                // cluster multicast of one load to several SMs
  std::vector<int64_t> swizzle_bytes;   // supported swizzle spans (0 = none); must hold 128
  int64_t box_dim_max = 256;            // largest TMA box extent: BLOCK_M and BLOCK_N of a GEMM stay within it
};

struct KernelConfig {
  Time launch_overhead;                // first CTA start after launch, until its prologue is done
  Time launch_gap;                     // a stream's kernel starts this long after it may (stream free, inputs ready)
  int64_t barrier_latency_cycles = 0;  // mbarrier completion to a waiting warp resuming
  // Fused attention kernels (FlashAttention-class, not modeled at cycle level): the fraction of the tensor-core
  // peak at the sustained clock they reach, forward and backward (softmax, masking and the pipeline of two
  // dependent GEMMs keep them below a plain GEMM).
  double attention_fwd_efficiency = 1;
  double attention_bwd_efficiency = 1;
};

// What DeepSeek-V3 §3.5 proposes for the SM; the kernel generators emit different code when they are on.
struct FeatureConfig {
  bool fp8_transposed_smem_reads = false;  // wgmma (or ldmatrix) reads FP8 operands MN-major: no transpose pass
  bool block_scaled_mma = false;           // the tensor core applies 1x128 / 128x128 scales itself: no promotion FFMAs
  bool tma_fp8_cast = false;               // TMA casts BF16 to FP8 (with 1x128 scales) while loading
};

struct HardwareConfig {
  std::string name;
  std::string arch;  // e.g. sm_90a
  int64_t sms = 0;
  Frequency boost_clock;      // nominal
  Frequency sustained_clock;  // under sustained tensor-core load (power-limited)
  TensorCoreConfig tensor;
  CudaCoreConfig cuda_cores;
  SmemConfig smem;
  L2Config l2;
  HbmConfig hbm;
  TmaConfig tma;
  KernelConfig kernel;
  FeatureConfig features;
  numerics::AccumulatorModel fp8;   // FP8 MMA (wgmma k32 on Hopper)
  numerics::AccumulatorModel bf16;  // BF16/FP16 MMA

  // Dense tensor-core peaks at the nominal (boost) clock over every SM: the datasheet basis MFU is quoted on
  // (H800 FP8: 8192 x 132 x 1.83 GHz = 1979 TFLOP/s).
  double bf16_peak_flops() const { return peak_flops(tensor.bf16_flops_per_clk); }
  double fp8_peak_flops() const { return peak_flops(tensor.fp8_flops_per_clk); }

 private:
  double peak_flops(int64_t per_clk_per_sm) const {
    return static_cast<double>(per_clk_per_sm) * static_cast<double>(sms) * static_cast<double>(boost_clock.hertz());
  }
};

const ComponentSpec& hardware_spec();
// Reads and validates a hardware config; throws ConfigError naming file, line and key.
HardwareConfig load_hardware(const ConfigNode& root);

// The parameter tables of everything sim/ reads from YAML (for `v3sim describe`).
std::vector<const ComponentSpec*> sim_component_specs();

}  // namespace v3sim
