// libFuzzer harness over v3sim's command line: the input becomes an argv for the real CLI11 app with every command
// (cli/commands.h: run_command_line), each command checks its inputs as it always does (options, configs with their
// --set overrides, sizes against what this machine can hold, output paths) and returns right before its work
// (RunOptions::validate_only: no simulation, study, measurement or output file). A ConfigError (exit 2) or a return
// is the right answer; anything else (another exception, a sanitizer report, an abort, exit() called by a command, a
// hang past -timeout, memory past -rss_limit_mb, a file left behind) is a finding.
//
// Input: the arguments after "v3sim", one per line; when the input holds a NUL byte, NUL separates them instead (so
// an argument may hold a line break). The first argument is the command ("gemm", "numerics", ...; any text).
//
// The commands run in a sandbox folder (TMPDIR/v3sim-fuzz-cli.PID, removed at exit, stale ones of dead processes
// removed at start) holding copies of configs/, traces/ and tests/data/reference: $V3SIM_CONFIGS, $V3SIM_CACHE and
// $HOME point into it, and it is the working folder of each command. An input with an argument that could name a path
// outside it (an absolute path, also as an option's attached value: "--output=/x", "-o/x"; or "..") is skipped (returns
// -1: libFuzzer keeps it out of the corpus); reading is harmless, but validating an output path creates and removes a
// probe file beside it.
//
// V3SIM_FUZZ_CLI_DICT=FILE: writes a libFuzzer dictionary of every command and option name to FILE first
// (scripts/fuzz.sh).
// Built by -DV3SIM_FUZZ=ON with clang (CMake preset "fuzz"); scripts/fuzz.sh runs it.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxArgs = 48;
const char* const kPrefix = "v3sim-fuzz-cli.";

fs::path g_sandbox;
fs::path g_cwd;         // libFuzzer's working folder (its corpus and artifact paths may be relative to it)
size_t g_entries = 0;   // files and folders in the sandbox after setup
bool g_in_run = false;  // inside run_command_line (an exit() there is a finding)
pid_t g_owner = 0;      // the process that made the sandbox (not a child a command forked)

size_t count_entries(const fs::path& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

void at_exit() {
  if (g_in_run) {
    std::fprintf(stderr, "fuzz_cli: exit() called while a command ran (a command must throw, not exit)\n");
    std::fflush(stderr);
    std::abort();
  }
  if (!g_sandbox.empty() && ::getpid() == g_owner) {
    std::error_code ec;
    fs::remove_all(g_sandbox, ec);
  }
}

// Sandboxes left by killed runs (their process is gone).
void remove_stale_sandboxes(const fs::path& tmp) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(tmp, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kPrefix)) continue;
    const long pid = std::strtol(name.c_str() + std::strlen(kPrefix), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive);
}

// An argument that could name a path outside the sandbox: absolute ("/x"; also as an option's attached value:
// "--output=/x", "-o/x", "-jo/x") or through "..". A relative one ("x.h5", "proposals/y", "-5GB/s") stays inside.
bool escapes(std::string_view a) {
  if (a.empty()) return false;
  if (a.front() == '/' || a.find("..") != std::string_view::npos || a.find("=/") != std::string_view::npos) return true;
  if (a.size() > 1 && a[0] == '-' && a[1] != '-') {
    size_t i = 1;
    while (i < a.size() && std::isalpha(static_cast<unsigned char>(a[i]))) ++i;
    if (i > 1 && i < a.size() && a[i] == '/') return true;
  }
  return false;
}

std::vector<std::string> split(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const char sep = text.find('\0') != std::string_view::npos ? '\0' : '\n';
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && out.size() < kMaxArgs) {
    const size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  // In a text file a trailing line break ends the last argument; it does not add an empty one (NUL-separated
  // input can end in an empty argument: "gemm\0--stages\0").
  if (sep == '\n' && !out.empty() && out.back().empty() && size > 0) out.pop_back();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp_env = std::getenv("TMPDIR");
  const fs::path tmp = tmp_env && *tmp_env ? fs::path(tmp_env) : fs::temp_directory_path();
  remove_stale_sandboxes(tmp);
  g_owner = ::getpid();
  g_cwd = fs::current_path();
  g_sandbox = tmp / (kPrefix + std::to_string(g_owner));
  fs::remove_all(g_sandbox);
  const fs::path src = V3SIM_SOURCE_DIR;
  copy_tree(src / "configs", g_sandbox / "configs");
  copy_tree(src / "traces", g_sandbox / "traces");
  copy_tree(src / "tests" / "data" / "reference", g_sandbox / "tests" / "data" / "reference");
  fs::create_directories(g_sandbox / "home");
  std::atexit(at_exit);
  ::setenv("V3SIM_CONFIGS", (g_sandbox / "configs").c_str(), 1);
  ::setenv("V3SIM_CACHE", (g_sandbox / "home" / "kernels.txt").c_str(), 1);
  ::setenv("HOME", (g_sandbox / "home").c_str(), 1);
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "V3SIM_FAKE_EVALUATOR"}) ::unsetenv(v);
  // Nothing waits on a terminal: a command that reads stdin reads nothing.
  if (!std::freopen("/dev/null", "r", stdin)) std::perror("fuzz_cli: stdin");
  g_entries = count_entries(g_sandbox);

  if (const char* dict = std::getenv("V3SIM_FUZZ_CLI_DICT"); dict && *dict) {
    std::ofstream out(dict);
    for (const std::string& w : v3sim::cli::command_line_words()) out << '"' << w << "\"\n";
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = split(data, size);
  for (const std::string& a : args) {
    if (escapes(a)) return -1;
  }
  args.insert(args.begin(), "v3sim");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The command runs in the sandbox; libFuzzer writes its corpus in its own folder once the input is done. (An
  // artifact written on a crash goes to -artifact_prefix from the sandbox: scripts/fuzz.sh gives an absolute one.)
  fs::current_path(g_sandbox);
  g_in_run = true;
  try {
    v3sim::cli::RunOptions o;
    o.validate_only = true;
    v3sim::cli::run_command_line(static_cast<int>(args.size()), argv.data(), o);
  } catch (const v3sim::ConfigError&) {
    // the answer to a bad input
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_cli: not a ConfigError: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz_cli: an exception that is not a std::exception\n");
    std::abort();
  }
  g_in_run = false;
  fs::current_path(g_cwd);
  std::fflush(stdout);
  // Checking inputs writes nothing: anything new in the sandbox was written by a command that should only check.
  if (const size_t n = count_entries(g_sandbox); n != g_entries) {
    std::fprintf(stderr, "fuzz_cli: the sandbox %s held %zu entries before the command and %zu after\n",
                 g_sandbox.c_str(), g_entries, n);
    std::abort();
  }
  return 0;
}
