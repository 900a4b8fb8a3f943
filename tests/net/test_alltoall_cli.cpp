// `v3sim alltoall` as a user runs it: JSON figures, the trace file, and one clear line for each bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../cli/run_v3sim.h"

using v3sim::test::run_v3sim;
using v3sim::test::RunResult;

namespace {

// Exit 2, nothing on stdout, one line on stderr that starts with "error: " and says `text`.
void expect_refusal(const RunResult& r, const std::string& text) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(r.err.find('\n') == r.err.size() - 1);
  CHECK_THAT(r.err, Catch::Contains(text));
}

}  // namespace

TEST_CASE("alltoall --json prints the time, DeepEP's bandwidths, the bottleneck and each link class", "[cli][net]") {
  auto r = run_v3sim({"alltoall", "--ep", "16", "--tokens", "512", "--json"});
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"time_us", "rdma_gbps", "nvl_gbps", "bottleneck", "bottleneck_gbps", "links", "problem"}) {
    CHECK(j.contains(key));
  }
  CHECK(j["time_us"].get<double>() > 0);
  CHECK(j["bytes_per_copy"] == 7392);
  CHECK(j["nodes"] == 2);
  CHECK(j["bottleneck"]["class"] == "sm_push");
  CHECK_THAT(j["bottleneck"]["link"].get<std::string>(), Catch::StartsWith("sm_push GPU"));
  for (const char* cls : {"sm_push", "nvlink_up", "nvlink_down", "nic_up", "nic_down"}) {
    CAPTURE(cls);
    REQUIRE(j["links"].contains(cls));
    CHECK(j["links"][cls]["max_utilization"].get<double>() <= 1.0);
    CHECK(j["links"][cls]["bytes"].get<int64_t>() > 0);
  }
  CHECK(j["bytes_sent"] == j["bytes_delivered"]);

  auto ll = run_v3sim({"alltoall", "--cluster", "h800-decode-40node", "--ep",   "320",    "--experts",   "320",
                       "--topk",   "9",         "--tokens",           "32",     "--mode", "low-latency", "--phase",
                       "combine",  "--routing", "zipf:1.1",           "--seed", "3",      "--json"});
  REQUIRE(ll.exit_code == 0);
  const auto k = nlohmann::json::parse(ll.out);
  CHECK(k["bytes_per_copy"] == 14336);
  CHECK(k["copies"] == 320 * 32 * 9);
  CHECK(k["links"].contains("leaf_up"));  // 40 nodes need two leaves per plane

  auto human = run_v3sim({"alltoall", "--ep", "8", "--tokens", "256"});
  REQUIRE(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("(DeepEP's bottleneck bandwidth)") && Catch::Contains("bottleneck  sm_push"));
}

TEST_CASE("alltoall -o writes a Chrome/Perfetto trace of the links", "[cli][net]") {
  const std::string dir = std::filesystem::path(v3sim::test::write_temp_file("x", "")).parent_path().string();
  const std::string path = dir + "/a2a.json";
  auto r = run_v3sim(
      {"alltoall", "--ep", "16", "--tokens", "256", "--set", "cluster.fabric.routing=static", "-o", path, "--json"});
  REQUIRE(r.exit_code == 0);
  std::ifstream in(path);
  const auto t = nlohmann::json::parse(in);
  CHECK_THAT(t["metadata"]["problem"].get<std::string>(), Catch::Contains("EP16"));
  CHECK_THAT(t["metadata"]["cluster_config"].get<std::string>(), Catch::Contains("routing: static"));
  int slices = 0;
  for (const auto& e : t["traceEvents"]) slices += e["ph"] == "X";
  CHECK(slices > 0);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

SCENARIO("bad alltoall input exits 2 with one clear line", "[cli][net][errors]") {
  GIVEN("an EP size that is not whole nodes") {
    expect_refusal(run_v3sim({"alltoall", "--ep", "12"}),
                   "--ep: alltoall.ep: expected an EP size of whole nodes of 8 GPUs (or a divisor of one node), at "
                   "most the 2048 GPUs of H800 2048-GPU MPFT cluster, found 12");
  }
  GIVEN("more experts per token than experts") {
    expect_refusal(run_v3sim({"alltoall", "--experts", "64", "--topk", "65"}),
                   "--topk: alltoall.topk: expected between 1 and the 64 experts (experts per token), found 65");
  }
  GIVEN("a topology with disconnected GPUs") {
    expect_refusal(run_v3sim({"alltoall", "--set", "cluster.nic.per_gpu=0"}),
                   "--set cluster.nic.per_gpu=0: nic.per_gpu: expected a topology where every GPU reaches every other");
  }
  GIVEN("a link of zero bandwidth") {
    expect_refusal(run_v3sim({"alltoall", "--set", "cluster.nvlink.bandwidth=0GB/s"}),
                   "nvlink.bandwidth: expected a bandwidth");
    expect_refusal(run_v3sim({"alltoall", "--set", "cluster.fabric.link_bandwidth=0Gb/s"}),
                   "fabric.link_bandwidth: expected a bandwidth");
  }
  GIVEN("other mistakes") {
    expect_refusal(run_v3sim({"alltoall", "--routing", "zipf:0"}), "--routing: expected deepep, balanced, uniform");
    expect_refusal(run_v3sim({"alltoall", "--cluster", "nope"}), "--cluster: expected a YAML file or the name");
    expect_refusal(run_v3sim({"alltoall", "-o", "trace.h5"}), "-o: expected a Chrome/Perfetto trace file name");
    expect_refusal(run_v3sim({"alltoall", "--set", "cluster.nic.speed=1"}), "unknown key 'speed'");
    expect_refusal(run_v3sim({"alltoall", "--set", "model.dim=1"}), "the document 'model'");
    expect_refusal(run_v3sim({"alltoall", "--sms", "7"}), "--sms: alltoall.sms: expected an even number of SMs");
    auto mode = run_v3sim({"alltoall", "--mode", "fast"});
    CHECK(mode.exit_code == 2);
    CHECK_THAT(mode.err, Catch::StartsWith("error: "));
  }
}

TEST_CASE("describe lists the cluster parameters", "[cli][net]") {
  auto r = run_v3sim({"describe", "cluster"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("channel_push_rate") && Catch::Contains("switch_radix"));
}
