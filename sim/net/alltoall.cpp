#include "sim/net/alltoall.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "core/resources.h"
#include "sim/engine/engine.h"
#include "sim/net/transfer.h"

namespace v3sim::net {

const char* to_string(AllToAllMode m) {
  switch (m) {
    case AllToAllMode::Normal:
      return "normal";
    case AllToAllMode::LowLatency:
      return "low-latency";
  }
  return "?";
}

RoutingProblem AllToAllDesc::routing_problem(const ClusterConfig& c) const {
  RoutingProblem p;
  p.gpus = ep;
  p.gpus_per_node = c.gpus_per_node;
  p.tokens = tokens;
  p.topk = topk;
  p.experts = experts;
  p.redundant = redundant;
  p.node_limit = node_limit;
  p.spec = routing;
  p.seed = seed;
  return p;
}

namespace {

ParamSpec count_param(const char* name, const char* description, Range r, const char* default_text) {
  return {.name = name,
          .type = ParamType::Int,
          .description = description,
          .required = false,
          .default_text = default_text,
          .range = r};
}

}  // namespace

const ComponentSpec& alltoall_spec() {
  static const ComponentSpec spec{
      "alltoall",
      "one MoE dispatch or combine problem (v3sim alltoall): EP group, tokens, experts, routing seed",
      {count_param("ep", "expert-parallel GPUs (the cluster's first ep GPUs)", range(1, 1 << 20), "64"),
       count_param("tokens", "tokens per GPU", range(1, 1 << 20), "4096"),
       count_param("hidden", "hidden size", range(1, 1 << 16), "7168"),
       count_param("topk", "experts per token", range(1, 1024), "8"),
       count_param("experts", "routed experts", range(1, 1 << 16), "256"),
       count_param("redundant", "redundant expert slots (replicas of the hottest experts)", range(0, 1 << 16), "0"),
       count_param("node_limit", "most nodes a token may reach (0: no limit)", range(0, 1 << 16), "4"),
       {.name = "sms",
        .type = ParamType::Int,
        .description = "SMs of the normal kernels (default: the cluster's comm.sms)",
        .required = false,
        .range = range(2, 1024)},
       count_param("seed", "random seed of the routing and of routing ties", range(0, 1e18), "1")}};
  return spec;
}

void read_alltoall_desc(const ParamReader& r, AllToAllDesc& d) {
  d.ep = r.get_int("ep");
  d.tokens = r.get_int("tokens");
  d.hidden = r.get_int("hidden");
  d.topk = r.get_int("topk");
  d.experts = r.get_int("experts");
  d.redundant = r.get_int("redundant");
  d.node_limit = r.get_int("node_limit");
  if (r.has("sms")) d.sms = r.get_int("sms");
  d.seed = static_cast<uint64_t>(r.get_int("seed"));
}

void AllToAllDesc::validate(const ClusterConfig& c) const {
  // Errors name the key of alltoall_spec() ("alltoall.ep"); the command line names its flag beside it.
  auto fail = [](const char* key, const std::string& expected, const std::string& found) {
    return ConfigError(SourceLoc{}, std::string("alltoall.") + key, expected, found);
  };
  const int64_t gpus = c.gpus(), gpn = c.gpus_per_node;
  // The EP group takes the cluster's first `ep` GPUs (whole nodes, or part of one); the rest stay idle.
  if (ep < 1 || ep > gpus || (ep % gpn != 0 && gpn % ep != 0)) {
    throw fail("ep",
               fmt::format("an EP size of whole nodes of {} GPUs (or a divisor of one node), at most the {} GPUs of {}",
                           gpn, gpus, c.name),
               fmt::format("{}", ep));
  }
  if (tokens < 1) throw fail("tokens", "a positive number of tokens per GPU", fmt::format("{}", tokens));
  if (hidden < 1) throw fail("hidden", "a positive hidden size", fmt::format("{}", hidden));
  if (experts < 1) throw fail("experts", "a positive number of experts", fmt::format("{}", experts));
  if (topk < 1 || topk > experts) {
    throw fail("topk", fmt::format("between 1 and the {} experts (experts per token)", experts),
               fmt::format("{}", topk));
  }
  if (bytes_per_copy < 0) {
    throw fail("bytes_per_copy", "0 (the phase's own payload) or a positive size of one token copy",
               fmt::format("{}", bytes_per_copy));
  }
  if (redundant < 0) throw fail("redundant", "0 or more redundant experts", fmt::format("{}", redundant));
  if ((experts + redundant) % ep != 0) {
    throw fail("experts",
               fmt::format("experts that, with the {} redundant ones, spread evenly over EP {}", redundant, ep),
               fmt::format("{} + {} = {} expert slots", experts, redundant, experts + redundant));
  }
  const int64_t n = nodes(c);
  if (experts % n != 0) {
    throw fail("experts", fmt::format("a multiple of the {} nodes (one expert group per node)", n),
               fmt::format("{}", experts));
  }
  if (node_limit < 0) throw fail("node_limit", "0 (none) or a number of nodes", fmt::format("{}", node_limit));
  const RoutingProblem p = routing_problem(c);
  if (routing.kind != RoutingKind::Uniform && topk > p.reachable_nodes() * (experts / n)) {
    throw fail("topk",
               fmt::format("at most the {} experts of the {} nodes a token may reach (node_limit {})",
                           p.reachable_nodes() * (experts / n), p.reachable_nodes(), node_limit),
               fmt::format("{}", topk));
  }
  if (routing.kind == RoutingKind::Balanced && p.balanced_nodes() > p.reachable_nodes()) {
    throw fail("node_limit",
               fmt::format("at least the {} nodes that balanced routing's {} consecutive GPUs per token span (or 0)",
                           p.balanced_nodes(), topk),
               fmt::format("{}", node_limit));
  }
  const int64_t s = comm_sms(c);
  if (s < 2 || s % 2 != 0 || s > c.gpu_sms) {
    throw fail("sms", fmt::format("an even number of SMs (one channel per pair), at most the GPU's {}", c.gpu_sms),
               fmt::format("{}", s));
  }
}

std::string AllToAllDesc::str(const ClusterConfig& c) const {
  const int64_t n = nodes(c);
  return fmt::format(
      "{} {} on {}: EP{} ({} node{} x {} GPUs), {} tokens/GPU, hidden {} ({} B per copy), top-{} of {} experts "
      "(+{} redundant), node limit {}, {} routing (seed {}), {}",
      to_string(mode), to_string(phase), c.name, ep, n, n == 1 ? "" : "s", std::min(ep, c.gpus_per_node), tokens,
      hidden, copy_bytes(), topk, experts, redundant,
      node_limit == 0 ? std::string("none") : fmt::format("{}", node_limit), routing.str(), seed,
      mode == AllToAllMode::LowLatency
          ? std::string(c.low_latency_nvlink ? "no SM limit, NVLink within a node" : "no SM limit, pure RDMA")
      : c.coprocessor ? std::string("co-processor")
                      : fmt::format("{} SMs", comm_sms(c)));
}

namespace {

enum Kind : uint64_t { kRdma = 1, kNvl = 2, kDirect = 3 };
uint64_t key(uint64_t kind, uint64_t a, uint64_t b) {
  return (kind << 60) | (a << 30) | b;
}
uint64_t tag_kind(uint64_t tag) {
  return tag >> 60;
}
uint64_t tag_index(uint64_t tag) {
  return tag & ((1ULL << 60) - 1);
}

// One RDMA chunk of the normal kernels: up to rdma_chunk_tokens tokens of one source for one node, and how many
// of them each GPU of that node needs.
struct Chunk {
  int32_t src;
  int32_t node;
  int32_t index;  // within (src, node)
  int32_t tokens;
  int32_t first;  // into Run::m_counts
  int32_t count;
};

class Run {
 public:
  Run(const ClusterConfig& cluster, const AllToAllDesc& desc, bool trace)
      : m_desc(desc),
        m_net(cluster, desc.comm_sms(cluster), desc.seed),
        m_transfer(m_engine, m_net.topology(),
                   TransferEngine::Options{.chunk = cluster.chunk, .trace = trace, .seed = desc.seed},
                   [this](uint64_t tag) { delivered(tag); }),
        m_bytes(desc.copy_bytes()),
        m_gpn(static_cast<int32_t>(cluster.gpus_per_node)),
        m_ep(static_cast<int32_t>(desc.ep)) {
    m_routing = route_tokens(desc.routing_problem(cluster));
  }

  void report(std::function<void(uint64_t)> f) { m_engine.set_reporter(std::move(f), 1 << 22); }

  AllToAllResult run() {
    AllToAllResult r;
    r.nodes = m_desc.nodes(m_net.config());
    if (m_desc.mode == AllToAllMode::Normal) {
      build_chunks(r);
      if (m_desc.phase == AllToAllPhase::Dispatch) {
        start_dispatch();
      } else {
        start_combine();
      }
    } else {
      start_low_latency(r);
    }
    m_engine.run();
    V3SIM_ASSERT_MSG(m_transfer.messages_in_flight() == 0, "all-to-all ended with messages in flight");
    finish(r);
    return r;
  }

 private:
  const ClusterConfig& config() const { return m_net.config(); }
  bool push() const { return !config().coprocessor; }

  int32_t route(uint64_t k, int32_t src, int32_t dst) {
    auto [it, inserted] = m_routes.try_emplace(key(k, static_cast<uint64_t>(src), static_cast<uint64_t>(dst)), 0);
    if (inserted) {
      // The low-latency kernels' direct sends: in the pure-RDMA form a same-node peer is reached through the NIC.
      const bool loopback =
          k == kDirect && !config().low_latency_nvlink && src != dst && m_net.node_of(src) == m_net.node_of(dst);
      Route rt = k == kNvl    ? m_net.nvlink_route(src, dst, push())
                 : k == kRdma ? m_net.rdma_route(src, dst)
                 : loopback   ? m_net.loopback_route(src, dst)
                              : m_net.gpu_route(src, dst);
      it->second = m_transfer.add_route(rt);
    }
    return it->second;
  }
  int32_t forwarder(const Chunk& c) const { return c.node * m_gpn + c.src % m_gpn; }

  void build_chunks(AllToAllResult& r) {
    const int64_t T = m_desc.tokens, K = m_desc.topk;
    const int32_t nodes = static_cast<int32_t>(r.nodes);
    const int32_t per_chunk = static_cast<int32_t>(config().rdma_chunk_tokens);
    std::vector<int32_t> open_tokens(static_cast<size_t>(nodes));
    std::vector<int32_t> counts(static_cast<size_t>(nodes * m_gpn));
    std::vector<int32_t> dst, touched;
    for (int32_t s = 0; s < m_ep; ++s) {
      std::fill(open_tokens.begin(), open_tokens.end(), 0);
      std::fill(counts.begin(), counts.end(), 0);
      std::vector<int32_t> index(static_cast<size_t>(nodes), 0);
      auto close = [&](int32_t n) {
        Chunk c{s,
                n,
                index[static_cast<size_t>(n)]++,
                open_tokens[static_cast<size_t>(n)],
                static_cast<int32_t>(m_counts.size()),
                0};
        for (int32_t l = 0; l < m_gpn; ++l) {
          int32_t& x = counts[static_cast<size_t>(n * m_gpn + l)];
          if (x > 0) {
            m_counts.emplace_back(l, x);
            ++c.count;
            x = 0;
          }
        }
        m_chunks.push_back(c);
        open_tokens[static_cast<size_t>(n)] = 0;
      };
      for (int64_t t = 0; t < T; ++t) {
        dst.assign(&m_routing.gpu[m_routing.index(s, t, 0)], &m_routing.gpu[m_routing.index(s, t, 0)] + K);
        std::sort(dst.begin(), dst.end());
        dst.erase(std::unique(dst.begin(), dst.end()), dst.end());
        r.gpu_copies += static_cast<int64_t>(dst.size());
        touched.clear();
        for (int32_t g : dst) {
          const int32_t n = g / m_gpn;
          ++counts[static_cast<size_t>(n * m_gpn + g % m_gpn)];
          if (!touched.empty() && touched.back() == n) continue;
          touched.push_back(n);
          ++r.node_copies;
          ++open_tokens[static_cast<size_t>(n)];
        }
        for (int32_t n : touched) {
          if (open_tokens[static_cast<size_t>(n)] == per_chunk) close(n);
        }
      }
      for (int32_t n = 0; n < nodes; ++n) {
        if (open_tokens[static_cast<size_t>(n)] > 0) close(n);
      }
    }
    r.copies = static_cast<int64_t>(m_routing.gpu.size());
  }

  // Dispatch: RDMA chunks leave now (the source node's own are forwarded at once); each is forwarded on arrival.
  void start_dispatch() {
    for (size_t i = 0; i < m_chunks.size(); ++i) {
      const Chunk& c = m_chunks[i];
      const int32_t f = forwarder(c);
      if (f / m_gpn == c.src / m_gpn) {
        forward(i);
      } else {
        m_transfer.send(route(kRdma, c.src, f), Bytes(int64_t{c.tokens} * m_bytes), key(kRdma, c.src, f),
                        key(kRdma, 0, i));
      }
    }
  }

  void forward(size_t i) {
    const Chunk& c = m_chunks[i];
    const int32_t f = forwarder(c);
    for (int32_t j = c.first; j < c.first + c.count; ++j) {
      const auto [l, n] = m_counts[static_cast<size_t>(j)];
      const int32_t g = c.node * m_gpn + l;
      m_transfer.send(route(kNvl, f, g), Bytes(int64_t{n} * m_bytes), key(kNvl, f, g), key(kNvl, 0, i));
    }
  }

  // Combine: every GPU sends its pieces of every chunk to the chunk's forwarder now, chunk by chunk; a chunk
  // returns over RDMA once all its pieces have arrived.
  void start_combine() {
    std::vector<size_t> order(m_chunks.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return m_chunks[a].index < m_chunks[b].index; });
    m_pending.resize(m_chunks.size());
    for (size_t i : order) {
      const Chunk& c = m_chunks[i];
      const int32_t f = forwarder(c);
      m_pending[i] = c.count;
      for (int32_t j = c.first; j < c.first + c.count; ++j) {
        const auto [l, n] = m_counts[static_cast<size_t>(j)];
        const int32_t g = c.node * m_gpn + l;
        m_transfer.send(route(kNvl, g, f), Bytes(int64_t{n} * m_bytes), key(kNvl, g, f), key(kNvl, 0, i));
      }
    }
  }

  // Every GPU sends each peer one message with all its copies for that peer, starting with its next neighbour
  // (the shifted all-to-all schedule: DeepEP's warps interleave destinations in token order, so no destination
  // is every source's first).
  void start_low_latency(AllToAllResult& r) {
    const size_t ep = static_cast<size_t>(m_ep);
    const auto per_gpu = static_cast<size_t>(m_desc.tokens * m_desc.topk);
    std::vector<int64_t> copies(ep * ep, 0);  // [source][expert GPU]
    for (size_t i = 0; i < m_routing.gpu.size(); ++i) {
      const size_t s = i / per_gpu, g = static_cast<size_t>(m_routing.gpu[i]);
      ++copies[s * ep + g];
      if (s / static_cast<size_t>(m_gpn) == g / static_cast<size_t>(m_gpn)) ++r.gpu_copies;  // stays in the node
    }
    const bool dispatch = m_desc.phase == AllToAllPhase::Dispatch;
    for (int32_t from = 0; from < m_ep; ++from) {
      for (int32_t i = 1; i <= m_ep; ++i) {
        const int32_t to = (from + i) % m_ep;
        const int64_t n = dispatch ? copies[static_cast<size_t>(from) * ep + static_cast<size_t>(to)]
                                   : copies[static_cast<size_t>(to) * ep + static_cast<size_t>(from)];
        if (n == 0) continue;
        m_transfer.send(route(kDirect, from, to), Bytes(n * m_bytes), key(kDirect, from, to), key(kDirect, 0, 0));
      }
    }
    r.copies = static_cast<int64_t>(m_routing.gpu.size());
  }

  void delivered(uint64_t tag) {
    m_last = m_engine.now();
    if (m_desc.mode != AllToAllMode::Normal) return;
    const size_t i = tag_index(tag);
    const bool dispatch = m_desc.phase == AllToAllPhase::Dispatch;
    if (dispatch && tag_kind(tag) == kRdma) forward(i);
    if (!dispatch && tag_kind(tag) == kNvl && --m_pending[i] == 0) {
      const Chunk& c = m_chunks[i];
      const int32_t f = forwarder(c);
      if (f / m_gpn != c.src / m_gpn) {
        m_transfer.send(route(kRdma, f, c.src), Bytes(int64_t{c.tokens} * m_bytes), key(kRdma, f, c.src),
                        key(kRdma, 0, i));
      }
    }
  }

  void finish(AllToAllResult& r) {
    r.time = m_last;
    r.bytes_sent = m_transfer.bytes_sent();
    r.bytes_delivered = m_transfer.bytes_delivered();
    r.events = m_engine.events_run();
    const double seconds = std::max(r.time.seconds(), 1e-12);
    const double per_gpu = 1.0 / static_cast<double>(m_ep);
    const double b = static_cast<double>(m_bytes);
    if (m_desc.mode == AllToAllMode::Normal) {
      r.rdma_gbps = static_cast<double>(r.node_copies) * per_gpu * b / seconds * 1e-9;
      r.nvl_gbps = static_cast<double>(r.gpu_copies) * per_gpu * b / seconds * 1e-9;
      r.metric = r.nodes > 1 ? "rdma" : "nvl";
    } else {
      r.rdma_gbps = static_cast<double>(r.copies) * per_gpu * b / seconds * 1e-9;
      r.nvl_gbps = static_cast<double>(r.gpu_copies) * per_gpu * b / seconds * 1e-9;
      r.metric = "rdma";
    }
    r.metric_gbps = r.metric == "rdma" ? r.rdma_gbps : r.nvl_gbps;

    const Topology& topo = m_net.topology();
    std::vector<LinkClassUsage> classes(kLinkClasses);
    Time busiest;
    for (int32_t l = 0; l < topo.num_links(); ++l) {
      const TransferEngine::LinkStats& s = m_transfer.stats(l);
      if (s.chunks == 0) continue;
      const Link& k = topo.link(l);
      const double u = s.busy.seconds() / seconds;
      LinkClassUsage& c = classes[static_cast<size_t>(k.cls)];
      c.cls = k.cls;
      ++c.links;
      c.bytes += s.bytes;
      c.mean_utilization += u;
      c.max_utilization = std::max(c.max_utilization, u);
      if (s.busy > busiest) {
        busiest = s.busy;
        r.bottleneck_class = k.cls;
        r.bottleneck_link = topo.link_name(l);
        r.bottleneck_utilization = u;
      }
      if (!m_transfer.busy_intervals(l).empty()) {
        const bool down = k.cls == LinkClass::NvlinkDown || k.cls == LinkClass::NicDown;
        const int32_t v = down ? k.to : k.from;
        r.trace.push_back(TracedLink{topo.link_name(l), k.cls, topo.vertex(v).kind == VertexKind::Gpu ? v : -1,
                                     m_transfer.busy_intervals(l)});
      }
    }
    for (LinkClassUsage& c : classes) {
      if (c.links == 0) continue;
      c.mean_utilization /= static_cast<double>(c.links);
      r.classes.push_back(c);
    }
  }

  const AllToAllDesc& m_desc;
  ClusterNetwork m_net;
  engine::Engine m_engine;
  TransferEngine m_transfer;
  int64_t m_bytes;
  int32_t m_gpn, m_ep;
  ExpertRouting m_routing;
  std::vector<Chunk> m_chunks;
  std::vector<std::pair<int32_t, int32_t>> m_counts;  // (local GPU, tokens) per chunk
  std::vector<int32_t> m_pending;
  std::unordered_map<uint64_t, int32_t> m_routes;
  Time m_last;
};

}  // namespace

WorkEstimate estimate_alltoall_work(const ClusterConfig& cluster, const AllToAllDesc& desc) {
  // Measured on `v3sim alltoall` (EP64, 4096 tokens, top-8: 2.1M copies, 2.3M events, 0.9 s, 49 MB; hidden 65536:
  // 12.8M events): about one event per copy plus three per chunk of every copy's bytes (up to three hops),
  // 2.5M events per second, 20 bytes per copy.
  const double copies =
      static_cast<double>(desc.ep) * static_cast<double>(desc.tokens) * static_cast<double>(desc.topk);
  const double chunks_per_copy =
      static_cast<double>(desc.copy_bytes()) / static_cast<double>(std::max<int64_t>(1, cluster.chunk.count()));
  WorkEstimate e;
  e.steps = copies * (1 + 3 * chunks_per_copy);
  e.steps_per_second = 2.5e6;
  e.step_name = "events";
  e.bytes = 24 * copies + 200 * static_cast<double>(cluster.gpus()) * 64 + (1 << 24);
  return e;
}

WorkEstimate check_alltoall_work(const ClusterConfig& cluster, const AllToAllDesc& desc) {
  const WorkEstimate work = estimate_alltoall_work(cluster, desc);
  check_work(SourceLoc{}, "alltoall", desc.str(cluster), work);
  return work;
}

AllToAllResult run_alltoall(const ClusterConfig& cluster, const AllToAllDesc& desc, bool trace,
                            const std::function<void(double)>& progress) {
  const WorkEstimate work = check_alltoall_work(cluster, desc);
  Run run(cluster, desc, trace);
  if (progress) run.report([&](uint64_t events) { progress(static_cast<double>(events) / work.steps); });
  return run.run();
}

}  // namespace v3sim::net
