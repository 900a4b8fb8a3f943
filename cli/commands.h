// The `v3sim` commands: each file cli/cmd_<name>.cpp adds one subcommand and returns what runs it.
// Only cli/ includes CLI11.
#pragma once

#include <functional>

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
CommandRunner add_gemm_command(CLI::App& app);

}  // namespace v3sim::cli
