#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

#include "sim/engine/engine.h"

using namespace v3sim;
using namespace v3sim::engine;

TEST_CASE("events run in time, priority and scheduling order", "[sim][engine]") {
  Engine e;
  std::vector<int> order;
  e.schedule(Time::ns(5), Priority::kDefault, [&] { order.push_back(3); });
  e.schedule(Time::ns(1), Priority::kLow, [&] { order.push_back(2); });
  e.schedule(Time::ns(1), Priority::kHigh, [&] { order.push_back(0); });
  e.schedule(Time::ns(1), Priority::kHigh, [&] { order.push_back(1); });
  e.schedule(Time::ns(2), Priority::kDefault, [&] {
    // An event may schedule more, also at the current time.
    e.schedule_in(Time::ps(0), Priority::kDefault, [&] { order.push_back(25); });
  });
  e.run();
  CHECK(order == std::vector<int>{0, 1, 2, 25, 3});
  CHECK(e.now() == Time::ns(5));
  CHECK(e.events_run() == 6);
  CHECK_THROWS_AS(e.schedule(Time::ns(1), Priority::kDefault, [] {}), InternalError);
}

TEST_CASE("run(until) stops before later events and resumes", "[sim][engine]") {
  Engine e;
  int fired = 0;
  e.schedule(Time::ns(10), Priority::kDefault, [&] { ++fired; });
  e.run(Time::ns(9));
  CHECK(fired == 0);
  e.run();
  CHECK(fired == 1);
}

namespace {
struct Stuck : Component {
  std::string name() const override { return "stuck-unit"; }
  bool busy() const override { return true; }
  void dump_state(std::ostream& out) const override { out << "  waiting for a barrier that never arrives\n"; }
};
}  // namespace

TEST_CASE("a deadlock names the busy component and dumps every state", "[sim][engine]") {
  Engine e;
  Stuck s;
  e.add_component(&s);
  e.schedule(Time::ns(1), Priority::kDefault, [] {});
  try {
    e.run();
    FAIL("no deadlock reported");
  } catch (const SimulationError& err) {
    CHECK_THAT(err.what(),
               Catch::Contains("deadlock") && Catch::Contains("stuck-unit") && Catch::Contains("never arrives"));
  }
}

TEST_CASE("the watchdog stops a simulation that makes no progress", "[sim][engine]") {
  Engine e;
  e.set_watchdog(1000);
  std::function<void()> spin = [&] { e.schedule_in(Time::ns(100), Priority::kDefault, spin); };
  e.schedule(Time::ps(0), Priority::kDefault, spin);
  CHECK_THROWS_WITH(e.run(), Catch::Contains("watchdog"));
  CHECK(e.events_run() == 1001);
}

TEST_CASE("the watchdog lets a slow but progressing simulation finish", "[sim][engine]") {
  // One unit of work per simulated hour, for 1000 hours: long gaps, but progress at every step.
  Engine e;
  e.set_watchdog(10);
  int left = 1000;
  std::function<void()> work = [&] {
    e.progress();
    if (--left > 0) e.schedule_in(Time::ms(3'600'000), Priority::kDefault, work);
  };
  e.schedule(Time::ps(0), Priority::kDefault, work);
  uint64_t reported = 0;
  e.set_reporter([&](uint64_t events) { reported = events; }, 100);
  CHECK_NOTHROW(e.run());
  CHECK(left == 0);
  CHECK(e.now() == Time::ms(3'600'000LL * 999));
  CHECK(reported == 1000);
}

TEST_CASE("a clock converts cycles and time exactly; boundary probes at t-1 and t", "[sim][engine]") {
  Clock sm(parse_frequency("1.83GHz"));
  CHECK(sm.time_of(0) == Time::ps(0));
  CHECK(sm.time_of(1830) == Time::us(1));
  const Time t10 = sm.time_of(10);  // ceil(10 / 1.83 GHz) = 5465 ps
  CHECK(t10 == Time::ps(5465));
  CHECK(sm.cycle_at(t10) == 10);
  CHECK(sm.cycle_at(t10 - Time::ps(1)) == 9);
  CHECK(sm.next_cycle(t10 - Time::ps(1)) == 10);
  CHECK(sm.next_cycle(t10) == 10);
  CHECK(sm.next_cycle(t10 + Time::ps(1)) == 11);
}
