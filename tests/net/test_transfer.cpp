// The transfer engine against hand-computed answers: one link, sharing, incast, conservation, routing.
#include <catch2/catch.hpp>
#include <map>

#include "helpers.h"
#include "sim/net/topology.h"
#include "sim/net/transfer.h"

using namespace v3sim;
using namespace v3sim::net;

namespace {

// An engine, a transfer engine on `topo`, and when each message (by tag) was delivered.
struct Harness {
  explicit Harness(const Topology& topo, TransferEngine::Options options = {})
      : xfer(engine, topo, options, [this](uint64_t tag) { done[tag] = engine.now(); }) {}
  engine::Engine engine;
  std::map<uint64_t, Time> done;
  TransferEngine xfer;
};

const Bandwidth k100GBps = parse_bandwidth("100GB/s");  // 10 ps per byte

}  // namespace

SCENARIO("one transfer over one link takes latency + size / bandwidth", "[net][transfer]") {
  Topology t;
  const int32_t a = t.add_vertex(VertexKind::Gpu, "a"), b = t.add_vertex(VertexKind::Gpu, "b");
  const int32_t l = t.add_link(LinkClass::NvlinkUp, a, b, k100GBps, Time::us(1));
  const auto size = GENERATE(Bytes(1), Bytes(65536), Bytes(1'000'000), Bytes(3'000'001));
  GIVEN("a message of " << size.count() << " bytes") {
    Harness h(t);
    h.xfer.send(h.xfer.add_route({Hop{l}}), size, 1, 7);
    const Time expected = Time::us(1) + Time::ps(size.count() * 10);
    THEN("it is not there at t - 1 ps and is there at t") {
      h.engine.run(expected - Time::ps(1));
      CHECK(h.done.empty());
      h.engine.run();
      REQUIRE(h.done.count(7) == 1);
      CHECK(h.done[7] == expected);
      CHECK(h.xfer.stats(l).busy == Time::ps(size.count() * 10));
      CHECK(h.xfer.stats(l).bytes == size.count());
    }
  }
}

SCENARIO("two flows sharing a link each get half of it", "[net][transfer]") {
  const int64_t size = 4'000'000;  // 40 us alone at 100 GB/s
  GIVEN("two streams injected on one link") {
    Topology t;
    const int32_t a = t.add_vertex(VertexKind::Gpu, "a"), b = t.add_vertex(VertexKind::Gpu, "b");
    const int32_t l = t.add_link(LinkClass::NicUp, a, b, k100GBps, Time());
    Harness h(t);
    const int32_t r = h.xfer.add_route({Hop{l}});
    h.xfer.send(r, Bytes(size), 1, 1);
    h.xfer.send(r, Bytes(size), 2, 2);
    h.engine.run(Time::us(40));
    THEN("at 40 us half of the data has arrived, to within the chunk in service") {
      CHECK(h.done.empty());
      CHECK(h.xfer.bytes_delivered() > size - 65536);
      CHECK(h.xfer.bytes_delivered() <= size);
      CHECK(h.xfer.stats(l).busy == Time::ps((h.xfer.bytes_delivered() + 65536) * 10));  // one chunk in service
    }
    h.engine.run();
    THEN("both finish at about 80 us, within two chunks (the first stream re-queues before the second arrives)") {
      const Time chunk = Time::ps(65536 * 10);
      CHECK(h.done[1] >= Time::us(80) - chunk - chunk);
      CHECK(h.done[2] == Time::us(80));
    }
  }
  GIVEN("two senders meeting at a switch output") {
    Topology t;
    const int32_t a = t.add_vertex(VertexKind::Gpu, "a"), b = t.add_vertex(VertexKind::Gpu, "b");
    const int32_t s = t.add_vertex(VertexKind::Leaf, "s"), d = t.add_vertex(VertexKind::Gpu, "d");
    const int32_t la = t.add_link(LinkClass::NicUp, a, s, k100GBps, Time());
    const int32_t lb = t.add_link(LinkClass::NicUp, b, s, k100GBps, Time());
    const int32_t ld = t.add_link(LinkClass::NicDown, s, d, k100GBps, Time());
    Harness h(t);
    h.xfer.send(h.xfer.add_route({Hop{la}, Hop{ld}}), Bytes(size), 1, 1);
    h.xfer.send(h.xfer.add_route({Hop{lb}, Hop{ld}}), Bytes(size), 2, 2);
    h.engine.run();
    THEN("the shared output serves them in turn and both take twice as long") {
      CHECK(h.done[1].microseconds() == Approx(80).epsilon(0.01));
      CHECK(h.done[2].microseconds() == Approx(80).epsilon(0.01));
      CHECK(h.xfer.stats(ld).busy == Time::us(80));
    }
  }
}

SCENARIO("an incast of N senders into one NIC takes N times as long", "[net][transfer]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft", {{"nodes", "8"}});
  const ClusterNetwork net(c, c.comm_sms, 1);
  const int64_t size = 8'000'000;  // ~180 us at the NIC's 44 GB/s
  auto incast = [&](int n) {
    Harness h(net.topology());
    // GPU 3 of nodes 1..n send to GPU 3 of node 0: same plane, one leaf, one NIC down.
    for (int i = 1; i <= n; ++i) {
      const int32_t src = net.gpu(i, 3), dst = net.gpu(0, 3);
      h.xfer.send(h.xfer.add_route(net.rdma_route(src, dst)), Bytes(size), static_cast<uint64_t>(i), 0);
    }
    h.engine.run();
    return h.engine.now();
  };
  const Time one = incast(1);
  CHECK(one.microseconds() == Approx(2.8 + size / 44e3).epsilon(0.01));
  for (int n : {2, 4, 7}) {
    CAPTURE(n);
    CHECK(incast(n).seconds() / one.seconds() == Approx(n).epsilon(0.02));
  }
}

TEST_CASE("bytes are conserved: every byte sent is received, once per link it crosses", "[net][transfer]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft", {{"nodes", "40"}});
  const ClusterNetwork net(c, c.comm_sms, 3);
  Harness h(net.topology());
  int64_t expected_link_bytes = 0;
  uint64_t tag = 0;
  for (int32_t src = 0; src < net.gpus(); src += 7) {
    for (int32_t dst = 1; dst < net.gpus(); dst += 13) {
      const Route r = net.gpu_route(src, dst);
      const int64_t size = 1000 + 997 * (src + dst) % 200'000;
      h.xfer.send(h.xfer.add_route(r), Bytes(size), static_cast<uint64_t>(src), tag++);
      expected_link_bytes += size * static_cast<int64_t>(r.size());
    }
  }
  h.engine.run();
  CHECK(h.done.size() == tag);
  CHECK(h.xfer.bytes_delivered() == h.xfer.bytes_sent());
  CHECK(h.xfer.messages_in_flight() == 0);
  int64_t link_bytes = 0;
  for (int32_t l = 0; l < net.topology().num_links(); ++l) link_bytes += h.xfer.stats(l).bytes;
  CHECK(link_bytes == expected_link_bytes);
}

TEST_CASE("routes follow the planes: NVLink in a node, one plane across nodes, PXN across planes", "[net][topology]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  const ClusterNetwork net(c, c.comm_sms, 1);
  const Topology& t = net.topology();
  auto classes = [&](const Route& r) {
    std::vector<LinkClass> out;
    for (const Hop& h : r) out.push_back(h.kind == Hop::kLink ? t.link(h.id).cls : t.link(t.link_set(h.id)[0]).cls);
    return out;
  };
  using L = LinkClass;
  CHECK(classes(net.gpu_route(5, 5)).empty());
  CHECK(classes(net.gpu_route(1, 6)) == std::vector<L>{L::NvlinkUp, L::NvlinkDown});
  CHECK(classes(net.gpu_route(3, 8 * 5 + 3)) == std::vector<L>{L::NicUp, L::NicDown});  // same leaf
  CHECK(classes(net.gpu_route(3, 8 * 200 + 3)) == std::vector<L>{L::NicUp, L::LeafUp, L::SpineDown, L::NicDown});
  CHECK(classes(net.gpu_route(3, 8 * 5 + 6)) ==
        std::vector<L>{L::NvlinkUp, L::NvlinkDown, L::NicUp, L::NicDown});  // forwarded to local GPU 6 first
  CHECK(classes(net.nvlink_route(2, 2, true)) == std::vector<L>{L::SmPush});
  // 8 planes of 256 NICs: 8 leaves of 32 and 32 spines per plane.
  CHECK(c.leaves_per_plane() == 8);
  CHECK(c.spines_per_plane() == 32);
}

TEST_CASE("end-to-end latency reproduces ISCA'25 Table 5 (IB 2.8 us same leaf, 3.7 us cross leaf)", "[net][topology]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft");
  const ClusterNetwork net(c, c.comm_sms, 1);
  for (auto [dst, us] : {std::pair{8 * 5 + 3, 2.8}, std::pair{8 * 200 + 3, 3.7}}) {
    Harness h(net.topology());
    h.xfer.send(h.xfer.add_route(net.rdma_route(3, dst)), Bytes(64), 0, 0);
    h.engine.run();
    CHECK(h.engine.now().microseconds() == Approx(us).epsilon(0.005));
  }
}

TEST_CASE("adaptive routing spreads one flow over the spines, static routing keeps it on one", "[net][transfer]") {
  for (const char* mode : {"adaptive", "static"}) {
    CAPTURE(mode);
    const ClusterConfig c = test::cluster("h800-2048-mpft", {{"fabric.routing", mode}});
    const ClusterNetwork net(c, c.comm_sms, 1);
    Harness h(net.topology());
    h.xfer.send(h.xfer.add_route(net.rdma_route(3, 8 * 200 + 3)), Bytes(4'000'000), 0, 0);
    h.engine.run();
    int used = 0;
    for (int32_t l = 0; l < net.topology().num_links(); ++l) {
      used += net.topology().link(l).cls == LinkClass::LeafUp && h.xfer.stats(l).bytes > 0;
    }
    CHECK(used == (std::string(mode) == "adaptive" ? 32 : 1));
  }
}

TEST_CASE("a run is reproducible for a seed", "[net][transfer]") {
  const ClusterConfig c = test::cluster("h800-2048-mpft", {{"nodes", "64"}});
  auto run = [&](uint64_t seed) {
    const ClusterNetwork net(c, c.comm_sms, seed);
    Harness h(net.topology(), TransferEngine::Options{.seed = seed});
    for (int32_t s = 0; s < 64; ++s) {
      h.xfer.send(h.xfer.add_route(net.gpu_route(8 * s, 8 * ((s * 37 + 11) % 64))), Bytes(300'000 + s), s, s);
    }
    h.engine.run();
    std::vector<int64_t> out;
    for (const auto& [tag, t] : h.done) out.push_back(t.picoseconds());
    return out;
  };
  CHECK(run(5) == run(5));
}

TEST_CASE("a zero-bandwidth link and a disconnected GPU are caught", "[net][topology][errors]") {
  Topology t;
  const int32_t a = t.add_vertex(VertexKind::Gpu, "GPU a"), b = t.add_vertex(VertexKind::Gpu, "GPU b");
  CHECK_THROWS_WITH(t.add_link(LinkClass::NvlinkUp, a, b, Bandwidth(), Time()),
                    Catch::Contains("expected a link with a positive bandwidth, found 0B/s from GPU a to GPU b"));
  const int32_t c = t.add_vertex(VertexKind::Gpu, "GPU c");
  t.add_link(LinkClass::NvlinkUp, a, b, k100GBps, Time());
  t.add_link(LinkClass::NvlinkDown, b, a, k100GBps, Time());
  t.add_link(LinkClass::NvlinkUp, c, a, k100GBps, Time());  // c can send but not receive
  CHECK(t.first_disconnected({a, b}) == -1);
  CHECK(t.first_disconnected({a, b, c}) == c);
}
