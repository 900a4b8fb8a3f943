// `v3sim graph`: builds the operator graph of a model (on a deployment) and prints its figures.
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "models/deployment.h"
#include "models/graph_builder.h"
#include "models/graph_size.h"

namespace v3sim::cli {

namespace {

// --seq and --micro-batches: the sequence length as the deployment table declares it, and a count of micro-batches.
const ComponentSpec& graph_options_spec() {
  static const ComponentSpec spec = [] {
    ParamSpec seq = *deployment_spec().find("batch")->section->find("seq_len");
    seq.required = false;
    return ComponentSpec{"graph",
                         "options of v3sim graph",
                         {seq,
                          {.name = "micro_batches",
                           .type = ParamType::Int,
                           .description = "build only the first N micro-batches (small DOT exports)",
                           .required = false,
                           .range = range(1, 1 << 24)}}};
  }();
  return spec;
}

struct GraphArgs {
  std::string model;
  std::string deploy;
  std::string phase;
  TableOptions table{graph_options_spec(), "graph"};
  int64_t seq = 0;
  int64_t micro_batches = 0;
  bool json = false;
  std::string output;
  std::vector<std::string> sets;
};

int64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

// Complete or absent, never half-written under the real name (core/atomic_file.h).
void write_dot_file(const OpGraph& graph, const std::string& path) {
  std::ostringstream out;
  graph.write_dot(out);
  write_file_atomic(path, out.str(), "-o");
}

int run_graph(GraphArgs& a, const RunOptions& opts) {
  if (!a.output.empty()) {
    if (!a.output.ends_with(".dot") && !a.output.ends_with(".gv")) {
      throw ConfigError(SourceLoc{"-o", 0}, "", "a Graphviz file name ending in .dot or .gv",
                        fmt::format("'{}'", a.output));
    }
    check_output_path(a.output, "-o");
  }
  const ParamReader& t = a.table.read();
  if (t.has("seq_len")) a.seq = t.get_int("seq_len");
  if (t.has("micro_batches")) a.micro_batches = t.get_int("micro_batches");
  auto overrides = parse_overrides(a.sets, {"model", "deploy"});
  ConfigNode deploy_root;
  std::string deploy_path;
  if (!a.deploy.empty()) {
    deploy_path = resolve_config(a.deploy, "deployments", "--deploy");
    deploy_root = load_document(deploy_path, "deploy", overrides);
  }
  // The model: --model, else the one the deployment names, else DeepSeek-V3.
  std::string model_path;
  if (!a.model.empty()) {
    model_path = resolve_config(a.model, "models", "--model");
  } else if (!a.deploy.empty() && !deployment_model_name(deploy_root).empty()) {
    model_path = resolve_deployment_model(deploy_path, deployment_model_name(deploy_root));
  } else {
    model_path = resolve_config("deepseek-v3-671b", "models", "--model");
  }
  ModelConfig model = load_model_config(load_document(model_path, "model", overrides));

  Deployment deploy;
  if (!a.deploy.empty()) {
    ConfigNode& root = deploy_root;
    if (a.seq > 0) apply_override(root, "batch.seq_len", std::to_string(a.seq), SourceLoc{"--seq", 0});
    deploy = load_deployment(root, model);
    if (!a.phase.empty() && a.phase != to_string(deploy.phase)) {
      throw ConfigError(SourceLoc{"--phase", 0}, "",
                        fmt::format("the phase of deployment '{}' ({}), or no --deploy for a reference graph",
                                    deploy.name, to_string(deploy.phase)),
                        fmt::format("'{}'", a.phase));
    }
  } else {
    for (const auto& o : overrides) {
      if (o.document == "deploy") {
        throw ConfigError(SourceLoc{"--set " + o.text, 0}, "", "a --deploy file for deploy.* overrides", "no --deploy");
      }
    }
    deploy = reference_deployment(parse_phase(a.phase.empty() ? "train" : a.phase), a.seq > 0 ? a.seq : 4096);
  }

  GraphOptions options;
  options.max_micro_batches = a.micro_batches;
  if (opts.validate_only) {
    a.table.guard([&] { check_graph_size(model, deploy, options.max_micro_batches); });
    return 0;
  }
  auto t0 = std::chrono::steady_clock::now();
  OpGraph graph = a.table.guard([&] { return build_graph(model, deploy, options); });
  double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t rss = peak_rss_bytes();
  GraphTotals totals = sum_graph(graph);
  ModelFigures fig = model_figures(model, deploy.seq_len);
  const int64_t tokens = tokens_per_step(deploy);
  const int64_t mbs_built =
      a.micro_batches > 0 ? std::min(a.micro_batches, deploy.micro_batches()) : deploy.micro_batches();

  if (!a.output.empty()) write_dot_file(graph, a.output);

  if (a.json) {
    nlohmann::json j;
    j["model"] = model.name;
    j["deployment"] = deploy.name;
    j["phase"] = to_string(deploy.phase);
    j["seq_len"] = deploy.seq_len;
    j["gpus"] = deploy.gpus;
    j["params_total"] = fig.params_total;
    j["params_activated"] = fig.params_activated;
    j["params_mtp"] = fig.params_mtp;
    j["kv_cache_bytes_per_token"] = fig.kv_cache_bytes_per_token;
    j["flops_per_token_forward"] = fig.flops_per_token_forward;
    j["flops_per_token_train"] = fig.flops_per_token_train;
    j["flops_per_token_train_noncausal"] = fig.flops_per_token_train_noncausal;
    j["ops"] = totals.ops;
    j["deps"] = graph.num_deps();
    j["descriptors"] = graph.num_descs();
    nlohmann::json by_kind = nlohmann::json::object();
    for (size_t k = 0; k < totals.ops_by_kind.size(); ++k)
      if (totals.ops_by_kind[k] > 0) by_kind[to_string(static_cast<OpKind>(k))] = totals.ops_by_kind[k];
    j["ops_by_kind"] = by_kind;
    j["micro_batches"] = deploy.micro_batches();
    j["micro_batches_built"] = mbs_built;
    j["tokens_per_step"] = tokens;
    j["step_flops"] = totals.flops;
    j["step_flops_by_pass"] = {{"fwd", totals.flops_by_pass[0]},
                               {"dgrad", totals.flops_by_pass[1]},
                               {"wgrad", totals.flops_by_pass[2]},
                               {"optim", totals.flops_by_pass[3]}};
    j["step_recompute_flops"] = totals.recompute_flops;
    j["step_bytes_read"] = totals.bytes_read;
    j["step_bytes_written"] = totals.bytes_written;
    j["step_comm_bytes"] = totals.comm_bytes;
    j["build_seconds"] = build_s;
    j["peak_rss_bytes"] = rss;
    std::puts(j.dump(2).c_str());
    return 0;
  }

  fmt::print("model       {}\n", model.name);
  fmt::print("deployment  {} ({}, {} GPUs, seq {})\n", deploy.name, to_string(deploy.phase), deploy.gpus,
             deploy.seq_len);
  fmt::print("\nparameters  total {}  activated {}  MTP {}\n", human(static_cast<double>(fig.params_total)),
             human(static_cast<double>(fig.params_activated)), human(static_cast<double>(fig.params_mtp)));
  fmt::print("KV cache    {} B per token (BF16 MLA latent + RoPE key, all layers)\n", fig.kv_cache_bytes_per_token);
  fmt::print("FLOPs/token forward {}  train {} (causal)  train {} (non-causal)  [MTP excluded]\n",
             human(fig.flops_per_token_forward), human(fig.flops_per_token_train),
             human(fig.flops_per_token_train_noncausal));
  fmt::print(
      "\ngraph       {} ops ({} distinct descriptors), {} dependencies, {} of {} micro-batches, built in "
      "{:.3f} s\n",
      totals.ops, graph.num_descs(), graph.num_deps(), mbs_built, deploy.micro_batches(), build_s);
  fmt::print("step        {} tokens, {}FLOP (fwd {}, dgrad {}, wgrad {}, optimizer {}), {}B moved by collectives\n",
             human(static_cast<double>(tokens)), human(totals.flops), human(totals.flops_by_pass[0]),
             human(totals.flops_by_pass[1]), human(totals.flops_by_pass[2]), human(totals.flops_by_pass[3]),
             human(totals.comm_bytes));
  fmt::print("\nops by kind\n");
  for (size_t k = 0; k < totals.ops_by_kind.size(); ++k) {
    if (totals.ops_by_kind[k] > 0)
      fmt::print("  {:<22} {:>10}\n", to_string(static_cast<OpKind>(k)), totals.ops_by_kind[k]);
  }
  if (!a.output.empty()) fmt::print("\nwrote {}\n", a.output);
  return 0;
}

}  // namespace

CommandRunner add_graph_command(CLI::App& app) {
  auto args = std::make_shared<GraphArgs>();
  CLI::App* cmd =
      app.add_subcommand("graph", "Build the operator graph of a model on a deployment and print its figures");
  cmd->footer(
      "Examples:\n"
      "  v3sim graph                                       # DeepSeek-V3 671B, one sequence on one GPU\n"
      "  v3sim graph --model deepseek-v2-236b --json       # figures as one JSON object\n"
      "  v3sim graph --deploy v3-train-2048                # the full training step (all micro-batches)\n"
      "  v3sim graph --deploy tiny-train --micro-batches 2 -o tiny.dot\n"
      "Configs are YAML files or names from configs/models and configs/deployments.");
  cmd->add_option("--model", args->model,
                  "model YAML file or name (default: the deployment's model, else deepseek-v3-671b)");
  cmd->add_option("--deploy", args->deploy, "deployment YAML file or name (default: one GPU, no parallelism)");
  cmd->add_option("--phase", args->phase, "prefill, decode or train (default: the deployment's, else train)")
      ->check(CLI::IsMember({"prefill", "decode", "train"}));
  args->table.add(*cmd, "--seq", "seq_len", "sequence length (train), prompt length (prefill) or KV context (decode)");
  args->table.add(*cmd, "--micro-batches", "micro_batches");
  args->table.alias("deploy.batch.seq_len", "--seq");
  cmd->add_flag("--json", args->json, "print one JSON object on stdout");
  cmd->add_option("-o,--output", args->output, "write the graph as Graphviz DOT (.dot)");
  add_set_option(*cmd, args->sets);
  return [args](const RunOptions& opts) { return run_graph(*args, opts); };
}

}  // namespace v3sim::cli
