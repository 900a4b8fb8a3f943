// A first-come-first-served resource with a rate: a link, a memory port, a pipeline that takes one item at a
// time. Requests arrive in non-decreasing time order (the engine runs events in time order), so a reservation is
// "start when both the request and the resource are ready, hold it for the duration".
#pragma once

#include <algorithm>

#include "core/units.h"

namespace v3sim::engine {

class FifoServer {
 public:
  // Holds the resource for `duration` from the later of `at` and the end of the previous reservation; returns the
  // start. Example: free at 10 ns, reserve(at 4 ns, 3 ns) -> starts 10 ns, free again at 13 ns.
  Time reserve(Time at, Time duration) {
    const Time start = std::max(at, m_free);
    m_free = start + duration;
    m_busy += duration;
    return start;
  }
  Time free_at() const { return m_free; }
  Time busy() const { return m_busy; }

 private:
  Time m_free;
  Time m_busy;
};

}  // namespace v3sim::engine
