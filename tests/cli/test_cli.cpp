#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_v3sim.h"
#include "tests/temp_dir.h"

using v3sim::test::run_v3sim;
using v3sim::test::write_temp_file;

namespace {

const std::string kConfigs = std::string(V3SIM_SOURCE_DIR) + "/configs";

// A user's mistake: exit 2 and exactly one line "error: ..." on stderr, nothing on stdout.
void check_user_error(const v3sim::test::RunResult& r, const std::string& must_contain) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error: "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, Catch::Contains(must_contain));
  CHECK(r.out.empty());
}

std::string good_deploy() {
  return "name: d\nphase: train\ngpus: 16\nparallelism:\n  pp: 2\n  ep: 8\n"
         "batch:\n  seq_len: 256\n  global_batch_sequences: 16\n";
}

}  // namespace

TEST_CASE("graph --json prints one object with the headline figures of DeepSeek-V3", "[cli]") {
  auto r = run_v3sim({"graph", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const char* key :
       {"params_total", "params_activated", "params_mtp", "kv_cache_bytes_per_token", "flops_per_token_forward",
        "flops_per_token_train", "flops_per_token_train_noncausal", "ops", "ops_by_kind"}) {
    CHECK(j.contains(key));
  }
  CHECK(j["kv_cache_bytes_per_token"] == 70272);
  CHECK(j["params_total"].get<double>() == Approx(671e9).epsilon(0.005));
  CHECK(j["flops_per_token_train"].get<double>() == Approx(250e9).epsilon(0.05));
  CHECK(j["ops_by_kind"]["gemm"].get<int>() > 0);
}

TEST_CASE("graph builds every deployment by name, human and JSON", "[cli]") {
  for (const char* d : {"tiny-train", "tiny-prefill", "tiny-decode", "v3-prefill-32", "v3-decode-320"}) {
    CAPTURE(d);
    auto r = run_v3sim({"graph", "--deploy", d, "--json"});
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["ops"].get<int>() > 0);
    auto h = run_v3sim({"graph", "--deploy", d});
    CHECK(h.exit_code == 0);
    CHECK_THAT(h.out, Catch::Contains("ops by kind"));
  }
  auto v2 = run_v3sim({"graph", "--model", kConfigs + "/models/deepseek-v2-236b.yaml", "--json"});
  REQUIRE(v2.exit_code == 0);
  CHECK(nlohmann::json::parse(v2.out)["flops_per_token_train"].get<double>() == Approx(155e9).epsilon(0.05));
}

TEST_CASE("--set and --seq change the graph; -o writes DOT", "[cli]") {
  auto base = nlohmann::json::parse(run_v3sim({"graph", "--model", "tiny-moe", "--json"}).out);
  auto more = run_v3sim({"graph", "--model", "tiny-moe", "--set", "model.n_layers=7", "--json"});
  REQUIRE(more.exit_code == 0);
  CHECK(nlohmann::json::parse(more.out)["params_total"] > base["params_total"]);
  auto seq = run_v3sim({"graph", "--deploy", "tiny-train", "--seq", "512", "--json"});
  REQUIRE(seq.exit_code == 0);
  CHECK(nlohmann::json::parse(seq.out)["seq_len"] == 512);
  std::string dot = write_temp_file("g.dot", "");
  auto r = run_v3sim({"graph", "--deploy", "tiny-prefill", "--micro-batches", "1", "-o", dot});
  CHECK(r.exit_code == 0);
  std::ifstream in(dot);
  std::string first;
  std::getline(in, first);
  CHECK_THAT(first, Catch::StartsWith("digraph"));
}

TEST_CASE("describe lists the parameter tables", "[cli]") {
  auto r = run_v3sim({"describe"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("n_routed_experts") && Catch::Contains("deployment.parallelism"));
  auto j = run_v3sim({"describe", "model", "--json"});
  REQUIRE(j.exit_code == 0);
  CHECK(nlohmann::json::parse(j.out)["components"][0]["name"] == "model");
  check_user_error(run_v3sim({"describe", "gpu"}), "expected a component name");
  // The documents' names as --set spells them describe the same tables.
  CHECK(run_v3sim({"describe", "hw"}).out == run_v3sim({"describe", "hardware"}).out);
  CHECK(run_v3sim({"describe", "deploy"}).out == run_v3sim({"describe", "deployment"}).out);
  // study takes --cache as step and compare do (and --kernel-cache, its older name).
  CHECK(run_v3sim({"study", "--cache", "none", "--dry-run"}).exit_code == 0);
  CHECK(run_v3sim({"study", "--kernel-cache", "none", "--dry-run"}).exit_code == 0);
}

TEST_CASE("help and version exit 0", "[cli]") {
  auto h = run_v3sim({"--help"});
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("graph"));
  auto g = run_v3sim({"graph", "--help"});
  CHECK(g.exit_code == 0);
  CHECK_THAT(g.out, Catch::Contains("Examples"));
  auto v = run_v3sim({"--version"});
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("v3sim "));
}

SCENARIO("every kind of bad input exits 2 with one line naming file, line and key", "[cli][errors]") {
  GIVEN("a YAML syntax error") {
    std::string f = write_temp_file("syntax.yaml", "name: d\nphase: [train\ngpus: 8\n");
    check_user_error(run_v3sim({"graph", "--deploy", f}), f + ":");
    check_user_error(run_v3sim({"graph", "--deploy", f}), "expected valid YAML");
  }
  GIVEN("an unknown key") {
    std::string f = write_temp_file("unknown.yaml", good_deploy() + "experts:\n  redundnat: 4\n");
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", f}),
                     f + ":11: experts.redundnat: expected a key of experts");
  }
  GIVEN("a missing required key") {
    std::string f = write_temp_file("missing.yaml",
                                    "name: d\nphase: train\nbatch:\n  seq_len: 256\n"
                                    "  global_batch_sequences: 16\n");
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", f}),
                     f + ":1: gpus: expected an integer from 1 to");
  }
  GIVEN("a negative size and a zero size") {
    std::string f = write_temp_file("neg.yaml", good_deploy() + "");
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", f, "--set", "deploy.batch.seq_len=-5"}),
                     "batch.seq_len: expected an integer from 1 to 1048576");
    std::string z = write_temp_file("zero.yaml", "name: d\nphase: train\ngpus: 0\n");
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", z}),
                     z + ":3: gpus: expected an integer from 1 to");
    std::string mz = write_temp_file("model.yaml", "extends: " + kConfigs + "/models/tiny-moe.yaml\ndim: 0\n");
    check_user_error(run_v3sim({"graph", "--model", mz}), mz + ":2: dim: expected an integer from 1 to 65536");
  }
  GIVEN("EP that does not divide the experts") {
    std::string f = write_temp_file("ep.yaml", good_deploy() + "experts:\n  redundant: 2\n");
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", f}),
                     f + ":6: parallelism.ep: expected an EP degree that divides the 18 expert slots");
  }
  GIVEN("PP that does not divide the layers") {
    std::string f = write_temp_file("pp.yaml", good_deploy());
    check_user_error(run_v3sim({"graph", "--model", "tiny-moe", "--deploy", f, "--set", "deploy.parallelism.pp=3"}),
                     "parallelism.pp: expected a PP degree that divides the 8 pipeline slots");
  }
  GIVEN("a missing file") {
    check_user_error(run_v3sim({"graph", "--deploy", "/nonexistent/d.yaml"}), "--deploy: expected an existing YAML");
    check_user_error(run_v3sim({"graph", "--model", "no-such-model"}), "--model: expected a YAML file or the name");
    std::string f = write_temp_file("ext.yaml", "extends: nowhere.yaml\nname: x\n");
    check_user_error(run_v3sim({"graph", "--model", f}), f + ":1: extends: expected a readable YAML file");
  }
  GIVEN("bad command-line use") {
    auto r = run_v3sim({"graph", "--phase", "serve"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error: "));
    check_user_error(run_v3sim({"graph", "--set", "hw.sms=100"}), "the document 'hw'");
    check_user_error(run_v3sim({"graph", "--set", "n_layers"}), "no '='");
    check_user_error(run_v3sim({"graph", "--deploy", "tiny-train", "--phase", "decode"}),
                     "--phase: expected the phase");
    CHECK(run_v3sim({"frobnicate"}).exit_code == 2);
  }
}

namespace {
std::string codes(const std::string& one, int n = 32) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + one;
  return s;
}
}  // namespace

TEST_CASE("numerics dot prints one wgmma output bit-exactly", "[cli][numerics]") {
  // 32 products of 1.0 * 1.0 plus C = 1.0: 33.
  auto r = run_v3sim({"numerics", "dot", "--a", codes("0x38"), "--b", codes("0x38"), "--c", "0x3f800000", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["d_bits"] == "0x42040000");
  CHECK(j["d"].get<double>() == 33.0);
  // C = 2^14 pushes the grid to 2^1: the products of 1.125 vanish on Hopper, not with FP32 accumulation.
  auto big = run_v3sim({"numerics", "dot", "--a", codes("0x38"), "--b", codes("0x39"), "--c", "0x46800000", "--json"});
  CHECK(nlohmann::json::parse(big.out)["d_bits"] == "0x46800000");
  auto fp32 = run_v3sim({"numerics", "dot", "--a", codes("0x38"), "--b", codes("0x39"), "--c", "0x46800000", "--hw",
                         "proposals/fp32-accumulation", "--json"});
  REQUIRE(fp32.exit_code == 0);
  CHECK(nlohmann::json::parse(fp32.out)["d"].get<double>() == 16384.0 + 36.0);
  auto e5 = run_v3sim({"numerics", "dot", "--a-type", "e5m2", "--b-type", "e5m2", "--a", codes("0x3c"), "--b",
                       codes("0x3c"), "--json"});
  CHECK(nlohmann::json::parse(e5.out)["d"].get<double>() == 32.0);
}

TEST_CASE("numerics gemm prints the error figures, and a K sweep", "[cli][numerics]") {
  auto r = run_v3sim({"numerics", "gemm", "--m", "64", "--n", "64", "--k", "1024", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"max_rel_error", "mean_rel_error", "normwise_rel_error"}) CHECK(j[key].get<double>() > 0);
  CHECK(j["quantization"]["a"] == "1x128");
  auto s = run_v3sim(
      {"numerics", "gemm", "--m", "32", "--n", "32", "--promote-every", "0", "--sweep-k", "256,1024", "--json"});
  REQUIRE(s.exit_code == 0);
  auto sweep = nlohmann::json::parse(s.out)["sweep"];
  REQUIRE(sweep.size() == 2);
  CHECK(sweep[1]["normwise_rel_error"].get<double>() > sweep[0]["normwise_rel_error"].get<double>());
  auto cast = run_v3sim({"numerics", "cast", "--to", "e4m3", "0.3", "500", "--json"});
  REQUIRE(cast.exit_code == 0);
  CHECK(nlohmann::json::parse(cast.out)["values"][0]["code"] == "0x2a");
  CHECK(nlohmann::json::parse(cast.out)["values"][1]["value"] == 448.0);
}

SCENARIO("bad numerics input exits 2 with one clear line", "[cli][numerics][errors]") {
  check_user_error(run_v3sim({"numerics", "dot", "--a", codes("0x38", 31), "--b", codes("0x38")}),
                   "--a: expected 32 comma-separated FP8 codes (one wgmma k32 step), found 31 codes");
  check_user_error(run_v3sim({"numerics", "dot", "--a", codes("0x38", 31) + ",zz", "--b", codes("0x38")}),
                   "--a: expected hex FP8 codes like 0x38 (00 to FF), comma-separated, found 'zz' (item 32)");
  check_user_error(run_v3sim({"numerics", "dot", "--a", codes("0x38"), "--b", codes("0x138")}), "'0x138' (item 1)");
  check_user_error(run_v3sim({"numerics", "dot", "--a-type", "e3m4", "--a", codes("0x38"), "--b", codes("0x38")}),
                   "--a-type: expected an FP8 format: e4m3 or e5m2, found 'e3m4'");
  check_user_error(run_v3sim({"numerics", "dot", "--a", codes("0x38"), "--b", codes("0x38"), "--c", "1.0"}),
                   "--c: expected an FP32 bit pattern in hex");
  check_user_error(run_v3sim({"numerics", "gemm", "--accumulator", "hopper-fp16"}), "--accumulator: expected a preset");
  check_user_error(run_v3sim({"numerics", "gemm", "--dist", "cauchy"}),
                   "--dist: expected normal, uniform or uniform_pos");
  check_user_error(run_v3sim({"numerics", "gemm", "--promote-every", "100"}),
                   "--promote-every: numerics_gemm.promote_every: expected 0 or a multiple");
  check_user_error(run_v3sim({"numerics", "gemm", "--sweep-k", "256,x"}),
                   "--sweep-k: numerics_gemm.sweep_k[1]: expected a list of integers from 1 to");
}

SCENARIO("a unit that does not parse in a hardware config exits 2 naming file, line and key", "[cli][errors]") {
  GIVEN("a hardware file with a frequency without a unit") {
    std::string f =
        write_temp_file("hw.yaml", "extends: " + kConfigs + "/hardware/h800.yaml\nclocks:\n  boost: 1830\n");
    check_user_error(run_v3sim({"numerics", "gemm", "--hw", f, "--k", "128"}),
                     f + ":3: clocks.boost: expected a frequency with a unit like 1.83GHz (nominal boost clock), found "
                         "'1830' (no unit)");
  }
  GIVEN("an override with an unknown unit") {
    check_user_error(run_v3sim({"numerics", "gemm", "--set", "hw.clocks.boost=1.8 GHZ"}),
                     "clocks.boost: expected a frequency with a unit like 1.83GHz (nominal boost clock), found '1.8 "
                     "GHZ' (unknown unit 'GHZ'");
  }
}

TEST_CASE("gemm prints time, TFLOPS, GB/s, cycles, bound and per-resource utilization", "[cli][gemm]") {
  auto r = run_v3sim({"gemm", "--m", "4096", "--n", "4096", "--k", "7168", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"time_us", "tflops", "gbps", "cycles", "bound"}) CHECK(j.contains(key));
  for (const char* key : {"tensor_pipe", "shared_memory", "tma", "hbm", "promotion_ffma_share"})
    CHECK(j["utilization"].contains(key));
  CHECK(j["tflops"].get<double>() > 1000);
  auto sms = run_v3sim({"gemm", "--m", "4096", "--n", "4096", "--k", "7168", "--sms", "112", "--json"});
  REQUIRE(sms.exit_code == 0);
  CHECK(nlohmann::json::parse(sms.out)["time_us"].get<double>() > j["time_us"].get<double>());
  auto grouped = run_v3sim(
      {"gemm", "--m", "1024", "--n", "4096", "--k", "7168", "--groups", "4", "--layout", "contiguous", "--json"});
  REQUIRE(grouped.exit_code == 0);
  CHECK(nlohmann::json::parse(grouped.out)["groups"] == 4);
  auto tr = run_v3sim({"gemm", "--kernel", "transpose-requant", "--m", "4096", "--k", "7168", "--json"});
  REQUIRE(tr.exit_code == 0);
  CHECK(nlohmann::json::parse(tr.out)["time_us"].get<double>() > 0);
  auto human = run_v3sim({"gemm", "--m", "128", "--n", "4096", "--k", "7168"});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("BLOCK_M=") && Catch::Contains("bound:"));
}

SCENARIO("impossible GEMMs exit 2 saying which constraint failed", "[cli][gemm][errors]") {
  check_user_error(run_v3sim({"gemm", "--m", "128", "--n", "4096", "--k", "1000"}),
                   "--k: gemm.k: expected a multiple of 128: each K block has one FP32 scale");
  check_user_error(run_v3sim({"gemm", "--m", "4096", "--n", "7168", "--k", "16384", "--block-m", "256", "--block-n",
                              "128", "--stages", "6"}),
                   "expected a tile that fits the 232448 B of shared memory a CTA may use");
  check_user_error(run_v3sim({"gemm", "--m", "128", "--n", "4096", "--k", "1024", "--a-major", "mn"}),
                   "Hopper's FP8 wgmma cannot read them transposed");
  check_user_error(run_v3sim({"gemm", "--kernel", "transpose-requant", "--m", "100", "--k", "128"}),
                   "multiples of 128");
  std::string proposal = write_temp_file("p.yaml", "extends: " + kConfigs +
                                                       "/hardware/h800.yaml\nfeatures:\n"
                                                       "  fp8_transposed_smem_read: true\n");
  check_user_error(run_v3sim({"gemm", "--hw", proposal, "--m", "128", "--n", "4096", "--k", "1024"}),
                   proposal + ":3: features.fp8_transposed_smem_read: expected a key of features");
}

TEST_CASE("compare projects the published DeepGEMM trace and reports the per-op errors", "[cli][compare]") {
  const std::string trace = std::string(V3SIM_SOURCE_DIR) + "/traces/published/deepgemm-h800.h5";
  auto r = run_v3sim({"compare", trace, "--hw", "h800", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["ops"].size() == 18);
  CHECK(j["unmatched"] == 0);
  CHECK(j["mape"].get<double>() < 0.10);  // the calibration target, on durations
  auto human = run_v3sim({"compare", trace});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("MAPE"));
  // The converter reproduces the committed trace's ops.
  std::string fresh = write_temp_file("fresh.h5", "");
  std::filesystem::remove(fresh);
  REQUIRE(run_v3sim({"measure", "--published", "deepgemm-h800", "-o", fresh}).exit_code == 0);
  auto again = nlohmann::json::parse(run_v3sim({"compare", fresh, "--json"}).out);
  CHECK(again["mape"] == j["mape"]);
}

SCENARIO("compare refuses files it cannot read", "[cli][compare][errors]") {
  check_user_error(run_v3sim({"compare", "/nonexistent/m.h5"}), "no such file");
  std::string text = write_temp_file("notes.h5", "hello");
  check_user_error(run_v3sim({"compare", text}), "a file that is not HDF5");
  check_user_error(run_v3sim({"measure", "--published", "deepgemm-h800", "-o", "x.txt"}), "ending in .h5");
}

SCENARIO("measure without a GPU exits 2 saying why; bad shapes are refused before the device", "[cli][measure]") {
  auto r = run_v3sim({"measure", "--kernel", "gemm", "--m", "4096", "--n", "7168", "--k", "16384", "-o",
                      write_temp_file("never.h5", "")});
  if (r.exit_code == 0) {
    WARN("a GPU is present: measured for real");
  } else {
    check_user_error(r, "error: no CUDA device: ");
  }
  check_user_error(run_v3sim({"measure", "--kernel", "gemm", "--k", "1000"}),
                   "K=1000 must be a positive multiple of 128");
  check_user_error(run_v3sim({"measure", "--kernel", "transpose-requant", "--m", "100", "--k", "128"}),
                   "must be a multiple of 128");
  check_user_error(run_v3sim({"measure"}), "expected exactly one of --kernel NAME");
}

SCENARIO(
    "the micro suite without a GPU: measure and calibrate --measure say why; calibrate says where the trace "
    "comes from",
    "[cli][measure][calibrate]") {
  const std::string out = write_temp_file("micro.h5", "");
  std::filesystem::remove(out);
  auto r = run_v3sim({"measure", "--suite", "micro", "-o", out});
  if (r.exit_code == 0) {
    WARN("a GPU is present: measured for real");
  } else {
    check_user_error(r, "error: no CUDA device: ");
    CHECK_FALSE(std::filesystem::exists(out));  // nothing half-written
    check_user_error(run_v3sim({"calibrate", "micro", "--measure", "--data", "micro=" + out}),
                     "error: no CUDA device: ");
  }
  check_user_error(run_v3sim({"measure", "--suite", "micro", "--kernel", "gemm"}), "expected exactly one of");
  // The spec's dataset is measured by the user: without a trace, calibrate says how to make one.
  check_user_error(run_v3sim({"calibrate", "micro"}), "v3sim measure --suite micro -o F.h5");
  check_user_error(run_v3sim({"calibrate", "micro", "--data", "nope=x.h5"}), "NAME a trace dataset");
  check_user_error(run_v3sim({"calibrate", "micro", "--data", "micro=" + out}), "no such file");
  check_user_error(run_v3sim({"calibrate", "h800-gemm", "--measure"}), "a dataset that a suite measures");
}

TEST_CASE("the Day-6 decode deployment runs on 144 of the shipped decode cluster's 320 GPUs", "[cli][step]") {
  auto r = run_v3sim({"step", "--deploy", "v3-decode-144", "--json", "--no-cache"});
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["gpus"] == 144);
  CHECK(j["cluster"] == "H800 40-node decode cluster");
  CHECK(j["memory_fits"] == 1.0);
  CHECK(j["step_time_s"].get<double>() > 0.01);
  // Its all-to-all spans the first 18 nodes, every expert slot routed as an expert (288 slots over 18 nodes).
  int a2a = 0;
  for (const auto& k : j["kernels"]) {
    const std::string key = k["kernel"];
    if (!key.starts_with("alltoall")) continue;
    ++a2a;
    CHECK_THAT(key, Catch::Contains("ep144"));
    CHECK_THAT(key, Catch::Contains("slots-as-experts"));
  }
  CHECK(a2a > 0);
}

TEST_CASE("config writes the resolved documents, and step runs them to the same result", "[cli][config]") {
  v3sim::test::TempDir dir("v3sim-config-test");
  const std::string out = (dir.path() / "run").string(), cache = dir.file("kernels.txt");
  const std::vector<std::string> sets = {"--set", "deploy.batch.seq_len=128", "--set", "hw.clocks.sustained=1.5GHz"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), sets.begin(), sets.end());
    return args;
  };
  auto r = run_v3sim(with({"config", "--deploy", "tiny-train", "-o", out}));
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("v3sim step --model " + out + "/model.yaml"));
  for (const char* doc : {"model", "deploy", "hw", "cluster"}) {
    std::ifstream f(out + "/" + doc + ".yaml");
    std::string first;
    std::getline(f, first);
    CHECK_THAT(first, Catch::StartsWith(std::string("# ") + doc + ": resolved from "));
  }
  // The override is in the file, with the document it belongs to named in the header.
  std::ifstream hw(out + "/hw.yaml");
  const std::string hw_text((std::istreambuf_iterator<char>(hw)), std::istreambuf_iterator<char>());
  CHECK_THAT(hw_text, Catch::Contains("--set hw.clocks.sustained=1.5GHz") && Catch::Contains("1.5GHz"));
  CHECK_THAT(hw_text, !Catch::Contains("seq_len"));
  // The step from the written files is the step from the names and overrides, and hits every kernel the first run
  // cached: the resolved hardware and cluster read back to the same text.
  auto direct = run_v3sim(with({"step", "--deploy", "tiny-train", "--json", "--cache", cache}));
  REQUIRE(direct.exit_code == 0);
  auto again = run_v3sim({"step", "--model", out + "/model.yaml", "--deploy", out + "/deploy.yaml", "--hw",
                          out + "/hw.yaml", "--cluster", out + "/cluster.yaml", "--json", "--cache", cache});
  INFO("stderr: " << again.err);
  REQUIRE(again.exit_code == 0);
  const auto a = nlohmann::json::parse(direct.out), b = nlohmann::json::parse(again.out);
  CHECK(a["kernels_simulated"].get<int>() > 0);
  CHECK(b["kernels_simulated"] == 0);
  CHECK(b["step_time_s"] == a["step_time_s"]);
  // One document on stdout; a file where the folder should be is refused.
  r = run_v3sim({"config", "--deploy", "tiny-train", "--doc", "cluster"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("# cluster: resolved from ") && !Catch::Contains("---"));
  check_user_error(run_v3sim({"config", "-o", cache}), "expected a folder to write");
}

TEST_CASE("--hw takes a name that lies only in a subfolder and suggests proposals/... for a typo", "[cli]") {
  auto args = [](const std::string& hw) {
    return std::vector<std::string>{"numerics",   "dot",  "--a", codes("0x38"), "--b", codes("0x39"), "--c",
                                    "0x46800000", "--hw", hw,    "--json"};
  };
  auto full = run_v3sim(args("proposals/fp32-accumulation"));
  auto bare = run_v3sim(args("fp32-accumulation"));
  REQUIRE(full.exit_code == 0);
  REQUIRE(bare.exit_code == 0);
  CHECK(bare.out == full.out);
  auto typo = args("fp32-acumulation");
  typo.pop_back();  // without --json: the error goes to stderr alone
  check_user_error(run_v3sim(typo), "did you mean 'proposals/fp32-accumulation'?");
}
