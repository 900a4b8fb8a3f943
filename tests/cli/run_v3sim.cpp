#include "run_v3sim.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/temp_dir.h"

namespace v3sim::test {

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh folder kept until the tests end (the files write_temp_file() returns outlive the call), then removed.
fs::path scratch() {
  static std::deque<TempDir> dirs;
  return dirs.emplace_back("v3sim-cli").path();
}

}  // namespace

RunResult run_v3sim(const std::vector<std::string>& args) {
  return run_v3sim_after("", args);
}

RunResult run_v3sim_after(const std::string& prefix, const std::vector<std::string>& args) {
  const TempDir tmp("v3sim-cli-run");
  const fs::path& dir = tmp.path();
  std::string cmd = prefix + " " + quote(V3SIM_BINARY);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " >" + quote((dir / "out").string()) + " 2>" + quote((dir / "err").string());
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  fs::path dir = scratch();
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

}  // namespace v3sim::test
