#include "sim/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace v3sim::engine {

void Engine::schedule(Time at, Priority priority, Callback cb) {
  V3SIM_ASSERT_MSG(at >= m_now,
                   fmt::format("event scheduled in the past: {} < now {}", to_string(at), to_string(m_now)));
  V3SIM_ASSERT(m_seq < (uint64_t{1} << 56));
  uint32_t slot = 0;
  if (m_free.empty()) {
    slot = static_cast<uint32_t>(m_slots.size());
    m_slots.push_back(std::move(cb));
  } else {
    slot = m_free.back();
    m_free.pop_back();
    m_slots[slot] = std::move(cb);
  }
  const auto p = static_cast<uint64_t>(static_cast<uint8_t>(priority));
  m_heap.push_back(Key{at.picoseconds(), (p << 56) | m_seq++, slot});
  std::push_heap(m_heap.begin(), m_heap.end(), Later{});
}

void Engine::run(Time until) {
  m_last_progress = m_events;
  Time progress_at = m_now;
  while (!m_heap.empty()) {
    if (m_heap.front().at > until.picoseconds()) return;
    std::pop_heap(m_heap.begin(), m_heap.end(), Later{});
    const Key k = m_heap.back();
    m_heap.pop_back();
    // Moved out before it runs: the callback may schedule new events, into this slot too.
    Callback cb = std::move(m_slots[k.slot]);
    m_slots[k.slot] = nullptr;
    m_free.push_back(k.slot);
    m_now = Time::ps(k.at);
    const uint64_t before = m_last_progress;
    cb();
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
