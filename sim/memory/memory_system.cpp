#include "sim/memory/memory_system.h"

#include <cmath>
#include <ostream>

namespace v3sim::memory {

namespace {
Time bytes_time(int64_t bytes, double ps_per_byte) {
  return Time::ps(static_cast<int64_t>(std::ceil(static_cast<double>(bytes) * ps_per_byte)));
}
}  // namespace

MemorySystem::MemorySystem(engine::Engine& engine, const HardwareConfig& hw, const engine::Clock& sm_clock)
    : m_engine(engine), m_hw(hw) {
  const double period_ps = 1e12 / static_cast<double>(sm_clock.frequency().hertz());
  m_l2_ps_per_byte = period_ps / static_cast<double>(hw.l2.bytes_per_clk);
  m_hbm_ps_per_byte = 1e12 / (static_cast<double>(hw.hbm.bandwidth.bytes_per_second()) * hw.hbm.achievable_fraction);
  m_l2_latency = sm_clock.time_of(hw.l2.hit_latency_cycles);
  m_hbm_latency = sm_clock.time_of(hw.hbm.latency_cycles);
  m_write_slack = bytes_time(hw.l2.capacity.count(), m_hbm_ps_per_byte);
  engine.add_component(this);
}

void MemorySystem::insert(uint64_t key, int64_t bytes, Time ready) {
  m_lru.push_front(key);
  m_lines[key] = Line{bytes, ready, m_lru.begin()};
  m_resident += bytes;
  while (m_resident > m_hw.l2.capacity.count() && m_lru.size() > 1) {
    const uint64_t victim = m_lru.back();
    m_lru.pop_back();
    auto it = m_lines.find(victim);
    m_resident -= it->second.bytes;
    m_lines.erase(it);
  }
}

void MemorySystem::read(uint64_t key, int64_t bytes, std::function<void()> done) {
  const Time now = m_engine.now();
  const Time transfer = bytes_time(bytes, m_l2_ps_per_byte);
  const Time l2_start = m_l2.reserve(now, transfer);
  Time arrive = l2_start + transfer + m_l2_latency;
  auto it = m_lines.find(key);
  if (it != m_lines.end()) {
    ++m_stats.l2_hits;
    arrive = std::max(arrive, it->second.ready + transfer);  // a box still in flight from HBM: wait for it
    m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
  } else {
    ++m_stats.l2_misses;
    m_stats.hbm_read_bytes += bytes;
    const Time hbm_transfer = bytes_time(bytes, m_hbm_ps_per_byte);
    const Time hbm_start = m_hbm.reserve(now, hbm_transfer);
    const Time in_l2 = hbm_start + hbm_transfer + m_hbm_latency;
    arrive = std::max(arrive, in_l2 + m_l2_latency);
    insert(key, bytes, in_l2);
  }
  m_stats.l2_bytes += bytes;
  m_engine.schedule(arrive, engine::Priority::kDefault, std::move(done));
}

void MemorySystem::write(int64_t bytes, std::function<void()> done) {
  const Time now = m_engine.now();
  const Time transfer = bytes_time(bytes, m_l2_ps_per_byte);
  const Time l2_start = m_l2.reserve(now, transfer);
  const Time hbm_transfer = bytes_time(bytes, m_hbm_ps_per_byte);
  const Time drained = m_hbm.reserve(now, hbm_transfer) + hbm_transfer;
  m_stats.l2_bytes += bytes;
  m_stats.hbm_write_bytes += bytes;
  Time accepted = l2_start + transfer + m_l2_latency;
  if (drained > now + m_write_slack) accepted = std::max(accepted, drained - m_write_slack);
  m_engine.schedule(accepted, engine::Priority::kDefault, std::move(done));
}

void MemorySystem::flush() {
  m_lines.clear();
  m_lru.clear();
  m_resident = 0;
}

void MemorySystem::dump_state(std::ostream& out) const {
  out << "  L2 lines " << m_lines.size() << " (" << m_resident << " B), L2 free at " << to_string(m_l2.free_at())
      << ", HBM free at " << to_string(m_hbm.free_at()) << ", hits " << m_stats.l2_hits << ", misses "
      << m_stats.l2_misses << "\n";
}

}  // namespace v3sim::memory
