#include "sim/engine/engine.h"

#include <fmt/format.h>

#include <sstream>

namespace v3sim::engine {

void Engine::schedule(Time at, Priority priority, Callback cb) {
  V3SIM_ASSERT_MSG(at >= m_now,
                   fmt::format("event scheduled in the past: {} < now {}", to_string(at), to_string(m_now)));
  m_queue.push(Event{at, priority, m_seq++, std::move(cb)});
}

void Engine::run(Time until) {
  m_last_progress = m_events;
  Time progress_at = m_now;
  while (!m_queue.empty()) {
    if (m_queue.top().at > until) return;
    // Copy out before popping: the callback may schedule new events.
    Event ev = std::move(const_cast<Event&>(m_queue.top()));
    m_queue.pop();
    m_now = ev.at;
    const uint64_t before = m_last_progress;
    ev.cb();
    ++m_events;
    if (m_last_progress != before) progress_at = m_now;
    if (m_events - m_last_progress > m_watchdog) {
      fail(fmt::format("no progress in {} events since {} of simulated time (watchdog)", m_events - m_last_progress,
                       to_string(progress_at)));
    }
    if (m_report_every > 0 && m_events % m_report_every == 0) m_report(m_events);
  }
  for (const Component* c : m_components) {
    if (c->busy()) fail(fmt::format("deadlock: no events left while {} still has work", c->name()));
  }
}

std::string Engine::dump() const {
  std::ostringstream out;
  for (const Component* c : m_components) {
    out << "[" << c->name() << "]\n";
    c->dump_state(out);
  }
  return out.str();
}

void Engine::fail(const std::string& why) const {
  throw SimulationError(fmt::format("simulation stopped at {}: {}\n{}", to_string(m_now), why, dump()));
}

int64_t Clock::cycle_at(Time t) const {
  // Largest n with ceil(n * 1e12 / f) <= t, i.e. n * 1e12 <= t * f.
  __extension__ using i128 = __int128;
  const i128 n = (static_cast<i128>(t.picoseconds()) * m_freq.hertz()) / 1'000'000'000'000LL;
  return static_cast<int64_t>(n);
}

int64_t Clock::next_cycle(Time t) const {
  int64_t n = cycle_at(t);
  return time_of(n) < t ? n + 1 : n;
}

}  // namespace v3sim::engine
