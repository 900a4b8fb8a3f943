#include "sim/net/cluster.h"

#include <fmt/format.h>

#include "sim/net/alltoall.h"
#include "sim/net/topology.h"

namespace v3sim::net {

namespace {

ParamSpec count(const char* name, const char* description, const char* unit, Range range) {
  return {.name = name, .type = ParamType::Int, .description = description, .unit = unit, .range = range};
}
// Link rates from 100 MB/s to 100 TB/s, latencies up to 1 ms.
ParamSpec rate(const char* name, const char* description) {
  return {.name = name, .type = ParamType::Bandwidth, .description = description, .range = range(1e8, 1e14)};
}
ParamSpec delay(const char* name, const char* description) {
  return {.name = name, .type = ParamType::Time, .description = description, .range = range(0, 1e9)};
}
ParamSpec section(const char* name, const char* description, const ComponentSpec& spec) {
  return {.name = name, .type = ParamType::Section, .description = description, .section = &spec};
}

const ComponentSpec& gpu_spec() {
  static const ComponentSpec spec{
      "gpu",
      "the GPU of every node",
      {{.name = "name", .type = ParamType::String, .description = "chip name shown in outputs"},
       count("sms", "streaming multiprocessors", "SMs", range(1, 1024))}};
  return spec;
}

const ComponentSpec& nvlink_spec() {
  static const ComponentSpec spec{
      "nvlink",
      "scale-up: every GPU of a node on one non-blocking NVSwitch",
      {rate("bandwidth", "achievable per GPU and direction"), delay("latency", "GPU to GPU through the NVSwitch")}};
  return spec;
}

const ComponentSpec& nic_spec() {
  static const ComponentSpec spec{"nic",
                                  "scale-out NICs (the NIC of local GPU l is on plane l % planes)",
                                  {count("per_gpu", "NICs per GPU: 1, or 0 for none", "NICs", range(0, 1)),
                                   rate("bandwidth", "achievable payload rate per NIC and direction"),
                                   delay("latency", "one end of a NIC-to-NIC path: NIC processing and cable")}};
  return spec;
}

const ComponentSpec& fabric_spec() {
  static const ComponentSpec spec{
      "fabric",
      "multi-plane two-layer fat tree: each leaf has radix/2 NIC ports and radix/2 up-links, one per spine",
      {count("planes", "independent fat trees; divides the GPUs per node", "planes", range(1, 1024)),
       count("switch_radix", "ports per switch", "ports", range(2, 4096)),
       rate("link_bandwidth", "leaf <-> spine link, per direction"),
       delay("link_latency", "leaf <-> spine cable"),
       delay("switch_latency", "per switch traversed"),
       {.name = "routing",
        .type = ParamType::Enum,
        .description = "spine choice: per-flow hash (static) or per chunk, least queued (adaptive)",
        .choices = {"static", "adaptive"}}}};
  return spec;
}

const ComponentSpec& comm_spec() {
  static const ComponentSpec spec{
      "comm",
      "the all-to-all kernels' use of the GPU",
      {count("sms", "SMs of the normal kernels (even: one channel per pair of SMs)", "SMs", range(2, 1024)),
       rate("channel_push_rate", "data one channel's SM pushes into NVLink per second"),
       {.name = "coprocessor",
        .type = ParamType::Bool,
        .description = "a communication co-processor moves the data: not limited by the SMs",
        .required = false,
        .default_text = "false"},
       {.name = "low_latency_nvlink",
        .type = ParamType::Bool,
        .description = "DeepEP's low-latency kernels reach GPUs of their own node over NVLink (its "
                       "allow_nvlink_for_low_latency_mode); false: the February 2025 kernel, every peer over RDMA "
                       "(the sender's NIC loops a same-node message back)",
        .required = false,
        .default_text = "true"},
       count("rdma_chunk_tokens", "tokens per RDMA chunk of the normal kernels", "tokens", range(1, 1 << 16))}};
  return spec;
}

const ComponentSpec& transfer_spec() {
  static const ComponentSpec spec{"transfer",
                                  "the transfer engine",
                                  {{.name = "chunk",
                                    .type = ParamType::Bytes,
                                    .description = "largest piece a link moves at once (store-and-forward per chunk)",
                                    .required = false,
                                    .default_text = "64KiB",
                                    .range = range(1 << 12, 1 << 30)}}};
  return spec;
}

}  // namespace

const ComponentSpec& cluster_spec() {
  static const ComponentSpec spec{
      "cluster",
      "a GPU cluster: nodes, NVLink, NICs, a multi-plane fat tree and the SMs of communication",
      {{.name = "name", .type = ParamType::String, .description = "cluster name shown in outputs"},
       section("gpu", "the GPU", gpu_spec()),
       count("nodes", "nodes", "nodes", range(1, 1 << 16)),
       count("gpus_per_node", "GPUs per node (one NVLink domain)", "GPUs", range(1, 1024)),
       section("nvlink", "scale-up", nvlink_spec()),
       section("nic", "scale-out NICs", nic_spec()),
       section("fabric", "scale-out network", fabric_spec()),
       section("comm", "communication kernels", comm_spec()),
       section("transfer", "simulation granularity", transfer_spec())}};
  return spec;
}

ClusterConfig load_cluster(const ConfigNode& root) {
  ParamReader r(root, cluster_spec());
  ClusterConfig c;
  c.file = root.loc().file;
  c.name = r.get_string("name");
  const ParamReader& gpu = r.section("gpu");
  c.gpu = gpu.get_string("name");
  c.gpu_sms = gpu.get_int("sms");
  c.nodes = r.get_int("nodes");
  c.gpus_per_node = r.get_int("gpus_per_node");
  const ParamReader& nvl = r.section("nvlink");
  c.nvlink_bandwidth = nvl.get_bandwidth("bandwidth");
  c.nvlink_latency = nvl.get_time("latency");
  const ParamReader& nic = r.section("nic");
  c.nics_per_gpu = nic.get_int("per_gpu");
  c.nic_bandwidth = nic.get_bandwidth("bandwidth");
  c.nic_latency = nic.get_time("latency");
  const ParamReader& fab = r.section("fabric");
  c.planes = fab.get_int("planes");
  c.switch_radix = fab.get_int("switch_radix");
  c.fabric_link_bandwidth = fab.get_bandwidth("link_bandwidth");
  c.fabric_link_latency = fab.get_time("link_latency");
  c.switch_latency = fab.get_time("switch_latency");
  c.routing = fab.get_string("routing") == "static" ? SpineRouting::Static : SpineRouting::Adaptive;
  const ParamReader& comm = r.section("comm");
  c.comm_sms = comm.get_int("sms");
  c.channel_push_rate = comm.get_bandwidth("channel_push_rate");
  c.coprocessor = comm.get_bool("coprocessor");
  c.low_latency_nvlink = comm.get_bool("low_latency_nvlink");
  c.rdma_chunk_tokens = comm.get_int("rdma_chunk_tokens");
  c.chunk = r.section("transfer").get_bytes("chunk");

  if (c.gpus_per_node % c.planes != 0) {
    throw fab.error("planes",
                    fmt::format("a divisor of the {} GPUs per node (one plane per GPU index)", c.gpus_per_node),
                    fmt::format("{}", c.planes));
  }
  if (c.switch_radix < 2 || c.switch_radix % 2 != 0) {
    throw fab.error("switch_radix", "an even number of ports (half down to NICs, half up to spines)",
                    fmt::format("{}", c.switch_radix));
  }
  if (c.leaves_per_plane() > c.switch_radix) {
    throw r.error(
        "nodes",
        fmt::format("at most {} NICs per plane (a two-layer fat tree of {}-port switches), so at most {} nodes",
                    c.switch_radix * c.switch_radix / 2, c.switch_radix,
                    c.switch_radix * c.switch_radix / 2 / (c.gpus_per_node / c.planes)),
        fmt::format("{} nodes ({} NICs per plane)", c.nodes, c.endpoints_per_plane()));
  }
  if (c.comm_sms % 2 != 0 || c.comm_sms > c.gpu_sms) {
    throw comm.error("sms", fmt::format("an even number of SMs (one channel per pair) of the GPU's {}", c.gpu_sms),
                     fmt::format("{}", c.comm_sms));
  }
  if (!c.low_latency_nvlink && c.nics_per_gpu == 0) {
    throw comm.error("low_latency_nvlink", "true on a cluster without NICs (pure-RDMA kernels need one per GPU)",
                     "false");
  }
  ClusterNetwork net(c, c.comm_sms, 0);
  std::vector<int32_t> gpus;
  for (int32_t g = 0; g < net.gpus(); ++g) gpus.push_back(net.gpu_vertex(g));
  if (int32_t bad = net.topology().first_disconnected(gpus); bad >= 0) {
    throw nic.error("per_gpu", "a topology where every GPU reaches every other (NVLink in a node, NICs between nodes)",
                    fmt::format("{} with no path to or from GPU 0 (node {} of {}, {} NIC per GPU)",
                                net.topology().vertex(bad).name, net.node_of(bad), c.nodes, c.nics_per_gpu));
  }
  return c;
}

std::vector<const ComponentSpec*> net_component_specs() {
  return {&cluster_spec(), &alltoall_spec()};
}

}  // namespace v3sim::net
