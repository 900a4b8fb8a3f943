// The network as a directed graph: vertices (GPUs, NVSwitches, leaf and spine switches) joined by links with a
// bandwidth and a latency, and the routes data takes through it. A ClusterNetwork builds the graph of a
// ClusterConfig and answers "which links does data from GPU a to GPU b cross".
//
// Example (two GPUs, one link):
//   Topology t;
//   int a = t.add_vertex(VertexKind::Gpu, "a"), b = t.add_vertex(VertexKind::Gpu, "b");
//   int l = t.add_link(LinkClass::NvlinkUp, a, b, parse_bandwidth("100GB/s"), Time::us(1));
//   Route r{Hop{l}};   // what TransferEngine::send takes
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/units.h"
#include "sim/net/cluster.h"

namespace v3sim::net {

enum class VertexKind : uint8_t { Gpu, NvSwitch, Leaf, Spine };

// What a link is; results are reported per class. SmPush is not a wire: it is the rate at which the SMs given
// to communication push data into NVLink, modeled as a link every pushed byte crosses first.
enum class LinkClass : uint8_t { SmPush, NvlinkUp, NvlinkDown, NicUp, NicDown, LeafUp, SpineDown };
inline constexpr int kLinkClasses = 7;
// "sm_push", "nvlink_up", "nvlink_down", "nic_up", "nic_down", "leaf_up", "spine_down"
std::string_view link_class_name(LinkClass c);

struct Vertex {
  VertexKind kind;
  std::string name;
};

struct Link {
  LinkClass cls;
  int32_t from;
  int32_t to;
  Bandwidth bandwidth;
  Time latency;  // from the end of sending a chunk to its arrival at `to` (wire, and the switch if `to` is one)
};

// One hop of a route: a fixed link, or a choice among the links of a link set made per chunk when it gets
// there (kChoose: the least loaded; kChosen: the link with the same index in another set, so that
// leaf -> spine -> leaf stays consistent).
struct Hop {
  enum Kind : uint8_t { kLink, kChoose, kChosen };
  int32_t id = 0;  // a link, or a link set
  Kind kind = kLink;
};
using Route = std::vector<Hop>;

class Topology {
 public:
  int32_t add_vertex(VertexKind kind, std::string name);
  // Throws ConfigError when the bandwidth is not positive or an end does not exist.
  int32_t add_link(LinkClass cls, int32_t from, int32_t to, Bandwidth bandwidth, Time latency);
  // A set of alternative links for kChoose / kChosen hops. @pre all exist, non-empty
  int32_t add_link_set(std::vector<int32_t> links);

  const Vertex& vertex(int32_t v) const { return m_vertices[static_cast<size_t>(v)]; }
  const Link& link(int32_t l) const { return m_links[static_cast<size_t>(l)]; }
  const std::vector<int32_t>& link_set(int32_t s) const { return m_sets[static_cast<size_t>(s)]; }
  int32_t num_vertices() const { return static_cast<int32_t>(m_vertices.size()); }
  int32_t num_links() const { return static_cast<int32_t>(m_links.size()); }
  // "nic_up GPU 3 -> plane 3 leaf 0"
  std::string link_name(int32_t l) const;

  // The first vertex of `targets` that cannot reach, or cannot be reached from, targets[0] over the links
  // (SmPush excluded); -1 when all are connected.
  int32_t first_disconnected(const std::vector<int32_t>& targets) const;

 private:
  std::vector<Vertex> m_vertices;
  std::vector<Link> m_links;
  std::vector<std::vector<int32_t>> m_sets;
};

// The graph of a cluster: per GPU an SmPush self-link, NVLink up (GPU -> NVSwitch) and down, NIC up
// (GPU -> leaf of its plane) and down; per plane leaf -> spine and spine -> leaf links. Static routing picks a
// spine by hashing (source, destination, seed); adaptive routing leaves the choice to each chunk.
class ClusterNetwork {
 public:
  // `comm_sms` sets the SmPush rate: comm_sms / 2 channels at the cluster's channel_push_rate.
  ClusterNetwork(const ClusterConfig& config, int64_t comm_sms, uint64_t seed);

  const ClusterConfig& config() const { return m_config; }
  const Topology& topology() const { return m_topo; }
  int32_t gpus() const { return static_cast<int32_t>(m_config.gpus()); }
  int32_t node_of(int32_t g) const { return g / static_cast<int32_t>(m_config.gpus_per_node); }
  int32_t local_of(int32_t g) const { return g % static_cast<int32_t>(m_config.gpus_per_node); }
  int32_t plane_of(int32_t g) const { return local_of(g) % static_cast<int32_t>(m_config.planes); }
  int32_t gpu(int32_t node, int32_t local) const { return node * static_cast<int32_t>(m_config.gpus_per_node) + local; }
  int32_t gpu_vertex(int32_t g) const { return g; }  // GPUs are vertices 0..gpus-1

  // The links of GPU g (-1 where it has none).
  int32_t sm_push(int32_t g) const { return m_gpu_links[static_cast<size_t>(g)][0]; }
  int32_t nvlink_up(int32_t g) const { return m_gpu_links[static_cast<size_t>(g)][1]; }
  int32_t nvlink_down(int32_t g) const { return m_gpu_links[static_cast<size_t>(g)][2]; }
  int32_t nic_up(int32_t g) const { return m_gpu_links[static_cast<size_t>(g)][3]; }
  int32_t nic_down(int32_t g) const { return m_gpu_links[static_cast<size_t>(g)][4]; }

  // NVLink from src to dst in one node, pushed by src's SMs first when `sm_push`; [] (or [sm_push]) for
  // src == dst. @pre same node
  Route nvlink_route(int32_t src, int32_t dst, bool sm_push) const;
  // RDMA between two GPUs on the same plane in different nodes: NIC up, the fat tree, NIC down.
  Route rdma_route(int32_t src, int32_t dst) const;
  // Any pair: nothing for src == dst, NVLink within a node, RDMA on one plane; across planes, NVLink to the
  // GPU of src's node on dst's plane, then its NIC (forwarding inside the node, as NCCL's PXN does).
  Route gpu_route(int32_t src, int32_t dst) const;
  // RDMA to a GPU of the same node: the sender's NIC loops the message back, carrying it in both directions (the
  // PCIe hop from the NIC to the peer GPU is not modelled). @pre same node, src has a NIC
  Route loopback_route(int32_t src, int32_t dst) const;

 private:
  int32_t leaf_of(int32_t g) const;

  ClusterConfig m_config;
  uint64_t m_seed;
  Topology m_topo;
  std::vector<std::array<int32_t, 5>> m_gpu_links;
  // [plane][leaf]: the leaf's up-links (one per spine), and the spines' down-links into the leaf
  std::vector<std::vector<int32_t>> m_up_set, m_down_set;
};

}  // namespace v3sim::net
