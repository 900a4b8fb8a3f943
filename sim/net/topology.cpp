#include "sim/net/topology.h"

#include <fmt/format.h>

#include <deque>

#include "core/error.h"
#include "core/random.h"

namespace v3sim::net {

std::string_view link_class_name(LinkClass c) {
  static constexpr std::array<std::string_view, kLinkClasses> kNames{"sm_push",  "nvlink_up", "nvlink_down", "nic_up",
                                                                     "nic_down", "leaf_up",   "spine_down"};
  return kNames[static_cast<size_t>(c)];
}

int32_t Topology::add_vertex(VertexKind kind, std::string name) {
  m_vertices.push_back(Vertex{kind, std::move(name)});
  return num_vertices() - 1;
}

int32_t Topology::add_link(LinkClass cls, int32_t from, int32_t to, Bandwidth bandwidth, Time latency) {
  if (from < 0 || from >= num_vertices() || to < 0 || to >= num_vertices()) {
    throw ConfigError(SourceLoc{"topology", 0}, std::string(link_class_name(cls)), "a link between existing vertices",
                      fmt::format("{} -> {} of {} vertices", from, to, num_vertices()));
  }
  if (bandwidth.bytes_per_second() <= 0) {
    throw ConfigError(SourceLoc{"topology", 0}, std::string(link_class_name(cls)), "a link with a positive bandwidth",
                      fmt::format("{} from {} to {}", to_string(bandwidth), vertex(from).name, vertex(to).name));
  }
  m_links.push_back(Link{cls, from, to, bandwidth, latency});
  return num_links() - 1;
}

int32_t Topology::add_link_set(std::vector<int32_t> links) {
  V3SIM_ASSERT(!links.empty());
  for (int32_t l : links) V3SIM_ASSERT(l >= 0 && l < num_links());
  m_sets.push_back(std::move(links));
  return static_cast<int32_t>(m_sets.size()) - 1;
}

std::string Topology::link_name(int32_t l) const {
  const Link& k = link(l);
  if (k.from == k.to) return fmt::format("{} {}", link_class_name(k.cls), vertex(k.from).name);
  return fmt::format("{} {} -> {}", link_class_name(k.cls), vertex(k.from).name, vertex(k.to).name);
}

int32_t Topology::first_disconnected(const std::vector<int32_t>& targets) const {
  if (targets.empty()) return -1;
  auto reach = [&](bool forward) {
    std::vector<std::vector<int32_t>> adj(m_vertices.size());
    for (const Link& k : m_links) {
      if (k.cls == LinkClass::SmPush) continue;
      if (forward) {
        adj[static_cast<size_t>(k.from)].push_back(k.to);
      } else {
        adj[static_cast<size_t>(k.to)].push_back(k.from);
      }
    }
    std::vector<char> seen(m_vertices.size(), 0);
    std::deque<int32_t> todo{targets[0]};
    seen[static_cast<size_t>(targets[0])] = 1;
    while (!todo.empty()) {
      int32_t v = todo.front();
      todo.pop_front();
      for (int32_t w : adj[static_cast<size_t>(v)]) {
        if (!seen[static_cast<size_t>(w)]) {
          seen[static_cast<size_t>(w)] = 1;
          todo.push_back(w);
        }
      }
    }
    return seen;
  };
  const std::vector<char> from0 = reach(true), to0 = reach(false);
  for (int32_t v : targets) {
    if (!from0[static_cast<size_t>(v)] || !to0[static_cast<size_t>(v)]) return v;
  }
  return -1;
}

ClusterNetwork::ClusterNetwork(const ClusterConfig& config, int64_t comm_sms, uint64_t seed)
    : m_config(config), m_seed(seed) {
  const ClusterConfig& c = m_config;
  const int32_t gpus = static_cast<int32_t>(c.gpus());
  for (int32_t g = 0; g < gpus; ++g) m_topo.add_vertex(VertexKind::Gpu, fmt::format("GPU {}", g));
  std::vector<int32_t> nvswitch;
  for (int32_t n = 0; n < c.nodes; ++n) {
    nvswitch.push_back(m_topo.add_vertex(VertexKind::NvSwitch, fmt::format("NVSwitch {}", n)));
  }
  const int32_t planes = static_cast<int32_t>(c.planes);
  const int32_t leaves = static_cast<int32_t>(c.leaves_per_plane());
  const int32_t spines = static_cast<int32_t>(c.spines_per_plane());
  std::vector<std::vector<int32_t>> leaf(static_cast<size_t>(planes)), spine(static_cast<size_t>(planes));
  if (c.nics_per_gpu > 0) {
    for (int32_t p = 0; p < planes; ++p) {
      for (int32_t l = 0; l < leaves; ++l) {
        leaf[static_cast<size_t>(p)].push_back(
            m_topo.add_vertex(VertexKind::Leaf, fmt::format("plane {} leaf {}", p, l)));
      }
      for (int32_t k = 0; k < spines; ++k) {
        spine[static_cast<size_t>(p)].push_back(
            m_topo.add_vertex(VertexKind::Spine, fmt::format("plane {} spine {}", p, k)));
      }
    }
  }
  const Bandwidth push = Bandwidth::bytes_per_second(c.channel_push_rate.bytes_per_second() * (comm_sms / 2));
  m_gpu_links.assign(static_cast<size_t>(gpus), {-1, -1, -1, -1, -1});
  for (int32_t g = 0; g < gpus; ++g) {
    auto& links = m_gpu_links[static_cast<size_t>(g)];
    if (comm_sms >= 2) links[0] = m_topo.add_link(LinkClass::SmPush, g, g, push, Time());
    if (c.gpus_per_node > 1) {
      const int32_t sw = nvswitch[static_cast<size_t>(node_of(g))];
      links[1] = m_topo.add_link(LinkClass::NvlinkUp, g, sw, c.nvlink_bandwidth, c.nvlink_latency);
      links[2] = m_topo.add_link(LinkClass::NvlinkDown, sw, g, c.nvlink_bandwidth, Time());
    }
    if (c.nics_per_gpu > 0) {
      const int32_t lf = leaf[static_cast<size_t>(plane_of(g))][static_cast<size_t>(leaf_of(g))];
      links[3] = m_topo.add_link(LinkClass::NicUp, g, lf, c.nic_bandwidth, c.nic_latency + c.switch_latency);
      links[4] = m_topo.add_link(LinkClass::NicDown, lf, g, c.nic_bandwidth, c.nic_latency);
    }
  }
  const Time hop = c.fabric_link_latency + c.switch_latency;
  m_up_set.assign(static_cast<size_t>(planes), {});
  m_down_set.assign(static_cast<size_t>(planes), {});
  for (int32_t p = 0; p < planes && spines > 0 && c.nics_per_gpu > 0; ++p) {
    std::vector<std::vector<int32_t>> up(static_cast<size_t>(leaves)), down(static_cast<size_t>(leaves));
    for (int32_t l = 0; l < leaves; ++l) {
      for (int32_t k = 0; k < spines; ++k) {
        const int32_t lv = leaf[static_cast<size_t>(p)][static_cast<size_t>(l)];
        const int32_t sv = spine[static_cast<size_t>(p)][static_cast<size_t>(k)];
        up[static_cast<size_t>(l)].push_back(m_topo.add_link(LinkClass::LeafUp, lv, sv, c.fabric_link_bandwidth, hop));
        down[static_cast<size_t>(l)].push_back(
            m_topo.add_link(LinkClass::SpineDown, sv, lv, c.fabric_link_bandwidth, hop));
      }
    }
    for (int32_t l = 0; l < leaves; ++l) {
      m_up_set[static_cast<size_t>(p)].push_back(m_topo.add_link_set(up[static_cast<size_t>(l)]));
      m_down_set[static_cast<size_t>(p)].push_back(m_topo.add_link_set(down[static_cast<size_t>(l)]));
    }
  }
}

int32_t ClusterNetwork::leaf_of(int32_t g) const {
  const int32_t per_plane_in_node = static_cast<int32_t>(m_config.gpus_per_node / m_config.planes);
  const int32_t endpoint = node_of(g) * per_plane_in_node + local_of(g) / static_cast<int32_t>(m_config.planes);
  return endpoint / static_cast<int32_t>(m_config.hosts_per_leaf());
}

Route ClusterNetwork::nvlink_route(int32_t src, int32_t dst, bool push) const {
  V3SIM_ASSERT(node_of(src) == node_of(dst));
  Route r;
  if (push) r.push_back(Hop{sm_push(src)});
  if (src != dst) {
    r.push_back(Hop{nvlink_up(src)});
    r.push_back(Hop{nvlink_down(dst)});
  }
  return r;
}

Route ClusterNetwork::rdma_route(int32_t src, int32_t dst) const {
  V3SIM_ASSERT(plane_of(src) == plane_of(dst) && node_of(src) != node_of(dst) && nic_up(src) >= 0);
  Route r{Hop{nic_up(src)}};
  const int32_t p = plane_of(src), ls = leaf_of(src), ld = leaf_of(dst);
  if (ls != ld) {
    const auto& up = m_up_set[static_cast<size_t>(p)];
    const auto& down = m_down_set[static_cast<size_t>(p)];
    if (m_config.routing == SpineRouting::Adaptive) {
      r.push_back(Hop{up[static_cast<size_t>(ls)], Hop::kChoose});
      r.push_back(Hop{down[static_cast<size_t>(ld)], Hop::kChosen});
    } else {
      const auto& ups = m_topo.link_set(up[static_cast<size_t>(ls)]);
      const size_t k =
          mix64((static_cast<uint64_t>(src) << 32) ^ static_cast<uint64_t>(dst) ^ mix64(m_seed)) % ups.size();
      r.push_back(Hop{ups[k]});
      r.push_back(Hop{m_topo.link_set(down[static_cast<size_t>(ld)])[k]});
    }
  }
  r.push_back(Hop{nic_down(dst)});
  return r;
}

Route ClusterNetwork::loopback_route(int32_t src, int32_t dst) const {
  V3SIM_ASSERT(node_of(src) == node_of(dst) && nic_up(src) >= 0);
  return Route{Hop{nic_up(src)}, Hop{nic_down(src)}};
}

Route ClusterNetwork::gpu_route(int32_t src, int32_t dst) const {
  if (node_of(src) == node_of(dst)) return nvlink_route(src, dst, false);
  if (plane_of(src) == plane_of(dst)) return rdma_route(src, dst);
  // PXN: the GPU of src's node with dst's local index (its NIC is on dst's plane) forwards, so that with more GPUs
  // per node than planes the relaying spreads over every NIC of the plane rather than the node's first one.
  const int32_t relay = gpu(node_of(src), local_of(dst));
  Route r = nvlink_route(src, relay, false);
  for (const Hop& h : rdma_route(relay, dst)) r.push_back(h);
  return r;
}

}  // namespace v3sim::net
