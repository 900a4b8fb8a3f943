// `v3sim measure`: measured traces (.h5). --kernel runs a kernel of kernels/ on the local GPU (timed with CUDA
// events after warm-up, with an L2 flush before every timed launch); --suite micro runs the calibration
// microbenchmarks (kernels/micro.h), each checked against its CPU reference; --model/--deploy runs every distinct
// kernel of an operator graph; --published records DeepSeek's published H800 table (no GPU needed).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "kernels/casts.h"
#include "kernels/cublaslt_gemm.h"
#include "kernels/fp8_gemm.h"
#include "kernels/mla_decode.h"
#include "kernels/moe.h"
#include "kernels/plan.h"
#include "kernels/runner.h"
#include "models/graph_builder.h"
#include "report/h5_file.h"
#include "report/published.h"
#include "sim/net/alltoall.h"
#include "sim/sm/gemm.h"

namespace v3sim::cli {

namespace {

// The sizes and counts of --kernel: GEMM sizes as the GEMM model's table declares them, MoE sizes as the
// all-to-all's, and the counts of MLA decode and of the timing loop.
const ComponentSpec& measure_spec() {
  static const ComponentSpec spec = [] {
    auto from = [](const ComponentSpec& table, const char* key, const char* name) {
      ParamSpec p = *table.find(key);
      p.name = name;
      return p;
    };
    auto count = [](const char* name, const char* description, const char* default_text, Range r) {
      return ParamSpec{.name = name,
                       .type = ParamType::Int,
                       .description = description,
                       .required = false,
                       .default_text = default_text,
                       .range = r};
    };
    const ComponentSpec& g = sm::gemm_spec();
    const ComponentSpec& t = net::alltoall_spec();
    return ComponentSpec{
        "measure",
        "sizes and counts of v3sim measure --kernel",
        {from(g, "m", "m"), from(g, "n", "n"), from(g, "k", "k"), from(g, "groups", "groups"), from(g, "sms", "sms"),
         from(t, "tokens", "tokens"), from(t, "hidden", "hidden"), from(t, "topk", "topk"),
         from(t, "experts", "experts"), count("batch", "MLA decode: requests", "64", range(1, 1 << 16)),
         count("cache_len", "MLA decode: cached tokens per request", "4096", range(1, 1 << 20)),
         count("repeats", "timed launches", "20", range(1, 100000)),
         count("warmup", "untimed launches first", "3", range(0, 100000))}};
  }();
  return spec;
}

struct MeasureArgs {
  TableOptions table{measure_spec(), "measure"};
  std::string published;
  std::string reference;
  std::string kernel;
  std::string suite;
  std::string shapes;
  std::string model, deploy, phase;
  int64_t m = 4096, n = 7168, k = 16384, groups = 1;
  std::string layout = "dense";
  int64_t sms = 0;
  int64_t tokens = 4096, hidden = 7168, topk = 8, experts = 256;
  int64_t batch = 64, cache_len = 4096;
  bool ue8m0 = false;
  int repeats = 20, warmup = 3;
  std::string output;
  std::vector<std::string> sets;
  std::vector<std::string> argv;
};

using Planned = kernels::PlannedKernel;

std::string default_reference() {
  return (std::filesystem::path(configs_dir()) / ".." / "tests" / "data" / "reference" / "deepseek-v3.yaml").string();
}

// Every distinct kernel of the deployment's graph that kernels/ implements (kernels/plan.h).
std::vector<Planned> plan_graph(const MeasureArgs& a) {
  auto overrides = parse_overrides(a.sets, {"model", "deploy"});
  const std::string dpath = resolve_config(a.deploy, "deployments", "--deploy");
  ConfigNode droot = load_document(dpath, "deploy", overrides);
  const std::string mpath = a.model.empty() ? resolve_deployment_model(dpath, deployment_model_name(droot))
                                            : resolve_config(a.model, "models", "--model");
  const ModelConfig model = load_model_config(load_document(mpath, "model", overrides));
  const Deployment deploy = load_deployment(droot, model);
  return kernels::plan_graph_kernels(model, deploy, a.sms, [](const std::string& op, const std::string& why) {
    std::fprintf(stderr, "note: %s (and ops of the same shape): not measured (%s)\n", op.c_str(), why.c_str());
  });
}

std::vector<Planned> plan(const MeasureArgs& a) {
  std::vector<Planned> out;
  try {
    if (!a.deploy.empty()) return plan_graph(a);
    if (a.suite == "micro") {
      // The suite's grids are sized to the GPU's SMs; without one (--validate) to Hopper's 132.
      const int64_t sms =
          kernels::hopper_unavailable_reason().empty() ? kernels::collect_provenance(0).sm_count : int64_t{132};
      return kernels::plan_micro_suite(sms);
    }
    if (a.kernel == "gemm" || a.kernel == "gemm-cublaslt") {
      if (a.shapes == "deepgemm-h800") {
        for (const TimelineEvent& e :
             report::published_deepgemm_h800(a.reference.empty() ? default_reference() : a.reference).timeline.events) {
          auto [kind, kv] = report::parse_op_name(e.name);
          out.push_back(kernels::plan_gemm(a.kernel == "gemm-cublaslt", std::stoll(kv[0].second),
                                           std::stoll(kv[1].second), std::stoll(kv[2].second), 1, "dense", a.sms));
        }
      } else {
        out.push_back(kernels::plan_gemm(a.kernel == "gemm-cublaslt", a.m, a.n, a.k, a.groups, a.layout, a.sms));
      }
    } else if (a.kernel == "quant" || a.kernel == "quant-128x128" || a.kernel == "transpose-requant") {
      const kernels::CastKind kind = a.kernel == "quant"           ? kernels::CastKind::Quant1x128
                                     : a.kernel == "quant-128x128" ? kernels::CastKind::Quant128x128
                                                                   : kernels::CastKind::TransposeRequant;
      out.push_back(kernels::plan_cast(kind, a.m, a.k, a.ue8m0));
    } else if (a.kernel == "moe-permute" || a.kernel == "moe-unpermute") {
      kernels::MoeProblem p;
      p.tokens = a.tokens;
      p.hidden = a.hidden;
      p.topk = static_cast<int>(a.topk);
      p.experts = static_cast<int>(a.experts);
      out.push_back(kernels::plan_moe(a.kernel == "moe-permute", p));
    } else if (a.kernel == "mla-decode") {
      kernels::MlaDecodeProblem p;
      p.batch = a.batch;
      p.cache_len = a.cache_len;
      out.push_back(kernels::plan_mla_decode(p));
    }
  } catch (const std::invalid_argument& e) {
    throw ConfigError(SourceLoc{"measure", 0}, "", "a shape the kernel can run", e.what());
  }
  return out;
}

int run_measured(const MeasureArgs& a, const std::string& out, const RunOptions& opts) {
  const std::vector<Planned> ops = plan(a);
  if (ops.empty()) throw ConfigError(SourceLoc{"measure", 0}, "", "at least one kernel to measure", "none");
  if (opts.validate_only) return 0;
  kernels::RunnerOptions opt;
  opt.repeats = a.repeats;
  opt.warmup = a.warmup;
  report::ResultFile f;
  f.meta = report::standard_meta();
  f.timeline.source = "measured";
  Time t;
  uint32_t id = 0;
  std::string cmd;
  for (const auto& s : a.argv) cmd += (cmd.empty() ? "" : " ") + s;
  f.meta["command_line"] = cmd;
  // The trace as it stands, rewritten (atomically) after every op: a later failure loses only the ops after it.
  auto write = [&](bool complete) {
    f.meta["complete"] =
        complete ? "true" : fmt::format("false: {} of {} ops measured before the run stopped", id, ops.size());
    f.summary = {{"ops", static_cast<double>(f.timeline.events.size())}};
    report::write_result_h5(out, f);
  };
  auto partial = [&] {
    return id == 0 ? std::string() : fmt::format(" ({} of {} ops measured are in {})", id, ops.size(), out);
  };
  try {
    kernels::require_hopper();
    for (const Planned& p : ops) {
      std::fprintf(stderr, "measuring %s (%u/%zu)\n", p.name.c_str(), id + 1, ops.size());
      auto op = p.make();
      kernels::RunnerOptions o = opt;
      o.flush_l2 = p.flush_l2;
      const kernels::Measurement m = kernels::measure(*op, o);
      // A wrong result makes the time meaningless: this op is not written.
      if (const std::string bad = op->verify(); !bad.empty()) {
        throw InternalError(fmt::format("{}: the output differs from the CPU reference: {}", p.name, bad));
      }
      TimelineEvent e;
      e.op = id++;
      e.name = p.name;
      e.kind = p.kind;
      e.start = t;
      e.end = t + Time::ps(static_cast<int64_t>(m.stats.median_us * 1e6 + 0.5));
      e.flops = m.cost.flops;
      e.bytes = m.cost.bytes;
      t = e.end;
      f.timeline.events.push_back(e);
      for (const auto& [k, v] : {std::pair{"median_us", m.stats.median_us},
                                 {"min_us", m.stats.min_us},
                                 {"max_us", m.stats.max_us},
                                 {"tflops", m.tflops},
                                 {"gbps", m.gbps}}) {
        f.stats.emplace_back(p.name + "." + k, v);
      }
      for (const auto& [k, v] : m.attributes) f.meta[p.name + "." + k] = v;
      const kernels::Provenance& pv = m.provenance;
      f.meta["gpu"] = pv.gpu_name;
      f.meta["pci_bus_id"] = pv.pci_bus_id;
      f.meta["sm_count"] = std::to_string(pv.sm_count);
      f.meta["driver_version"] = std::to_string(pv.driver_version);
      f.meta["driver_release"] = pv.driver_release;
      f.meta["cuda_runtime_version"] = std::to_string(pv.runtime_version);
      f.meta["clock_source"] = pv.clock_source;
      f.stats.emplace_back(p.name + ".sm_clock_mhz_mean", pv.sm_clock_mhz_mean);
      f.stats.emplace_back(p.name + ".sm_clock_mhz_min", pv.sm_clock_mhz_min);
      f.stats.emplace_back(p.name + ".power_w_max", pv.power_w_max);
      if (id < ops.size()) write(false);
    }
  } catch (const kernels::DeviceUnavailable& e) {
    const std::string why = e.what();
    throw ConfigError(why.starts_with("no CUDA device") ? why : "no CUDA device: " + why);
  } catch (const kernels::CudaError& e) {
    throw InternalError(std::string("CUDA failure while measuring: ") + e.what() + partial());
  } catch (const InternalError& e) {
    throw InternalError(e.what() + partial());
  }
  write(true);
  std::printf("wrote %s (%zu ops on %s)\n", out.c_str(), f.timeline.events.size(), f.meta["gpu"].c_str());
  if (!a.suite.empty()) {
    std::printf("not in the suite: NVLink and NIC bandwidth (they need more than one GPU: v3sim alltoall)\n");
  }
  return 0;
}

int run_measure(MeasureArgs& a, const RunOptions& opts) {
  const ParamReader& t = a.table.read();
  for (auto [key, field] :
       {std::pair{"m", &a.m}, std::pair{"n", &a.n}, std::pair{"k", &a.k}, std::pair{"groups", &a.groups},
        std::pair{"tokens", &a.tokens}, std::pair{"hidden", &a.hidden}, std::pair{"topk", &a.topk},
        std::pair{"experts", &a.experts}, std::pair{"batch", &a.batch}, std::pair{"cache_len", &a.cache_len}}) {
    *field = t.get_int(key);
  }
  if (t.has("sms")) a.sms = t.get_int("sms");
  a.repeats = static_cast<int>(t.get_int("repeats"));
  a.warmup = static_cast<int>(t.get_int("warmup"));
  if (!a.output.empty() && !a.output.ends_with(".h5")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "a measured trace file name ending in .h5",
                      fmt::format("'{}'", a.output));
  }
  const int sources = !a.published.empty() + !a.kernel.empty() + !a.deploy.empty() + !a.suite.empty();
  if (sources != 1) {
    throw ConfigError(SourceLoc{"measure", 0}, "",
                      "exactly one of --kernel NAME, --suite micro, --deploy F (with --model), --published "
                      "deepgemm-h800",
                      sources == 0 ? "none" : "several");
  }
  if (a.published.empty()) {
    // The default output folder is created; any output is checked before the GPU runs anything.
    const std::string out = a.output.empty() ? "traces/" +
                                                   (!a.kernel.empty()  ? a.kernel
                                                    : !a.suite.empty() ? a.suite
                                                                       : std::string("graph")) +
                                                   ".h5"
                                             : a.output;
    if (a.output.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(out).parent_path(), ec);
    }
    check_output_path(out, "-o");
    return run_measured(a, out, opts);
  }
  if (a.output.empty()) throw ConfigError(SourceLoc{"-o", 0}, "", "an output file (.h5)", "nothing");
  check_output_path(a.output, "-o");
  const std::string reference = a.reference.empty() ? default_reference() : a.reference;
  report::ResultFile f = report::published_deepgemm_h800(reference);
  if (opts.validate_only) return 0;
  std::string cmd;
  for (const auto& s : a.argv) cmd += (cmd.empty() ? "" : " ") + s;
  f.meta["command_line"] = cmd;
  report::write_result_h5(a.output, f);
  fmt::print("wrote {} ({} ops from {})\n", a.output, f.timeline.events.size(), reference);
  return 0;
}

}  // namespace

void measure_suite(const std::string& suite, const std::string& out, const std::string& command) {
  if (const std::string why = kernels::hopper_unavailable_reason(); !why.empty()) {
    throw ConfigError(why.starts_with("no CUDA device") ? why : "no CUDA device: " + why);
  }
  MeasureArgs a;
  a.suite = suite;
  a.argv = {command};
  std::error_code ec;
  if (const auto dir = std::filesystem::path(out).parent_path(); !dir.empty()) {
    std::filesystem::create_directories(dir, ec);
  }
  check_output_path(out, "--measure");
  std::fprintf(stderr, "measuring suite '%s' into %s\n", suite.c_str(), out.c_str());
  run_measured(a, out, RunOptions{});
}

CommandRunner add_measure_command(CLI::App& app, std::vector<std::string> argv) {
  auto a = std::make_shared<MeasureArgs>();
  a->argv = std::move(argv);
  CLI::App* cmd =
      app.add_subcommand("measure", "Run kernels on the local GPU (or record a published table) as a measured trace");
  cmd->footer(
      "Examples (on a machine with a Hopper GPU):\n"
      "  v3sim measure --kernel gemm --m 4096 --n 7168 --k 16384 -o traces/h200/gemm.h5\n"
      "  v3sim measure --kernel gemm-cublaslt --shapes deepgemm-h800 -o traces/h200/cublaslt.h5\n"
      "  v3sim measure --kernel transpose-requant --m 4096 --k 7168\n"
      "  v3sim measure --deploy v3-prefill-32 -o traces/h200/prefill-kernels.h5\n"
      "  v3sim measure --suite micro -o traces/h200/micro.h5    # then: v3sim calibrate micro --hw h200 \\\n"
      "                                                         #   --data micro=traces/h200/micro.h5 -o my.yaml\n"
      "Anywhere:\n"
      "  v3sim measure --published deepgemm-h800 -o traces/published/deepgemm-h800.h5\n"
      "Without a GPU, --kernel and --deploy exit 2 with 'error: no CUDA device: <reason>'.");
  cmd->add_option("--kernel", a->kernel,
                  "gemm, gemm-cublaslt, quant, quant-128x128, transpose-requant, moe-permute, "
                  "moe-unpermute, mla-decode")
      ->check(CLI::IsMember({"gemm", "gemm-cublaslt", "quant", "quant-128x128", "transpose-requant", "moe-permute",
                             "moe-unpermute", "mla-decode"}));
  cmd->add_option("--suite", a->suite,
                  "micro: the calibration microbenchmarks (launch, HBM copy, L2 read, TMA store, FP8 GEMMs), each "
                  "checked against its CPU reference")
      ->check(CLI::IsMember({"micro"}));
  cmd->add_option("--shapes", a->shapes, "gemm kernels: deepgemm-h800 measures the 18 shapes of DeepGEMM's table")
      ->check(CLI::IsMember({"deepgemm-h800"}));
  cmd->add_option("--model", a->model, "with --deploy: the model (default: the deployment's)");
  cmd->add_option("--deploy", a->deploy, "measure every distinct kernel of this deployment's graph");
  a->table.add(*cmd, "--m", "m", "rows (GEMM M per group; cast rows)");
  a->table.add(*cmd, "--n", "n", "GEMM N");
  a->table.add(*cmd, "--k", "k", "GEMM K; cast columns");
  a->table.add(*cmd, "--groups", "groups", "grouped GEMM: groups");
  cmd->add_option("--layout", a->layout, "dense, contiguous or masked")
      ->check(CLI::IsMember({"dense", "contiguous", "masked"}));
  a->table.add(*cmd, "--sms", "sms", "CTAs of the persistent GEMM (112: 20 SMs left to communication)");
  a->table.add(*cmd, "--tokens", "tokens", "MoE permute: tokens");
  a->table.add(*cmd, "--hidden", "hidden", "MoE permute: hidden size");
  a->table.add(*cmd, "--topk", "topk", "MoE permute: experts per token");
  a->table.add(*cmd, "--experts", "experts", "MoE permute: experts");
  a->table.add(*cmd, "--batch", "batch");
  a->table.add(*cmd, "--cache-len", "cache_len");
  cmd->add_flag("--ue8m0", a->ue8m0, "casts: power-of-two scales");
  a->table.add(*cmd, "--repeats", "repeats");
  a->table.add(*cmd, "--warmup", "warmup");
  cmd->add_option("--published", a->published, "record a published table: deepgemm-h800")
      ->check(CLI::IsMember({"deepgemm-h800"}));
  cmd->add_option("--reference", a->reference, "the reference YAML (default tests/data/reference/deepseek-v3.yaml)");
  cmd->add_option("-o,--output", a->output, "the measured trace to write (.h5; default traces/<kernel>.h5)");
  add_set_option(*cmd, a->sets);
  return [a](const RunOptions& opts) { return run_measure(*a, opts); };
}

}  // namespace v3sim::cli
