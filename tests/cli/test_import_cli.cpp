// `v3sim import` from the command line: the summary, the HDF5 it writes, and one line for every bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_v3sim.h"
#include "tests/temp_dir.h"

using v3sim::test::run_v3sim;
using v3sim::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(V3SIM_SOURCE_DIR) + "/tests/data/traces/";
const std::string kRules = kData + "tiny-rules.yaml";

// Exit 2, nothing on stdout, and on stderr exactly "error: <all of `parts`...>\n".
void check_refused(const v3sim::test::RunResult& r, std::initializer_list<std::string> parts) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  REQUIRE(r.err.starts_with("error: "));
  CHECK(r.err.find('\n') == r.err.size() - 1);
  for (const std::string& p : parts) CHECK_THAT(r.err, Catch::Contains(p));
}

}  // namespace

TEST_CASE("import prints the summary per stream and kind, lists unmapped kernels, and writes the timeline",
          "[cli][import]") {
  TempDir s("v3sim-import-cli");
  const std::string out = s.file("tiny.h5");
  auto r = run_v3sim({"import", kData + "tiny.json", "--rules", kRules, "-o", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* text :
       {"12 GPU events (10 kernels, 1 memcpy, 1 memset) on Test GPU (8 SMs), rank 3 of 16 (nccl)",
        "compute streams (compute + compute2)", "all_to_all_dispatch", "grouped_gemm",
        "unmapped kernels (kept with kind 'unmapped'", "2 x     0.010 ms  void mystery_kernel", "wrote "}) {
    CHECK_THAT(r.out, Catch::Contains(text));
  }
  CHECK_THAT(r.err, Catch::StartsWith("note: 1 GPU event has no launch event"));
  REQUIRE(fs::exists(out));
  CHECK(!fs::exists(out + ".tmp"));
  // The written file is a measured timeline that `compare` reads.
  auto c = run_v3sim({"compare", out, "--json"});
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(nlohmann::json::parse(c.out)["ops"].size() == 12);
}

TEST_CASE("import --json prints one object with the provenance, the analysis and the unmapped kernels",
          "[cli][import]") {
  auto r = run_v3sim({"import", kData + "tiny.json.gz", "--rules", kRules, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["gpu"] == "Test GPU");
  CHECK(j["distributed_world_size"] == "16");
  CHECK(j["gpu_events"] == 12);
  CHECK(j["layers"] == 2);
  CHECK(j["streams"].size() == 3);
  CHECK(j["kinds"]["grouped_gemm"]["events"] == 2);
  CHECK(j["unmapped"].size() == 1);
  CHECK(j["unmapped"][0]["events"] == 2);
  CHECK(j["notes"].size() == 1);
  CHECK(j["source_sha256"].get<std::string>().size() == 64);
}

SCENARIO("import refuses bad input with one line naming the file and what is wrong", "[cli][import][errors]") {
  TempDir s("v3sim-import-cli");
  GIVEN("bad traces") {
    check_refused(run_v3sim({"import", kData + "not-json.json", "--rules", kRules}),
                  {"not-json.json:1: expected a Chrome/Kineto trace in JSON, found not JSON"});
    check_refused(run_v3sim({"import", kData + "truncated.json", "--rules", kRules}),
                  {"truncated.json:28:", "ends early"});
    check_refused(run_v3sim({"import", kData + "no-trace-events.json", "--rules", kRules}),
                  {"no-trace-events.json: expected a `traceEvents` list"});
    check_refused(run_v3sim({"import", kData + "no-kernels.json", "--rules", kRules}),
                  {"no-kernels.json: expected GPU events"});
    check_refused(run_v3sim({"import", kData + "corrupt.json.gz", "--rules", kRules}),
                  {"corrupt.json.gz: expected a gzip-compressed trace, found corrupt gzip data"});
    check_refused(run_v3sim({"import", kData + "truncated.json.gz", "--rules", kRules}),
                  {"truncated.json.gz:", "ends early"});
    check_refused(run_v3sim({"import", s.file("none.json"), "--rules", kRules}), {"none.json", "no such file"});
  }
  GIVEN("bad rules") {
    const std::string unknown = s.file("unknown.yaml", "streams:\n  - {id: 7, role: compute, colour: red}\n");
    check_refused(run_v3sim({"import", kData + "tiny.json", "--rules", unknown}),
                  {"unknown.yaml:2: streams[0].colour: expected a key of trace_stream", "unknown key 'colour'"});
    const std::string regex =
        s.file("regex.yaml", "streams:\n  - {id: 7, role: compute}\nkernels:\n  - {regex: '[gemm', kind: gemm}\n");
    check_refused(run_v3sim({"import", kData + "tiny.json", "--rules", regex}),
                  {"regex.yaml:4: kernels[0].regex: expected an ECMAScript regular expression, found '[gemm'"});
    check_refused(run_v3sim({"import", kData + "tiny.json", "--rules", "no-such-stack"}),
                  {"--rules", "traces", "deepseek-v3-h800", "'no-such-stack'"});
    // The shipped DeepSeek rules give stream 9 of the hand-written trace no role.
    check_refused(run_v3sim({"import", kData + "tiny.json"}),
                  {"tiny.json: expected GPU events on streams that the rules", "found 1 GPU event on stream 9"});
  }
  GIVEN("an output that is not .h5") {
    check_refused(run_v3sim({"import", kData + "tiny.json", "--rules", kRules, "-o", s.file("x.json")}),
                  {"-o: expected an output file name ending in .h5"});
  }
}

TEST_CASE("import --help shows examples; describe lists the rules' tables", "[cli][import]") {
  auto h = run_v3sim({"import", "--help"});
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("v3sim import ../shared/measured/deepseek-profile-data/train.json"));
  auto d = run_v3sim({"describe", "trace_rules"});
  CHECK(d.exit_code == 0);
  for (const char* text : {"trace_rules:", "trace_kernel:", "trace_annotation:", "layers", "contains", "regex"}) {
    CHECK_THAT(d.out, Catch::Contains(text));
  }
}
