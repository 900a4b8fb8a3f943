#include "sim/net/transfer.h"

#include <fmt/format.h>

#include <ostream>

#include "core/error.h"
#include "core/math.h"

namespace v3sim::net {

TransferEngine::TransferEngine(engine::Engine& engine, const Topology& topo, Options options, Delivered on_delivered)
    : m_engine(engine),
      m_topo(topo),
      m_options(options),
      m_on_delivered(std::move(on_delivered)),
      m_links(static_cast<size_t>(topo.num_links())),
      m_load(static_cast<size_t>(topo.num_links()), 0),
      m_in_index(static_cast<size_t>(topo.num_links())),
      m_in_degree(static_cast<size_t>(topo.num_vertices()), 0),
      m_rotation(options.seed) {
  V3SIM_ASSERT(options.chunk.count() > 0 && options.chunk.count() <= INT32_MAX);
  for (int32_t l = 0; l < topo.num_links(); ++l) {
    m_in_index[static_cast<size_t>(l)] = m_in_degree[static_cast<size_t>(topo.link(l).to)]++;
  }
  engine.add_component(this);
}

int32_t TransferEngine::add_route(const Route& route) {
  for (const Hop& h : route) {
    if (h.kind == Hop::kLink) {
      V3SIM_ASSERT(h.id >= 0 && h.id < m_topo.num_links());
    } else {
      V3SIM_ASSERT(h.id >= 0);
    }
  }
  m_routes.emplace_back(static_cast<int32_t>(m_hops.size()), static_cast<int32_t>(route.size()));
  m_hops.insert(m_hops.end(), route.begin(), route.end());
  return static_cast<int32_t>(m_routes.size()) - 1;
}

int32_t TransferEngine::new_chunk() {
  if (!m_free_chunks.empty()) {
    int32_t c = m_free_chunks.back();
    m_free_chunks.pop_back();
    m_chunks[static_cast<size_t>(c)] = Chunk{};
    return c;
  }
  m_chunks.emplace_back();
  return static_cast<int32_t>(m_chunks.size()) - 1;
}

void TransferEngine::send(int32_t route, Bytes size, uint64_t stream, uint64_t tag) {
  V3SIM_ASSERT(route >= 0 && route < static_cast<int32_t>(m_routes.size()) && size.count() >= 0);
  m_bytes_sent += size.count();
  ++m_in_flight;
  const int64_t chunk = m_options.chunk.count();
  if (m_routes[static_cast<size_t>(route)].second == 0 || size.count() == 0) {
    m_engine.schedule(m_engine.now(), engine::Priority::kDefault, [this, tag, n = size.count()] {
      m_bytes_delivered += n;
      --m_in_flight;
      m_on_delivered(tag);
    });
    return;
  }
  int32_t m;
  if (!m_free_msgs.empty()) {
    m = m_free_msgs.back();
    m_free_msgs.pop_back();
  } else {
    m_msgs.emplace_back();
    m = static_cast<int32_t>(m_msgs.size()) - 1;
  }
  const int64_t n = ceil_div(size.count(), chunk);
  V3SIM_ASSERT(n <= INT32_MAX);
  m_msgs[static_cast<size_t>(m)] = Message{route, static_cast<int32_t>(n), stream, tag};
  for (int64_t i = 0; i < n; ++i) {
    const int32_t c = new_chunk();
    m_chunks[static_cast<size_t>(c)].msg = m;
    m_chunks[static_cast<size_t>(c)].bytes = static_cast<int32_t>(std::min(chunk, size.count() - i * chunk));
    arrive(c);
  }
}

int32_t TransferEngine::resolve(int32_t c) {
  Chunk& ch = m_chunks[static_cast<size_t>(c)];
  const auto& [first, count] = m_routes[static_cast<size_t>(m_msgs[static_cast<size_t>(ch.msg)].route)];
  V3SIM_ASSERT(ch.hop < count);
  const Hop& h = m_hops[static_cast<size_t>(first + ch.hop)];
  if (h.kind == Hop::kLink) return h.id;
  const std::vector<int32_t>& set = m_topo.link_set(h.id);
  if (h.kind == Hop::kChosen) {
    V3SIM_ASSERT(ch.choice >= 0 && ch.choice < static_cast<int32_t>(set.size()));
    return set[static_cast<size_t>(ch.choice)];
  }
  // Adaptive: the link with the least data waiting or in service; ties go round a seeded rotation.
  const size_t start = static_cast<size_t>(m_rotation++ % set.size());
  int64_t best_load = INT64_MAX;
  size_t best = 0;
  for (size_t i = 0; i < set.size(); ++i) {
    const size_t k = (start + i) % set.size();
    const int64_t load = m_load[static_cast<size_t>(set[k])];
    if (load < best_load) {
      best_load = load;
      best = k;
    }
  }
  ch.choice = static_cast<int32_t>(best);
  return set[best];
}

int32_t TransferEngine::queue_of(int32_t link, const Chunk& ch) {
  LinkState& l = m_links[static_cast<size_t>(link)];
  int32_t* slot = nullptr;
  if (ch.prev >= 0) {
    if (l.input_queue.empty()) {
      l.input_queue.assign(static_cast<size_t>(m_in_degree[static_cast<size_t>(m_topo.link(link).from)]), -1);
    }
    slot = &l.input_queue[static_cast<size_t>(m_in_index[static_cast<size_t>(ch.prev)])];
  } else {
    slot = &l.stream_queue.try_emplace(m_msgs[static_cast<size_t>(ch.msg)].stream, -1).first->second;
  }
  if (*slot < 0) {
    *slot = static_cast<int32_t>(l.queues.size());
    l.queues.emplace_back();
  }
  return *slot;
}

void TransferEngine::arrive(int32_t c) {
  const int32_t link = resolve(c);
  LinkState& l = m_links[static_cast<size_t>(link)];
  Chunk& ch = m_chunks[static_cast<size_t>(c)];
  const int32_t qi = queue_of(link, ch);
  Queue& q = l.queues[static_cast<size_t>(qi)];
  ch.next = -1;
  if (q.head < 0) {
    q.head = q.tail = c;
    l.ready.push_back(qi);
  } else {
    m_chunks[static_cast<size_t>(q.tail)].next = c;
    q.tail = c;
  }
  l.queued_bytes += ch.bytes;
  m_load[static_cast<size_t>(link)] += ch.bytes;
  start(link);
}

void TransferEngine::start(int32_t link) {
  LinkState& l = m_links[static_cast<size_t>(link)];
  if (l.serving >= 0 || l.ready.empty()) return;
  if (l.cursor >= l.ready.size()) l.cursor = 0;
  Queue& q = l.queues[static_cast<size_t>(l.ready[l.cursor])];
  const int32_t c = q.head;
  q.head = m_chunks[static_cast<size_t>(c)].next;
  if (q.head < 0) {
    q.tail = -1;
    l.ready.erase(l.ready.begin() + static_cast<std::ptrdiff_t>(l.cursor));
  } else {
    ++l.cursor;
  }
  const int32_t bytes = m_chunks[static_cast<size_t>(c)].bytes;
  l.serving = c;
  l.queued_bytes -= bytes;
  const Time now = m_engine.now();
  const Time end = now + m_topo.link(link).bandwidth.transfer_time(Bytes(bytes));
  LinkStats& s = l.stats;
  if (s.chunks == 0) s.first = now;
  ++s.chunks;
  s.bytes += bytes;
  s.busy += end - now;
  s.last = end;
  if (m_options.trace) {
    if (!l.trace.empty() && l.trace.back().second == now) {
      l.trace.back().second = end;
    } else {
      l.trace.emplace_back(now, end);
    }
  }
  m_engine.schedule(end, engine::Priority::kDefault, [this, link] { finish(link); });
}

void TransferEngine::finish(int32_t link) {
  LinkState& l = m_links[static_cast<size_t>(link)];
  const int32_t c = l.serving;
  l.serving = -1;
  m_engine.progress();
  Chunk& ch = m_chunks[static_cast<size_t>(c)];
  m_load[static_cast<size_t>(link)] -= ch.bytes;
  ++ch.hop;
  ch.prev = link;
  const bool last = ch.hop == m_routes[static_cast<size_t>(m_msgs[static_cast<size_t>(ch.msg)].route)].second;
  const Time latency = m_topo.link(link).latency;
  if (latency == Time()) {
    last ? deliver(c) : arrive(c);
  } else if (last) {
    m_engine.schedule(m_engine.now() + latency, engine::Priority::kDefault, [this, c] { deliver(c); });
  } else {
    m_engine.schedule(m_engine.now() + latency, engine::Priority::kDefault, [this, c] { arrive(c); });
  }
  start(link);
}

void TransferEngine::deliver(int32_t c) {
  const Chunk ch = m_chunks[static_cast<size_t>(c)];
  m_free_chunks.push_back(c);
  m_bytes_delivered += ch.bytes;
  Message& m = m_msgs[static_cast<size_t>(ch.msg)];
  if (--m.chunks_left > 0) return;
  const uint64_t tag = m.tag;
  m_free_msgs.push_back(ch.msg);
  --m_in_flight;
  m_on_delivered(tag);
}

void TransferEngine::dump_state(std::ostream& out) const {
  out << fmt::format("  {} messages in flight, {} of {} bytes delivered\n", m_in_flight, m_bytes_delivered,
                     m_bytes_sent);
  int shown = 0;
  for (int32_t i = 0; i < static_cast<int32_t>(m_links.size()) && shown < 20; ++i) {
    const LinkState& l = m_links[static_cast<size_t>(i)];
    if (l.serving < 0 && l.queued_bytes == 0) continue;
    ++shown;
    out << fmt::format("  {}: {}, {} bytes queued in {} streams\n", m_topo.link_name(i),
                       l.serving >= 0 ? "serving" : "idle", l.queued_bytes, l.ready.size());
  }
}

}  // namespace v3sim::net
