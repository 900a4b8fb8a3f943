#include "sim/hardware.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/numerics/error_study.h"
#include "sim/sm/gemm.h"

namespace v3sim {

namespace {

ParamSpec int_param(const char* name, const char* description, const char* unit, Range range) {
  return {.name = name, .type = ParamType::Int, .description = description, .unit = unit, .range = range};
}
// Physical ranges shared by many keys: latencies up to about 1 ms (10^6 cycles at 1 GHz), clocks from 100 MHz to
// 10 GHz, bandwidths per clock up to 1 MiB.
constexpr Range kCycles = range(1, 1e6);
constexpr Range kClock = range(1e8, 1e10);
constexpr Range kBytesPerClk = range(1, 1 << 20);
ParamSpec section(const char* name, const char* description, const ComponentSpec& spec) {
  return {.name = name, .type = ParamType::Section, .description = description, .section = &spec};
}
ParamSpec flag(const char* name, const char* description) {
  return {
      .name = name, .type = ParamType::Bool, .description = description, .required = false, .default_text = "false"};
}

const ComponentSpec& clocks_spec() {
  static const ComponentSpec spec{
      "clocks",
      "SM clocks",
      {{.name = "boost", .type = ParamType::Frequency, .description = "nominal boost clock", .range = kClock},
       {.name = "sustained",
        .type = ParamType::Frequency,
        .description = "clock under sustained tensor-core load (power-limited); the cycle models run at it",
        .range = kClock}}};
  return spec;
}

const ComponentSpec& tensor_spec() {
  static const ComponentSpec spec{
      "tensor",
      "tensor cores of one SM",
      {int_param("fp8_flops_per_clk", "dense FP8 FLOP per clock per SM", "FLOP/clk", range(1, 1 << 20)),
       int_param("bf16_flops_per_clk", "dense BF16 FLOP per clock per SM", "FLOP/clk", range(1, 1 << 20)),
       int_param("wgmma_issue_cycles", "issue slots one wgmma instruction occupies", "cycles", range(1, 1024))}};
  return spec;
}

// A limit of the SM's occupancy: optional, Hopper's and Blackwell's value by default (CUDA C Programming Guide,
// compute capabilities 9.0 and 10.0: 64K registers, 2048 threads, 32 blocks per SM).
ParamSpec occupancy_param(const char* name, const char* description, const char* unit, const char* dflt, Range r) {
  ParamSpec p = int_param(name, description, unit, r);
  p.required = false;
  p.default_text = dflt;
  return p;
}

const ComponentSpec& cuda_cores_spec() {
  static const ComponentSpec spec{
      "cuda_cores",
      "CUDA cores of one SM",
      {int_param("sub_partitions", "SM sub-partitions, each issuing one warp instruction per clock", "", range(1, 16)),
       int_param("fp32_lanes_per_sub_partition", "FP32 FMA lanes per sub-partition (32: one warp FFMA per clock)", "",
                 range(1, 128)),
       occupancy_param("registers_per_sm", "32-bit registers of one SM's register file (occupancy of a kernel)",
                       "registers", "65536", range(1024, 1 << 20)),
       occupancy_param("max_threads_per_sm", "threads resident on one SM at once", "threads", "2048",
                       range(32, 1 << 16)),
       occupancy_param("max_ctas_per_sm", "thread blocks resident on one SM at once", "CTAs", "32", range(1, 1024))}};
  return spec;
}

const ComponentSpec& smem_spec() {
  static const ComponentSpec spec{
      "smem",
      "shared memory of one SM",
      {{.name = "capacity",
        .type = ParamType::Bytes,
        .description = "shared memory per SM",
        .range = range(1 << 10, 1 << 30)},
       {.name = "max_per_block",
        .type = ParamType::Bytes,
        .description = "opt-in maximum for one CTA",
        .range = range(1 << 10, 1 << 30)},
       int_param("banks", "banks", "", range(1, 1024)),
       int_param("bank_width", "bytes per bank word", "B", range(1, 64)),
       int_param("bytes_per_clk", "bandwidth: one wavefront of banks x bank_width per clock", "B/clk", kBytesPerClk),
       int_param("latency_cycles", "load-to-use latency", "cycles", kCycles)}};
  return spec;
}

const ComponentSpec& l2_spec() {
  static const ComponentSpec spec{
      "l2",
      "L2 cache shared by all SMs",
      {{.name = "capacity", .type = ParamType::Bytes, .description = "capacity", .range = range(1 << 10, 1LL << 40)},
       int_param("bytes_per_clk", "aggregate L2 -> SM bandwidth per SM clock", "B/clk", kBytesPerClk),
       int_param("hit_latency_cycles", "average hit latency", "cycles", kCycles)}};
  return spec;
}

const ComponentSpec& hbm_spec() {
  static const ComponentSpec spec{
      "hbm",
      "device memory",
      {{.name = "capacity", .type = ParamType::Bytes, .description = "capacity", .range = range(1 << 20, 1LL << 50)},
       {.name = "bandwidth", .type = ParamType::Bandwidth, .description = "peak bandwidth", .range = range(1e9, 1e16)},
       {.name = "achievable_fraction",
        .type = ParamType::Float,
        .description = "fraction of the peak sustained by streaming reads",
        .range = range(0.01, 1)},
       int_param("latency_cycles", "miss latency beyond the L2", "cycles", kCycles)}};
  return spec;
}

const ComponentSpec& tma_spec() {
  static const ComponentSpec spec{
      "tma",
      "Tensor Memory Accelerator",
      {int_param("issue_cycles", "issue slots of one bulk tensor copy", "cycles", range(1, 1e4)),
       int_param("latency_overhead_cycles", "TMA overhead on top of the memory latency", "cycles", kCycles),
       int_param("store_bytes_per_clk", "bulk-store throughput of one SM (shared memory to L2)", "B/clk", kBytesPerClk),
       {.name = "multicast", .type = ParamType::Bool, .description = "one load delivered to the SMs of a cluster"},
       {.name = "swizzle_bytes",
        .type = ParamType::IntList,
        .description = "supported swizzle spans (0: none); the modeled kernels lay out their tiles with 128",
        .range = range(0, 128)},
       int_param("box_dim_max",
                 "largest box extent per dimension: bounds the GEMM's BLOCK_M and BLOCK_N (the 128-wide K "
                 "blocks of the FP8 recipe are one box)",
                 "elements", range(128, 1 << 16))}};
  return spec;
}

const ComponentSpec& kernel_spec() {
  static const ComponentSpec spec{
      "kernel",
      "kernel launch and synchronization overheads",
      {{.name = "launch_overhead",
        .type = ParamType::Time,
        .description = "launch to the first CTA's main loop (CTA dispatch, prologue)",
        .range = range(0, 1e9)},
       {.name = "launch_gap",
        .type = ParamType::Time,
        .description = "from the moment a stream may run its next kernel (the previous one ended, its inputs are "
                       "ready) to that kernel's start: the front end's launch and dependency latency, the gap a "
                       "profiler shows between back-to-back kernels",
        .required = false,
        .default_text = "0us",
        .range = range(0, 1e9)},
       int_param("barrier_latency_cycles", "mbarrier completion to a waiting warp resuming", "cycles", kCycles),
       {.name = "attention_fwd_efficiency",
        .type = ParamType::Float,
        .description = "fraction of the tensor peak a fused attention forward kernel sustains",
        .range = range(0.001, 1)},
       {.name = "attention_bwd_efficiency",
        .type = ParamType::Float,
        .description = "fraction of the tensor peak a fused attention backward kernel sustains",
        .range = range(0.001, 1)}}};
  return spec;
}

const ComponentSpec& features_spec() {
  static const ComponentSpec spec{
      "features",
      "SM features DeepSeek-V3 §3.5 proposes (off on shipping Hopper)",
      {flag("fp8_transposed_smem_reads", "MMA reads FP8 operands MN-major from shared memory: no transpose pass"),
       flag("block_scaled_mma", "the tensor core applies fine-grained scales itself: no promotion FFMAs"),
       flag("tma_fp8_cast", "TMA converts BF16 to FP8 with 1x128 scales while loading: no separate cast kernel")}};
  return spec;
}

const ComponentSpec& numerics_spec() {
  static const ComponentSpec spec{"numerics",
                                  "tensor-core arithmetic",
                                  {section("fp8", "FP8 MMA accumulation", numerics::accumulator_spec()),
                                   section("bf16", "BF16/FP16 MMA accumulation", numerics::accumulator_spec())}};
  return spec;
}

}  // namespace

const ComponentSpec& hardware_spec() {
  static const ComponentSpec spec{
      "hardware",
      "one GPU: SM, memory system, clocks and tensor-core numerics",
      {
          {.name = "name", .type = ParamType::String, .description = "chip name shown in outputs"},
          {.name = "arch", .type = ParamType::String, .description = "compute architecture, e.g. sm_90a"},
          int_param("sms", "streaming multiprocessors", "SMs", range(1, 1024)),
          section("clocks", "SM clocks", clocks_spec()),
          section("tensor", "tensor cores", tensor_spec()),
          section("cuda_cores", "CUDA cores", cuda_cores_spec()),
          section("smem", "shared memory", smem_spec()),
          section("l2", "L2 cache", l2_spec()),
          section("hbm", "device memory", hbm_spec()),
          section("tma", "Tensor Memory Accelerator", tma_spec()),
          section("kernel", "launch and synchronization", kernel_spec()),
          section("features", "proposed SM features", features_spec()),
          section("numerics", "tensor-core numerics", numerics_spec()),
      }};
  return spec;
}

HardwareConfig load_hardware(const ConfigNode& root) {
  ParamReader r(root, hardware_spec());
  HardwareConfig h;
  h.name = r.get_string("name");
  h.arch = r.get_string("arch");
  h.sms = r.get_int("sms");
  const ParamReader& clk = r.section("clocks");
  h.boost_clock = clk.get_frequency("boost");
  h.sustained_clock = clk.get_frequency("sustained");
  if (h.sustained_clock > h.boost_clock) {
    throw clk.error("sustained", fmt::format("at most the boost clock ({})", to_string(h.boost_clock)),
                    to_string(h.sustained_clock));
  }
  const ParamReader& t = r.section("tensor");
  h.tensor = {t.get_int("fp8_flops_per_clk"), t.get_int("bf16_flops_per_clk"), t.get_int("wgmma_issue_cycles")};
  const ParamReader& c = r.section("cuda_cores");
  h.cuda_cores = {c.get_int("sub_partitions"), c.get_int("fp32_lanes_per_sub_partition"), c.get_int("registers_per_sm"),
                  c.get_int("max_threads_per_sm"), c.get_int("max_ctas_per_sm")};
  const ParamReader& s = r.section("smem");
  h.smem = {s.get_bytes("capacity"), s.get_bytes("max_per_block"), s.get_int("banks"),
            s.get_int("bank_width"), s.get_int("bytes_per_clk"),   s.get_int("latency_cycles")};
  if (h.smem.max_per_block > h.smem.capacity) {
    throw s.error("max_per_block", fmt::format("at most the capacity ({})", to_string(h.smem.capacity)),
                  to_string(h.smem.max_per_block));
  }
  if (h.smem.bytes_per_clk != h.smem.banks * h.smem.bank_width) {
    throw s.error("bytes_per_clk",
                  fmt::format("banks x bank_width = {} (one wavefront per clock)", h.smem.banks * h.smem.bank_width),
                  std::to_string(h.smem.bytes_per_clk));
  }
  const ParamReader& l2 = r.section("l2");
  h.l2 = {l2.get_bytes("capacity"), l2.get_int("bytes_per_clk"), l2.get_int("hit_latency_cycles")};
  const ParamReader& hbm = r.section("hbm");
  h.hbm = {hbm.get_bytes("capacity"), hbm.get_bandwidth("bandwidth"), hbm.get_float("achievable_fraction"),
           hbm.get_int("latency_cycles")};
  const ParamReader& tma = r.section("tma");
  h.tma = {tma.get_int("issue_cycles"), tma.get_int("latency_overhead_cycles"), tma.get_int("store_bytes_per_clk"),
           tma.get_bool("multicast"),   tma.get_int_list("swizzle_bytes"),      tma.get_int("box_dim_max")};
  for (size_t i = 0; i < h.tma.swizzle_bytes.size(); ++i) {
    const int64_t span = h.tma.swizzle_bytes[i];
    if (span != 0 && span != 32 && span != 64 && span != 128) {
      throw tma.error("swizzle_bytes", "swizzle spans of the TMA: 0 (none), 32, 64 or 128 bytes",
                      fmt::format("{} (item {})", span, i));
    }
  }
  if (std::find(h.tma.swizzle_bytes.begin(), h.tma.swizzle_bytes.end(), 128) == h.tma.swizzle_bytes.end()) {
    // The GEMM and cast models read and write their tiles through the 128-byte swizzle (DeepGEMM's layout); a chip
    // without it would need other kernels, which v3sim does not model.
    throw tma.error("swizzle_bytes", "a list that holds 128 (the modeled kernels' tiles use the 128-byte swizzle)",
                    fmt::format("a list of {} spans without 128", h.tma.swizzle_bytes.size()));
  }
  const ParamReader& k = r.section("kernel");
  h.kernel = {k.get_time("launch_overhead"), k.get_time("launch_gap"), k.get_int("barrier_latency_cycles"),
              k.get_float("attention_fwd_efficiency"), k.get_float("attention_bwd_efficiency")};
  const ParamReader& f = r.section("features");
  h.features = {f.get_bool("fp8_transposed_smem_reads"), f.get_bool("block_scaled_mma"), f.get_bool("tma_fp8_cast")};
  const ParamReader& num = r.section("numerics");
  h.fp8 = numerics::read_accumulator(num.section("fp8"), h.name + " fp8");
  h.bf16 = numerics::read_accumulator(num.section("bf16"), h.name + " bf16");
  return h;
}

std::vector<const ComponentSpec*> sim_component_specs() {
  return {&hardware_spec(), &numerics::accumulator_spec(), &sm::gemm_spec(), &numerics::error_study_spec()};
}

}  // namespace v3sim
