// Runs the v3sim executable in a test and captures what it printed.
#pragma once

#include <string>
#include <vector>

namespace v3sim::test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `v3sim ARGS...` (each argument shell-quoted) in the current directory.
RunResult run_v3sim(const std::vector<std::string>& args);
// The same after the shell commands `prefix` (e.g. "trap '' XFSZ; ulimit -f 64;": writes past 64 KiB fail).
RunResult run_v3sim_after(const std::string& prefix, const std::vector<std::string>& args);

// A YAML file in a fresh temporary folder; returns its path.
std::string write_temp_file(const std::string& name, const std::string& text);

}  // namespace v3sim::test
