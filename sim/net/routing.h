// Expert routing for an all-to-all: which experts each token selects, and which GPU serves each
// (token, expert) copy. Experts are laid out as DeepEP lays them out (expert e on GPU e / (experts / EP));
// with redundant experts, the hottest experts get replicas and every expert is re-packed by load (DeepSeek's
// EPLB: within each node when the replicas divide among the nodes, globally otherwise) and copies go round-robin
// over an expert's replicas.
//
// Generators (all seeded, independent of threads):
//   deepep    DeepEP's benchmark: iid scores, keep the `node_limit` nodes whose best expert scores highest,
//             then the top-k experts among them. Scores are |N(0,1)| + 1 there; only their order matters and
//             iid continuous scores all order alike, so iid uniform integers are drawn (same distribution).
//   balanced  deterministic, the shifted all-to-all: copy q = t * k + j of GPU s goes to GPU s + 1 + q (then
//             the next expert of each GPU), so every GPU sends and receives exactly tokens * k copies and a
//             token reaches k consecutive GPUs (within the node limit only if those span few enough nodes).
//   uniform   k distinct experts uniformly at random over all experts (no node limit).
//   zipf:A    expert popularity 1 / rank^A over a seeded random ranking; each token draws k distinct experts
//             by popularity, within the first `node_limit` nodes it touches.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace v3sim::net {

enum class RoutingKind { DeepEP, Balanced, Uniform, Zipf };

struct RoutingSpec {
  RoutingKind kind = RoutingKind::DeepEP;
  double zipf_exponent = 0;
  std::string str() const;  // "deepep", "zipf:1.2"
};

// "deepep", "balanced", "uniform" or "zipf:A" (A > 0). Throws ConfigError naming `option`.
RoutingSpec parse_routing(const std::string& text, const std::string& option);

struct RoutingProblem {
  int64_t gpus = 0;           // the EP group
  int64_t gpus_per_node = 8;  // one expert group per node
  int64_t tokens = 0;         // per GPU
  int64_t topk = 0;
  int64_t experts = 0;     // logical experts
  int64_t redundant = 0;   // extra expert slots for replicas
  int64_t node_limit = 0;  // at most this many nodes per token; 0 for no limit
  RoutingSpec spec;
  uint64_t seed = 1;

  int64_t nodes() const { return gpus > gpus_per_node ? gpus / gpus_per_node : 1; }
  // Nodes a token may reach. @pre node_limit >= 0
  int64_t reachable_nodes() const { return node_limit == 0 ? nodes() : std::min(node_limit, nodes()); }
  // The most nodes one token of `balanced` routing reaches: k consecutive GPUs.
  int64_t balanced_nodes() const {
    return topk >= gpus ? nodes() : std::min(nodes(), (topk - 1 + gpus_per_node - 1) / gpus_per_node + 1);
  }
};

struct ExpertRouting {
  int64_t gpus = 0;
  int64_t tokens = 0;
  int64_t topk = 0;
  std::vector<int32_t> expert;       // [gpu][token][k]: the logical expert
  std::vector<int32_t> gpu;          // [gpu][token][k]: the GPU whose replica serves that copy
  std::vector<int64_t> expert_load;  // copies per logical expert
  std::vector<int64_t> gpu_load;     // copies per GPU

  size_t index(int64_t g, int64_t t, int64_t k) const { return static_cast<size_t>((g * tokens + t) * topk + k); }
};

// @pre a valid problem (AllToAllDesc::validate checks it): experts + redundant divisible by gpus, topk at most
// the experts a token may reach.
ExpertRouting route_tokens(const RoutingProblem& p);

}  // namespace v3sim::net
