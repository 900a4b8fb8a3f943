// The `v3sim` commands: each file cli/cmd_<name>.cpp adds one subcommand and returns what runs it.
// Only cli/ includes CLI11.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace v3sim::cli {

// Adds a subcommand to `app`; the returned function runs it after parsing (returns the exit code).
using CommandRunner = std::function<int()>;

CommandRunner add_graph_command(CLI::App& app);
CommandRunner add_describe_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_numerics_command(CLI::App& app);
CommandRunner add_alltoall_command(CLI::App& app);
CommandRunner add_gemm_command(CLI::App& app);
CommandRunner add_compare_command(CLI::App& app);
CommandRunner add_study_command(CLI::App& app);
// `argv` is stamped into the files it writes.
CommandRunner add_measure_command(CLI::App& app, std::vector<std::string> argv);
CommandRunner add_step_command(CLI::App& app, std::vector<std::string> argv);
CommandRunner add_import_command(CLI::App& app, std::vector<std::string> argv);

}  // namespace v3sim::cli
