// The per-op cost model: the kernel cache (memory and file), the cost rules on the tiny model's graphs, what the
// SM proposals drop or change, the roofline's SM scaling, the analytical collectives' formulas, and the errors.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "models/graph_builder.h"
#include "sim/exec/op_cost.h"
#include "tests/models/helpers.h"
#include "tests/net/helpers.h"
#include "tests/sim/hw_helpers.h"

using namespace v3sim;
using namespace v3sim::exec;
namespace fs = std::filesystem;

namespace {

bool same(const OpCost& a, const OpCost& b) {
  return a.time == b.time && a.model == b.model && a.bound == b.bound && a.kernel == b.kernel && a.note == b.note;
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / fmt::format("v3sim-op-cost-{}-{}", static_cast<long>(::getpid()), ++counter);
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string yaml_of(const std::string& path) {
  return load_config_file(path).to_yaml();
}

// Everything a cost_graph call needs, from shipped configs.
struct Setup {
  ModelConfig model;
  Deployment deploy;
  HardwareConfig hw;
  net::ClusterConfig cluster;
  CostContext ctx;

  Setup(const std::string& model_name, const std::string& deploy_name, const std::string& hw_file,
        const std::string& cluster_name, int64_t comm_sms)
      : model(test::model(model_name)),
        deploy(test::deployment(deploy_name, model)),
        hw(test::hardware(hw_file)),
        cluster(test::cluster(cluster_name)) {
    ctx.model = &model;
    ctx.deploy = &deploy;
    ctx.hw = &hw;
    ctx.cluster = &cluster;
    ctx.low_latency_alltoall = deploy.phase == Phase::Decode;
    ctx.comm_sms = ctx.low_latency_alltoall ? 0 : comm_sms;
    ctx.compute_sms = hw.sms - ctx.comm_sms;
    ctx.fingerprint = cost_fingerprint(yaml_of(std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/" + hw_file),
                                       yaml_of(test::cluster_path(cluster_name)));
  }
  Setup(const Setup&) = delete;
};

// The costs of a graph with one op per descriptor given.
OpGraph one_op_graph(const std::vector<OpDesc>& descs) {
  OpGraph g;
  for (const OpDesc& d : descs) g.add_op(g.add_desc(d), 0, 0, 0);
  g.finalize();
  return g;
}

size_t index_of(const OpGraph& g, const std::string& name) {
  for (uint32_t i = 0; i < g.num_descs(); ++i)
    if (g.descriptor(i).name == name) return i;
  FAIL("no op named " << name);
  return 0;
}

}  // namespace

TEST_CASE("the kernel cache keeps results in memory and counts hits and misses", "[exec][cost][cache]") {
  KernelCache c;
  CHECK(c.path().empty());
  CHECK_FALSE(c.find("fp|gemm a"));
  OpCost x{Time::ps(123456789), CostModel::CycleGemm, "tensor", "gemm a", "a\tnote\nwith escapes \\ "};
  c.insert("fp|gemm a", x);
  auto y = c.find("fp|gemm a");
  REQUIRE(y);
  CHECK(same(*y, x));
  c.insert("fp|gemm a", OpCost{Time::ps(1), CostModel::Roofline, "hbm", "gemm a", ""});  // the first result stays
  CHECK(c.find("fp|gemm a")->time == Time::ps(123456789));
  CHECK(c.size() == 1);
  CHECK(c.misses() == 1);
  CHECK(c.hits() == 2);
}

TEST_CASE("a file-backed kernel cache round-trips bit-exactly through a new cache", "[exec][cost][cache]") {
  TempDir dir;
  const fs::path file = dir.path / "nested" / "kernels.txt";
  const std::vector<std::pair<std::string, OpCost>> entries = {
      {"0123|gemm e4m3 dense g1 m4096 n7168 k2048 sms112 promote",
       {Time::ps(987654321012), CostModel::CycleGemm, "tensor", "gemm e4m3 dense g1 m4096 n7168 k2048 sms112 promote",
        ""}},
      {"0123|cast quantize rows128 cols256 sms132",
       {Time::ps(1), CostModel::CycleCast, "hbm", "cast quantize rows128 cols256 sms132", "tab\there\nnewline \\n"}},
      {"abcd|alltoall x", {Time::ps(0), CostModel::CycleAllToAll, "nic_up", "alltoall x", "a|b"}},
  };
  {
    KernelCache c(file.string());
    CHECK(fs::exists(file));  // created with its parent directory
    CHECK(read_text(file) == "v3sim-kernel-cache 1\n");
    for (const auto& [k, v] : entries) c.insert(k, v);
  }
  const std::string text = read_text(file);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);  // header + one line per entry, escapes inside lines
  KernelCache again(file.string());
  CHECK(again.size() == entries.size());
  for (const auto& [k, v] : entries) {
    CAPTURE(k);
    auto got = again.find(k);
    REQUIRE(got);
    CHECK(same(*got, v));
  }
  // A line still being appended by another process (no newline yet) is not read.
  write_text(file, text + "0123|partial\t12");
  CHECK(KernelCache(file.string()).size() == entries.size());
}

TEST_CASE("a foreign or corrupt kernel-cache file is refused with the file and line named", "[exec][cost][cache]") {
  TempDir dir;
  const fs::path file = dir.path / "kernels.txt";
  auto refused = [&](const std::string& text, const std::string& where) {
    write_text(file, text);
    try {
      KernelCache c(file.string());
      FAIL("accepted: " << text);
    } catch (const ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(file.string() + where));
    }
  };
  refused("v3sim-kernel-cache 2\n", ":1");
  refused("some other file\nwith lines\n", ":1");
  refused("", ":1");
  refused("v3sim-kernel-cache 1\nk\t12\tcycle-gemm\ttensor\t\nk2\tnot-a-number\tcycle-gemm\ttensor\t\n", ":3");
  refused("v3sim-kernel-cache 1\nk\t12\tno-such-model\ttensor\t\n", ":2");
  refused("v3sim-kernel-cache 1\nk\t12\tcycle-gemm\ttensor\n", ":2");
  refused("v3sim-kernel-cache 1\nk\t12\tcycle-gemm\ttensor\tbad escape \\x\n", ":2");
  write_text(file, "v3sim-kernel-cache 1\nk\t12\tcycle-gemm\ttensor\t\n");
  CHECK(KernelCache(file.string()).find("k")->time == Time::ps(12));
}

TEST_CASE("default cache path and fingerprint", "[exec][cost][cache]") {
  CHECK_FALSE(default_cache_path().empty());
  const std::string a = cost_fingerprint("hw: 1", "cluster: 1");
  CHECK(a == cost_fingerprint("hw: 1", "cluster: 1"));
  CHECK(a != cost_fingerprint("hw: 2", "cluster: 1"));
  CHECK(a != cost_fingerprint("hw: 1", "cluster: 2"));
  CHECK(cost_fingerprint("ab", "c") != cost_fingerprint("a", "bc"));
  CHECK(a.find('|') == std::string::npos);
  // The HBM capacity costs no op: a capacity sweep keeps the kernel cache, a bandwidth change does not.
  const std::string hw = "hbm:\n  capacity: 80GB\n  bandwidth: 3.35TB/s\nl2:\n  capacity: 50MB\n";
  const std::string base = cost_fingerprint(hw, "cluster: 1");
  CHECK(base ==
        cost_fingerprint("hbm:\n  capacity: 141GB\n  bandwidth: 3.35TB/s\nl2:\n  capacity: 50MB\n", "cluster: 1"));
  CHECK(base != cost_fingerprint("hbm:\n  capacity: 80GB\n  bandwidth: 4TB/s\nl2:\n  capacity: 50MB\n", "cluster: 1"));
  CHECK(base !=
        cost_fingerprint("hbm:\n  capacity: 80GB\n  bandwidth: 3.35TB/s\nl2:\n  capacity: 40MB\n", "cluster: 1"));
}

TEST_CASE("streams: layer communication, pipeline and data-parallel traffic, compute", "[exec][cost]") {
  OpDesc d;
  d.kind = OpKind::Gemm;
  CHECK(stream_of(d) == Stream::Compute);
  d.kind = OpKind::AllToAllDispatch;
  CHECK(stream_of(d) == Stream::Comm);
  d.kind = OpKind::AllGather;
  d.comm.group = CommGroup::TP;
  CHECK(stream_of(d) == Stream::Comm);
  d.comm.group = CommGroup::DP;
  CHECK(stream_of(d) == Stream::PipeComm);
  d.kind = OpKind::SendRecv;
  d.comm.group = CommGroup::PP;
  CHECK(stream_of(d) == Stream::PipeComm);
  CHECK(std::string(to_string(Stream::PipeComm)) == "pipe_comm");
  CHECK(is_cycle_level(CostModel::Dropped));
  CHECK_FALSE(is_cycle_level(CostModel::Roofline));
}

TEST_CASE("the tiny training graph: every op costed, FP8 kernels at cycle level, layers share kernels",
          "[exec][cost]") {
  Setup s("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  const OpGraph g = build_graph(s.model, s.deploy);
  KernelCache cache;
  size_t calls = 0, total = 0;
  const std::vector<OpCost> costs = cost_graph(g, s.ctx, cache, [&](size_t done, size_t n, const std::string& k) {
    CHECK(done == ++calls);
    CHECK_FALSE(k.empty());
    total = n;
  });
  REQUIRE(costs.size() == g.num_descs());
  std::set<std::string> cycle_kernels;
  size_t cycle_ops = 0;
  for (uint32_t i = 0; i < g.num_descs(); ++i) {
    const OpDesc& d = g.descriptor(i);
    const OpCost& c = costs[i];
    CAPTURE(describe(d), c.kernel, to_string(c.model));
    CHECK(c.time > Time());
    CHECK_FALSE(c.kernel.empty());
    CHECK_FALSE(c.bound.empty());
    CHECK(c.model != CostModel::Dropped);
    const bool fp8_gemm = (d.kind == OpKind::Gemm || d.kind == OpKind::GroupedGemm) && d.gemm.a_type == DType::E4M3;
    if (fp8_gemm) CHECK(c.model == CostModel::CycleGemm);
    if (d.kind == OpKind::Quantize || d.kind == OpKind::TransposeRequant) CHECK(c.model == CostModel::CycleCast);
    if ((d.kind == OpKind::AllToAllDispatch || d.kind == OpKind::AllToAllCombine) && !d.has(kFlagHandshake)) {
      CHECK(c.model == CostModel::CycleAllToAll);
      CHECK_THAT(c.kernel, Catch::StartsWith("alltoall normal"));
    }
    if (d.has(kFlagHandshake)) {
      // A launch and two hops: microseconds, far below the transfer.
      CHECK(c.model == CostModel::Analytical);
      CHECK(c.time < Time::us(20));
    }
    if (d.kind == OpKind::Attention || d.kind == OpKind::Norm) CHECK(c.model == CostModel::Roofline);
    if (d.kind == OpKind::ReduceScatter || d.kind == OpKind::SendRecv) CHECK(c.model == CostModel::Analytical);
    if (is_cycle_level(c.model)) {
      cycle_kernels.insert(c.kernel);
      ++cycle_ops;
    }
  }
  // One simulation per distinct kernel: the MoE layers' identical shapes share keys.
  CHECK(cache.misses() == cycle_kernels.size());
  CHECK(calls == cycle_kernels.size());
  CHECK(total == cycle_kernels.size());
  CHECK(cache.size() == cycle_kernels.size());
  CHECK(cycle_kernels.size() * 2 < cycle_ops);
  CHECK(costs[index_of(g, "L1.moe.experts.w13")].kernel == costs[index_of(g, "L4.moe.experts.w13")].kernel);
  CHECK_THAT(costs[index_of(g, "L1.moe.experts.w13")].kernel, Catch::Contains("contiguous"));
  CHECK_THAT(costs[index_of(g, "L1.moe.experts.w13.wgrad")].kernel, Catch::Contains("k-grouped"));

  // Again with the same cache: nothing simulated, the same costs.
  const uint64_t misses = cache.misses();
  calls = 0;
  const std::vector<OpCost> again = cost_graph(g, s.ctx, cache, [&](size_t, size_t, const std::string&) { ++calls; });
  CHECK(calls == 0);
  CHECK(cache.misses() == misses);
  CHECK(cache.hits() == cycle_kernels.size());
  for (size_t i = 0; i < costs.size(); ++i) CHECK(same(costs[i], again[i]));
}

TEST_CASE("cached results read back from a file equal the computed ones", "[exec][cost][cache]") {
  TempDir dir;
  const std::string file = (dir.path / "kernels.txt").string();
  Setup s("tiny-moe", "tiny-decode", "h800.yaml", "h800-2048-mpft", 0);
  const OpGraph g = build_graph(s.model, s.deploy);
  std::vector<OpCost> computed;
  {
    KernelCache cache(file);
    computed = cost_graph(g, s.ctx, cache);
    CHECK(cache.misses() > 0);
  }
  KernelCache reloaded(file);
  const std::vector<OpCost> read = cost_graph(g, s.ctx, reloaded);
  CHECK(reloaded.misses() == 0);
  CHECK(reloaded.hits() == reloaded.size());
  REQUIRE(read.size() == computed.size());
  for (size_t i = 0; i < read.size(); ++i) CHECK(same(read[i], computed[i]));
  // Another chip: another fingerprint, so nothing is shared.
  Setup other("tiny-moe", "tiny-decode", "proposals/block-scaled-mma.yaml", "h800-2048-mpft", 0);
  CHECK(other.ctx.fingerprint != s.ctx.fingerprint);
  cost_graph(g, other.ctx, reloaded);
  CHECK(reloaded.misses() > 0);
}

TEST_CASE("decode: masked grouped GEMMs and the low-latency all-to-all", "[exec][cost]") {
  Setup s("tiny-moe", "tiny-decode", "h800.yaml", "h800-2048-mpft", 0);
  const OpGraph g = build_graph(s.model, s.deploy);
  KernelCache cache;
  const std::vector<OpCost> costs = cost_graph(g, s.ctx, cache);
  const OpCost& w13 = costs[index_of(g, "L1.moe.experts.w13")];
  CHECK(w13.model == CostModel::CycleGemm);
  CHECK_THAT(w13.kernel, Catch::Contains("masked"));
  const OpCost& dispatch = costs[index_of(g, "L1.moe.dispatch")];
  CHECK(dispatch.model == CostModel::CycleAllToAll);
  CHECK_THAT(dispatch.kernel, Catch::StartsWith("alltoall low-latency dispatch"));
  // tiny-decode routes the shared expert on 4 extra slots: 16 + 4 experts, 4 + 1 per token.
  CHECK_THAT(dispatch.kernel, Catch::Contains("top5 experts20"));
  CHECK(costs[index_of(g, "L1.attn.q_absorb")].model == CostModel::Roofline);
  CHECK(costs[index_of(g, "L1.attn.core")].bound == "hbm");  // reads the KV cache
}

TEST_CASE("transposed FP8 smem reads drop the transposes and the Wgrad GEMMs read MN-major", "[exec][cost]") {
  Setup base("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  Setup prop("tiny-moe", "tiny-train", "proposals/transposed-fp8-smem-reads.yaml", "h800-2048-mpft", 20);
  const OpGraph g = build_graph(base.model, base.deploy);
  KernelCache cache;
  const std::vector<OpCost> before = cost_graph(g, base.ctx, cache);
  const std::vector<OpCost> after = cost_graph(g, prop.ctx, cache);
  size_t transposes = 0, wgrads = 0;
  for (uint32_t i = 0; i < g.num_descs(); ++i) {
    const OpDesc& d = g.descriptor(i);
    CAPTURE(d.name);
    if (d.kind == OpKind::TransposeRequant) {
      ++transposes;
      CHECK(before[i].model == CostModel::CycleCast);
      CHECK(after[i].model == CostModel::Dropped);
      CHECK(after[i].time == Time());
      CHECK_THAT(after[i].note, Catch::Contains("transposed"));
    }
    if (d.kind == OpKind::WeightCast) {
      CHECK(after[i].model == (d.has(kFlagTransposeForFp8) ? CostModel::Dropped : CostModel::Roofline));
    }
    if (after[i].model == CostModel::CycleGemm && d.pass == Pass::Wgrad) {
      ++wgrads;
      CHECK_THAT(after[i].kernel, Catch::Contains("a:mn b:mn"));
      CHECK_THAT(before[i].kernel, !Catch::Contains(":mn"));
    }
    // Dgrad reads the weight transposed; a forward GEMM recomputed in the backward reads it as the forward does.
    const bool recompute = d.has(kFlagRecompute);
    if (after[i].model == CostModel::CycleGemm && d.pass == Pass::Dgrad && !recompute) {
      CHECK(d.gemm.b_transposed_copy);
      CHECK_THAT(after[i].kernel, Catch::Contains("b:mn"));
      CHECK_THAT(after[i].kernel, !Catch::Contains("a:mn"));
    }
    if (after[i].model == CostModel::CycleGemm && (d.pass == Pass::Forward || recompute)) {
      CHECK(after[i].kernel == before[i].kernel);
    }
  }
  CHECK(transposes > 0);
  CHECK(wgrads > 0);
}

TEST_CASE("FP8 cast in TMA drops the quantizes that only feed GEMMs, whose A then loads BF16", "[exec][cost]") {
  Setup base("tiny-moe", "tiny-decode", "h800.yaml", "h800-2048-mpft", 0);
  Setup prop("tiny-moe", "tiny-decode", "proposals/tma-fp8-cast.yaml", "h800-2048-mpft", 0);
  const OpGraph g = build_graph(base.model, base.deploy);
  KernelCache cache;
  const std::vector<OpCost> before = cost_graph(g, base.ctx, cache);
  const std::vector<OpCost> after = cost_graph(g, prop.ctx, cache);
  size_t dropped = 0, cast_gemms = 0;
  for (uint32_t i = 0; i < g.num_descs(); ++i) {
    const OpDesc& d = g.descriptor(i);
    CAPTURE(d.name);
    if (d.kind == OpKind::Quantize) {
      CHECK(before[i].model == CostModel::CycleCast);
      if (after[i].model == CostModel::Dropped) {
        ++dropped;
        CHECK(after[i].time == Time());
        CHECK_THAT(after[i].note, Catch::Contains("TMA"));
      }
    }
    if (after[i].model == CostModel::CycleGemm) {
      CHECK_THAT(before[i].kernel, !Catch::Contains("bf16-tma-cast"));
      if (after[i].kernel.find("a:bf16-tma-cast") != std::string::npos) ++cast_gemms;
    }
  }
  CHECK(dropped > 0);
  CHECK(cast_gemms >= dropped);
  // The attention input's cast feeds only the fused down-projection: dropped, and that GEMM casts in the TMA.
  CHECK(after[index_of(g, "L0.attn.x_quant")].model == CostModel::Dropped);
  CHECK_THAT(after[index_of(g, "L0.attn.wqkv_a")].kernel, Catch::Contains("a:bf16-tma-cast"));
  CHECK_THAT(after[index_of(g, "L1.moe.experts.w2")].kernel, Catch::Contains("a:bf16-tma-cast"));
  // The MoE input's cast feeds the dispatch (FP8 over the network): it stays.
  CHECK(after[index_of(g, "L1.moe.x_quant")].model == CostModel::CycleCast);
  // The routed experts' first GEMM reads the permuted FP8 tokens: no cast there.
  CHECK_THAT(after[index_of(g, "L1.moe.experts.w13")].kernel, !Catch::Contains("bf16-tma-cast"));
}

TEST_CASE("training keeps the quantizes that the Wgrad transposes read, even with FP8 cast in TMA", "[exec][cost]") {
  Setup prop("tiny-moe", "tiny-train", "proposals/tma-fp8-cast.yaml", "h800-2048-mpft", 20);
  const OpGraph g = build_graph(prop.model, prop.deploy);
  KernelCache cache;
  const std::vector<OpCost> after = cost_graph(g, prop.ctx, cache);
  CHECK(after[index_of(g, "L0.ffn.x_quant")].model == CostModel::CycleCast);   // also read by ffn.w13's x_t
  CHECK(after[index_of(g, "L1.moe.dy_quant")].model == CostModel::CycleCast);  // feeds the backward dispatch
}

TEST_CASE("a compute-bound roofline op scales exactly with 1 / compute SMs", "[exec][cost][roofline]") {
  Setup s("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  OpDesc att;
  att.name = "attn";
  att.kind = OpKind::Attention;
  att.flops = 123'456'789'012'345;
  att.bytes_read = 1000;
  OpDesc norm = att;
  norm.name = "norm";
  norm.kind = OpKind::Norm;
  norm.flops = 9'876'543'210;
  OpDesc mem = norm;
  mem.name = "mem";
  mem.flops = 10;
  mem.bytes_read = 3'000'000'000;
  mem.bytes_written = 1'000'000'000;
  const OpGraph g = one_op_graph({att, norm, mem});
  KernelCache cache;
  s.ctx.compute_sms = 132;
  const auto c132 = cost_graph(g, s.ctx, cache);
  s.ctx.compute_sms = 112;
  const auto c112 = cost_graph(g, s.ctx, cache);
  const Time launch = s.hw.kernel.launch_overhead;
  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK(c132[i].model == CostModel::Roofline);
    CHECK(c132[i].bound == (i == 0 ? "tensor" : "cuda-core"));
    const double t132 = static_cast<double>((c132[i].time - launch).picoseconds());
    const double t112 = static_cast<double>((c112[i].time - launch).picoseconds());
    CHECK(std::abs(t112 - t132 * 132.0 / 112.0) <= 1.5);  // each rounded up to a whole picosecond
  }
  // The tensor peak: BF16 FLOPs per clock per SM x SMs x the sustained clock.
  const double peak = 4096.0 * 132 * static_cast<double>(s.hw.sustained_clock.hertz());
  // Fused attention (a forward op here) reaches the hardware's attention_fwd_efficiency of it.
  const double eff = s.hw.kernel.attention_fwd_efficiency;
  CHECK(eff > 0.5);  // h800.yaml: FlashAttention-3's published causal rate, a part of the peak
  CHECK(eff < 1.0);
  CHECK(static_cast<double>((c132[0].time - launch).picoseconds()) ==
        Approx(static_cast<double>(att.flops) / peak * 1e12 / eff).margin(2.0));  // rounded up to a picosecond
  // A memory-bound op does not care about the SMs: bytes over the sustained HBM bandwidth.
  CHECK(c132[2].bound == "hbm");
  CHECK(c132[2].time == c112[2].time);
  CHECK(static_cast<double>((c132[2].time - launch).picoseconds()) ==
        Approx(4e9 / (3.35e12 * 0.85) * 1e12).epsilon(1e-9));
}

TEST_CASE("analytical collectives follow the ring alpha-beta formula", "[exec][cost][analytical]") {
  Setup s("deepseek-v3-671b", "v3-train-2048", "h800.yaml", "h800-2048-mpft", 20);
  const net::ClusterConfig& cl = s.cluster;
  auto comm = [](const char* name, OpKind kind, CommGroup group, int64_t n, int64_t bytes) {
    OpDesc d;
    d.name = name;
    d.kind = kind;
    d.comm.group = group;
    d.comm.group_size = n;
    d.comm.bytes = bytes;
    return d;
  };
  const int64_t B = 1'000'000'007;
  const OpGraph g = one_op_graph({
      comm("tp.rs", OpKind::ReduceScatter, CommGroup::TP, 8, B),
      comm("tp.ar", OpKind::AllReduce, CommGroup::TP, 4, B),
      comm("expert_dp.rs", OpKind::ReduceScatter, CommGroup::ExpertDP, 4, B),  // DualPipe: two pipeline ranks
      comm("dp.ag", OpKind::AllGather, CommGroup::DP, 128, B),                 // one pipeline rank: 16 nodes
      comm("pp.send", OpKind::SendRecv, CommGroup::PP, 2, B),
  });
  KernelCache cache;
  const auto c = cost_graph(g, s.ctx, cache);
  for (const OpCost& x : c) CHECK(x.model == CostModel::Analytical);
  auto us = [](Time t) { return t.microseconds(); };
  const double nvl = cl.nvlink_bandwidth.gb_per_s() * 1e3;  // bytes per microsecond
  const double nic = cl.nic_bandwidth.gb_per_s() * 1e3 * static_cast<double>(cl.nics_per_gpu);
  const double same_leaf = us(cl.nic_latency) * 2 + us(cl.switch_latency);
  const double cross_leaf = same_leaf + 2 * us(cl.switch_latency) + 2 * us(cl.fabric_link_latency);
  CHECK(same_leaf == Approx(2.8));
  CHECK(cross_leaf == Approx(3.7));
  // Each ring step moves ceil(bytes / n) and is rounded to whole picoseconds (1e-8 relative covers 255 steps).
  auto ring = [](double n, double lat, double bw, double bytes) { return (n - 1) * (lat + std::ceil(bytes / n) / bw); };
  CHECK(us(c[0].time) == Approx(ring(8, us(cl.nvlink_latency), nvl, B)).epsilon(1e-8));
  CHECK(c[0].bound == "nvlink");
  CHECK(us(c[1].time) == Approx(2 * ring(4, us(cl.nvlink_latency), nvl, B)).epsilon(1e-8));
  CHECK(us(c[2].time) == Approx(ring(4, cross_leaf, nic, B)).epsilon(1e-8));
  CHECK(c[2].bound == "nic");
  CHECK(us(c[3].time) == Approx(ring(128, same_leaf, nic, B)).epsilon(1e-8));
  CHECK(us(c[4].time) == Approx(same_leaf + B / nic).epsilon(1e-8));
}

TEST_CASE("impossible kernels are ConfigErrors naming the op and why", "[exec][cost][errors]") {
  Setup s("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  KernelCache cache;
  SECTION("an EP group larger than the cluster") {
    OpDesc d;
    d.name = "L3.moe.dispatch";
    d.kind = OpKind::AllToAllDispatch;
    d.comm.group = CommGroup::EP;
    d.comm.group_size = 4096;
    d.comm.tokens = 128;
    d.comm.fanout = 4;
    const OpGraph g = one_op_graph({d});
    try {
      cost_graph(g, s.ctx, cache);
      FAIL("accepted EP 4096 on 2048 GPUs");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains("L3.moe.dispatch"));
      CHECK_THAT(e.what(), Catch::Contains("EP 4096"));
      CHECK_THAT(e.what(), Catch::Contains("tiny-train"));
      CHECK_THAT(e.what(), Catch::Contains(s.cluster.name));
    }
  }
  SECTION("a GEMM the kernel cannot run") {
    OpDesc d;
    d.name = "L0.attn.wo";
    d.kind = OpKind::Gemm;
    d.gemm.m = 0;
    d.gemm.n = 256;
    d.gemm.k = 256;
    d.gemm.a_type = d.gemm.b_type = DType::E4M3;
    const OpGraph g = one_op_graph({d});
    try {
      cost_graph(g, s.ctx, cache);
      FAIL("accepted M = 0");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains("L0.attn.wo"));
      CHECK_THAT(e.what(), Catch::Contains("positive sizes"));
    }
  }
  SECTION("more compute SMs than the chip has") {
    s.ctx.compute_sms = 133;
    const OpGraph g = one_op_graph({OpDesc{}});
    CHECK_THROWS_AS(cost_graph(g, s.ctx, cache), ConfigError);
  }
}

namespace {

void time_cost_graph(const std::string& model, const std::string& deploy, const std::string& cluster,
                     int64_t comm_sms) {
  Setup s(model, deploy, "h800.yaml", cluster, comm_sms);
  const auto t0 = std::chrono::steady_clock::now();
  const OpGraph g = build_graph(s.model, s.deploy);
  const auto t1 = std::chrono::steady_clock::now();
  KernelCache cache;
  std::map<std::string, double> by_model;
  const std::vector<OpCost> costs = cost_graph(g, s.ctx, cache);
  const auto t2 = std::chrono::steady_clock::now();
  const std::vector<OpCost> again = cost_graph(g, s.ctx, cache);
  const auto t3 = std::chrono::steady_clock::now();
  std::set<std::string> kernels, cycle;
  for (const OpCost& c : costs) {
    kernels.insert(c.kernel);
    if (c.model == CostModel::CycleGemm || c.model == CostModel::CycleCast || c.model == CostModel::CycleAllToAll)
      cycle.insert(c.kernel);
  }
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  fmt::print(
      "{} on h800 + {}: {} ops, {} descriptors, {} distinct kernels ({} simulated); graph {:.2f} s, "
      "cost_graph {:.2f} s, again from the cache {:.3f} s\n",
      deploy, cluster, g.num_ops(), g.num_descs(), kernels.size(), cycle.size(), secs(t0, t1), secs(t1, t2),
      secs(t2, t3));
  CHECK(cache.misses() == cycle.size());
  for (size_t i = 0; i < costs.size(); ++i) CHECK(same(costs[i], again[i]));
}

}  // namespace

TEST_CASE("cost_graph on the V3 deployments (timing)", "[exec][cost][slow]") {
  time_cost_graph("deepseek-v3-671b", "v3-train-2048", "h800-2048-mpft", 20);
  time_cost_graph("deepseek-v3-671b", "v3-prefill-32", "h800-2048-mpft", 24);
  time_cost_graph("deepseek-v3-671b", "v3-decode-320", "h800-decode-40node", 0);
}

TEST_CASE("DeepSeek's kernel stack: its memory-bound kernels on the SM model, and what the proposals drop of them",
          "[exec][cost]") {
  Setup ideal("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  Setup base("tiny-moe", "tiny-train", "h800.yaml", "h800-2048-mpft", 20);
  base.deploy.deepseek_kernels = true;
  Setup transposed("tiny-moe", "tiny-train", "proposals/transposed-fp8-smem-reads.yaml", "h800-2048-mpft", 20);
  transposed.deploy.deepseek_kernels = true;
  const OpGraph gi = build_graph(ideal.model, ideal.deploy);
  const OpGraph g = build_graph(base.model, base.deploy);
  CHECK(g.num_descs() > gi.num_descs());  // the stack's own kernels
  KernelCache cache;
  const std::vector<OpCost> before = cost_graph(g, base.ctx, cache);
  const std::vector<OpCost> tr = cost_graph(g, transposed.ctx, cache);
  std::map<std::string, int> seen;
  for (uint32_t i = 0; i < g.num_descs(); ++i) {
    const OpDesc& d = g.descriptor(i);
    CAPTURE(d.name, before[i].kernel);
    if (d.launch.given()) {
      CHECK(before[i].model == CostModel::Streaming);
      CHECK_THAT(before[i].kernel, Catch::Contains(fmt::format("grid{} block{}", d.launch.grid, d.launch.block)));
    }
    const std::string suffix = d.name.substr(d.name.rfind('.') + 1);
    if (d.layer == 1) ++seen[suffix];
    // Per-use weight transposes exist only because FP8 wgmma reads K-major operands.
    if (suffix == "w_t") {
      CHECK(d.has(kFlagTransposeForFp8));
      CHECK(tr[i].model == CostModel::Dropped);
    }
    if (d.kind == OpKind::Norm && d.pass == Pass::Dgrad) CHECK(d.launch.given());
  }
  CHECK(seen["w_t"] > 0);
  CHECK(seen["scale_t"] > 0);
  CHECK(seen["recompute"] > 0);    // RMSNorm recomputed as a forward kernel
  CHECK(seen["h_cast_back"] > 0);  // the FP8-cached SwiGLU input back to BF16
  CHECK(seen["k_assemble"] == 1);
  // A memory-bound kernel of few CTAs is latency-bound on the SM model; the roofline would call it HBM-bound.
  CHECK(before[index_of(g, "L0.attn.wqkv_a.scale_t")].bound == "latency");

  // Where a cast feeds only forward GEMMs (inference), a chip that casts in the TMA drops the cast and the scale
  // transpose with it (training keeps its casts: the Wgrad transposes read them).
  Setup dec("tiny-moe", "tiny-decode", "h800.yaml", "h800-2048-mpft", 0);
  dec.deploy.deepseek_kernels = true;
  Setup tma("tiny-moe", "tiny-decode", "proposals/tma-fp8-cast.yaml", "h800-2048-mpft", 0);
  tma.deploy.deepseek_kernels = true;
  const OpGraph gd = build_graph(dec.model, dec.deploy);
  const std::vector<OpCost> kept = cost_graph(gd, dec.ctx, cache);
  const std::vector<OpCost> tm = cost_graph(gd, tma.ctx, cache);
  CHECK(kept[index_of(gd, "L0.attn.wqkv_a.scale_t")].model == CostModel::Streaming);
  CHECK(tm[index_of(gd, "L0.attn.x_quant")].model == CostModel::Dropped);
  CHECK(tm[index_of(gd, "L0.attn.wqkv_a.scale_t")].model == CostModel::Dropped);
}
