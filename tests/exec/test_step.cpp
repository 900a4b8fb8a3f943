// The whole step: its figures on the tiny model (consistent with each other and with the timeline), the SM split
// between compute and communication, decode with MTP, DeepSeek's decode bound, the errors of bad deployments, and
// `v3sim step` writing its HDF5 result, its JSON and its Perfetto trace.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "models/graph_builder.h"
#include "report/h5_file.h"
#include "sim/exec/step.h"
#include "tests/cli/run_v3sim.h"
#include "tests/models/helpers.h"
#include "tests/net/helpers.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::exec;

namespace {

std::string yaml_of(const std::string& path) {
  return load_config_file(path).to_yaml();
}

StepInputs inputs(const std::string& model, const std::string& deploy, const std::string& hw = "h800.yaml",
                  const std::string& cluster = "h800-2048-mpft") {
  StepInputs in;
  in.model = test::model(model);
  in.deploy = test::deployment(deploy, in.model);
  in.hw = test::hardware(hw);
  in.cluster = test::cluster(cluster);
  in.hw_yaml = yaml_of(std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/" + hw);
  in.cluster_yaml = yaml_of(test::cluster_path(cluster));
  return in;
}

double metric(const StepResult& r, const std::string& name) {
  for (const auto& [k, v] : r.metrics())
    if (k == name) return v;
  FAIL("no metric " << name);
  return 0;
}

}  // namespace

TEST_CASE("a training step's figures agree with each other and with its timeline", "[exec][step]") {
  const StepInputs in = inputs("tiny-moe", "tiny-train");
  const StepResult r = simulate_step(in);
  REQUIRE(r.step_time_s > 0);
  const double gpus = static_cast<double>(in.deploy.gpus);
  CHECK(r.tokens_per_step == Approx(16.0 * 256));  // 16 sequences of 256 tokens
  CHECK(r.tokens_per_s_per_gpu == Approx(r.tokens_per_step / (r.step_time_s * gpus)));
  CHECK(r.tokens_per_s_per_node == Approx(r.tokens_per_s_per_gpu * 8));
  CHECK(r.mfu > 0);
  CHECK(r.mfu < 1);
  CHECK(r.gpu_hours_per_trillion_tokens == Approx(gpus * r.step_time_s / 3600 * 1e12 / r.tokens_per_step));
  // The timeline holds every op, each inside the step, and its span is the step.
  REQUIRE(r.timeline.events.size() == r.ops);
  for (const auto& e : r.timeline.events) {
    REQUIRE(e.start.picoseconds() >= 0);
    REQUIRE(e.end >= e.start);
  }
  CHECK(r.timeline.span().seconds() == Approx(r.step_time_s).epsilon(1e-9));
  // The compute stream of the busiest rank plus its idle time is the step.
  REQUIRE(r.rank_busy_s.size() == 2);
  const double busiest = *std::max_element(r.rank_busy_s.begin(), r.rank_busy_s.end());
  CHECK(busiest <= r.step_time_s * (1 + 1e-12));
  CHECK(r.bubble_s >= 0);
  CHECK(r.exposed_comm_s >= 0);
  // Every metric is one a study can ask for, and the --json keys of the issue are there.
  const std::vector<std::string> names = metric_names(Phase::Train);
  for (const auto& [k, v] : r.metrics()) {
    CAPTURE(k);
    CHECK(std::find(names.begin(), names.end(), k) != names.end());
    CHECK(std::isfinite(v));
  }
  CHECK(metric(r, "gpu_hours_per_trillion_tokens") == r.gpu_hours_per_trillion_tokens);
  // Memory: weights, gradients and optimizer state of a training step; no KV cache.
  CHECK(r.memory_per_gpu_bytes.at("weights") > 0);
  CHECK(r.memory_per_gpu_bytes.at("gradients") > 0);
  CHECK(r.memory_per_gpu_bytes.at("optimizer") > 0);
  CHECK(r.memory_per_gpu_bytes.at("activations") > 0);
  CHECK(r.memory_per_gpu_bytes.at("kv_cache") == 0);
  // The fused attention has no cycle-level model: it is listed as a roofline op.
  CHECK(std::find(r.roofline_ops.begin(), r.roofline_ops.end(), "L*.attn.core") != r.roofline_ops.end());
  // The same inputs give the same step (deterministic), also from a shared cache.
  KernelCache cache;
  StepOptions o;
  o.cache = &cache;
  const StepResult again = simulate_step(in, o);
  const StepResult cached = simulate_step(in, o);
  CHECK(again.step_time_s == r.step_time_s);
  CHECK(cached.step_time_s == r.step_time_s);
  CHECK(cached.kernels_simulated == 0);
}

TEST_CASE("kernels simulated on threads give the same step, bit for bit, as on one", "[exec][step][threads]") {
  const StepInputs in = inputs("tiny-moe", "tiny-train");
  StepOptions one, four;
  one.threads = 1;
  four.threads = 4;
  size_t calls = 0, last_total = 0;
  four.progress = [&](size_t done, size_t total, const std::string&) {
    ++calls;
    last_total = total;
    CHECK(done <= total);
  };
  const StepResult a = simulate_step(in, one), b = simulate_step(in, four);
  REQUIRE(a.kernels_simulated > 1);  // more than one kernel to share out
  CHECK(calls == a.kernels_simulated);
  CHECK(last_total == a.kernels_simulated);
  CHECK(b.step_time_s == a.step_time_s);
  CHECK(b.exposed_comm_s == a.exposed_comm_s);
  REQUIRE(b.timeline.events.size() == a.timeline.events.size());
  for (size_t i = 0; i < a.timeline.events.size(); ++i) {
    INFO(a.timeline.events[i].name);
    REQUIRE(b.timeline.events[i].name == a.timeline.events[i].name);
    REQUIRE(b.timeline.events[i].start == a.timeline.events[i].start);
    REQUIRE(b.timeline.events[i].end == a.timeline.events[i].end);
  }
  CHECK(b.metrics() == a.metrics());
}

TEST_CASE("the SMs given to communication slow compute-bound roofline kernels by the SM ratio", "[exec][step][sms]") {
  StepInputs in = inputs("tiny-moe", "tiny-train");
  // The tiny model's kernels are memory-bound on an H800; with a (fictional) HBM 1000x faster they are not.
  in.hw = test::hardware("h800.yaml", {{"hbm.bandwidth", "3350TB/s"}});
  in.deploy.comm_sms = 20;
  const StepResult r20 = simulate_step(in);
  in.deploy.comm_sms = 44;
  const StepResult r44 = simulate_step(in);
  CHECK(r20.compute_sms == 112);
  CHECK(r44.compute_sms == 88);
  const double launch = in.hw.kernel.launch_overhead.seconds();
  std::map<std::string, const KernelRow*> by_name;
  for (const KernelRow& k : r44.kernels) by_name[k.name + "|" + k.kind] = &k;
  int compared = 0;
  for (const KernelRow& k : r20.kernels) {
    if (k.model != CostModel::Roofline || (k.bound != "tensor" && k.bound != "cuda-core")) continue;
    auto it = by_name.find(k.name + "|" + k.kind);
    REQUIRE(it != by_name.end());
    CAPTURE(k.name);
    CHECK((it->second->time_s - launch) == Approx((k.time_s - launch) * 112.0 / 88.0).margin(2e-12));  // whole ps
    ++compared;
  }
  CHECK(compared > 0);
  // Fewer compute SMs never make the step faster.
  CHECK(r44.stream_busy_s.at("compute") > r20.stream_busy_s.at("compute"));
  // The communication co-processor gives all SMs back to compute.
  StepInputs co = inputs("tiny-moe", "tiny-train", "h800.yaml", "proposals/comm-coprocessor");
  co.deploy.comm_sms = 20;
  const StepResult rc = simulate_step(co);
  CHECK(rc.compute_sms == 132);
  CHECK(rc.comm_sms == 0);
}

TEST_CASE("a decode step with MTP accepts 1 + acceptance tokens per step", "[exec][step][decode]") {
  const StepInputs in = inputs("tiny-moe", "tiny-decode");
  REQUIRE(in.deploy.speculative_tokens == 1);
  const StepResult r = simulate_step(in);
  CHECK(r.accepted_tokens_per_step == Approx(1 + in.deploy.mtp_acceptance));
  CHECK(r.tpot_ms == Approx(r.step_time_s * 1e3 / r.accepted_tokens_per_step));
  CHECK(r.tokens_per_s_per_request == Approx(1e3 / r.tpot_ms));
  CHECK(r.comm_sms == 0);  // low-latency kernels hold no SMs
  CHECK(r.memory_per_gpu_bytes.at("kv_cache") > 0);
  CHECK(r.memory_per_gpu_bytes.at("optimizer") == 0);
  CHECK(r.bubble_s == 0);
}

TEST_CASE("DeepSeek's decode bound: 14.76 ms per token at 50 GB/s, 0.82 ms at 900 GB/s", "[exec][step][bound]") {
  const StepInputs in = inputs("deepseek-v3-671b", "v3-decode-320", "h800.yaml", "h800-decode-40node");
  const DecodeBound at50 = decode_bound(in, parse_bandwidth("50GB/s"), true);
  const DecodeBound at900 = decode_bound(in, parse_bandwidth("900GB/s"), true);
  CHECK(at50.tpot_ms == Approx(14.76).epsilon(0.02));
  CHECK(at900.tpot_ms == Approx(0.82).epsilon(0.02));
  CHECK(at50.layer_us == Approx(120.96).epsilon(0.01));  // ISCA'25 §2.3.2 comm_time_us
  // The exact payload (hidden 7168, FP8 with its scales) costs a little more than the paper's rounding.
  const DecodeBound exact = decode_bound(in, parse_bandwidth("50GB/s"), false);
  CHECK(exact.tpot_ms > at50.tpot_ms);
  CHECK(exact.tpot_ms < at50.tpot_ms * 1.05);
}

TEST_CASE("bad deployments are ConfigErrors that say why", "[exec][step][errors]") {
  SECTION("more GPUs than the cluster") {
    StepInputs in = inputs("tiny-moe", "tiny-train");
    in.cluster = test::cluster("h800-2048-mpft", {{"nodes", "1"}});
    in.deploy.gpus = 16;
    CHECK_THROWS_WITH(simulate_step(in), Catch::Contains("needs 16 GPUs") && Catch::Contains("has 8"));
  }
  SECTION("experts that do not fit GPU memory") {
    StepInputs in = inputs("deepseek-v3-671b", "v3-decode-320", "h800.yaml", "h800-decode-40node");
    in.deploy = test::deployment_text(R"(
name: too-few-gpus
phase: decode
gpus: 8
gpus_per_node: 8
parallelism: {ep: 8}
batch: {seq_len: 4096, requests_per_gpu: 32, micro_batches: 2}
assumption: test
)",
                                      in.model);
    CHECK_THROWS_WITH(simulate_step(in),
                      Catch::Contains("does not fit GPU memory") && Catch::Contains("parallelism.ep"));
  }
  SECTION("an odd number of micro-batches for DualPipe") {
    const ModelConfig m = test::model("tiny-moe");
    CHECK_THROWS_AS(test::deployment_text(R"(
name: odd
phase: train
gpus: 8
gpus_per_node: 8
parallelism: {pp: 2, pp_schedule: dualpipe, ep: 4}
batch: {seq_len: 256, global_batch_sequences: 20, micro_batch_sequences: 1}
assumption: test
)",
                                          m),
                    ConfigError);
  }
  SECTION("every SM given to communication") {
    StepInputs in = inputs("tiny-moe", "tiny-train");
    in.deploy.comm_sms = 132;
    CHECK_THROWS_WITH(simulate_step(in), Catch::Contains("comm_sms 132 leaves no SMs"));
  }
}

TEST_CASE("v3sim step writes its HDF5 result, JSON and Perfetto trace", "[exec][step][cli]") {
  const std::string dir = std::filesystem::path(test::write_temp_file("x.txt", "")).parent_path().string();
  const std::string h5 = dir + "/step.h5";
  const std::vector<std::string> base = {"step", "--deploy", "tiny-train", "--no-cache"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const test::RunResult w = test::run_v3sim(with({"-o", h5}));
  INFO(w.err);
  REQUIRE(w.exit_code == 0);
  const report::ResultFile f = report::read_result_h5(h5);
  for (const char* k : {"format", "tool_version", "git_revision", "created_utc", "command_line", "seed", "model_config",
                        "deployment_config", "hardware_config", "cluster_config", "phase"}) {
    CAPTURE(k);
    CHECK(f.meta.count(k) == 1);
  }
  CHECK(f.meta.at("phase") == "train");
  CHECK(f.meta.at("command_line").find("tiny-train") != std::string::npos);
  REQUIRE(f.summary_value("step_time_s") != nullptr);
  REQUIRE(f.summary_value("mfu") != nullptr);
  CHECK(*f.summary_value("step_time_s") > 0);
  REQUIRE(!f.timeline.events.empty());
  CHECK(f.timeline.source == "projected");
  CHECK(f.timeline.span().seconds() == Approx(*f.summary_value("step_time_s")).epsilon(1e-9));
  if (std::system("command -v h5dump >/dev/null 2>&1") == 0) {
    const std::string dump = dir + "/step.dump";
    REQUIRE(std::system(("h5dump -H " + h5 + " > " + dump).c_str()) == 0);
    std::ifstream in(dump);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* g : {"GROUP \"meta\"", "DATASET \"timeline\"", "GROUP \"summary\"", "GROUP \"stats\""}) {
      CAPTURE(g);
      CHECK(text.find(g) != std::string::npos);
    }
  } else {
    WARN("h5dump not installed: the HDF5 file was only read back with the library");
  }

  // --json: the keys of the issue, the same step as the file.
  const test::RunResult j = test::run_v3sim(with({"--json"}));
  REQUIRE(j.exit_code == 0);
  const auto js = nlohmann::json::parse(j.out);
  for (const char* k :
       {"step_time_s", "tokens_per_s_per_gpu", "tokens_per_s_per_node", "mfu", "gpu_hours_per_trillion_tokens",
        "bubble_s", "exposed_comm_s", "breakdown_s", "memory_per_gpu_bytes", "roofline_ops"}) {
    CAPTURE(k);
    CHECK(js.contains(k));
  }
  CHECK(js["step_time_s"].get<double>() == *f.summary_value("step_time_s"));
  // /memory: the peak rank's memory over the step; its largest sample is the reported peak, at the reported time.
  REQUIRE(!f.memory.empty());
  const auto top = std::max_element(f.memory.begin(), f.memory.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; });
  REQUIRE(f.summary_value("memory_per_gpu_bytes.total") != nullptr);
  CHECK(top->second == Approx(*f.summary_value("memory_per_gpu_bytes.total")));
  for (const auto& [t, b] : f.memory) {
    CHECK(t >= 0);
    CHECK(b >= 0);
  }

  // -o x.json: a Perfetto trace with one process per pipeline rank.
  const std::string trace = dir + "/step.json";
  REQUIRE(test::run_v3sim(with({"-o", trace})).exit_code == 0);
  std::ifstream tin(trace);
  const auto tj = nlohmann::json::parse(tin);
  std::set<int> pids;
  size_t counters = 0;
  double peak_gib = 0;
  for (const auto& e : tj["traceEvents"]) {
    if (e.value("ph", "") == "X") pids.insert(e["pid"].get<int>());
    if (e.value("ph", "") == "C" && e.value("name", "") == "memory GiB") {
      ++counters;
      peak_gib = std::max(peak_gib, e["args"]["GiB"].get<double>());
    }
  }
  CHECK(pids.size() == 2);
  CHECK(counters == f.memory.size());  // the memory counter track
  CHECK(peak_gib * double(int64_t{1} << 30) == Approx(*f.summary_value("memory_per_gpu_bytes.total")));

  // Bad input: exit 2 and one clear line.
  const test::RunResult bad = test::run_v3sim({"step", "--deploy", "v3-train-2048", "--cluster", "h800-decode-40node"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("needs 2048 GPUs"));
  const test::RunResult ana = test::run_v3sim(with({"--analytical"}));
  CHECK(ana.exit_code == 2);
  CHECK_THAT(ana.err, Catch::Contains("decode deployment"));
}

TEST_CASE("a profiled chunk pair: one micro-batch's forward with another's backward, MoE layers only",
          "[exec][step][profile]") {
  StepInputs in = inputs("tiny-moe", "tiny-train");
  in.deploy.profile_chunk_layers = 2;
  GraphOptions go;
  go.chunk_layers = 2;
  const OpGraph g = build_graph(in.model, in.deploy, go);
  std::set<std::string> kinds;
  std::set<int32_t> layers;
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpDesc& d = g.desc(id);
    kinds.insert(to_string(d.kind));
    layers.insert(d.layer);
    CHECK(g.node(id).micro_batch < 2);
    CHECK(g.node(id).pp_rank == 0);
  }
  // No embedding, head, loss, optimizer, pipeline send or data-parallel collective; two layers, both MoE.
  for (const char* k : {"embedding", "loss", "optimizer", "send_recv", "weight_cast", "reduce_scatter", "all_gather"}) {
    CAPTURE(k);
    CHECK(kinds.count(k) == 0);
  }
  CHECK(kinds.count("grouped_gemm") == 1);
  CHECK(layers == std::set<int32_t>{0, 1});
  const StepResult r = simulate_step(in);
  // The timeline is the pair only: micro-batch 0 forward, micro-batch 1 backward, starting at 0.
  REQUIRE(!r.timeline.events.empty());
  Time first = r.timeline.events.front().start;
  size_t fwd = 0, bwd = 0;
  for (const auto& e : r.timeline.events) {
    first = std::min(first, e.start);
    if (e.pass == "fwd") {
      CHECK(e.micro_batch == 0);
      ++fwd;
    } else {
      CHECK(e.micro_batch == 1);
      ++bwd;
    }
    CHECK(e.layer >= 0);
  }
  CHECK(first == Time());
  CHECK(fwd > 0);
  CHECK(bwd > fwd);  // the backward has Dgrad and Wgrad ops
  CHECK(r.timeline.span().seconds() == Approx(r.step_time_s));
  CHECK(r.timeline.events.size() == fwd + bwd);
  CHECK(g.num_ops() > r.timeline.events.size());  // micro-batch 1's forward and 0's backward are outside the pair
}

TEST_CASE("profile.chunk_pair_layers is a training setting bounded by the MoE layers",
          "[exec][step][profile][errors]") {
  const ModelConfig m = test::model("tiny-moe");
  const std::string base = load_config_file(test::config_path("deployments", "tiny-train")).to_yaml();
  CHECK_THROWS_WITH(test::deployment_text(base + "profile: {chunk_pair_layers: 99}\n", m),
                    Catch::Contains("profile.chunk_pair_layers") && Catch::Contains("MoE layers"));
}

TEST_CASE("a chunk pair issues in DualPipe's order: backward experts between forward attention and experts",
          "[exec][step][profile]") {
  StepInputs in = inputs("tiny-moe", "tiny-train");
  in.deploy.profile_chunk_layers = 2;
  const StepResult r = simulate_step(in);
  auto start_of = [&](const std::string& name) {
    for (const auto& e : r.timeline.events)
      if (e.name == name) return e.start;
    FAIL("no event " << name);
    return Time();
  };
  // Pair 0: forward layer 0 (micro-batch 0) with backward layer 1 (micro-batch 1). Within it the compute stream
  // runs the forward attention, then the backward experts' input gradients, then the forward experts.
  const Time attn_f = start_of("L0.attn.core mb0");
  const Time mlp_b = start_of("L1.moe.experts.w13.dgrad mb1");
  const Time mlp_f = start_of("L0.moe.experts.w13 mb0");
  const Time attn_b = start_of("L1.attn.core.bwd mb1");
  CHECK(attn_f < mlp_b);
  CHECK(mlp_b < mlp_f);
  CHECK(mlp_f < attn_b);
  // and only then the next pair: forward layer 1 after backward layer 1's attention.
  CHECK(attn_b < start_of("L1.attn.core mb0"));
}

TEST_CASE("MoE load imbalance: GPUs of the EP group at different loads, all-to-alls waiting for the slowest",
          "[exec][step][profile][imbalance]") {
  StepInputs in = inputs("tiny-moe", "tiny-train");
  in.deploy.profile_chunk_layers = 2;
  in.deploy.profile_ep_ranks = 4;
  GraphOptions go;
  go.chunk_layers = 2;
  // Balanced: one GPU stands for all, no collective.
  {
    const OpGraph g = build_graph(in.model, in.deploy, go);
    for (OpId id = 0; id < g.num_ops(); ++id) {
      CHECK(g.node(id).pp_rank == 0);
      CHECK(g.node(id).collective == -1);
    }
  }
  in.deploy.load_cv = 0.2;
  const OpGraph g = build_graph(in.model, in.deploy, go);
  std::map<int32_t, std::set<uint16_t>> groups;
  std::map<uint16_t, std::set<int64_t>> rows;  // grouped-GEMM rows per GPU
  for (OpId id = 0; id < g.num_ops(); ++id) {
    const OpNode& n = g.node(id);
    const OpDesc& d = g.desc(id);
    if (n.collective >= 0) {
      CHECK(is_communication(d.kind));
      groups[n.collective].insert(n.pp_rank);
    }
    if (d.kind == OpKind::GroupedGemm && d.pass == Pass::Forward) rows[n.pp_rank].insert(d.gemm.m);
  }
  REQUIRE(!groups.empty());
  for (const auto& [k, members] : groups) CHECK(members.size() == 4);  // every GPU joins every all-to-all
  // GPU 0 runs the balanced load (tokens x top-k); the others run other loads.
  const int64_t balanced = in.deploy.tokens_per_micro_batch() * in.deploy.fanout(in.model);
  CHECK(rows[0] == std::set<int64_t>{balanced});
  std::set<int64_t> others;
  for (uint16_t gpu = 1; gpu < 4; ++gpu) others.insert(rows[gpu].begin(), rows[gpu].end());
  CHECK(others.size() > 1);
  // Handshakes precede every all-to-all of a training step.
  size_t shakes = 0, transfers = 0;
  for (OpId id = 0; id < g.num_ops(); ++id) {
    if (g.node(id).pp_rank != 0 || !is_communication(g.desc(id).kind)) continue;
    (g.desc(id).has(kFlagHandshake) ? shakes : transfers) += 1;
  }
  CHECK(shakes == transfers);
  // Waiting for slower GPUs lengthens GPU 0's communication kernels; its compute is the balanced one's.
  StepInputs balanced_in = in;
  balanced_in.deploy.load_cv = 0;
  const StepResult r0 = simulate_step(balanced_in), r1 = simulate_step(in);
  CHECK(r1.stream_busy_s.at("comm") > r0.stream_busy_s.at("comm"));
  CHECK(r1.stream_busy_s.at("compute") == Approx(r0.stream_busy_s.at("compute")).epsilon(1e-9));
}
