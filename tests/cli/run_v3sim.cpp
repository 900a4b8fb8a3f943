#include "run_v3sim.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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

fs::path scratch() {
  static int n = 0;
  fs::path dir = fs::temp_directory_path() / ("v3sim-cli-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::create_directories(dir);
  return dir;
}

}  // namespace

RunResult run_v3sim(const std::vector<std::string>& args) {
  fs::path dir = scratch();
  std::string cmd = quote(V3SIM_BINARY);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " >" + quote((dir / "out").string()) + " 2>" + quote((dir / "err").string());
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  fs::remove_all(dir);
  return r;
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  fs::path dir = scratch();
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

}  // namespace v3sim::test
