#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/error.h"
#include "exec_helpers.h"
#include "sim/exec/executor.h"
#include "sim/exec/pipeline.h"

using namespace v3sim;
using namespace v3sim::exec;

namespace {

// Every micro-batch's F, B and W of the rank's stage(s) appears exactly once, and in an order a rank can run.
void check_program(PipelineSchedule s, int64_t pp, int64_t n, int64_t rank) {
  auto prog = rank_program(s, pp, n, rank);
  std::map<std::pair<int64_t, int>, int> seen;  // (mb, 0 F / 1 B / 2 W) -> position
  int pos = 0;
  for (const auto& step : prog) {
    REQUIRE(!step.chunks.empty());
    REQUIRE(step.chunks.size() <= 2);
    for (const auto& c : step.chunks) {
      auto add = [&](int slot) {
        INFO(to_string(c.part) << " mb " << c.micro_batch);
        REQUIRE(seen.emplace(std::make_pair(c.micro_batch, slot), pos).second);
      };
      switch (c.part) {
        case ChunkPart::Forward:
          add(0);
          break;
        case ChunkPart::Backward:
          add(1);
          break;
        case ChunkPart::BackwardWeight:
          add(1);
          add(2);
          break;
        case ChunkPart::Weight:
          add(2);
          break;
      }
      ++pos;
    }
  }
  REQUIRE(seen.size() == static_cast<size_t>(3 * n));
  for (int64_t mb = 0; mb < n; ++mb) {
    CHECK(seen[{mb, 0}] < seen[{mb, 1}]);
    CHECK(seen[{mb, 1}] <= seen[{mb, 2}]);
  }
}

}  // namespace

TEST_CASE("pipeline programs run every chunk once, forward before backward before weight", "[exec][pipeline]") {
  for (auto s : {PipelineSchedule::OneFOneB, PipelineSchedule::ZB1P, PipelineSchedule::DualPipe}) {
    for (auto [pp, n] : {std::pair<int64_t, int64_t>{4, 8}, {8, 20}, {16, 120}}) {
      for (int64_t r = 0; r < pp; ++r) {
        INFO(to_string(s) << " pp " << pp << " n " << n << " rank " << r);
        check_program(s, pp, n, r);
      }
    }
  }
}

TEST_CASE("DualPipe runs both directions on every rank and pairs forward with backward", "[exec][pipeline]") {
  const int64_t pp = 8, n = 20;
  for (int64_t r = 0; r < pp; ++r) {
    auto prog = rank_program(PipelineSchedule::DualPipe, pp, n, r);
    std::set<int64_t> mbs;
    int pairs = 0;
    for (const auto& step : prog) {
      for (const auto& c : step.chunks) mbs.insert(c.micro_batch);
      if (step.chunks.size() == 2) {
        ++pairs;
        CHECK(step.chunks[0].part == ChunkPart::Forward);
        CHECK(step.chunks[1].part == ChunkPart::BackwardWeight);
        // The pair's chunks come from opposite directions (different stages of the rank).
        CHECK((step.chunks[0].micro_batch < n / 2) != (step.chunks[1].micro_batch < n / 2));
      }
    }
    CHECK(mbs.size() == static_cast<size_t>(n));
    CHECK(pairs > 0);
    CHECK(stage_of(PipelineSchedule::DualPipe, pp, n, r, 0) == r);
    CHECK(stage_of(PipelineSchedule::DualPipe, pp, n, r, n - 1) == pp - 1 - r);
  }
}

TEST_CASE("pipeline schedules reject impossible micro-batch counts", "[exec][pipeline]") {
  CHECK_THROWS_AS(validate_schedule(PipelineSchedule::DualPipe, 8, 15, "deploy"), ConfigError);
  CHECK_THROWS_WITH(validate_schedule(PipelineSchedule::DualPipe, 8, 15, "deploy"), Catch::Contains("even"));
  CHECK_THROWS_WITH(validate_schedule(PipelineSchedule::DualPipe, 8, 14, "deploy"), Catch::Contains("2 x pp = 16"));
  CHECK_THROWS_WITH(validate_schedule(PipelineSchedule::DualPipe, 7, 28, "deploy"), Catch::Contains("even"));
  CHECK_NOTHROW(validate_schedule(PipelineSchedule::DualPipe, 8, 16, "deploy"));
  CHECK_NOTHROW(validate_schedule(PipelineSchedule::OneFOneB, 8, 3, "deploy"));
}

TEST_CASE("peak activations: 1F1B holds PP - rank micro-batches", "[exec][pipeline]") {
  for (int64_t r = 0; r < 8; ++r) {
    CHECK(peak_in_flight(rank_program(PipelineSchedule::OneFOneB, 8, 32, r)) == 8 - r);
  }
  // DualPipe: at most PP + 1 on a rank (deepseek-v3.yaml cluster.dualpipe activation_per_device).
  int64_t worst = 0;
  for (int64_t r = 0; r < 8; ++r)
    worst = std::max(worst, peak_in_flight(rank_program(PipelineSchedule::DualPipe, 8, 32, r)));
  CHECK(worst <= 9);
  CHECK(worst >= 8);
}

TEST_CASE("the executor's bubbles equal the published formulas for uniform chunks", "[exec][pipeline]") {
  // Uniform chunks: a forward as long as an input-gradient backward (F = B - W), the case the formulas describe.
  struct Case {
    int64_t f, b, w;  // microseconds
  };
  for (auto sched : {PipelineSchedule::OneFOneB, PipelineSchedule::ZB1P, PipelineSchedule::DualPipe}) {
    for (auto [pp, n] : {std::pair<int64_t, int64_t>{4, 8}, {8, 20}, {16, 64}}) {
      for (Case c : {Case{10, 20, 10}, Case{15, 20, 5}, Case{20, 30, 10}}) {
        auto p = test::synthetic_pipeline(sched, pp, n, Time::us(c.f), Time::us(c.b), Time::us(c.w));
        ExecOptions o;
        o.schedule = sched;
        o.pp = pp;
        o.micro_batches = n;
        ExecResult r = execute(p.graph, p.times, p.streams, o);
        Time worst;
        for (const auto& rs : r.ranks) {
          // Every rank does all of its chunks: busy = n (F + B).
          CHECK(rs.busy[0] == Time::us(n * (c.f + c.b)));
          CHECK(rs.busy[0] + rs.bubble + rs.exposed_comm == r.makespan);
          CHECK(rs.exposed_comm == Time());
          worst = std::max(worst, rs.bubble);
        }
        // With nothing overlapped inside a pair, F&B = F + B.
        const double formula = bubble_formula(sched, pp, static_cast<double>(c.f), static_cast<double>(c.b),
                                              static_cast<double>(c.w), static_cast<double>(c.f + c.b));
        INFO(to_string(sched) << " pp " << pp << " n " << n << " F " << c.f << " B " << c.b << " W " << c.w);
        CHECK(worst.microseconds() == Approx(formula).margin(1e-6));
      }
    }
  }
}
