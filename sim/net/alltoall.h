// The MoE all-to-all as DeepEP runs it, simulated on a cluster's network.
//
// Normal kernels (training, prefill): a token crosses the scale-out network once per destination node, to the
// GPU with its own local index there (same plane), in RDMA chunks of comm.rdma_chunk_tokens tokens; that GPU
// forwards it over NVLink to every GPU of the node that holds one of its experts. Combine reverses the path:
// every GPU sends its expert outputs over NVLink to the forwarding GPU, which reduces a chunk once all of its
// pieces have arrived and sends it back over RDMA. DeepEP runs one channel per pair of SMs; the SM of a
// channel that pushes into NVLink (intranode sender, internode forwarder, combine NVLink sender) moves
// comm.channel_push_rate, so every NVLink push first crosses the GPU's SmPush link of (sms / 2) channels.
// A communication co-processor removes that link.
//
// Low-latency kernels (decode): every (token, expert) copy goes straight to the expert's GPU: NVLink in the
// node, RDMA otherwise (through the NVLink peer on the destination's plane when planes differ); no node-level
// deduplication and no SM limit.
//
// Metrics as DeepEP's benchmarks define them (../shared/reference/benchmarks.md):
//   rdma_gbps  normal: distinct (token, destination node) pairs, the source node included, x bytes per copy,
//              per GPU, over the time; low-latency: every (token, expert) copy.
//   nvl_gbps   normal: distinct (token, destination GPU) pairs received per GPU x bytes per copy over the time;
//              low-latency: the copies that stay in the node.
// The time is from the start until the last byte of the phase has arrived, on any GPU.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/enum_names.h"
#include "core/params.h"
#include "core/resources.h"
#include "core/units.h"
#include "models/op.h"
#include "sim/net/cluster.h"
#include "sim/net/routing.h"
#include "sim/net/topology.h"

namespace v3sim::net {

enum class AllToAllMode { Normal, LowLatency };
inline constexpr AllToAllMode kAllToAllModes[] = {AllToAllMode::Normal, AllToAllMode::LowLatency};
const char* to_string(AllToAllMode m);  // "normal", "low-latency" (DeepEP's two kernel families)

// One all-to-all problem: validates and prints itself. The EP group is the cluster's first `ep` GPUs.
struct AllToAllDesc {
  AllToAllMode mode = AllToAllMode::Normal;
  AllToAllPhase phase = AllToAllPhase::Dispatch;
  int64_t ep = 64;
  int64_t tokens = 4096;  // per GPU
  int64_t hidden = 7168;
  int64_t topk = 8;
  int64_t experts = 256;
  int64_t redundant = 0;
  int64_t node_limit = 4;  // 0: none
  int64_t sms = 0;         // SMs of the normal kernels; 0: the cluster's comm.sms
  RoutingSpec routing;
  uint64_t seed = 1;
  // Bytes of one token copy when the payload is not DeepEP's (e.g. a backward pass sending BF16 gradients on the
  // dispatch path); 0: the phase's own size below. The metrics count copies at this size.
  int64_t bytes_per_copy = 0;

  // Bytes of one token copy: bytes_per_copy, or the phase's DeepEP payload (models/op.h alltoall_copy_bytes).
  int64_t copy_bytes() const { return bytes_per_copy > 0 ? bytes_per_copy : alltoall_copy_bytes(phase, hidden); }
  int64_t comm_sms(const ClusterConfig& c) const { return sms > 0 ? sms : c.comm_sms; }
  int64_t nodes(const ClusterConfig& c) const { return ep > c.gpus_per_node ? ep / c.gpus_per_node : 1; }
  RoutingProblem routing_problem(const ClusterConfig& c) const;

  // Throws ConfigError, naming the key of alltoall_spec() ("alltoall.ep", "alltoall.topk", ...), when the problem
  // cannot run on `cluster`.
  void validate(const ClusterConfig& cluster) const;
  // One line with the whole problem.
  std::string str(const ClusterConfig& cluster) const;
};

struct LinkClassUsage {
  LinkClass cls = LinkClass::SmPush;
  int64_t links = 0;  // links of the class that carried data
  int64_t bytes = 0;
  double mean_utilization = 0;  // busy time / all-to-all time, over those links
  double max_utilization = 0;
};

struct TracedLink {
  std::string name;
  LinkClass cls = LinkClass::SmPush;
  int32_t gpu = -1;  // the GPU the link belongs to; -1 for switch-to-switch links
  std::vector<std::pair<Time, Time>> busy;
};

struct AllToAllResult {
  Time time;
  int64_t nodes = 0;
  double rdma_gbps = 0;
  double nvl_gbps = 0;
  std::string metric;  // "rdma" or "nvl": the figure DeepEP reports as the bottleneck bandwidth here
  double metric_gbps = 0;
  // The busiest link: its class, name and busy time over the all-to-all time.
  LinkClass bottleneck_class = LinkClass::SmPush;
  std::string bottleneck_link;
  double bottleneck_utilization = 0;
  std::vector<LinkClassUsage> classes;  // the classes that carried data
  // Totals over the EP group.
  int64_t copies = 0;       // (token, expert) pairs
  int64_t gpu_copies = 0;   // distinct (token, GPU) pairs
  int64_t node_copies = 0;  // distinct (token, node) pairs
  int64_t bytes_sent = 0;   // handed to the transfer engine (every hop's data counted once)
  int64_t bytes_delivered = 0;
  uint64_t events = 0;
  std::vector<TracedLink> trace;  // with `trace`: every link that carried data
};

// The parameter table of an all-to-all problem as `v3sim alltoall` takes it (`v3sim describe alltoall`).
const ComponentSpec& alltoall_spec();
// Sets the fields of alltoall_spec() read from `r` (mode, phase and routing are the caller's).
void read_alltoall_desc(const ParamReader& r, AllToAllDesc& d);

// The memory and events a simulation needs, estimated from the copies and the chunks of their bytes.
WorkEstimate estimate_alltoall_work(const ClusterConfig& cluster, const AllToAllDesc& desc);

// What run_alltoall() checks before it starts: the estimated work against what this machine can hold. Throws
// ConfigError (key "alltoall"); returns the estimate. @pre desc.validate(cluster) passed
WorkEstimate check_alltoall_work(const ClusterConfig& cluster, const AllToAllDesc& desc);
// Simulates one phase. Throws ConfigError (key "alltoall") when the estimate exceeds what this machine can hold
// (core/resources.h). `progress`, when given, is called now and then with the estimated fraction done.
// @pre desc.validate(cluster) passed
AllToAllResult run_alltoall(const ClusterConfig& cluster, const AllToAllDesc& desc, bool trace = false,
                            const std::function<void(double)>& progress = {});

}  // namespace v3sim::net
