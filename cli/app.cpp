// The command line of `v3sim` in-process (cli/commands.h: run_command_line): the CLI11 app with every command,
// parsed, and the command it names run. cli/main.cpp maps what comes out to exit codes; the fuzz harness of the
// command line (tests/fuzz/fuzz_cli.cpp) calls it with RunOptions::validate_only.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/text.h"
#include "kernels/device.h"
#include "v3sim/version.h"

namespace v3sim::cli {

namespace {

std::string version_text() {
  std::string out = fmt::format("v3sim {} (git {})\n", kVersion, kGitRevision);
  if (!kernels::cuda_kernels_built()) {
    out += "CUDA kernels: not built\n";
    return out;
  }
  kernels::DeviceInfo d = kernels::query_device(0);
  out += "CUDA kernels: built for sm_90a\n";
  if (d.available) {
    out += fmt::format("GPU 0: {} ({} SMs, compute capability {}.{}, {} GiB)\n", d.name, d.sm_count, d.cc_major,
                       d.cc_minor, d.memory_bytes >> 30);
  } else {
    out += fmt::format("GPU: none ({})\n", d.reason);
  }
  return out;
}

using Commands = std::vector<std::pair<CLI::App*, CommandRunner>>;

// The app with every command; `argv` is stamped into the files commands write.
Commands build_app(CLI::App& app, const std::vector<std::string>& argv) {
  app.description(
      "v3sim: what would DeepSeek-V3 gain from this hardware change?\n"
      "A co-design tool: one operator graph of DeepSeek-V3 drives a simulator of the hardware and real GPU kernels.");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(version_text));  // the GPU asked only then
  app.footer("Run 'v3sim COMMAND --help' for a command's options. Exit codes: 0 ok, 2 bad input, 3 internal error.");
  Commands commands;
  auto add = [&](CommandRunner r) { commands.emplace_back(app.get_subcommands({}).back(), std::move(r)); };
  add(add_graph_command(app));
  add(add_describe_command(app));
  add(add_numerics_command(app));
  add(add_gemm_command(app));
  add(add_alltoall_command(app));
  add(add_compare_command(app));
  add(add_calibrate_command(app));
  add(add_measure_command(app, argv));
  add(add_step_command(app, argv));
  add(add_config_command(app));
  add(add_import_command(app, argv));
  add(add_bench_command(app));
  add(add_study_command(app));
  return commands;
}

void add_words(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& n : o->get_lnames()) out.push_back("--" + n);
    for (const auto& n : o->get_snames()) out.push_back("-" + n);
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    out.push_back(sub->get_name());
    add_words(*sub, out);
  }
}

}  // namespace

std::vector<std::string> command_line_words() {
  CLI::App app;
  build_app(app, {"v3sim"});
  std::vector<std::string> out;
  add_words(app, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int run_command_line(int argc, char** argv, const RunOptions& options) {
  CLI::App app;
  const Commands commands = build_app(app, std::vector<std::string>(argv, argv + argc));
  if (argc > 1 && argv[1][0] != '-') {
    // An unknown command, named with the nearest one (CLI11 would only say that a subcommand is required).
    std::vector<std::string> names;
    for (const auto& [sub, runner] : commands) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::string found = quote(argv[1]);
      if (const std::string guess = closest(argv[1], names); !guess.empty()) {
        found += " (did you mean '" + guess + "'?)";
      }
      throw ConfigError(SourceLoc{"v3sim", 0}, "", "a command (" + list + ")", found);
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
  } catch (const CLI::ExtrasError& e) {
    // An unknown option of a command: named, with the command's nearest option.
    CLI::App* sub = nullptr;
    for (auto& [c, runner] : commands)
      if (argc > 1 && c->get_name() == argv[1]) sub = c;
    if (sub != nullptr) {
      std::vector<std::string> known;
      for (const CLI::Option* o : sub->get_options()) {
        for (const auto& n : o->get_lnames()) known.push_back("--" + n);
        for (const auto& n : o->get_snames()) known.push_back("-" + n);
      }
      for (int i = 2; i < argc; ++i) {
        const std::string word = std::string(argv[i]).substr(0, std::string(argv[i]).find('='));
        if (word.size() < 2 || word[0] != '-' || std::find(known.begin(), known.end(), word) != known.end()) continue;
        std::string found = quote(word);
        if (const std::string guess = closest(word, known); !guess.empty()) found += " (did you mean '" + guess + "'?)";
        throw ConfigError(SourceLoc{std::string("v3sim ") + argv[1], 0}, "",
                          fmt::format("an option of `v3sim {0}` (see 'v3sim {0} --help')", argv[1]), found);
      }
    }
    throw ConfigError(escape_text(e.what()) + " (see 'v3sim --help')");
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw ConfigError(escape_text(msg) + " (see 'v3sim --help')");
  }
  for (auto& [sub, runner] : commands) {
    if (sub->parsed()) return runner(options);
  }
  return 2;
}

}  // namespace v3sim::cli
