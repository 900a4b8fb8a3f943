// Outputs are complete or absent (core/atomic_file.h): every -o is checked before any work, a full disk is exit 2
// with nothing left behind, and a finished run leaves exactly its file.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "run_v3sim.h"
#include "tests/temp_dir.h"

using v3sim::test::run_v3sim;
using v3sim::test::run_v3sim_after;
using v3sim::test::RunResult;
using v3sim::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kSource = V3SIM_SOURCE_DIR;
const std::string kTraces = kSource + "/tests/data/traces/";

// One command per writer, its output file name given; .h5 and .json for step.
std::vector<std::vector<std::string>> writers(const std::string& dir) {
  return {
      {"step", "--deploy", "tiny-train", "--no-cache", "-o", dir + "/step.h5"},
      {"step", "--deploy", "tiny-train", "--no-cache", "-o", dir + "/step.json"},
      {"import", kTraces + "tiny.json", "--rules", kTraces + "tiny-rules.yaml", "-o", dir + "/import.h5"},
      {"compare", kSource + "/traces/published/deepgemm-h800.h5", "-o", dir + "/compare.json"},
      {"measure", "--published", "deepgemm-h800", "-o", dir + "/measure.h5"},
      {"graph", "--deploy", "tiny-prefill", "--micro-batches", "1", "-o", dir + "/graph.dot"},
      {"alltoall", "--cluster", "h800-2048-mpft", "--ep", "8", "--tokens", "64", "-o", dir + "/alltoall.json"},
  };
}

std::string command_line(const std::vector<std::string>& args) {
  std::string s = "v3sim";
  for (const auto& a : args) s += " " + a;
  return s;
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Exit 2 with stderr ending in one "error: " line holding `text` (step's progress line may come before it).
void check_refused(const RunResult& r, const std::string& text) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  REQUIRE(r.err.ends_with("\n"));
  const size_t start = r.err.rfind('\n', r.err.size() - 2);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  CHECK(last.starts_with("error: "));
  CHECK_THAT(last, Catch::Contains(text));
}

}  // namespace

TEST_CASE("every -o is written whole under its name, with no temporary left", "[cli][outputs]") {
  TempDir dir("v3sim-outputs");
  for (const auto& args : writers(dir.path().string())) {
    INFO(command_line(args));
    const RunResult r = run_v3sim(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    const std::string out = args.back();
    CHECK(fs::file_size(out) > 0);
    CHECK(listing(dir.path()) == std::vector<std::string>{fs::path(out).filename().string()});
    fs::remove(out);
  }
}

TEST_CASE("a writer removes the temporaries of its file that a killed run left, not a running one's",
          "[cli][outputs]") {
  // What SIGKILL during `step -o x.h5` leaves: x.h5.tmp.PID of a process that is gone (a reaped child's PID).
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  TempDir dir("v3sim-outputs");
  for (const auto& args : writers(dir.path().string())) {
    INFO(command_line(args));
    const std::string out = args.back();
    const std::string stale = out + ".tmp." + std::to_string(dead);
    const std::string live = out + ".tmp." + std::to_string(::getpid());  // this test is alive: its file stays
    dir.file(fs::path(stale).filename().string(), "half a file");
    dir.file(fs::path(live).filename().string(), "a running writer's");
    const RunResult r = run_v3sim(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(listing(dir.path()) ==
          std::vector<std::string>{fs::path(out).filename().string(), fs::path(live).filename().string()});
    fs::remove(out);
    fs::remove(live);
  }
}

TEST_CASE("a missing or read-only output folder is exit 2 before any work", "[cli][outputs]") {
  TempDir dir("v3sim-outputs");
  // root writes through file permissions, so there a folder no one may create files in stands for a read-only one.
  const bool root = ::geteuid() == 0;
  const fs::path ro = root ? fs::path("/sys") : dir.path() / "ro";
  if (!root) {
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  }
  for (const auto& [folder, why] : {std::pair{(dir.path() / "missing").string(), std::string("does not exist")},
                                    std::pair{ro.string(), std::string("cannot be written")}}) {
    for (const auto& args : writers(folder)) {
      INFO(command_line(args));
      check_refused(run_v3sim(args), why);
    }
  }
  // Before the work: the default deployment (a 2048-GPU training step) would take far longer than this.
  const auto t0 = std::chrono::steady_clock::now();
  check_refused(run_v3sim({"step", "-o", (dir.path() / "missing/step.h5").string()}), "does not exist");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  if (!root) fs::permissions(ro, fs::perms::owner_all);
  CHECK(listing(dir.path()) == (root ? std::vector<std::string>{} : std::vector<std::string>{"ro"}));
}

TEST_CASE("a disk that fills up while writing is exit 2 with nothing left behind and no crash", "[cli][outputs]") {
  TempDir dir("v3sim-outputs");
  // A file size limit (RLIMIT_FSIZE, SIGXFSZ ignored): a write past it fails as on a full disk (EFBIG, not ENOSPC),
  // after the output folder was found writable. 2 blocks hold stderr's one line but none of the outputs.
  for (const auto& args : writers(dir.path().string())) {
    INFO(command_line(args));
    const RunResult r = run_v3sim_after("trap '' XFSZ; ulimit -f 2;", args);
    check_refused(r, "nothing was written");
    CHECK_THAT(r.err, Catch::Contains("room on the disk"));
    CHECK(listing(dir.path()).empty());
  }
}
