// `v3sim config`: the four documents of a step (model, deployment, hardware, cluster) fully resolved — `extends:`
// merged, --set applied, every value with its source as the files give it — printed, or written to a folder as
// files that `v3sim step` takes back unchanged: the input a user can edit and rerun.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/step_inputs.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace v3sim::cli {

namespace {

namespace fs = std::filesystem;

struct ConfigArgs {
  StepConfigArgs config;
  std::string doc;     // one of model, deploy, hw, cluster; "" for all four
  std::string output;  // a folder
};

int run_config(const ConfigArgs& a, const RunOptions& opts) {
  if (!a.output.empty() && fs::exists(a.output) && !fs::is_directory(a.output)) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "a folder to write model.yaml, deploy.yaml, hw.yaml and cluster.yaml in",
                      fmt::format("'{}', a file", a.output));
  }
  const StepSetup s = load_step_setup(a.config);
  if (opts.validate_only) return 0;
  struct Doc {
    const char* name;
    const std::string& path;
    const std::string& yaml;
  };
  const Doc docs[] = {{"model", s.model_path, s.model_yaml},
                      {"deploy", s.deploy_path, s.deploy_yaml},
                      {"hw", s.hw_path, s.in.hw_yaml},
                      {"cluster", s.cluster_path, s.in.cluster_yaml}};
  // The document's origin, and the --set overrides applied to it.
  auto header = [&](const Doc& d) {
    std::string sets;
    for (const auto& x : a.config.sets)
      if (x.starts_with(std::string(d.name) + ".")) sets += " --set " + x;
    return fmt::format("# {}: resolved from {} (extends merged{})\n", d.name, d.path,
                       sets.empty() ? std::string() : ", with" + sets);
  };
  if (a.output.empty()) {
    bool first = true;
    for (const Doc& d : docs) {
      if (!a.doc.empty() && a.doc != d.name) continue;
      std::fputs((first ? "" : "---\n"), stdout);
      std::fputs(header(d).c_str(), stdout);
      std::fputs(d.yaml.c_str(), stdout);
      first = false;
    }
    return 0;
  }
  std::error_code ec;
  fs::create_directories(a.output, ec);
  std::string command = "v3sim step";
  for (const Doc& d : docs) {
    if (!a.doc.empty() && a.doc != d.name) continue;
    const std::string file = (fs::path(a.output) / (std::string(d.name) + ".yaml")).string();
    check_output_path(file, "-o");
    write_file_atomic(file, header(d) + d.yaml, "-o");
    command += fmt::format(" --{} {}", d.name, file);
  }
  fmt::print("wrote the resolved configs to {}; run them with:\n  {}\n", a.output, command);
  return 0;
}

}  // namespace

CommandRunner add_config_command(CLI::App& app) {
  auto a = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand(
      "config", "Print a step's model, deployment, hardware and cluster configs fully resolved, or write them to edit");
  add_step_config_options(*cmd, a->config);
  cmd->add_option("--doc", a->doc, "only this document: model, deploy, hw or cluster")
      ->check(CLI::IsMember({"model", "deploy", "hw", "cluster"}));
  cmd->add_option("-o,--output", a->output,
                  "write FOLDER/{model,deploy,hw,cluster}.yaml (and print the `v3sim step` command that runs them)");
  cmd->footer(
      "Examples:\n"
      "  v3sim config --deploy v3-decode-144 --doc cluster   # the decode cluster, each value with its source\n"
      "  v3sim config --hw proposals/block-scaled-mma --set hw.clocks.sustained=1.6GHz -o my-run\n"
      "  v3sim step --model my-run/model.yaml --deploy my-run/deploy.yaml --hw my-run/hw.yaml \\\n"
      "             --cluster my-run/cluster.yaml          # the same step, from the edited files");
  return [a](const RunOptions& opts) { return run_config(*a, opts); };
}

}  // namespace v3sim::cli
