// `v3sim measure`: measured traces. --published records DeepSeek's published H800 tables as measured traces (no
// GPU needed); the GPU kernels of kernels/ are run with --kernel.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "report/h5_file.h"
#include "report/published.h"

namespace v3sim::cli {

namespace {

struct MeasureArgs {
  std::string published;
  std::string reference;
  std::string output;
  std::vector<std::string> argv;
};

std::string default_reference() {
  return (std::filesystem::path(configs_dir()) / ".." / "tests" / "data" / "reference" / "deepseek-v3.yaml").string();
}

int run_measure(const MeasureArgs& a) {
  if (a.published.empty()) {
    throw ConfigError(SourceLoc{"measure", 0}, "", "--published deepgemm-h800 (or --kernel, on a machine with a GPU)",
                      "no source of measurements");
  }
  if (a.output.empty()) throw ConfigError(SourceLoc{"-o", 0}, "", "an output file (.h5)", "nothing");
  if (!a.output.ends_with(".h5")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "a measured trace file name ending in .h5",
                      fmt::format("'{}'", a.output));
  }
  const std::string reference = a.reference.empty() ? default_reference() : a.reference;
  ResultFile f = published_deepgemm_h800(reference);
  std::string cmd;
  for (const auto& s : a.argv) cmd += (cmd.empty() ? "" : " ") + s;
  f.meta["command_line"] = cmd;
  write_result_h5(a.output, f);
  fmt::print("wrote {} ({} ops from {})\n", a.output, f.timeline.events.size(), reference);
  return 0;
}

}  // namespace

CommandRunner add_measure_command(CLI::App& app, std::vector<std::string> argv) {
  auto a = std::make_shared<MeasureArgs>();
  a->argv = std::move(argv);
  CLI::App* cmd = app.add_subcommand("measure", "Record a measured trace (.h5)");
  cmd->footer(
      "Examples:\n"
      "  v3sim measure --published deepgemm-h800 -o traces/published/deepgemm-h800.h5\n"
      "Published tables come from tests/data/reference/deepseek-v3.yaml (a copy of ../shared/reference).");
  cmd->add_option("--published", a->published, "record a published table: deepgemm-h800")
      ->check(CLI::IsMember({"deepgemm-h800"}));
  cmd->add_option("--reference", a->reference, "the reference YAML (default tests/data/reference/deepseek-v3.yaml)");
  cmd->add_option("-o,--output", a->output, "the measured trace to write (.h5)");
  return [a] { return run_measure(*a); };
}

}  // namespace v3sim::cli
