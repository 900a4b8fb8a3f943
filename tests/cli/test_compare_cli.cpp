// `v3sim compare` of a measured profile against a deployment's step projection, and `v3sim import --deploy`.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "run_v3sim.h"
#include "tests/temp_dir.h"

using v3sim::test::run_v3sim;
using v3sim::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(V3SIM_SOURCE_DIR) + "/tests/data/traces/";
const std::string kRules = kData + "tiny-rules.yaml";
const std::string kProfile = std::string(V3SIM_SOURCE_DIR) + "/traces/measured/deepseek-v3-h800-profile.h5";

void check_refused(const v3sim::test::RunResult& r, std::initializer_list<std::string> parts) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  REQUIRE(r.err.starts_with("error: "));
  CHECK(r.err.find('\n') == r.err.size() - 1);
  for (const std::string& p : parts) CHECK_THAT(r.err, Catch::Contains(p));
}

}  // namespace

TEST_CASE("import --deploy records the deployment; compare refuses what it cannot project", "[cli][compare]") {
  TempDir s("v3sim-compare-cli");
  const std::string out = s.file("tiny.h5");
  auto r = run_v3sim(
      {"import", kData + "tiny.json", "--rules", kRules, "--deploy", "v3-train-profile", "-o", out, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["deployment"] == "v3-train-profile");
  REQUIRE(fs::exists(out));

  check_refused(run_v3sim({"import", kData + "tiny.json", "--rules", kRules, "--deploy", "no-such-deployment"}),
                {"--deploy", "no-such-deployment"});
  // An unknown deployment, named on the command line.
  check_refused(run_v3sim({"compare", out, "--deploy", "no-such-deployment"}), {"--deploy", "no-such-deployment"});
  // A file that is not a measured trace: not HDF5, and a projected timeline.
  const std::string text = s.file("text.h5");
  std::ofstream(text) << "not hdf5";
  check_refused(run_v3sim({"compare", text, "--deploy", "v3-train-profile"}), {text});
  const std::string projected = s.file("projected.h5");
  REQUIRE(run_v3sim({"step", "--deploy", "tiny-train", "-o", projected}).exit_code == 0);
  check_refused(run_v3sim({"compare", projected, "--deploy", "v3-train-profile"}), {"a measured trace", "projected"});
  // --model without a deployment (a trace of `measure` that names none).
  const std::string plain = s.file("plain.h5");
  REQUIRE(run_v3sim({"import", kData + "tiny.json", "--rules", kRules, "-o", plain}).exit_code == 0);
  check_refused(run_v3sim({"compare", plain, "--model", "deepseek-v3-671b"}), {"--model", "--deploy"});
  check_refused(run_v3sim({"compare", plain, "-o", s.file("x.txt")}), {"-o"});
}

TEST_CASE("compare on DeepSeek's profile: every category, finite errors, one nesting Perfetto trace",
          "[cli][compare][slow]") {
  TempDir s("v3sim-compare-profile");
  const std::string trace = s.file("both.json");
  // The profile names its deployment (v3-train-profile) in /meta: no --deploy needed.
  auto r = run_v3sim({"compare", kProfile, "--json", "-o", trace});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["deployment"] == "v3-train-profile");
  CHECK(j["measured_layers"] == 4);
  CHECK(j["projected_layers"] == 4);
  std::set<std::string> names;
  for (const auto& c : j["categories"]) {
    names.insert(c["name"].get<std::string>());
    INFO(c.dump());
    CHECK(c["measured_ms"].get<double>() > 0);
    REQUIRE(c["error"].is_number());
    CHECK(std::isfinite(c["error"].get<double>()));
    if (c["name"] != "other") CHECK(c["projected_ms"].get<double>() > 0);
  }
  CHECK(names == std::set<std::string>{"compute", "gemm", "gemm_dense", "gemm_grouped", "wgrad", "attention",
                                       "membound", "other", "membound_all", "comm"});
  for (const auto& c : j["categories"]) {
    // The measured figures of the issue (train.json's kernel durations, per MoE layer).
    if (c["name"] == "compute") CHECK(c["measured_ms"].get<double>() == Approx(32.39).margin(0.01));
    if (c["name"] == "comm") CHECK(c["measured_ms"].get<double>() == Approx(28.63).margin(0.01));
    if (c["name"] == "wgrad") CHECK(c["measured_ms"].get<double>() == Approx(8.19).margin(0.01));
  }
  CHECK(j["layers"].size() == 4);
  CHECK(j["streams"].size() == 3);
  CHECK(j["names"].size() == 25);
  CHECK(j["kind_pass"].size() > 20);
  // The trace: measured and projected as two processes, every slice with a category.
  std::ifstream in(trace);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto t = nlohmann::json::parse(ss.str());
  std::set<int> pids;
  for (const auto& e : t["traceEvents"]) {
    if (e["ph"] != "X") continue;
    pids.insert(e["pid"].get<int>());
    CHECK(e["args"].contains("category"));
  }
  CHECK(pids == std::set<int>{0, 1000});
  // Text: the per-category table.
  auto text = run_v3sim({"compare", kProfile, "--deploy", "v3-train-profile"});
  REQUIRE(text.exit_code == 0);
  for (const char* part : {"Per category, ms per layer", "gemm_grouped", "Per stream", "gap median", "Per op name"})
    CHECK_THAT(text.out, Catch::Contains(part));
}

TEST_CASE("calibrate refuses a constant its data cannot determine, and writes nothing", "[cli][calibrate]") {
  TempDir s("v3sim-calibrate-cli");
  // DeepEP's intranode row: EP8 never touches a NIC, so its figures cannot determine the NIC's rate.
  std::ofstream(s.file("ref.yaml")) << "deepep:\n  normal:\n    rows:\n      - [intranode, 8, 153, 8, 158, NVLink]\n";
  std::ofstream(s.file("spec.yaml")) << "name: nic-from-nvlink\ncluster: h800-2048-mpft\nfolds: 2\ndata:\n"
                                        "  - {name: intranode, table: deepep.normal, reference: ref.yaml}\n"
                                        "constants:\n"
                                        "  - {key: nic.bandwidth, unit: GB/s, range: [20, 50], data: intranode}\n";
  const auto r = run_v3sim({"calibrate", s.file("spec.yaml"), "-o", s.file("cal.yaml"), "--record", s.file("r.json")});
  INFO("stdout: " << r.out);
  CHECK_THAT(r.out, Catch::Contains("nic.bandwidth") && Catch::Contains("(not identifiable)"));
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  // Progress lines, then one error line.
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  CHECK(last.starts_with("error: calibration refused, nothing written"));
  CHECK_THAT(last, Catch::Contains("nic.bandwidth cannot be determined by intranode"));
  CHECK_FALSE(fs::exists(s.file("cal.yaml")));
  CHECK_FALSE(fs::exists(s.file("r.json")));
}
