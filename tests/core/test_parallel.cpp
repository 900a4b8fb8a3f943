// core/parallel: every job runs once into its own slot, for any number of threads, and the error a serial loop would
// meet first is the one rethrown.
#include <atomic>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/parallel.h"

using namespace v3sim;

TEST_CASE("parallel_jobs runs every job once, whatever the threads", "[core][parallel]") {
  for (size_t threads : {1, 2, 7, 64}) {
    std::vector<int> runs(100, 0);
    std::vector<size_t> out(100, 0);
    parallel_jobs(out.size(), threads, [&](size_t i) {
      ++runs[i];
      out[i] = i * i;
    });
    for (size_t i = 0; i < out.size(); ++i) {
      CHECK(runs[i] == 1);
      CHECK(out[i] == i * i);
    }
  }
  parallel_jobs(0, 4, [](size_t) { FAIL("no job to run"); });
  CHECK(hardware_threads() >= 1);
}

TEST_CASE("parallel_jobs rethrows the lowest index's error after every job has ended", "[core][parallel]") {
  std::atomic<int> ran{0};
  auto job = [&](size_t i) {
    ++ran;
    if (i == 3 || i == 40) throw std::runtime_error("job " + std::to_string(i));
  };
  for (size_t threads : {1, 4}) {
    ran = 0;
    CHECK_THROWS_WITH(parallel_jobs(50, threads, job), "job 3");
    CHECK(ran == 50);
  }
}
