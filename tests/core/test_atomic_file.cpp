// core/atomic_file.h: a file appears whole under its name or not at all; a folder lock excludes a second holder.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/temp_dir.h"

using namespace v3sim;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("an atomic file replaces its target only on commit and leaves no temporary otherwise", "[core]") {
  test::TempDir dir("v3sim-atomic");
  const std::string path = dir.file("out.txt", "old\n");
  {
    AtomicFile f(path, "-o");
    f.write("new ");
    CHECK(fs::exists(f.temp_path()));
    CHECK(fs::path(f.temp_path()).parent_path() == fs::path(path).parent_path());
    CHECK(read(path) == "old\n");  // not yet
  }                                // no commit: as if an exception had passed
  CHECK(read(path) == "old\n");
  CHECK(entries(dir.path()) == 1);
  try {
    AtomicFile f(path, "-o");
    f.write("half");
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK(read(path) == "old\n");
  CHECK(entries(dir.path()) == 1);
  write_file_atomic(path, "new\n", "-o");
  CHECK(read(path) == "new\n");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("output paths are checked before any work", "[core]") {
  test::TempDir dir("v3sim-atomic");
  CHECK_NOTHROW(check_output_path((dir.path() / "a.h5").string(), "-o"));
  CHECK(entries(dir.path()) == 0);  // the probe is gone
  CHECK_THROWS_WITH(check_output_path((dir.path() / "no/a.h5").string(), "-o"),
                    Catch::StartsWith("-o: ") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(check_output_path(dir.path().string(), "-o"), Catch::Contains("a folder, not a file"));
  CHECK_THROWS_AS(AtomicFile((dir.path() / "no/a.h5").string()), ConfigError);
}

TEST_CASE("a folder lock is held by one owner at a time", "[core]") {
  test::TempDir dir("v3sim-atomic");
  {
    const FolderLock a(dir.path().string(), "-o");
    CHECK_THROWS_WITH(FolderLock(dir.path().string(), "-o"),
                      Catch::Contains("in use by process") && Catch::Contains("another folder"));
  }
  CHECK_NOTHROW(FolderLock(dir.path().string(), "-o"));  // released with its owner
}

TEST_CASE("an atomic file removes the temporaries of its name that a killed writer left, not a live writer's",
          "[core]") {
  test::TempDir dir("v3sim-atomic");
  const std::string path = (dir.path() / "x.h5").string();
  // A process that is gone: a child that has exited and been reaped.
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  REQUIRE(::kill(dead, 0) != 0);
  const std::string stale = dir.file("x.h5.tmp." + std::to_string(dead), "half a file");
  const std::string live = dir.file("x.h5.tmp." + std::to_string(::getppid()), "another writer's");
  const std::string other = dir.file("y.h5.tmp." + std::to_string(dead), "another name's");
  const std::string not_pid = dir.file("x.h5.tmp.abc", "not a temporary of ours");
  write_file_atomic(path, "whole\n", "-o");
  CHECK(read(path) == "whole\n");
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other));
  CHECK(fs::exists(not_pid));
  CHECK(entries(dir.path()) == 4);
}

TEST_CASE("create_file_atomic never replaces an existing file and leaves no temporary", "[core]") {
  test::TempDir dir("v3sim-atomic-create");
  const std::string path = (fs::path(dir.path()) / "cache.txt").string();
  CHECK(create_file_atomic(path, "first\n"));
  CHECK(read(path) == "first\n");
  CHECK_FALSE(create_file_atomic(path, "second\n"));  // refused: the first stays
  CHECK(read(path) == "first\n");
  CHECK(entries(dir.path()) == 1);  // no NAME.tmp.PID left behind
}
