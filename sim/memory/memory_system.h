// The memory system all SMs share: an L2 cache (capacity, aggregate bandwidth, hit latency) in front of HBM
// (bandwidth at its achievable fraction, miss latency). Requests are whole TMA boxes identified by a key, so a
// box that another SM has loaded (or is loading) hits. Bandwidths are FIFO servers: contention, and the point
// where a kernel becomes memory-bound, come from the queueing, not from a formula.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>

#include "sim/engine/engine.h"
#include "sim/engine/server.h"
#include "sim/hardware.h"

namespace v3sim::memory {

struct MemoryStats {
  int64_t l2_hits = 0;
  int64_t l2_misses = 0;
  int64_t l2_bytes = 0;  // delivered to SMs (reads) plus accepted from SMs (writes)
  int64_t hbm_read_bytes = 0;
  int64_t hbm_write_bytes = 0;
  Time l2_busy;
  Time hbm_busy;
};

class MemorySystem : public engine::Component {
 public:
  // `sm_clock` turns the L2's bytes per clock and the latencies in cycles into times (read here, not kept).
  MemorySystem(engine::Engine& engine, const HardwareConfig& hw, const engine::Clock& sm_clock);

  // Reads a box of `bytes` named `key` from global memory; `done` runs when it has arrived in the SM.
  void read(uint64_t key, int64_t bytes, std::function<void()> done);
  // Writes `bytes` to global memory; `done` runs when the L2 has accepted them. The L2 holds dirty data ahead
  // of HBM up to its capacity: past that, a write is accepted only as fast as HBM drains (backpressure).
  void write(int64_t bytes, std::function<void()> done);
  // Empties the L2 (DeepGEMM's benchmark flushes the cache between runs).
  void flush();

  MemoryStats stats() const {
    MemoryStats s = m_stats;
    s.l2_busy = m_l2.busy();
    s.hbm_busy = m_hbm.busy();
    return s;
  }
  std::string name() const override { return "memory"; }
  void dump_state(std::ostream& out) const override;

 private:
  struct Line {
    int64_t bytes = 0;
    Time ready;
    std::list<uint64_t>::iterator lru;
  };
  void insert(uint64_t key, int64_t bytes, Time ready);

  engine::Engine& m_engine;
  const HardwareConfig& m_hw;
  engine::FifoServer m_l2;
  engine::FifoServer m_hbm;
  double m_l2_ps_per_byte = 0;
  double m_hbm_ps_per_byte = 0;
  Time m_l2_latency;
  Time m_hbm_latency;
  Time m_write_slack;  // how far the L2 may run ahead of HBM with dirty data: capacity / HBM rate
  std::unordered_map<uint64_t, Line> m_lines;
  std::list<uint64_t> m_lru;  // front = most recent
  int64_t m_resident = 0;
  MemoryStats m_stats;
};

}  // namespace v3sim::memory
