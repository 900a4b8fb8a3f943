// `v3sim gemm`: the cycle-level FP8 block-scaled GEMM (DeepGEMM's kernel design) on a hardware config.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "sim/sm/cast_kernels.h"
#include "sim/sm/gemm.h"

namespace v3sim::cli {

namespace {

struct GemmArgs {
  std::string kernel = "gemm";
  std::string hw;
  std::vector<std::string> sets;
  TableOptions table{sm::gemm_spec(), "gemm"};  // --m --n --k --groups --sms --block-m --block-n --stages
  std::string layout = "dense";
  std::string accumulate = "promote";
  std::string a_major = "k", b_major = "k";
  std::string a_dtype = "e4m3";
  bool c_accumulate = false;
  bool b_row_scales = false;
  bool serial_promotion = false;
  bool json = false;
};

nlohmann::json result_json(const sm::GemmResult& r, const HardwareConfig& hw) {
  const sm::GemmDesc& d = r.desc;
  const sm::GemmConfig& c = r.config;
  nlohmann::json j;
  j["hardware"] = hw.name;
  j["m"] = d.m;
  j["n"] = d.n;
  j["k"] = d.k;
  j["groups"] = d.groups;
  j["layout"] = sm::to_string(d.layout);
  j["sms"] = d.sms > 0 ? d.sms : hw.sms;
  j["time_us"] = r.time.microseconds();
  j["tflops"] = r.tflops;
  j["gbps"] = r.gbps;
  j["cycles"] = r.cycles;
  j["clock_ghz"] = hw.sustained_clock.ghz();
  j["bound"] = r.bound;
  j["utilization"] = {{"tensor_pipe", r.tensor_util},
                      {"shared_memory", r.smem_util},
                      {"issue", r.issue_util},
                      {"tma", r.tma_util},
                      {"l2", r.l2_util},
                      {"hbm", r.hbm_util},
                      {"promotion_ffma_share", r.promotion_share}};
  j["config"] = {{"block_m", c.block_m},
                 {"block_n", c.block_n},
                 {"block_k", c.block_k},
                 {"stages", c.stages},
                 {"multicast", c.multicast},
                 {"multicast_on", c.multicast_on_a ? "a" : "b"},
                 {"smem_bytes", c.smem_bytes},
                 {"math_warpgroups", c.math_warpgroups},
                 {"grid", c.grid},
                 {"tiles", c.tiles},
                 {"waves", c.waves}};
  j["memory"] = {{"l2_hits", r.memory.l2_hits},
                 {"l2_misses", r.memory.l2_misses},
                 {"hbm_read_bytes", r.memory.hbm_read_bytes},
                 {"hbm_write_bytes", r.memory.hbm_write_bytes}};
  j["accumulation"] =
      d.promote ? (hw.features.block_scaled_mma ? "block-scaled MMA" : "promotion every 128") : "tensor core only";
  j["events"] = r.events;
  return j;
}

int run_cast(GemmArgs& a, const HardwareConfig& hw, const sm::GemmDesc& g, const RunOptions& opts) {
  sm::CastDesc d;
  d.kernel = a.kernel == "quantize" ? sm::CastKernel::Quantize : sm::CastKernel::TransposeRequant;
  d.rows = g.m;
  d.cols = g.k;
  d.sms = g.sms;
  if (opts.validate_only) {
    a.table.guard([&] { sm::check_cast(d, hw); });
    return 0;
  }
  const sm::CastResult r = a.table.guard([&] { return sm::simulate_cast(d, hw); });
  if (a.json) {
    nlohmann::json j;
    j["hardware"] = hw.name;
    j["kernel"] = sm::to_string(d.kernel);
    j["rows"] = d.rows;
    j["cols"] = d.cols;
    j["time_us"] = r.time.microseconds();
    j["cycles"] = r.cycles;
    j["gbps"] = r.gbps;
    j["bytes"] = r.bytes;
    j["bound"] = r.bound;
    j["utilization"] = {
        {"shared_memory", r.smem_util}, {"issue", r.issue_util}, {"l2", r.l2_util}, {"hbm", r.hbm_util}};
    j["store_wavefronts_per_instruction"] = r.store_wavefronts_per_instruction;
    std::puts(j.dump(2).c_str());
    return 0;
  }
  fmt::print("{} of a {} x {} {} tensor on {}\n", sm::to_string(d.kernel), d.rows, d.cols,
             d.kernel == sm::CastKernel::Quantize ? "BF16" : "FP8 (1x128)", hw.name);
  fmt::print("time       {:.2f} us ({} cycles)   {:.0f} GB/s moved   bound: {}\n", r.time.microseconds(), r.cycles,
             r.gbps, r.bound);
  fmt::print(
      "busy       shared memory {:.0f}% (stores: {} wavefronts per instruction)  issue {:.0f}%  L2 {:.0f}%  HBM "
      "{:.0f}%\n",
      100 * r.smem_util, r.store_wavefronts_per_instruction, 100 * r.issue_util, 100 * r.l2_util, 100 * r.hbm_util);
  return 0;
}

int run_gemm(GemmArgs& a, const RunOptions& opts) {
  sm::GemmDesc d = sm::read_gemm_desc(a.table.read());
  auto overrides = parse_overrides(a.sets, {"hw"});
  const HardwareConfig hw =
      load_hardware(load_document(resolve_config(a.hw.empty() ? "h800" : a.hw, "hardware", "--hw"), "hw", overrides));
  if (a.kernel != "gemm") return run_cast(a, hw, d, opts);
  d.layout = a.layout == "contiguous" ? sm::GemmLayout::Contiguous
             : a.layout == "masked"   ? sm::GemmLayout::Masked
                                      : sm::GemmLayout::Dense;
  if (d.groups > 1 && a.layout == "dense") d.layout = sm::GemmLayout::Contiguous;
  d.promote = a.accumulate == "promote";
  d.a_mn_major = a.a_major == "mn";
  d.b_mn_major = a.b_major == "mn";
  d.a_bf16_cast = a.a_dtype == "bf16";
  d.c_accumulate = a.c_accumulate;
  d.b_row_scales = a.b_row_scales;
  d.promotion_overlap = !a.serial_promotion;
  if (opts.validate_only) {
    a.table.guard([&] { sm::plan_gemm(d, hw); });
    return 0;
  }
  const sm::GemmResult r = a.table.guard([&] { return sm::simulate_gemm(d, hw, progress_printer("gemm")); });
  if (a.json) {
    std::puts(result_json(r, hw).dump(2).c_str());
    return 0;
  }
  fmt::print("{} on {} ({} SMs at {:.2f} GHz sustained)\n", d.str(), hw.name, d.sms ? d.sms : hw.sms,
             hw.sustained_clock.ghz());
  fmt::print("kernel     {}\n", r.config.str());
  fmt::print("time       {:.2f} us ({} cycles)   {:.0f} TFLOPS   {:.0f} GB/s   bound: {}\n", r.time.microseconds(),
             r.cycles, r.tflops, r.gbps, r.bound);
  fmt::print(
      "busy       tensor pipe {:.0f}%  shared memory {:.0f}%  issue {:.0f}% (promotion FFMA {:.0f}% of it)  "
      "TMA {:.0f}%  L2 {:.0f}%  HBM {:.0f}%\n",
      100 * r.tensor_util, 100 * r.smem_util, 100 * r.issue_util, 100 * r.promotion_share, 100 * r.tma_util,
      100 * r.l2_util, 100 * r.hbm_util);
  fmt::print("memory     L2 hits {} misses {}  HBM read {} write {}\n", r.memory.l2_hits, r.memory.l2_misses,
             human(static_cast<double>(r.memory.hbm_read_bytes)) + "B",
             human(static_cast<double>(r.memory.hbm_write_bytes)) + "B");
  return 0;
}

}  // namespace

CommandRunner add_gemm_command(CLI::App& app) {
  auto a = std::make_shared<GemmArgs>();
  CLI::App* cmd =
      app.add_subcommand("gemm", "Cycle-level FP8 block-scaled GEMM (DeepGEMM's design) on a hardware config");
  cmd->footer(
      "Examples:\n"
      "  v3sim gemm --m 4096 --n 7168 --k 16384                    # H800, the heuristic picks the tiles\n"
      "  v3sim gemm --m 4096 --n 7168 --k 2048 --sms 112 --json    # 20 SMs held by communication\n"
      "  v3sim gemm --m 8192 --n 4096 --k 7168 --groups 4 --layout contiguous   # MoE experts\n"
      "  v3sim gemm --hw proposals/block-scaled-mma --m 4096 --n 7168 --k 16384\n"
      "  v3sim gemm --hw proposals/transposed-fp8-smem-reads --a-major mn ...  # Wgrad without the transpose pass\n"
      "  v3sim gemm --kernel transpose-requant --m 4096 --k 7168      # the pass it saves\n"
      "Metrics: TFLOPS = 2MNK/t, GB/s = (MK + NK + 2MN)/t (DeepGEMM's definitions).");
  cmd->add_option("--kernel", a->kernel,
                  "gemm; or the FP8 cast kernels of the recipe on an M x K tensor: quantize (BF16 -> FP8 1x128), "
                  "transpose-requant (FP8 1x128 -> transposed, 128x1: Hopper's backward pass)")
      ->check(CLI::IsMember({"gemm", "quantize", "transpose-requant"}))
      ->capture_default_str();
  cmd->add_option("--hw", a->hw, "hardware YAML file or name (default h800)");
  a->table.add(*cmd, "--m", "m", "rows of A and D (per group for grouped layouts); cast kernels: rows");
  a->table.add(*cmd, "--n", "n");
  a->table.add(*cmd, "--k", "k", "reduction length, a multiple of 128; cast kernels: columns");
  a->table.add(*cmd, "--groups", "groups");
  a->table.alias("gemm.layout", "--layout");
  a->table.alias("gemm.a_major", "--a-major");
  a->table.alias("gemm.b_major", "--b-major");
  a->table.alias("gemm.a_dtype", "--a-dtype");
  a->table.alias("cast.rows", "--m");
  a->table.alias("cast.cols", "--k");
  a->table.alias("cast.sms", "--sms");
  cmd->add_option("--layout", a->layout, "dense, contiguous (training/prefill experts) or masked (decode)")
      ->check(CLI::IsMember({"dense", "contiguous", "masked"}))
      ->capture_default_str();
  a->table.add(*cmd, "--sms", "sms", "SMs the kernel may use (default all; 112 models 20 held by communication)");
  cmd->add_option("--accumulate", a->accumulate,
                  "promote: DeepGEMM's FP32 promotion every 128 K; tensor-core: accumulate in the tensor core only")
      ->check(CLI::IsMember({"promote", "tensor-core"}))
      ->capture_default_str();
  cmd->add_option("--a-major", a->a_major, "k or mn (mn needs transposed FP8 shared-memory reads)")
      ->check(CLI::IsMember({"k", "mn"}));
  cmd->add_option("--b-major", a->b_major, "k or mn")->check(CLI::IsMember({"k", "mn"}));
  cmd->add_option("--a-dtype", a->a_dtype, "e4m3, or bf16 cast to FP8 by the TMA (needs the TMA cast feature)")
      ->check(CLI::IsMember({"e4m3", "bf16"}));
  cmd->add_flag("--c-accumulate", a->c_accumulate,
                "D = C + A B in FP32, as a Wgrad adding into the FP32 gradient (default: write D in BF16)");
  cmd->add_flag(
      "--b-row-scales", a->b_row_scales,
      "B with one scale per row and 128 K like A (a Wgrad: both operands activations), not per 128x128 block");
  cmd->add_flag("--serial-promotion", a->serial_promotion,
                "a kernel whose tensor cores wait while its math warpgroups promote (no FFMA interleaving, as in "
                "DeepSeek's CUTLASS-based training kernels); default: DeepGEMM's overlap");
  a->table.add(*cmd, "--block-m", "block_m");
  a->table.add(*cmd, "--block-n", "block_n");
  a->table.add(*cmd, "--stages", "stages");
  add_set_option(*cmd, a->sets);
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  return [a](const RunOptions& opts) { return run_gemm(*a, opts); };
}

}  // namespace v3sim::cli
