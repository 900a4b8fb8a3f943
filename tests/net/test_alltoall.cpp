// The MoE all-to-all: descriptor checks, conservation, DeepEP calibration from the reference file, the ISCA'25
// decode bound, and what the proposals change.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/config.h"
#include "helpers.h"
#include "sim/net/alltoall.h"

using namespace v3sim;
using namespace v3sim::net;

namespace {

AllToAllDesc normal(int64_t ep, AllToAllPhase phase = AllToAllPhase::Dispatch, int64_t tokens = 4096) {
  AllToAllDesc d;
  d.ep = ep;
  d.phase = phase;
  d.tokens = tokens;
  return d;
}

int64_t class_bytes(const AllToAllResult& r, LinkClass c) {
  for (const auto& u : r.classes)
    if (u.cls == c) return u.bytes;
  return 0;
}

// The reference data: the vendored copy (tests/data/reference), else ../shared/reference. Neither is a failure.
std::string reference_file() {
  namespace fs = std::filesystem;
  for (const fs::path& dir :
       {fs::path(V3SIM_SOURCE_DIR) / "tests/data/reference", fs::path(V3SIM_SOURCE_DIR) / "../shared/reference"}) {
    if (fs::exists(dir / "deepseek-v3.yaml")) return (dir / "deepseek-v3.yaml").string();
  }
  FAIL("deepseek-v3.yaml not found in tests/data/reference or ../shared/reference: the calibration cannot be checked");
  return {};
}

}  // namespace

TEST_CASE("the descriptor prints the whole problem and sizes copies as DeepEP does", "[net][alltoall]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  AllToAllDesc d;
  CHECK(d.copy_bytes() == 7392);  // 7168 FP8 + 56 FP32 scales
  d.phase = AllToAllPhase::Combine;
  CHECK(d.copy_bytes() == 14336);
  CHECK(alltoall_copy_bytes(AllToAllPhase::Dispatch, 7000) == 7000 + 55 * 4);  // a partial tile has its own scale
  d.bytes_per_copy = 4096;
  CHECK(d.copy_bytes() == 4096);
  d.bytes_per_copy = 0;
  d.phase = AllToAllPhase::Dispatch;
  CHECK(d.str(c) ==
        "normal dispatch on H800 2048-GPU MPFT cluster: EP64 (8 nodes x 8 GPUs), 4096 tokens/GPU, hidden 7168 (7392 B "
        "per copy), top-8 of 256 experts (+0 redundant), node limit 4, deepep routing (seed 1), 24 SMs");
  CHECK_NOTHROW(d.validate(c));
}

SCENARIO("impossible all-to-alls are refused with the key named", "[net][alltoall][errors]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  auto refuse = [&](AllToAllDesc d, const std::string& text) {
    CHECK_THROWS_WITH(d.validate(c), Catch::Contains(text));
  };
  AllToAllDesc d;
  d.ep = 12;
  refuse(d,
         "alltoall.ep: expected an EP size of whole nodes of 8 GPUs (or a divisor of one node), at most the 2048 GPUs "
         "of H800 2048-GPU MPFT cluster, found 12");
  d.ep = 4096;
  refuse(d, "alltoall.ep: expected an EP size");
  d = {};
  d.topk = 300;
  refuse(d, "alltoall.topk: expected between 1 and the 256 experts (experts per token), found 300");
  d = {};
  d.ep = 512;
  refuse(d, "alltoall.experts: expected experts that, with the 0 redundant ones, spread evenly over EP 512");
  d = {};
  d.node_limit = 1;
  d.topk = 40;
  refuse(d, "alltoall.topk: expected at most the 32 experts of the 1 nodes a token may reach (node_limit 1), found 40");
  d = {};
  d.sms = 21;
  refuse(d, "alltoall.sms: expected an even number of SMs");
  d = {};
  d.routing.kind = RoutingKind::Balanced;
  d.topk = 16;
  d.node_limit = 2;
  refuse(d, "alltoall.node_limit: expected at least the 3 nodes");
}

TEST_CASE("every byte of an all-to-all is delivered, and each link class carries what the routing implies",
          "[net][alltoall]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  for (auto phase : {AllToAllPhase::Dispatch, AllToAllPhase::Combine}) {
    CAPTURE(phase == AllToAllPhase::Dispatch);
    const AllToAllDesc d = normal(32, phase, 512);
    const AllToAllResult r = run_alltoall(c, d);
    CHECK(r.bytes_delivered == r.bytes_sent);
    const int64_t b = d.copy_bytes();
    // Each distinct (token, GPU) is pushed once by an SM; the NVLink crossings exclude the forwarder's own copies.
    CHECK(class_bytes(r, LinkClass::SmPush) == r.gpu_copies * b);
    CHECK(class_bytes(r, LinkClass::NvlinkUp) == class_bytes(r, LinkClass::NvlinkDown));
    CHECK(class_bytes(r, LinkClass::NvlinkUp) < r.gpu_copies * b);
    // Each distinct (token, node) crosses InfiniBand once unless the node is the source's own.
    CHECK(class_bytes(r, LinkClass::NicUp) == class_bytes(r, LinkClass::NicDown));
    CHECK(class_bytes(r, LinkClass::NicUp) % b == 0);
    CHECK(class_bytes(r, LinkClass::NicUp) / b == Approx(r.node_copies * 3.0 / 4).epsilon(0.02));
    CHECK(r.bytes_sent == class_bytes(r, LinkClass::SmPush) + class_bytes(r, LinkClass::NicUp));
  }
  AllToAllDesc ll = normal(64, AllToAllPhase::Dispatch, 128);
  ll.mode = AllToAllMode::LowLatency;
  const AllToAllResult r = run_alltoall(c, ll);
  CHECK(r.bytes_delivered == r.bytes_sent);
  CHECK(r.bytes_sent == r.copies * ll.copy_bytes());  // no deduplication
  CHECK(r.copies == 64 * 128 * 8);
}

TEST_CASE("low-latency kernels in both forms: same-node peers over NVLink, or every peer over RDMA",
          "[net][alltoall]") {
  const ClusterConfig nvl = test::cluster("h800-2048-mpft");
  const ClusterConfig rdma = test::cluster("h800-2048-mpft", {{"comm.low_latency_nvlink", "false"}});
  AllToAllDesc d = normal(8, AllToAllPhase::Dispatch, 128);
  d.mode = AllToAllMode::LowLatency;
  CHECK_THAT(d.str(rdma), Catch::Contains("pure RDMA"));
  CHECK_THAT(d.str(nvl), Catch::Contains("NVLink within a node"));
  // One node: NVLink carries every message, or the senders' NICs loop all of them back (both directions).
  const AllToAllResult a = run_alltoall(nvl, d), b = run_alltoall(rdma, d);
  CHECK(class_bytes(a, LinkClass::NicUp) == 0);
  CHECK(class_bytes(a, LinkClass::NvlinkUp) > 0);
  CHECK(class_bytes(b, LinkClass::NvlinkUp) == 0);
  CHECK(class_bytes(b, LinkClass::NicUp) == class_bytes(a, LinkClass::NvlinkUp));
  CHECK(class_bytes(b, LinkClass::NicDown) == class_bytes(b, LinkClass::NicUp));
  CHECK(b.time.seconds() > 2 * a.time.seconds());  // 44 GB/s NICs against 160 GB/s NVLink
  // Eight nodes: the cross-node messages are the same; the same-node ones add to the NICs' load.
  d = normal(64, AllToAllPhase::Dispatch, 128);
  d.mode = AllToAllMode::LowLatency;
  const AllToAllResult a64 = run_alltoall(nvl, d), b64 = run_alltoall(rdma, d);
  CHECK(class_bytes(b64, LinkClass::NicUp) > class_bytes(a64, LinkClass::NicUp));
  CHECK(b64.time > a64.time);
  CHECK(b64.bytes_delivered == b64.bytes_sent);
  // A cluster without NICs has no pure-RDMA form.
  CHECK_THROWS_WITH(
      test::cluster("h800-2048-mpft", {{"nodes", "1"}, {"nic.per_gpu", "0"}, {"comm.low_latency_nvlink", "false"}}),
      Catch::Contains("comm.low_latency_nvlink: expected true on a cluster without NICs"));
}

TEST_CASE("a simulation is reproducible for a seed", "[net][alltoall]") {
  const ClusterConfig c = test::cluster("h800-decode-40node");
  AllToAllDesc d = normal(320, AllToAllPhase::Combine, 16);
  d.mode = AllToAllMode::LowLatency;
  d.experts = 320;
  d.topk = 9;
  const AllToAllResult a = run_alltoall(c, d), b = run_alltoall(c, d);
  CHECK(a.time == b.time);
  CHECK(a.events == b.events);
  d.seed = 2;
  CHECK(run_alltoall(c, d).time != a.time);
}

TEST_CASE("DeepEP normal kernels on H800: the published bottleneck bandwidths (deepep_h800, 2025-04-22)",
          "[net][alltoall][calibration][slow]") {
  const ConfigNode ref = load_config_file(reference_file());
  const ConfigNode* table = ref.find("deepep_h800");
  REQUIRE(table);
  const ConfigNode* rows =
      table->find("normal_v1_2025_04_22") ? table->find("normal_v1_2025_04_22")->find("rows") : nullptr;
  REQUIRE(rows);
  REQUIRE(rows->items().size() == 4);
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  double sum = 0, worst = 0;
  int n = 0;
  for (const ConfigNode& row : rows->items()) {
    // [type, dispatch_EP, dispatch_GBps, combine_EP, combine_GBps, bottleneck_link]
    REQUIRE(row.items().size() == 6);
    const std::string type = row.items()[0].text();
    for (int col : {1, 3}) {
      const auto phase = col == 1 ? AllToAllPhase::Dispatch : AllToAllPhase::Combine;
      AllToAllDesc d = normal(std::stoll(row.items()[static_cast<size_t>(col)].text()), phase);
      d.experts = 256 / d.ep * d.ep;  // DeepEP's benchmark
      d.sms = 24;
      const double published = std::stod(row.items()[static_cast<size_t>(col) + 1].text());
      const AllToAllResult r = run_alltoall(c, d);
      CHECK(r.metric == (type == "intranode" ? "nvl" : "rdma"));
      const double err = std::fabs(r.metric_gbps - published) / published;
      WARN(fmt::format("{} EP{} {}: simulated {:.1f} GB/s, published {:.0f} GB/s ({:+.1f}%), busiest {}", type, d.ep,
                       col == 1 ? "dispatch" : "combine", r.metric_gbps, published,
                       100 * (r.metric_gbps - published) / published, link_class_name(r.bottleneck_class)));
      CHECK(err <= 0.20);
      sum += err;
      worst = std::max(worst, err);
      ++n;
    }
  }
  REQUIRE(n == 8);
  WARN(fmt::format("MAPE {:.1f}%, worst {:.1f}%", 100 * sum / n, 100 * worst));
  CHECK(sum / n <= 0.10);
}

TEST_CASE("DeepSeek's decode speed limit (ISCA'25 §2.3.2) in the regime it assumes", "[net][alltoall]") {
  // 32 tokens per GPU, 9 experts each (one expert per GPU), hidden ~7K, evenly spread, latency excluded:
  // (1 B dispatch + 2 B combine) x 32 x 9 x 7000 / 50 GB/s = 120.96 us per micro-batch.
  AllToAllDesc d;
  d.mode = AllToAllMode::LowLatency;
  d.tokens = 32;
  d.hidden = 7000;
  d.topk = 9;
  d.node_limit = 0;
  d.routing.kind = RoutingKind::Balanced;
  auto layer = [&](const ClusterConfig& c, int64_t ep) {
    d.ep = d.experts = ep;
    double us = 0;
    for (auto phase : {AllToAllPhase::Dispatch, AllToAllPhase::Combine}) {
      d.phase = phase;
      us += run_alltoall(c, d).time.microseconds();
    }
    return us;
  };
  const ClusterConfig ib = test::cluster("h800-decode-40node", {{"nic.bandwidth", "50GB/s"},
                                                                {"nic.latency", "0us"},
                                                                {"nvlink.latency", "0us"},
                                                                {"fabric.switch_latency", "0us"}});
  const double h800 = layer(ib, 320);
  const ClusterConfig nvl72 = test::cluster("gb200-nvl72", {{"nvlink.latency", "0us"}});
  const double gb200 = layer(nvl72, 72);
  WARN(
      fmt::format("decode all-to-all per micro-batch: H800 IB {:.2f} us (ISCA 120.96), GB200 NVL72 {:.2f} us (ISCA "
                  "6.72), ratio {:.1f}",
                  h800, gb200, h800 / gb200));
  CHECK(h800 == Approx(120.96).epsilon(0.10));
  CHECK(gb200 == Approx(6.72).epsilon(0.10));
  CHECK(h800 / gb200 == Approx(18).epsilon(0.10));
}

TEST_CASE("the proposals change what they should", "[net][alltoall][proposals]") {
  auto bw = [](const std::string& cluster, int64_t ep) {
    return run_alltoall(test::cluster(cluster), normal(ep, AllToAllPhase::Dispatch, 1024));
  };
  const AllToAllResult base8 = bw("h800-2048-mpft", 8), base64 = bw("h800-2048-mpft", 64);
  CHECK(base8.bottleneck_class == LinkClass::SmPush);
  CHECK((base64.bottleneck_class == LinkClass::NicUp || base64.bottleneck_class == LinkClass::NicDown));
  // A co-processor frees intranode traffic from the SMs: NVLink becomes the limit.
  const AllToAllResult cop8 = bw("proposals/comm-coprocessor", 8);
  CHECK(cop8.nvl_gbps > 1.15 * base8.nvl_gbps);
  CHECK(cop8.bottleneck_class != LinkClass::SmPush);
  // Scale-out at NVLink speed moves EP64's bottleneck off the NICs.
  const AllToAllResult uni64 = bw("proposals/unified-network", 64);
  CHECK(uni64.rdma_gbps > 1.5 * base64.rdma_gbps);
  CHECK(uni64.bottleneck_class != LinkClass::NicUp);
  // A 64-GPU NVLink domain keeps EP64 inside one node.
  const AllToAllResult big64 = bw("proposals/larger-nvlink-domain", 64);
  CHECK(big64.nodes == 1);
  CHECK(big64.time < base64.time);
  // Fewer SMs for communication, slower when the SMs are the limit (V3 training gives 20).
  AllToAllDesc d = normal(16, AllToAllPhase::Dispatch, 1024);
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  const double t24 = run_alltoall(c, d).time.seconds();
  d.sms = 20;
  CHECK(run_alltoall(c, d).time.seconds() == Approx(t24 * 24 / 20).epsilon(0.03));
}

TEST_CASE("every shipped cluster loads and runs a small all-to-all", "[net][configs]") {
  namespace fs = std::filesystem;
  int seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(V3SIM_SOURCE_DIR) / "configs/clusters")) {
    if (e.path().extension() != ".yaml") continue;
    CAPTURE(e.path().string());
    const ClusterConfig c = load_cluster(load_config_file(e.path().string()));
    for (auto mode : {AllToAllMode::Normal, AllToAllMode::LowLatency}) {
      AllToAllDesc d = normal(std::min<int64_t>(c.gpus(), 2 * c.gpus_per_node), AllToAllPhase::Dispatch, 64);
      d.mode = mode;
      d.experts = d.ep * 4;
      d.validate(c);
      const AllToAllResult r = run_alltoall(c, d);
      CHECK(r.time > Time());
      CHECK(r.bytes_delivered == r.bytes_sent);
    }
    ++seen;
  }
  CHECK(seen == 8);  // 4 clusters, 3 proposals and their combination
}

TEST_CASE("a cluster config is validated, including its connectivity", "[net][configs][errors]") {
  using test::cluster;
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"nic.per_gpu", "0"}}),
                    Catch::Contains("nic.per_gpu: expected a topology where every GPU reaches every other") &&
                        Catch::Contains("GPU 8 with no path to or from GPU 0"));
  CHECK_NOTHROW(cluster("h800-2048-mpft", {{"nic.per_gpu", "0"}, {"nodes", "1"}}));
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"nvlink.bandwidth", "0GB/s"}}),
                    Catch::Contains("nvlink.bandwidth: expected a bandwidth"));
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"fabric.planes", "3"}}),
                    Catch::Contains("fabric.planes: expected a divisor of the 8 GPUs per node"));
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"nodes", "4096"}}),
                    Catch::Contains("nodes: expected at most 2048 NICs per plane"));
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"comm.sms", "23"}}),
                    Catch::Contains("comm.sms: expected an even number of SMs"));
  CHECK_THROWS_WITH(cluster("h800-2048-mpft", {{"nic.speed", "1"}}), Catch::Contains("unknown key 'speed'"));
}

TEST_CASE("a larger NVLink domain never slows the low-latency all-to-all (PXN relays spread over the plane)",
          "[net][alltoall][domain]") {
  // 320 GPUs in nodes of 8 ... 160 on the 8-plane fabric: with more GPUs per node than planes, the relay of a
  // cross-plane copy is the source node's GPU with the destination's local index, so every NIC of a plane relays.
  double previous = 0;
  for (int64_t gpn : {8, 16, 32, 64, 160}) {
    CAPTURE(gpn);
    const ClusterConfig c = test::cluster(
        "h800-decode-40node", {{"gpus_per_node", std::to_string(gpn)}, {"nodes", std::to_string(320 / gpn)}});
    AllToAllDesc d = normal(320, AllToAllPhase::Dispatch, 32);
    d.mode = AllToAllMode::LowLatency;
    d.experts = 320;
    d.topk = 9;
    d.node_limit = 0;
    d.validate(c);
    const double us = run_alltoall(c, d).time.microseconds();
    if (previous > 0) CHECK(us <= previous * 1.02);
    previous = us;
  }
}
