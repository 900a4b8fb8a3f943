// A GPU cluster as the network simulator sees it, read from configs/clusters/*.yaml: nodes of GPUs joined by
// NVLink through a non-blocking NVSwitch, one NIC per GPU into a multi-plane two-layer fat tree (the NIC of
// the GPU with local index l sits on plane l % planes), and the SMs that communication kernels get.
//
// Every physical constant of a shipped cluster cites its source in the YAML; `v3sim describe cluster` lists
// the keys. Proposals are small files that `extends:` a cluster and override a few keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/params.h"
#include "core/units.h"

namespace v3sim::net {

// How a chunk crossing leaf -> spine -> leaf picks its spine: a hash of (source, destination) per flow (ECMP),
// or per chunk the spine whose up-link has the least data queued (adaptive routing).
enum class SpineRouting { Static, Adaptive };

struct ClusterConfig {
  std::string name;
  std::string file;  // where it was read from, for errors
  std::string gpu;
  int64_t gpu_sms = 0;
  int64_t nodes = 0;
  int64_t gpus_per_node = 0;

  Bandwidth nvlink_bandwidth;  // per GPU and direction, achievable
  Time nvlink_latency;         // GPU to GPU through the NVSwitch

  int64_t nics_per_gpu = 1;  // 0 or 1
  Bandwidth nic_bandwidth;   // per NIC and direction, achievable payload rate
  Time nic_latency;          // one end: NIC processing and cable

  int64_t planes = 1;
  int64_t switch_radix = 64;
  Bandwidth fabric_link_bandwidth;  // leaf <-> spine
  Time fabric_link_latency;
  Time switch_latency;  // per switch traversed
  SpineRouting routing = SpineRouting::Adaptive;

  int64_t comm_sms = 24;        // SMs given to the normal (high-throughput) all-to-all kernels
  Bandwidth channel_push_rate;  // data one channel (a pair of SMs) pushes into NVLink per second
  bool coprocessor = false;     // data movement by a dedicated engine: not limited by comm_sms
  // DeepEP's low-latency kernels: same-node peers over NVLink (true), or every peer over RDMA, a same-node message
  // looped back by the sender's NIC (the February 2025 kernel).
  bool low_latency_nvlink = true;
  int64_t rdma_chunk_tokens = 16;  // tokens per RDMA chunk of the normal kernels
  Bytes chunk;                     // the largest piece the transfer engine moves at once

  int64_t gpus() const { return nodes * gpus_per_node; }
  int64_t endpoints_per_plane() const { return nodes * (gpus_per_node / planes); }
  int64_t hosts_per_leaf() const { return switch_radix / 2; }
  int64_t leaves_per_plane() const { return (endpoints_per_plane() + hosts_per_leaf() - 1) / hosts_per_leaf(); }
  // A two-layer fat tree: each leaf has radix/2 up-links, one to each spine. One leaf needs no spines.
  int64_t spines_per_plane() const { return leaves_per_plane() > 1 ? switch_radix / 2 : 0; }
};

const ComponentSpec& cluster_spec();

// Reads and validates a cluster config (including that every GPU can reach every other); throws ConfigError
// naming file, line and key.
ClusterConfig load_cluster(const ConfigNode& root);

// The parameter tables of everything sim/net reads from YAML (for `v3sim describe`).
std::vector<const ComponentSpec*> net_component_specs();

}  // namespace v3sim::net
