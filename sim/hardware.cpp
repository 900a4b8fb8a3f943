#include "sim/hardware.h"

#include <fmt/format.h>

namespace v3sim {

namespace {

ParamSpec int_param(const char* name, const char* description, const char* unit = "") {
  return {.name = name, .type = ParamType::Int, .description = description, .unit = unit, .bound = Bound::Positive};
}
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
      {{.name = "boost", .type = ParamType::Frequency, .description = "nominal boost clock", .bound = Bound::Positive},
       {.name = "sustained",
        .type = ParamType::Frequency,
        .description = "clock under sustained tensor-core load (power-limited); the cycle models run at it",
        .bound = Bound::Positive}}};
  return spec;
}

const ComponentSpec& tensor_spec() {
  static const ComponentSpec spec{
      "tensor",
      "tensor cores of one SM",
      {int_param("fp8_flops_per_clk", "dense FP8 FLOP per clock per SM", "FLOP/clk"),
       int_param("bf16_flops_per_clk", "dense BF16 FLOP per clock per SM", "FLOP/clk"),
       int_param("wgmma_issue_cycles", "issue slots one wgmma instruction occupies", "cycles")}};
  return spec;
}

const ComponentSpec& cuda_cores_spec() {
  static const ComponentSpec spec{
      "cuda_cores",
      "CUDA cores and register file of one SM",
      {int_param("sub_partitions", "SM sub-partitions, each issuing one warp instruction per clock"),
       int_param("fp32_lanes_per_sub_partition", "FP32 FMA lanes per sub-partition (32: one warp FFMA per clock)"),
       int_param("registers_per_sm", "32-bit registers per SM"),
       int_param("max_registers_per_thread", "registers one thread may use")}};
  return spec;
}

const ComponentSpec& smem_spec() {
  static const ComponentSpec spec{
      "smem",
      "shared memory of one SM",
      {{.name = "capacity", .type = ParamType::Bytes, .description = "shared memory per SM", .bound = Bound::Positive},
       {.name = "max_per_block",
        .type = ParamType::Bytes,
        .description = "opt-in maximum for one CTA",
        .bound = Bound::Positive},
       int_param("banks", "banks"),
       int_param("bank_width", "bytes per bank word", "B"),
       int_param("bytes_per_clk", "bandwidth: one wavefront of banks x bank_width per clock", "B/clk"),
       int_param("latency_cycles", "load-to-use latency", "cycles")}};
  return spec;
}

const ComponentSpec& l2_spec() {
  static const ComponentSpec spec{
      "l2",
      "L2 cache shared by all SMs",
      {{.name = "capacity", .type = ParamType::Bytes, .description = "capacity", .bound = Bound::Positive},
       int_param("bytes_per_clk", "aggregate L2 -> SM bandwidth per SM clock", "B/clk"),
       int_param("hit_latency_cycles", "average hit latency", "cycles")}};
  return spec;
}

const ComponentSpec& hbm_spec() {
  static const ComponentSpec spec{
      "hbm",
      "device memory",
      {{.name = "capacity", .type = ParamType::Bytes, .description = "capacity", .bound = Bound::Positive},
       {.name = "bandwidth", .type = ParamType::Bandwidth, .description = "peak bandwidth", .bound = Bound::Positive},
       {.name = "achievable_fraction",
        .type = ParamType::Float,
        .description = "fraction of the peak sustained by streaming reads (0 to 1)",
        .bound = Bound::Positive},
       int_param("latency_cycles", "miss latency beyond the L2", "cycles")}};
  return spec;
}

const ComponentSpec& tma_spec() {
  static const ComponentSpec spec{
      "tma",
      "Tensor Memory Accelerator",
      {int_param("issue_cycles", "issue slots of one bulk tensor copy", "cycles"),
       int_param("latency_overhead_cycles", "TMA overhead on top of the memory latency", "cycles"),
       int_param("store_bytes_per_clk", "bulk-store throughput of one SM (shared memory to L2)", "B/clk"),
       {.name = "multicast", .type = ParamType::Bool, .description = "one load delivered to the SMs of a cluster"},
       {.name = "swizzle_bytes",
        .type = ParamType::IntList,
        .description = "supported swizzle spans (0: none)",
        .bound = Bound::NonNegative},
       int_param("box_dim_max", "largest box extent per dimension", "elements")}};
  return spec;
}

const ComponentSpec& kernel_spec() {
  static const ComponentSpec spec{
      "kernel",
      "kernel launch and synchronization overheads",
      {{.name = "launch_overhead",
        .type = ParamType::Time,
        .description = "launch to the first CTA's main loop (CTA dispatch, prologue)",
        .bound = Bound::NonNegative},
       int_param("barrier_latency_cycles", "mbarrier completion to a waiting warp resuming", "cycles"),
       {.name = "attention_fwd_efficiency",
        .type = ParamType::Float,
        .description = "fraction of the tensor peak a fused attention forward kernel sustains (0 to 1)",
        .bound = Bound::Positive},
       {.name = "attention_bwd_efficiency",
        .type = ParamType::Float,
        .description = "fraction of the tensor peak a fused attention backward kernel sustains (0 to 1)",
        .bound = Bound::Positive}}};
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
          int_param("sms", "streaming multiprocessors", "SMs"),
          section("clocks", "SM clocks", clocks_spec()),
          section("tensor", "tensor cores", tensor_spec()),
          section("cuda_cores", "CUDA cores and registers", cuda_cores_spec()),
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
                  c.get_int("max_registers_per_thread")};
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
  if (h.hbm.achievable_fraction > 1) {
    throw hbm.error("achievable_fraction", "a fraction between 0 and 1", fmt::format("{}", h.hbm.achievable_fraction));
  }
  const ParamReader& tma = r.section("tma");
  h.tma = {tma.get_int("issue_cycles"), tma.get_int("latency_overhead_cycles"), tma.get_int("store_bytes_per_clk"),
           tma.get_bool("multicast"),   tma.get_int_list("swizzle_bytes"),      tma.get_int("box_dim_max")};
  const ParamReader& k = r.section("kernel");
  h.kernel = {k.get_time("launch_overhead"), k.get_int("barrier_latency_cycles"),
              k.get_float("attention_fwd_efficiency"), k.get_float("attention_bwd_efficiency")};
  for (const char* key : {"attention_fwd_efficiency", "attention_bwd_efficiency"}) {
    if (k.get_float(key) > 1) throw k.error(key, "a fraction between 0 and 1", fmt::format("{}", k.get_float(key)));
  }
  const ParamReader& f = r.section("features");
  h.features = {f.get_bool("fp8_transposed_smem_reads"), f.get_bool("block_scaled_mma"), f.get_bool("tma_fp8_cast")};
  const ParamReader& num = r.section("numerics");
  h.fp8 = numerics::read_accumulator(num.section("fp8"), h.name + " fp8");
  h.bf16 = numerics::read_accumulator(num.section("bf16"), h.name + " bf16");
  return h;
}

std::vector<const ComponentSpec*> sim_component_specs() {
  return {&hardware_spec(), &numerics::accumulator_spec()};
}

}  // namespace v3sim
