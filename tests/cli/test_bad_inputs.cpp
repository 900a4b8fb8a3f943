// Every input that once crashed, hung, ran away with memory, ended in an internal error, printed a wrong number with
// exit 0 or was accepted without effect (issue 13's list) is now refused: exit 2, one "error: " line naming what is
// wrong, within a second. One row per input: the command line and a part of the message it must give.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_v3sim.h"
#include "tests/temp_dir.h"

using v3sim::test::run_v3sim;
using v3sim::test::RunResult;
using v3sim::test::TempDir;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr double kSeconds = 10;  // ASan/UBSan builds run several times slower
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kSeconds = 10;
#else
constexpr double kSeconds = 1;
#endif
#else
constexpr double kSeconds = 1;
#endif

struct Case {
  std::vector<std::string> args;
  std::string message;  // a part of the one error line
};

std::string command_line(const std::vector<std::string>& args) {
  std::string s = "v3sim";
  for (const auto& a : args) s += " '" + a + "'";
  return s;
}

// The YAML inputs of the list, written to `dir`.
struct Files {
  std::string alias, laughs, zero, keys, sweep;
  explicit Files(const TempDir& dir) {
    const std::string tiny = std::string(V3SIM_SOURCE_DIR) + "/configs/models/tiny-moe.yaml";
    alias = dir.file("alias.yaml", "extends: " + tiny + "\nnote: &r [*r]\n");
    std::string l = "extends: " + tiny + "\na: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; ++c) {
      const char p = static_cast<char>(c - 1);
      l += fmt_row(c, p);
    }
    laughs = dir.file("laughs.yaml", l);
    zero = dir.file("zero.yaml", "extends: /dev/zero\n");
    std::string k = "extends: " + tiny + "\n";
    for (int i = 0; i < 80000; ++i) k += "k" + std::to_string(i) + ": 1\n";
    keys = dir.file("keys.yaml", k);
    std::ifstream in(std::string(V3SIM_SOURCE_DIR) + "/configs/studies/bench-decode-sweep.yaml");
    std::string study((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = study.find("steps: 100,");
    REQUIRE(at != std::string::npos);
    study.replace(at, 11, "steps: 1000000000,");
    sweep = dir.file("sweep.yaml", study);
  }
  static std::string fmt_row(char c, char p) {
    std::string row = std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) row += std::string(i ? ", " : "") + "*" + p;
    return row + "]\n";
  }
};

}  // namespace

TEST_CASE("every input of issue 13's list is refused with exit 2 and one line within a second", "[cli][bad-inputs]") {
  TempDir dir("v3sim-bad-inputs");
  const Files f(dir);
  const std::vector<Case> cases = {
      // Crashes: a self-referencing alias (stack overflow), block N of 0 (SIGFPE).
      {{"graph", "--model", f.alias}, "an alias that does not contain itself"},
      {{"graph", "--model", "tiny-moe", "--set", "model.note=&r [*r]"}, "an alias that does not contain itself"},
      {{"gemm", "--m", "128", "--n", "256", "--k", "1000000000"}, "gemm.k: expected an integer from 128"},
      {{"gemm", "--block-m", "256", "--block-n", "256", "--stages", "8"}, "gemm.block_n: expected at most 128"},
      // Hangs and runaway memory.
      {{"graph", "--model", f.laughs}, "keys and values in one document"},
      {{"graph", "--model", f.zero}, "expected a regular YAML file, found '/dev/zero'"},
      {{"graph", "--model", f.keys}, "a YAML file of at most 262144 bytes"},
      {{"study", f.sweep, "--dry-run"}, "steps: expected an integer from 2 to 10000"},
      {{"gemm", "--m", "2147483647"}, "gemm.m: expected an integer from 1 to"},
      {{"gemm", "--groups", "1e9"}, "gemm.groups"},
      {{"alltoall", "--experts", "1e9"}, "alltoall.experts"},
      {{"alltoall", "--hidden", "1e9"}, "alltoall.hidden"},
      {{"alltoall", "--redundant", "1e9"}, "alltoall.redundant"},
      // Internal errors for a user's value: out of physical range now.
      {{"step", "--deploy", "tiny-train", "--no-cache", "--set", "hw.hbm.bandwidth=1B/s"}, "hbm.bandwidth"},
      {{"step", "--deploy", "tiny-train", "--no-cache", "--set", "hw.clocks.sustained=1Hz"}, "clocks.sustained"},
      {{"alltoall", "--ep", "8", "--tokens", "100000000"}, "alltoall.tokens"},
      {{"numerics", "gemm", "--m", "100000", "--n", "100000", "--k", "100000"}, "this machine's memory"},
      {{"graph", "--deploy", "tiny-train", "--set", "deploy.batch.global_batch_sequences=1000000000000"},
       "batch.global_batch_sequences"},
      {{"graph", "--set", "model.n_layers=9223372036854775807"}, "n_layers: expected an integer from 1 to 1024"},
      // Wrong numbers with exit 0 (integer overflow, an overflowing cast, a negative bandwidth).
      {{"graph", "--deploy", "tiny-train", "--seq", "2147483648"}, "graph.seq_len"},
      {{"graph", "--deploy", "tiny-train", "--set", "deploy.batch.seq_len=1000000000"}, "batch.seq_len"},
      {{"graph", "--model", "tiny-moe", "--set", "model.qk_nope_head_dim=9223372036854775000"}, "qk_nope_head_dim"},
      {{"gemm", "--m", "99999999999999999999"}, "gemm.m"},
      {{"gemm", "--groups", "99999999999999999999"}, "gemm.groups"},
      {{"step", "--deploy", "tiny-train", "--no-cache", "--set", "hw.kernel.attention_bwd_efficiency=1e-30"},
       "kernel.attention_bwd_efficiency: expected a number from"},
      {{"step", "--deploy", "v3-decode-320", "--analytical", "--bandwidth", "-5GB/s"}, "--bandwidth"},
      // Values accepted that changed nothing or made no sense.
      {{"gemm", "--set", "hw.tma.swizzle_bytes=[]"}, "tma.swizzle_bytes"},
      {{"gemm", "--set", "hw.tma.swizzle_bytes=[7]"}, "tma.swizzle_bytes"},
      {{"gemm", "--set", "hw.tma.box_dim_max=1"}, "tma.box_dim_max"},
      // registers_per_sm was documented and unused; it now bounds occupancy (sim/sm/streaming), with a range.
      {{"gemm", "--set", "hw.cuda_cores.registers_per_sm=1"}, "cuda_cores.registers_per_sm: expected an integer from"},
      {{"graph", "--deploy", "tiny-train", "--set", "deploy.parallelism.zero_stage=7"}, "parallelism.zero_stage"},
      {{"step", "--deploy", "tiny-decode", "--set", "deploy.execution.comm_sms=1000"}, "no 'comm_sms' in a decode"},
      {{"gemm", "--sms", "0"}, "gemm.sms"},
      {{"gemm", "--block-m", "0"}, "gemm.block_m"},
      {{"gemm", "--stages", ""}, "gemm.stages"},
      {{"step", "--deploy", "tiny-train", "--seed", "-1"}, "--seed"},
      // Messages: an unknown command, a deployment larger than its cluster.
      {{"stepp"}, "did you mean 'step'?"},
      // An unknown option is named, with the command's nearest one.
      {{"step", "--deplo", "tiny-train"},
       "expected an option of `v3sim step` (see 'v3sim step --help'), found "
       "'--deplo' (did you mean '--deploy'?)"},
      {{"gemm", "--mm=3"}, "found '--mm' (did you mean '--m'?)"},
      {{"describe", "hardwar"}, "found 'hardwar' (did you mean 'hardware'?)"},
      {{"step", "--deploy", "v3-train-2048", "--cluster", "h800-decode-40node"},
       "h800-decode-40node.yaml) has 320 (40 nodes x 8)"},
      // calibrate: the spec by name, the folds, the output's kind.
      {{"calibrate", "h800-gem"}, "configs/calibration (h800-deepep, h800-gemm, micro)"},
      {{"calibrate", "h800-gemm", "--folds", "1"}, "--folds: expected 0 (leave-one-out) or a number of folds >= 2"},
      {{"calibrate", "h800-gemm", "-o", "h800.txt"}, "-o: expected a hardware config file name ending in .yaml"},
  };
  for (const Case& c : cases) {
    INFO(command_line(c.args));
    const auto t0 = std::chrono::steady_clock::now();
    const RunResult r = run_v3sim(c.args);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("error: "));
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK_THAT(r.err, Catch::Contains(c.message));
    CHECK(s < kSeconds);
  }
}

TEST_CASE("a slow but legal what-if chip completes instead of ending in an internal error", "[cli][bad-inputs]") {
  // The SM watchdog fires on lack of progress, not on simulated time: one FP8 FLOP per clock is slow, not stuck.
  const RunResult r = run_v3sim(
      {"gemm", "--m", "256", "--n", "256", "--k", "1024", "--set", "hw.tensor.fp8_flops_per_clk=1", "--json"});
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("\"tflops\""));
}
