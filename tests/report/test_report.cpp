#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "report/compare.h"
#include "report/h5_file.h"
#include "report/trace.h"
#include "tests/temp_dir.h"

using namespace v3sim;
using namespace v3sim::report;
namespace fs = std::filesystem;

namespace {

// A path in this process's scratch folder, removed (with everything in it) when the tests end.
fs::path scratch(const std::string& name) {
  static const test::TempDir dir("v3sim-report");
  return dir.path() / name;
}

Timeline sample(const std::string& source, double scale) {
  Timeline t;
  t.source = source;
  for (int i = 0; i < 3; ++i) {
    TimelineEvent e;
    e.op = static_cast<uint32_t>(i);
    e.name = "op" + std::to_string(i);
    e.kind = i == 1 ? "all_to_all_dispatch" : "gemm";
    e.device = 0;
    e.stream = i == 1 ? 1 : 0;
    e.start = Time::ns(100 * i);
    e.end = e.start + Time::ps(static_cast<int64_t>(50000 * scale));
    e.flops = 1e9 * i;
    e.bytes = 1e6;
    t.events.push_back(e);
  }
  return t;
}

}  // namespace

TEST_CASE("a result file round-trips every field of DESIGN.md's layout", "[report][h5]") {
  ResultFile f;
  f.meta = standard_meta();
  f.meta["command_line"] = "v3sim gemm --m 64";
  f.meta["config_yaml"] = "name: H800\nsms: 132\n";
  f.meta["seed"] = "7";
  f.timeline = sample("projected", 1.0);
  f.summary = {{"tflops", 1234.5}, {"time_us", 9.25}};
  f.stats = {{"l2_hits", 100}};
  const std::string path = scratch("r.h5").string();
  write_result_h5(path, f);
  CHECK(!fs::exists(path + ".tmp"));
  ResultFile g = read_result_h5(path);
  CHECK(g.meta.at("format") == kResultFormat);
  CHECK(g.meta.at("command_line") == "v3sim gemm --m 64");
  CHECK(g.meta.at("config_yaml") == "name: H800\nsms: 132\n");
  CHECK(g.meta.at("git_revision") == f.meta.at("git_revision"));
  CHECK(g.timeline.source == "projected");
  REQUIRE(g.timeline.events.size() == 3);
  CHECK(g.timeline.events[1].name == "op1");
  CHECK(g.timeline.events[1].kind == "all_to_all_dispatch");
  CHECK(g.timeline.events[1].stream == 1);
  CHECK(g.timeline.events[2].end == f.timeline.events[2].end);
  CHECK(g.timeline.events[2].flops == 2e9);
  REQUIRE(g.summary_value("tflops"));
  CHECK(*g.summary_value("tflops") == 1234.5);
  CHECK(g.stats.size() == 1);
  // h5dump reads it without knowing v3sim.
  if (std::system("command -v h5dump >/dev/null 2>&1") == 0) {
    const std::string dump = scratch("dump.txt").string();
    REQUIRE(std::system(("h5dump -H " + path + " > " + dump).c_str()) == 0);
    std::ifstream in(dump);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* s : {"GROUP \"meta\"", "DATASET \"timeline\"", "\"start_ps\"", "GROUP \"summary\"", "tflops"})
      CHECK_THAT(text, Catch::Contains(s));
  }
}

TEST_CASE("foreign, corrupt and missing result files are refused with a clear error", "[report][h5]") {
  CHECK_THROWS_WITH(read_result_h5(scratch("none.h5").string()), Catch::Contains("no such file"));
  const fs::path text = scratch("text.h5");
  std::ofstream(text) << "not hdf5";
  CHECK_THROWS_WITH(read_result_h5(text.string()), Catch::Contains("not HDF5"));
  ResultFile f;
  f.timeline = sample("measured", 1.0);
  const std::string path = scratch("ok.h5").string();
  write_result_h5(path, f);
  CHECK_NOTHROW(read_result_h5(path));
}

TEST_CASE("a Chrome trace has one process per GPU and one thread per stream, timelines side by side",
          "[report][trace]") {
  Timeline a = sample("measured", 1.0), b = sample("projected", 1.1);
  auto j = nlohmann::json::parse(chrome_trace_json({&a, &b}));
  int complete = 0, names = 0;
  std::set<int> pids;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "X") {
      ++complete;
      pids.insert(e["pid"].get<int>());
    }
    if (e["ph"] == "M" && e["name"] == "process_name") ++names;
  }
  CHECK(complete == 6);
  CHECK(pids.size() == 2);
  CHECK(names == 2);
  const std::string path = scratch("t.json").string();
  write_chrome_trace(path, {&a});
  CHECK(fs::exists(path));
  CHECK_THROWS_AS(write_chrome_trace(scratch("t.txt").string(), {&a}), ConfigError);
}

TEST_CASE("comparison pairs ops by name and reports the mean absolute percentage error", "[report][compare]") {
  Timeline m = sample("measured", 1.0), p = sample("projected", 1.1);
  p.events.pop_back();
  Comparison c = compare_timelines(m, p);
  REQUIRE(c.ops.size() == 3);
  CHECK(c.ops[0].error == Approx(0.1));
  CHECK(c.mape == Approx(0.1));
  CHECK(c.unmatched == 1);
  CHECK(!c.ops[2].projected);
}
