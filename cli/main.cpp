// The `v3sim` executable: parses the command line, runs one command, maps errors to exit codes
// (0 ok, 2 the user's mistake, 3 our bug). One line `error: ...` on stderr for a mistake.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/text.h"
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
  if (argc > 1 && argv[1][0] != '-') {
    // An unknown command, named with the nearest one (CLI11 would only say that a subcommand is required).
    std::vector<std::string> names;
    for (const auto& [sub, runner] : commands) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::string found = v3sim::quote(argv[1]);
      if (const std::string guess = v3sim::closest(argv[1], names); !guess.empty()) {
        found += " (did you mean '" + guess + "'?)";
      }
      throw v3sim::ConfigError(v3sim::SourceLoc{"v3sim", 0}, "", "a command (" + list + ")", found);
    }
  }
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
    throw v3sim::ConfigError(v3sim::escape_text(msg) + " (see 'v3sim --help')");
  }
  for (auto& [sub, runner] : commands) {
    if (sub->parsed()) return runner();
  }
  return 2;
}

}  // namespace

namespace {

// Under --json an error is one JSON object on stdout too (the same line stays on stderr), so a script reading
// stdout always gets one object: {"error": "...", "exit_code": 2}.
int report(bool json, int code, const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  if (json) std::puts(nlohmann::json{{"error", line}, {"exit_code", code}}.dump().c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) json |= std::string_view(argv[i]) == "--json";
  try {
    return run(argc, argv);
  } catch (const v3sim::ConfigError& e) {
    return report(json, 2, std::string("error: ") + e.what());
  } catch (const v3sim::InternalError& e) {
    return report(json, 3, e.what());
  } catch (const std::bad_alloc&) {
    // Every command estimates its memory first; running out anyway is ours to fix.
    return report(json, 3, "internal error: out of memory (a size estimate let through a problem that does not fit)");
  } catch (const std::exception& e) {
    return report(json, 3, std::string("internal error: unexpected exception: ") + e.what());
  }
}
