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

// How a command runs. `validate_only`: the command checks its inputs as it always does (options, configs with their
// --set overrides, sizes against what the machine can hold, output paths) and returns 0 right before its work (a
// simulation, a study, a measurement, writing files or printing results). The fuzz harness of the command line
// (tests/fuzz/fuzz_cli.cpp) runs commands so.
struct RunOptions {
  bool validate_only = false;
};

// Adds a subcommand to `app`; the returned function runs it after parsing (returns the exit code).
using CommandRunner = std::function<int(const RunOptions&)>;

// The whole command line in-process: builds the app with every command, parses `argv` (argv[0] the program name)
// and runs the command it names. Returns the exit code of a run that went through (0, or 2 from a command that
// reports a mistake itself, the code of --help); throws ConfigError for the user's mistake (exit 2), InternalError
// or any other exception for a bug (exit 3). main() maps the exceptions to exit codes.
int run_command_line(int argc, char** argv, const RunOptions& options = {});

// Every command, subcommand and option name of the command line ("gemm", "--block-m", "-o"): the fuzz harness's
// dictionary.
std::vector<std::string> command_line_words();

CommandRunner add_graph_command(CLI::App& app);
CommandRunner add_describe_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_numerics_command(CLI::App& app);
CommandRunner add_alltoall_command(CLI::App& app);
CommandRunner add_gemm_command(CLI::App& app);
CommandRunner add_compare_command(CLI::App& app);
CommandRunner add_calibrate_command(CLI::App& app);
CommandRunner add_study_command(CLI::App& app);
CommandRunner add_config_command(CLI::App& app);
// `argv` is stamped into the files it writes.
CommandRunner add_measure_command(CLI::App& app, std::vector<std::string> argv);
// `v3sim measure --suite SUITE -o out` (calibrate --measure): runs the suite on the local GPU and writes the trace,
// `command` recorded as its command line. @throws ConfigError (no GPU: "no CUDA device: ..."), InternalError
void measure_suite(const std::string& suite, const std::string& out, const std::string& command);
CommandRunner add_step_command(CLI::App& app, std::vector<std::string> argv);
CommandRunner add_import_command(CLI::App& app, std::vector<std::string> argv);

}  // namespace v3sim::cli
