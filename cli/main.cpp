// The `v3sim` executable: parses the command line, runs one command, maps errors to exit codes
// (0 ok, 2 the user's mistake, 3 our bug). One line `error: ...` on stderr for a mistake.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "kernels/device.h"
#include "v3sim/version.h"

namespace {

std::string version_text() {
  using namespace v3sim;
  std::string out = fmt::format("v3sim {} (git {})\n", kVersion, kGitRevision);
  if (!cuda_kernels_built()) {
    out += "CUDA kernels: not built\n";
    return out;
  }
  DeviceInfo d = query_device(0);
  out += "CUDA kernels: built for sm_90a\n";
  if (d.available) {
    out += fmt::format("GPU 0: {} ({} SMs, compute capability {}.{}, {} GiB)\n", d.name, d.sm_count, d.cc_major,
                       d.cc_minor, d.memory_bytes >> 30);
  } else {
    out += fmt::format("GPU: none ({})\n", d.reason);
  }
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{
      "v3sim: what would DeepSeek-V3 gain from this hardware change?\n"
      "A co-design tool: one operator graph of DeepSeek-V3 drives a simulator of the hardware and real GPU kernels."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  app.footer("Run 'v3sim COMMAND --help' for a command's options. Exit codes: 0 ok, 2 bad input, 3 internal error.");
  std::vector<std::pair<CLI::App*, v3sim::cli::CommandRunner>> commands;
  auto add = [&](v3sim::cli::CommandRunner (*fn)(CLI::App&)) {
    v3sim::cli::CommandRunner r = fn(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  };
  add(v3sim::cli::add_graph_command);
  add(v3sim::cli::add_describe_command);
  add(v3sim::cli::add_numerics_command);
  add(v3sim::cli::add_gemm_command);
  add(v3sim::cli::add_alltoall_command);
  add(v3sim::cli::add_compare_command);
  {
    v3sim::cli::CommandRunner r = v3sim::cli::add_measure_command(app, std::vector<std::string>(argv, argv + argc));
    commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  }
  {
    v3sim::cli::CommandRunner r = v3sim::cli::add_step_command(app, std::vector<std::string>(argv, argv + argc));
    commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  }
  {
    v3sim::cli::CommandRunner r = v3sim::cli::add_import_command(app, std::vector<std::string>(argv, argv + argc));
    commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  }
  add(v3sim::cli::add_bench_command);
  add(v3sim::cli::add_study_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    std::fprintf(stderr, "error: %s (see 'v3sim --help')\n", msg.c_str());
    return 2;
  }
  for (auto& [sub, runner] : commands) {
    if (sub->parsed()) return runner();
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const v3sim::ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const v3sim::InternalError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: unexpected exception: %s\n", e.what());
    return 3;
  }
}
