#include "sim/exec/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <tuple>

#include "core/error.h"
#include "sim/exec/pipeline.h"

namespace v3sim::exec {

namespace {

constexpr int32_t kNoStep = -1;
constexpr uint32_t kNoOp = std::numeric_limits<uint32_t>::max();

// Step of each (rank, micro-batch, part) in the ranks' programs.
class StepMap {
 public:
  StepMap(const ExecOptions& o) : m_pp(o.pp * o.replicas), m_mbs(o.micro_batches) {
    m_index.assign(static_cast<size_t>(m_pp * m_mbs * 3), kNoStep);
    m_steps.assign(static_cast<size_t>(m_pp), 0);
    m_peak.assign(static_cast<size_t>(m_pp), 0);
    for (int64_t r = 0; r < m_pp; ++r) {
      if (o.forward_only) {
        // Inference: every micro-batch in one step, so they overlap.
        for (int64_t mb = 0; mb < m_mbs; ++mb) at(r, mb, 0) = 0;
        m_steps[static_cast<size_t>(r)] = 1;
        m_peak[static_cast<size_t>(r)] = m_mbs;
        continue;
      }
      auto program = o.chunk_pair ? chunk_pair_program() : rank_program(o.schedule, o.pp, m_mbs, r % o.pp);
      for (size_t s = 0; s < program.size(); ++s) {
        for (const Chunk& c : program[s].chunks) {
          const int slot = c.part == ChunkPart::Forward ? 0 : c.part == ChunkPart::Weight ? 2 : 1;
          int32_t& dst = at(r, c.micro_batch, slot);
          V3SIM_ASSERT(dst == kNoStep);
          dst = static_cast<int32_t>(s);
        }
      }
      m_steps[static_cast<size_t>(r)] = static_cast<int64_t>(program.size());
      m_peak[static_cast<size_t>(r)] = peak_in_flight(program);
      for (size_t s = 0; s < program.size(); ++s) {
        const auto& cs = program[s].chunks;
        if (cs.size() == 2 && (cs[0].part == ChunkPart::Forward) != (cs[1].part == ChunkPart::Forward)) {
          m_paired.emplace(r * (1 << 20) + static_cast<int64_t>(s));
        }
      }
    }
  }

  // The step of an op; per-step ops go before the first step (weight casts) or after the last.
  int32_t step_of(const OpNode& n, const OpDesc& d) const {
    const auto r = static_cast<int64_t>(n.pp_rank);
    if (d.pass == Pass::Optimizer) {
      return d.kind == OpKind::WeightCast ? 0 : static_cast<int32_t>(m_steps[static_cast<size_t>(r)]);
    }
    const auto mb = static_cast<int64_t>(n.micro_batch);
    V3SIM_ASSERT(mb < m_mbs);
    int32_t s = kNoStep;
    if (d.pass == Pass::Forward) {
      s = get(r, mb, 0);
    } else if (d.pass == Pass::Dgrad) {
      s = get(r, mb, 1);
    } else {
      s = get(r, mb, 2);
      if (s == kNoStep) s = get(r, mb, 1);
    }
    if (s == kNoStep) {
      throw InternalError(fmt::format("op {} (micro-batch {}, pass {}) has no chunk in the program of rank {}", d.name,
                                      mb, to_string(d.pass), r));
    }
    return s;
  }
  int64_t steps(int64_t rank) const { return m_steps[static_cast<size_t>(rank)] + 1; }
  // A step that overlaps a forward chunk with a backward one (DualPipe's pairs): its streams issue in the pair's order.
  bool paired(int64_t rank, int64_t step) const { return m_paired.count(rank * (1 << 20) + step) != 0; }
  int64_t peak(int64_t rank) const { return m_peak[static_cast<size_t>(rank)]; }

 private:
  int32_t& at(int64_t r, int64_t mb, int slot) { return m_index[static_cast<size_t>((r * m_mbs + mb) * 3 + slot)]; }
  int32_t get(int64_t r, int64_t mb, int slot) const {
    return m_index[static_cast<size_t>((r * m_mbs + mb) * 3 + slot)];
  }
  int64_t m_pp, m_mbs;
  std::vector<int32_t> m_index;
  std::vector<int64_t> m_steps;
  std::vector<int64_t> m_peak;
  std::set<int64_t> m_paired;
};

// DualPipe overlaps a forward chunk with a backward one layer by layer, issuing each layer pair's work in the
// order of its overlapped_forward_backward (profile-data train.json, the CPU's annotations of one pair): the
// backward layer's combine (its dY all-to-all), the forward layer's attention and routing, the backward layer's
// expert input gradients, both dispatches, the backward layer's expert weight gradients, the forward layer's
// experts, the backward layer's attention (input, then weight gradients), the forward layer's combine. Forward
// layer i pairs with backward layer n-1-i of the stage.
enum PairPhase : uint64_t {
  kCombineB = 0,
  kAttnF = 1,
  kMlpB = 2,
  kDispatchF = 3,
  kDispatchB = 4,
  kMlpW = 5,
  kMlpF = 6,
  kAttnB = 7,
  kAttnW = 8,
  kCombineF = 9,
};

// Issue keys of the ops of paired steps: (layer pair, phase, op id). Each stream issues its ops of such a step in
// key order, first in first out, as CUDA streams run kernels in launch order.
std::vector<uint64_t> pair_issue_keys(const OpGraph& g) {
  const size_t n = g.num_ops();
  std::vector<uint64_t> keys(n, 0);
  // Layers of each (stage, micro-batch) in order.
  std::map<std::pair<uint32_t, uint32_t>, std::vector<int32_t>> layers;
  for (OpId id = 0; id < n; ++id) {
    const OpNode& nd = g.node(id);
    const int32_t l = g.desc(id).layer;
    if (l >= 0) layers[{nd.stage, nd.micro_batch}].push_back(l);
  }
  for (auto& [k, v] : layers) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  // MoE ops on the near side of a layer's all-to-all: ancestors (same layer, micro-batch and direction) of its
  // forward dispatch, of its dY all-to-all (combine.bwd) and of its gradient combine (dispatch.bwd); descendants of
  // its forward combine and of its gradient combine.
  enum Mark : uint8_t {
    kBeforeDispatchF = 1,
    kAfterCombineF = 2,
    kBeforeCombineB = 4,
    kBeforeDispatchB = 8,
    kAfterDispatchB = 16
  };
  std::vector<uint8_t> mark(n, 0);
  auto same = [&](OpId a, OpId b) {
    const OpDesc& da = g.desc(a);
    const OpDesc& db = g.desc(b);
    return da.module == Module::Moe && da.layer == db.layer && g.node(a).micro_batch == g.node(b).micro_batch &&
           (da.pass == Pass::Forward) == (db.pass == Pass::Forward);
  };
  auto walk = [&](OpId from, uint8_t m, bool up) {
    std::vector<OpId> stack{from};
    while (!stack.empty()) {
      const OpId x = stack.back();
      stack.pop_back();
      auto visit = [&](OpId y) {
        if ((mark[y] & m) == 0 && same(y, from)) {
          mark[y] |= m;
          stack.push_back(y);
        }
      };
      if (up) {
        for (OpId y : g.predecessors(x)) visit(y);
      } else {
        for (OpId y : g.successors(x)) visit(y);
      }
    }
  };
  for (OpId id = 0; id < n; ++id) {
    const OpDesc& d = g.desc(id);
    if (d.module != Module::Moe) continue;
    const bool fwd = d.pass == Pass::Forward;
    if (d.kind == OpKind::AllToAllDispatch) {
      walk(id, fwd ? kBeforeDispatchF : kBeforeCombineB, true);
    } else if (d.kind == OpKind::AllToAllCombine) {
      if (fwd) {
        walk(id, kAfterCombineF, false);
      } else {
        walk(id, kBeforeDispatchB, true);
        walk(id, kAfterDispatchB, false);
      }
    }
  }
  for (OpId id = 0; id < n; ++id) {
    const OpNode& nd = g.node(id);
    const OpDesc& d = g.desc(id);
    const bool fwd = d.pass == Pass::Forward;
    uint64_t phase = fwd ? kAttnF : d.pass == Pass::Wgrad ? kAttnW : kAttnB;
    if (d.module == Module::Moe) {
      const uint8_t m = mark[id];
      if (fwd) {
        phase = d.kind == OpKind::AllToAllDispatch  ? kDispatchF
                : d.kind == OpKind::AllToAllCombine ? kCombineF
                : (m & kBeforeDispatchF)            ? kAttnF
                : (m & kAfterCombineF)              ? kCombineF
                                                    : kMlpF;
      } else if (d.kind == OpKind::AllToAllDispatch || (m & kBeforeCombineB)) {
        phase = kCombineB;
      } else if (d.kind == OpKind::AllToAllCombine) {
        phase = kDispatchB;
      } else if (m & kAfterDispatchB) {
        phase = d.pass == Pass::Wgrad ? kAttnW : kAttnB;
      } else {
        phase = d.pass == Pass::Wgrad ? kMlpW : kMlpB;
      }
    }
    uint64_t pair = 0;
    const auto it = layers.find({nd.stage, nd.micro_batch});
    const int64_t count = it == layers.end() ? 1 : static_cast<int64_t>(it->second.size());
    int64_t pos = 0;
    if (d.layer >= 0 && it != layers.end()) {
      pos = std::lower_bound(it->second.begin(), it->second.end(), d.layer) - it->second.begin();
    } else if (d.module == Module::Head) {
      pos = count - 1;  // the head follows the last layer
    }
    pair = static_cast<uint64_t>(fwd ? pos : count - 1 - pos);
    keys[id] = (pair * 16 + phase) << 32 | id;
  }
  return keys;
}

// Ready ops of one stream of one rank, ordered by (step, ready time, op id).
using ReadyKey = std::tuple<int32_t, int64_t, uint32_t>;
using ReadyQueue = std::priority_queue<ReadyKey, std::vector<ReadyKey>, std::greater<>>;

struct Lane {
  ReadyQueue ready;
  std::vector<int64_t> unstarted;  // per step
  int32_t next_step = 0;
  bool busy = false;
  std::vector<std::vector<OpId>> fifo;  // per paired step: its ops in issue order
  std::vector<size_t> fifo_next;        // per paired step: the next op to issue
};

}  // namespace

namespace {

class Executor {
 public:
  Executor(const OpGraph& graph, const std::vector<Time>& desc_time, const std::vector<Stream>& desc_stream,
           const ExecOptions& options)
      : m_graph(graph),
        m_time(desc_time),
        m_stream(desc_stream),
        m_steps(options),
        m_pp(static_cast<size_t>(options.pp * options.replicas)),
        m_gate(!options.forward_only),
        m_launch_gap(options.launch_gap) {}

  ExecResult run();

 private:
  struct RankState {
    std::vector<int64_t> inputs_pending;  // per step: cross-rank inputs not yet received
    std::vector<int64_t> sends_pending;   // per step: pipeline sends not yet finished
    std::vector<int64_t> compute_left;    // per step: compute ops not yet finished
    std::vector<std::vector<OpId>> held;  // per step: finished ops whose cross-rank outputs wait for the step
    int64_t open = 0;                     // steps below this may issue
    int64_t sends_done = 0;               // steps below this have finished their sends
    Time last_compute_end;
    // The compute kernel running on either compute stream. The compute kernels of training hold every SM they
    // may use (persistent GEMMs of one CTA per SM, at 218 KB of shared memory each: profile-data train.json), so
    // a kernel of the other compute stream gets SMs only when it ends, as the block scheduler hands out the SMs
    // in launch order.
    uint32_t sm_holder = kNoOp;
  };

  size_t lane_index(OpId id) const {
    const OpNode& n = m_graph.node(id);
    return n.pp_rank * kStreams + static_cast<size_t>(m_stream[n.desc]);
  }
  bool is_send(OpId id) const { return m_graph.desc(id).kind == OpKind::SendRecv; }
  bool open_steps(size_t r);
  void touch_rank(size_t r) {
    for (int st = 0; st < kStreams; ++st) m_touched.push_back(r * kStreams + static_cast<size_t>(st));
  }
  void deliver(OpId from, OpId to, int64_t now);
  void dispatch(size_t lane, int64_t now);
  void finish(OpId id, int64_t now);

  const OpGraph& m_graph;
  const std::vector<Time>& m_time;
  const std::vector<Stream>& m_stream;
  const StepMap m_steps;
  const size_t m_pp;
  const bool m_gate;  // training: steps open as DualPipe's loop opens them
  const Time m_launch_gap;

  std::vector<int32_t> m_step;
  std::vector<uint32_t> m_pending;
  std::vector<int64_t> m_ready_at;
  std::vector<uint32_t> m_critical;  // the predecessor that finished last
  // Collectives (OpNode::collective): members in the group, members started so far, the last start.
  std::vector<int32_t> m_group_size, m_group_started;
  std::vector<int64_t> m_group_last_start;
  std::vector<std::vector<OpId>> m_group_members;

  std::vector<Lane> m_lanes;
  std::vector<RankState> m_ranks;
  std::vector<size_t> m_touched;
  std::priority_queue<std::pair<int64_t, uint32_t>, std::vector<std::pair<int64_t, uint32_t>>, std::greater<>> m_events;
  ExecResult m_res;
};

// A training step opens, as DualPipe's loop does (batch_isend_irecv, then wait for all), once every input it
// receives from another rank has arrived and the pipeline sends of its earlier steps have finished.
bool Executor::open_steps(size_t r) {
  RankState& rs = m_ranks[r];
  bool moved = false;
  while (static_cast<size_t>(rs.open) < rs.inputs_pending.size()) {
    const auto k = static_cast<size_t>(rs.open);
    while (rs.sends_done < rs.open && rs.sends_pending[static_cast<size_t>(rs.sends_done)] == 0) ++rs.sends_done;
    if (rs.sends_done < rs.open || rs.inputs_pending[k] != 0) break;
    ++rs.open;
    moved = true;
  }
  return moved;
}

void Executor::deliver(OpId from, OpId to, int64_t now) {
  // Deliveries happen in time order, so the last one to arrive is the critical input.
  m_ready_at[to] = now;
  m_critical[to] = from;
  const OpNode& fn = m_graph.node(from);
  const OpNode& tn = m_graph.node(to);
  if (m_gate && fn.pp_rank != tn.pp_rank) {
    RankState& rs = m_ranks[tn.pp_rank];
    rs.inputs_pending[static_cast<size_t>(m_step[to])] -= 1;
    if (open_steps(tn.pp_rank)) touch_rank(tn.pp_rank);
  }
  if (--m_pending[to] == 0) {
    const size_t li = lane_index(to);
    if (!m_steps.paired(tn.pp_rank, m_step[to])) m_lanes[li].ready.emplace(m_step[to], m_ready_at[to], to);
    m_touched.push_back(li);
  }
}

void Executor::dispatch(size_t li, int64_t now) {
  Lane& lane = m_lanes[li];
  if (lane.busy) return;
  while (static_cast<size_t>(lane.next_step) < lane.unstarted.size() &&
         lane.unstarted[static_cast<size_t>(lane.next_step)] == 0) {
    ++lane.next_step;
  }
  const size_t r = li / kStreams;
  RankState& rs = m_ranks[r];
  int32_t s = 0;
  int64_t ready = 0;
  OpId id = 0;
  const bool fifo = static_cast<size_t>(lane.next_step) < lane.unstarted.size() &&
                    m_steps.paired(static_cast<int64_t>(r), lane.next_step);
  if (fifo) {
    // A paired step: the next op in issue order, once its inputs are there.
    s = lane.next_step;
    const auto& q = lane.fifo[static_cast<size_t>(s)];
    size_t& next = lane.fifo_next[static_cast<size_t>(s)];
    id = q[next];
    if (m_pending[id] != 0) return;
    if (is_compute(m_stream[m_graph.node(id).desc]) && rs.sm_holder != kNoOp) return;
    ready = m_ready_at[id];
    if (m_gate && s >= rs.open) return;
    if (m_gate && is_send(id) && rs.compute_left[static_cast<size_t>(s)] > 0) return;
    ++next;
  } else {
    if (lane.ready.empty()) return;
    std::tie(s, ready, id) = lane.ready.top();
    if (s != lane.next_step) return;  // an earlier step still has ops to issue on this stream
    if (is_compute(m_stream[m_graph.node(id).desc]) && rs.sm_holder != kNoOp) return;  // the SMs are taken
    if (m_gate && s >= rs.open) return;                                                // the step has not opened yet
    // A pipeline send leaves when its step's computation is done (DualPipe sends after the chunk's compute).
    if (m_gate && is_send(id) && rs.compute_left[static_cast<size_t>(s)] > 0) return;
    lane.ready.pop();
  }
  lane.unstarted[static_cast<size_t>(s)] -= 1;
  lane.busy = true;
  const OpNode& node = m_graph.node(id);
  const Time dur = m_time[node.desc];
  const Time issue = Time::ps(now);
  const Time gap = dur > Time{} ? m_launch_gap : Time{};
  const Time start = issue + gap;
  m_res.start[id] = start;
  m_res.end[id] = start + dur;
  RankStats& stats = m_res.ranks[r];
  const Stream stream = m_stream[node.desc];
  if (is_compute(stream)) rs.sm_holder = id;
  const int32_t group = node.collective;
  if (group < 0) {
    m_events.emplace(m_res.end[id].picoseconds(), id);
  } else {
    // A collective: every member waits for the last to start, then takes its own time (a GPU's all-to-all kernel
    // spins until its peers have joined, as a profiler counts it).
    const auto gi = static_cast<size_t>(group);
    m_group_last_start[gi] = std::max(m_group_last_start[gi], start.picoseconds());
    m_group_members[gi].push_back(id);
    if (++m_group_started[gi] == m_group_size[gi]) {
      for (OpId member : m_group_members[gi]) {
        m_res.end[member] = Time::ps(m_group_last_start[gi]) + m_time[m_graph.node(member).desc];
        m_events.emplace(m_res.end[member].picoseconds(), member);
      }
    }
  }
  if (stream == Stream::Compute) {
    Time& last = rs.last_compute_end;
    stats.launch_gaps += gap;
    if (issue > last) {
      bool comm_wait = false;
      if (ready > last.picoseconds() && m_critical[id] != kNoOp) {
        const OpNode& pred = m_graph.node(m_critical[id]);
        comm_wait = pred.pp_rank == node.pp_rank && m_stream[pred.desc] != Stream::Compute &&
                    m_graph.descriptor(pred.desc).kind != OpKind::SendRecv;
      }
      (comm_wait ? stats.exposed_comm : stats.bubble) += issue - last;
    }
  }
}

void Executor::finish(OpId id, int64_t now) {
  const OpNode& node = m_graph.node(id);
  const size_t r = node.pp_rank;
  const auto s = static_cast<size_t>(m_step[id]);
  RankState& rs = m_ranks[r];
  const Stream stream = m_stream[node.desc];
  m_res.ranks[r].busy[static_cast<size_t>(stream)] += m_res.end[id] - m_res.start[id];
  if (stream == Stream::Compute) rs.last_compute_end = m_res.end[id];
  if (is_compute(stream)) {
    rs.sm_holder = kNoOp;
    m_touched.push_back(r * kStreams + static_cast<size_t>(Stream::Compute));
    m_touched.push_back(r * kStreams + static_cast<size_t>(Stream::Compute2));
  }
  m_lanes[lane_index(id)].busy = false;
  m_touched.push_back(lane_index(id));
  m_res.ranks[r].end = std::max(m_res.ranks[r].end, m_res.end[id]);
  if (m_gate && is_send(id)) {
    rs.sends_pending[s] -= 1;
    if (open_steps(r)) touch_rank(r);
  }
  bool hold = false;
  if (m_gate && is_compute(m_stream[node.desc])) {
    rs.compute_left[s] -= 1;
    hold = rs.compute_left[s] > 0;
    if (!hold) {
      // The step's computation is done: its pipeline sends may leave and held outputs go to the other ranks.
      m_touched.push_back(r * kStreams + static_cast<size_t>(Stream::PipeComm));
      std::vector<OpId> held = std::move(rs.held[s]);
      for (OpId h : held) {
        for (OpId to : m_graph.successors(h))
          if (m_graph.node(to).pp_rank != r) deliver(h, to, now);
      }
    }
  }
  for (OpId to : m_graph.successors(id)) {
    if (hold && m_graph.node(to).pp_rank != r) continue;
    deliver(id, to, now);
  }
  if (hold) {
    for (OpId to : m_graph.successors(id)) {
      if (m_graph.node(to).pp_rank != r) {
        rs.held[s].push_back(id);
        break;
      }
    }
  }
}

ExecResult Executor::run() {
  V3SIM_ASSERT(m_graph.finalized());
  V3SIM_ASSERT(m_time.size() == m_graph.num_descs() && m_stream.size() == m_graph.num_descs());
  const size_t n = m_graph.num_ops();
  m_step.resize(n);
  m_pending.assign(n, 0);
  m_ready_at.assign(n, 0);
  m_critical.assign(n, kNoOp);
  for (OpId id = 0; id < n; ++id) {
    const int32_t group = m_graph.node(id).collective;
    if (group < 0) continue;
    const auto gi = static_cast<size_t>(group);
    if (gi >= m_group_size.size()) m_group_size.resize(gi + 1, 0);
    ++m_group_size[gi];
  }
  m_group_started.assign(m_group_size.size(), 0);
  m_group_last_start.assign(m_group_size.size(), 0);
  m_group_members.resize(m_group_size.size());

  m_lanes.resize(m_pp * kStreams);
  m_ranks.resize(m_pp);
  for (size_t r = 0; r < m_pp; ++r) {
    const auto steps = static_cast<size_t>(m_steps.steps(static_cast<int64_t>(r)));
    for (int st = 0; st < kStreams; ++st) m_lanes[r * kStreams + static_cast<size_t>(st)].unstarted.assign(steps, 0);
    RankState& rs = m_ranks[r];
    rs.inputs_pending.assign(steps, 0);
    rs.sends_pending.assign(steps, 0);
    rs.compute_left.assign(steps, 0);
    rs.held.resize(steps);
  }
  for (OpId id = 0; id < n; ++id) {
    const OpNode& node = m_graph.node(id);
    V3SIM_ASSERT(node.pp_rank < m_pp);
    m_step[id] = m_steps.step_of(node, m_graph.descriptor(node.desc));
    const auto s = static_cast<size_t>(m_step[id]);
    m_lanes[lane_index(id)].unstarted[s] += 1;
    RankState& rs = m_ranks[node.pp_rank];
    if (is_compute(m_stream[node.desc])) rs.compute_left[s] += 1;
    if (is_send(id)) rs.sends_pending[s] += 1;
    for (OpId to : m_graph.successors(id)) m_pending[to] += 1;
  }
  // Inputs from other ranks, counted once every op's step is known.
  for (OpId id = 0; id < n; ++id) {
    for (OpId to : m_graph.successors(id)) {
      const OpNode& tn = m_graph.node(to);
      if (m_gate && tn.pp_rank != m_graph.node(id).pp_rank) {
        m_ranks[tn.pp_rank].inputs_pending[static_cast<size_t>(m_step[to])] += 1;
      }
    }
  }

  m_res.start.assign(n, Time());
  m_res.end.assign(n, Time());
  m_res.ranks.resize(m_pp);
  // Paired steps issue in DualPipe's order; the rest by readiness.
  const std::vector<uint64_t> keys = pair_issue_keys(m_graph);
  for (auto& lane : m_lanes) {
    lane.fifo.resize(lane.unstarted.size());
    lane.fifo_next.assign(lane.unstarted.size(), 0);
  }
  for (OpId id = 0; id < n; ++id) {
    const OpNode& node = m_graph.node(id);
    if (m_steps.paired(node.pp_rank, m_step[id])) {
      m_lanes[lane_index(id)].fifo[static_cast<size_t>(m_step[id])].push_back(id);
    } else if (m_pending[id] == 0) {
      m_lanes[lane_index(id)].ready.emplace(m_step[id], 0, id);
    }
  }
  for (auto& lane : m_lanes) {
    for (auto& q : lane.fifo) std::sort(q.begin(), q.end(), [&](OpId a, OpId b) { return keys[a] < keys[b]; });
  }
  if (m_gate) {
    for (size_t r = 0; r < m_pp; ++r) open_steps(r);
  }
  for (size_t l = 0; l < m_lanes.size(); ++l) dispatch(l, 0);

  size_t done = 0;
  while (!m_events.empty()) {
    const int64_t now = m_events.top().first;
    m_touched.clear();
    // Finish every op that ends now before issuing anything, so same-time completions compete fairly.
    while (!m_events.empty() && m_events.top().first == now) {
      const OpId id = m_events.top().second;
      m_events.pop();
      ++done;
      ++m_res.events;
      finish(id, now);
    }
    std::sort(m_touched.begin(), m_touched.end());
    m_touched.erase(std::unique(m_touched.begin(), m_touched.end()), m_touched.end());
    for (size_t li : m_touched) dispatch(li, now);
  }

  if (done != n) {
    for (size_t li = 0; li < m_lanes.size(); ++li) {
      const Lane& lane = m_lanes[li];
      for (size_t s = 0; s < lane.unstarted.size(); ++s) {
        if (lane.unstarted[s] == 0) continue;
        const RankState& rs = m_ranks[li / kStreams];
        // A paired step's stream waits on the op at the head of its issue order: name it and what it waits for.
        std::string head;
        if (lane.fifo_next[s] < lane.fifo[s].size()) {
          const OpId h = lane.fifo[s][lane.fifo_next[s]];
          head = fmt::format("; next in issue order: {} mb{}, waiting for", m_graph.desc(h).name,
                             m_graph.node(h).micro_batch);
          for (OpId p : m_graph.predecessors(h)) {
            if (m_res.end[p] > Time()) continue;  // finished (an op that ran ends after 0)
            head += fmt::format(" {} mb{}", m_graph.desc(p).name, m_graph.node(p).micro_batch);
          }
        }
        throw InternalError(fmt::format(
            "schedule deadlock: {} of {} ops ran; rank {} stream {} cannot issue step {} ({} ops left in it, {} "
            "ready; steps open below {}, inputs missing {}){}",
            done, n, li / kStreams, to_string(static_cast<Stream>(li % kStreams)), s, lane.unstarted[s],
            lane.ready.size(), rs.open, rs.inputs_pending[s], head));
      }
    }
    throw InternalError(fmt::format("schedule deadlock: {} of {} ops ran", done, n));
  }

  for (const RankStats& st : m_res.ranks) m_res.makespan = std::max(m_res.makespan, st.end);
  for (size_t r = 0; r < m_pp; ++r) {
    RankStats& st = m_res.ranks[r];
    st.steps = m_steps.steps(static_cast<int64_t>(r));
    st.peak_in_flight = m_steps.peak(static_cast<int64_t>(r));
    // After the last compute op: the rank's own communication, then waiting for the other ranks.
    const Time last = m_ranks[r].last_compute_end;
    if (st.end > last) st.exposed_comm += st.end - last;
    st.bubble += m_res.makespan - std::max(st.end, last);
  }
  return std::move(m_res);
}

}  // namespace

ExecResult execute(const OpGraph& graph, const std::vector<Time>& desc_time, const std::vector<Stream>& desc_stream,
                   const ExecOptions& options) {
  return Executor(graph, desc_time, desc_stream, options).run();
}

}  // namespace v3sim::exec
