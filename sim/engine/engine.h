// The discrete-event engine every timed model of sim/ runs on: events at integer picosecond times, ordered by
// (time, priority, insertion order) so runs are reproducible; typed clocks that convert between cycles and time;
// a watchdog that turns a deadlock or a livelock (events without progress) into an error that dumps every
// component's state. A slow but progressing simulation (a what-if chip at 1 FLOP per clock, hours of simulated
// time) is never stopped: the watchdog counts events, not simulated time.
//
// Lifecycle: construct the engine, construct components (they register themselves and may schedule initial
// events), run(), then read the components' statistics.
//
// Example:
//   Engine e;
//   Clock sm(e, parse_frequency("1.83GHz"));
//   e.schedule(sm.time_of(10), Priority::kDefault, [&] { ... });   // at cycle 10
//   e.run();
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace v3sim::engine {

// Same-time events run in this order (lower first); ties keep their scheduling order.
enum class Priority : int8_t { kFirst = 0, kHigh = 10, kDefault = 50, kLow = 90, kLast = 100 };

// Something the watchdog can ask about when the simulation stops making progress.
class Component {
 public:
  virtual ~Component() = default;
  virtual std::string name() const = 0;
  // True when the component still has work it is waiting to do (a deadlock if the event queue runs dry).
  virtual bool busy() const { return false; }
  // One or more lines describing the component's state for a deadlock report.
  virtual void dump_state(std::ostream& out) const = 0;
};

// A simulation that deadlocked or stalled: what() holds the reason and every component's state.
class SimulationError : public InternalError {
 public:
  using InternalError::InternalError;
};

class Engine {
 public:
  using Callback = std::function<void()>;

  Time now() const { return m_now; }
  // Schedules `cb` at absolute time `at`. @pre at >= now()
  void schedule(Time at, Priority priority, Callback cb);
  void schedule_in(Time delay, Priority priority, Callback cb) { schedule(m_now + delay, priority, std::move(cb)); }

  // Components report progress (work retired); the watchdog fires when `events` events run without any.
  void progress() { m_last_progress = m_events; }
  void set_watchdog(uint64_t events) { m_watchdog = events; }
  // Calls `report(events run so far)` every `every` events (progress lines of long simulations).
  void set_reporter(std::function<void(uint64_t)> report, uint64_t every) {
    m_report = std::move(report);
    m_report_every = every;
  }
  void add_component(const Component* c) { m_components.push_back(c); }

  // Runs events until none are left (or `until`, if given). Throws SimulationError when the queue runs dry
  // while a component is busy (deadlock) or when the watchdog's count of events runs without progress.
  void run(Time until = Time::ps(INT64_MAX));
  uint64_t events_run() const { return m_events; }

  // Every registered component's state, one block each.
  std::string dump() const;

 private:
  // The heap holds small keys; the callbacks wait in slots, so that reordering the heap moves 24 bytes, not a
  // std::function. Events run in the order of (time, priority, scheduling order).
  struct Key {
    int64_t at;      // picoseconds
    uint64_t order;  // priority in the top 8 bits, then the scheduling sequence number
    uint32_t slot;   // of the callback
  };
  struct Later {
    bool operator()(const Key& a, const Key& b) const { return a.at != b.at ? a.at > b.at : a.order > b.order; }
  };
  [[noreturn]] void fail(const std::string& why) const;

  std::vector<Key> m_heap;
  std::vector<Callback> m_slots;
  std::vector<uint32_t> m_free;  // slots whose callback has run
  Time m_now;
  uint64_t m_seq = 0;
  uint64_t m_events = 0;
  uint64_t m_last_progress = 0;
  uint64_t m_watchdog = 20'000'000;  // events without progress before giving up (a few seconds of a livelock)
  std::function<void(uint64_t)> m_report;
  uint64_t m_report_every = 0;
  std::vector<const Component*> m_components;
};

// A clock domain: converts between its cycles and engine time. Cycle n starts at n * period (the period is
// rounded to the picosecond; at 1.83 GHz, 546 ps plus an exact correction so that cycle n is at n/f rounded up).
class Clock {
 public:
  explicit Clock(Frequency f) : m_freq(f) { V3SIM_ASSERT(f.hertz() > 0); }
  Frequency frequency() const { return m_freq; }
  // Start time of cycle n (exactly ceil(n / f) in picoseconds).
  Time time_of(int64_t cycle) const { return m_freq.cycles(cycle); }
  // The cycle in progress at time t (the last cycle that started at or before t).
  int64_t cycle_at(Time t) const;
  // The first cycle starting at or after t.
  int64_t next_cycle(Time t) const;

 private:
  Frequency m_freq;
};

}  // namespace v3sim::engine
