#include "sim/sm/sm.h"

#include <fmt/format.h>

#include <ostream>

#include "core/math.h"

namespace v3sim::sm {

Sm::Sm(int index, engine::Engine& engine, const HardwareConfig& hw, const engine::Clock& clock,
       memory::MemorySystem& memory)
    : m_index(index), m_engine(engine), m_hw(hw), m_clock(clock), m_memory(memory) {
  engine.add_component(this);
}

void Sm::add_barrier(int id, int expected) {
  if (static_cast<size_t>(id) >= m_barriers.size()) m_barriers.resize(static_cast<size_t>(id) + 1);
  m_barriers[static_cast<size_t>(id)].expected = expected;
}

void Sm::add_warpgroup(std::unique_ptr<Program> program) {
  Warpgroup g;
  g.program = std::move(program);
  m_wgs.push_back(std::move(g));
}

void Sm::start(Time at) {
  for (size_t w = 0; w < m_wgs.size(); ++w) resume_at(static_cast<int>(w), at);
}

bool Sm::finished() const {
  for (const auto& g : m_wgs)
    if (!g.done) return false;
  return true;
}

SmStats Sm::stats() const {
  SmStats s = m_stats;
  s.tensor_busy = m_tensor.busy();
  s.smem_busy = m_smem.busy() + m_operand_fetch;
  s.issue_busy = m_issue.busy();
  s.tma_busy = m_tma.busy();
  return s;
}

std::string Sm::name() const {
  return fmt::format("sm{}", m_index);
}

void Sm::dump_state(std::ostream& out) const {
  for (size_t w = 0; w < m_wgs.size(); ++w) {
    const Warpgroup& g = m_wgs[w];
    out << fmt::format("  wg{}: {}{}, {} wgmma groups pending, {} stores pending\n", w,
                       g.done ? "done" : (g.blocked ? "blocked" : "running"),
                       g.blocked ? " on " + g.waiting_on : std::string(), g.groups.size(), g.stores_pending);
  }
  for (size_t b = 0; b < m_barriers.size(); ++b) {
    const Barrier& x = m_barriers[b];
    out << fmt::format("  barrier {}: phase {}, {}/{} arrivals, tx {}\n", b, x.completed, x.arrived, x.expected, x.tx);
  }
}

void Sm::resume_at(int wg, Time at) {
  m_engine.schedule(at, engine::Priority::kDefault, [this, wg] { step(wg); });
}

void Sm::try_complete(Barrier& b) {
  if (b.arrived < b.expected || b.tx != 0) return;
  b.arrived -= b.expected;
  ++b.completed;
  const Time wake = m_engine.now() + cycles(m_hw.kernel.barrier_latency_cycles);
  auto& ws = b.waiters;
  for (size_t i = 0; i < ws.size();) {
    if (ws[i].second < b.completed) {
      resume_at(ws[i].first, wake);
      ws[i] = ws.back();
      ws.pop_back();
    } else {
      ++i;
    }
  }
}

void Sm::arrive(int id, int64_t tx_done, int arrivals) {
  Barrier& b = m_barriers[static_cast<size_t>(id)];
  b.tx -= tx_done;
  b.arrived += arrivals;
  try_complete(b);
}

void Sm::expect(int id, int64_t bytes) {
  Barrier& b = m_barriers[static_cast<size_t>(id)];
  b.tx += bytes;
  b.arrived += 1;
  try_complete(b);
}

void Sm::step(int w) {
  Warpgroup& g = m_wgs[static_cast<size_t>(w)];
  g.blocked = false;
  while (true) {
    if (!g.has_current) {
      // The previous instruction retired: progress for the watchdog (however long it took in simulated time).
      g.current = g.program->next();
      g.has_current = true;
      m_engine.progress();
    }
    const Instr& in = g.current;
    const Time now = m_engine.now();
    Flow flow = Flow::Next;
    switch (in.op) {
      case Instr::Op::Exit:
        g.done = true;
        m_stats.finish = std::max(m_stats.finish, now);
        m_engine.progress();
        return;
      case Instr::Op::Issue:
        flow = run_issue(w, g, in, now);
        break;
      case Instr::Op::Wgmma:
        flow = run_wgmma(w, g, in, now);
        break;
      case Instr::Op::WgmmaCommit:
        g.groups.push_back(g.open_group_used ? g.open_group : now);
        g.open_group = Time();
        g.open_group_used = false;
        g.has_current = false;
        break;
      case Instr::Op::WgmmaWait:
        flow = run_wgmma_wait(w, g, in, now);
        break;
      case Instr::Op::BarrierWait:
        flow = run_barrier_wait(w, g, in);
        break;
      case Instr::Op::BarrierArrive:
        arrive(in.barrier, 0, 1);
        if (in.peer && m_peer) m_peer->arrive(in.barrier, 0, 1);
        g.has_current = false;
        break;
      case Instr::Op::ExpectTx:
        expect(in.barrier, in.bytes);
        g.has_current = false;
        break;
      case Instr::Op::TmaLoad:
        flow = run_tma_load(w, g, in, now);
        break;
      case Instr::Op::TmaStore:
        flow = run_tma_store(w, g, in, now);
        break;
      case Instr::Op::TmaStoreWait:
        if (g.stores_pending == 0) {
          g.has_current = false;
          break;
        }
        g.blocked = true;
        g.waiting_on = "tma store";
        return;
      case Instr::Op::GlobalLoad:
        flow = run_global_load(w, g, in, now);
        break;
      case Instr::Op::Smem:
        flow = run_smem(w, g, in, now);
        break;
    }
    if (flow == Flow::Wait) return;
  }
}

// Issue: `count` cycles on the issue slots.
Sm::Flow Sm::run_issue(int w, Warpgroup& g, const Instr& in, Time now) {
  const Time dur = cycles(in.count);
  const Time start = m_issue.reserve(now, dur);
  m_stats.issue_by_kind[static_cast<int>(in.kind)] += dur;
  g.has_current = false;
  resume_at(w, start + dur);
  return Flow::Wait;
}

// Wgmma: a batch of wgmmas through the tensor pipe, joining the open group.
Sm::Flow Sm::run_wgmma(int w, Warpgroup& g, const Instr& in, Time now) {
  // A warp issues its wgmmas back to back (the schedulers are greedy: a warp that stays ready keeps the
  // issue slot), so a warpgroup's batch enters the tensor pipe as a unit.
  const Time issue = cycles(m_hw.tensor.wgmma_issue_cycles * in.count);
  const Time issue_start = m_issue.reserve(now, issue);
  const Time ready = issue_start + issue;
  // One m64 x n x k wgmma: compute at the tensor rate, operands fetched from shared memory at the port's
  // bandwidth (A 64 x k and B n x k); the pipe is held for the longer of the two, and latency equals that
  // occupancy (N/2 cycles for FP8 N >= 64, hopper-microarch.md §1.2).
  const int64_t elem = in.fp8 ? 1 : 2;
  const int64_t flops = 2LL * 64 * in.n * in.k;
  const int64_t rate = in.fp8 ? m_hw.tensor.fp8_flops_per_clk : m_hw.tensor.bf16_flops_per_clk;
  const int64_t compute = ceil_div(flops, rate);
  const int64_t operand_bytes = (64LL + in.n) * in.k * elem;
  const int64_t fetch = ceil_div(operand_bytes, m_hw.smem.bytes_per_clk);
  const Time occupancy = cycles(std::max(compute, fetch));
  // The operand fetch is part of the pipe's occupancy; it is not queued on the shared-memory port, whose
  // remaining bandwidth serves the warps' own loads and stores (scales, epilogue) in between.
  for (int64_t i = 0; i < in.count; ++i) {
    // The i-th instruction of the batch can start once it has been issued.
    const Time start = m_tensor.reserve(issue_start + cycles(m_hw.tensor.wgmma_issue_cycles * (i + 1)), occupancy);
    g.open_group = std::max(g.open_group, start + occupancy);
  }
  m_operand_fetch += cycles(fetch * in.count);
  m_stats.smem_wavefronts += fetch * in.count;
  m_stats.wgmmas += in.count;
  g.open_group_used = true;
  g.has_current = false;
  resume_at(w, ready);
  return Flow::Wait;
}

// WgmmaWait: waits until at most `count` committed groups are pending.
Sm::Flow Sm::run_wgmma_wait(int w, Warpgroup& g, const Instr& in, Time now) {
  while (!g.groups.empty() && g.groups.front() <= now) g.groups.pop_front();
  if (static_cast<int64_t>(g.groups.size()) > in.count) {
    // Groups complete in order: wait for the oldest one that must finish.
    const size_t must = g.groups.size() - static_cast<size_t>(in.count);
    Time until = g.groups[must - 1];
    for (size_t i = 0; i < must; ++i) until = std::max(until, g.groups[i]);
    resume_at(w, until);
    return Flow::Wait;
  }
  g.has_current = false;
  return Flow::Next;
}

// BarrierWait: goes on if the phase has completed, else waits on the barrier.
Sm::Flow Sm::run_barrier_wait(int w, Warpgroup& g, const Instr& in) {
  Barrier& b = m_barriers[static_cast<size_t>(in.barrier)];
  if (b.completed > in.phase) {
    g.has_current = false;
    return Flow::Next;
  }
  b.waiters.emplace_back(w, in.phase);
  g.blocked = true;
  g.waiting_on = fmt::format("barrier {} phase {}", in.barrier, in.phase);
  return Flow::Wait;
}

// TmaLoad: a box from the memory system into shared memory, completing on the barrier(s).
Sm::Flow Sm::run_tma_load(int w, Warpgroup& g, const Instr& in, Time now) {
  const Time issue = cycles(m_hw.tma.issue_cycles);
  const Time start = m_issue.reserve(now, issue);
  m_tma.reserve(start, issue);
  const int barrier = in.barrier;
  const int64_t bytes = in.bytes;
  const int64_t landed = in.tx_bytes >= 0 ? in.tx_bytes : in.bytes;
  const uint64_t key = in.key;
  Sm* peer = in.peer ? m_peer : nullptr;
  const Time overhead = cycles(m_hw.tma.latency_overhead_cycles);
  ++m_stats.tma_loads;
  m_stats.tma_bytes += bytes;
  // The request reaches the memory system when issued; the data lands after the memory latency and the
  // TMA unit's own overhead, and completes its transaction bytes on the barrier(s).
  m_engine.schedule(start + issue, engine::Priority::kDefault, [this, barrier, bytes, landed, key, peer, overhead] {
    m_memory.read(key, bytes, [this, barrier, landed, peer, overhead] {
      m_engine.schedule_in(overhead, engine::Priority::kHigh, [this, barrier, landed, peer] {
        arrive(barrier, landed, 0);
        if (peer) peer->arrive(barrier, landed, 0);
      });
    });
  });
  g.has_current = false;
  resume_at(w, start + issue);
  return Flow::Wait;
}

// TmaStore: a tile out of shared memory to the memory system.
Sm::Flow Sm::run_tma_store(int w, Warpgroup& g, const Instr& in, Time now) {
  // The TMA unit reads the tile out of shared memory as the memory system accepts it; the warpgroup's
  // TmaStoreWait waits for that ("wait_group.read"), which backpressure from a saturated HBM delays.
  const Time issue = cycles(m_hw.tma.issue_cycles);
  const Time start = m_issue.reserve(now, issue);
  const int64_t bytes = in.bytes;
  const Time read = cycles((bytes + m_hw.tma.store_bytes_per_clk - 1) / m_hw.tma.store_bytes_per_clk);
  const Time read_start = m_tma.reserve(start + issue, read);
  ++g.stores_pending;
  m_stats.tma_bytes += bytes;
  m_engine.schedule(read_start + read, engine::Priority::kDefault, [this, w, bytes] {
    m_memory.write(bytes, [this, w] {
      Warpgroup& x = m_wgs[static_cast<size_t>(w)];
      --x.stores_pending;
      if (x.stores_pending == 0 && x.blocked && x.waiting_on == "tma store") resume_at(w, m_engine.now());
    });
  });
  g.has_current = false;
  resume_at(w, start + issue);
  return Flow::Wait;
}

// GlobalLoad: a plain load the warpgroup waits for.
Sm::Flow Sm::run_global_load(int w, Warpgroup& g, const Instr& in, Time now) {
  const Time issue = cycles(1);
  const Time start = m_issue.reserve(now, issue);
  const int64_t bytes = in.bytes;
  const uint64_t key = in.key;
  g.has_current = false;
  g.blocked = true;
  g.waiting_on = "global load";
  m_engine.schedule(start + issue, engine::Priority::kDefault,
                    [this, w, bytes, key] { m_memory.read(key, bytes, [this, w] { resume_at(w, m_engine.now()); }); });
  return Flow::Wait;
}

// Smem: wavefronts on the shared-memory port; a load waits for its data.
Sm::Flow Sm::run_smem(int w, Warpgroup& g, const Instr& in, Time now) {
  const Time issue = cycles(1);
  const Time start = m_issue.reserve(now, issue);
  const Time port = cycles(in.count);
  const Time s = m_smem.reserve(start + issue, port);
  m_stats.smem_wavefronts += in.count;
  g.has_current = false;
  resume_at(w, in.store ? start + issue : s + port + cycles(m_hw.smem.latency_cycles));
  return Flow::Wait;
}

}  // namespace v3sim::sm
