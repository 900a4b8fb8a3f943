// study/calibrate: recovers constants from traces made with known ones, scores a dataset it did not fit on as
// predicted, writes a config that loads, and refuses bad specs with the key named.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "kernels/micro.h"
#include "report/compare.h"
#include "report/h5_file.h"
#include "report/published.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"
#include "study/calibrate.h"

namespace v3sim::study {
namespace {

namespace fs = std::filesystem;

const std::string kH800 = std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/h800.yaml";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("v3sim-calibrate-{}", reinterpret_cast<uintptr_t>(this));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A measured trace of GEMMs timed by the simulator on `hw` ("measured" with known constants).
void write_trace(const std::string& file, const std::vector<std::array<int, 3>>& shapes, const HardwareConfig& hw) {
  Timeline t;
  t.source = "measured";
  Time at;
  for (const auto& [m, n, k] : shapes) {
    TimelineEvent e;
    e.op = static_cast<uint32_t>(t.events.size());
    e.name = fmt::format("gemm:m={},n={},k={}", m, n, k);
    e.kind = "gemm";
    e.start = at;
    e.end = at + Time::us(1);
    at = at + Time::ms(1);
    t.events.push_back(e);
  }
  report::ResultFile f;
  f.meta = report::standard_meta();
  f.meta["timeline_source"] = "measured";
  f.timeline = report::project_kernel_trace(t, hw);
  f.timeline.source = "measured";
  report::write_result_h5(file, f);
}

HardwareConfig h800_with(const std::string& yaml_overrides) {
  ConfigNode root = load_config_file(kH800);
  merge_config(root, parse_config_text(yaml_overrides, "test"));
  return load_hardware(root);
}

CalibrationSpec spec_of(const TempDir& dir, const std::string& yaml) {
  const std::string file = (dir.path / "spec.yaml").string();
  std::ofstream(file) << yaml;
  return parse_calibration(load_config_file(file), file);
}

TEST_CASE("calibrate recovers the clock and launch overhead a trace was made with, and scores a held-out dataset",
          "[study][calibrate]") {
  TempDir dir;
  const HardwareConfig truth = h800_with("clocks: {sustained: 1.62GHz}\nkernel: {launch_overhead: 2.5us}\n");
  write_trace((dir.path / "fit.h5").string(), {{64, 512, 512}, {128, 1024, 512}, {256, 512, 1024}, {128, 256, 2048}},
              truth);
  write_trace((dir.path / "held-out.h5").string(), {{64, 1024, 1024}, {192, 512, 512}}, truth);
  const CalibrationSpec spec = spec_of(dir, R"(name: synthetic
hardware: h800
folds: 2
data:
  - {name: fit, trace: fit.h5}
  - {name: held_out, trace: held-out.h5}
constants:
  - {key: clocks.sustained, unit: GHz, range: [1.0, 1.83], resolution: 0.000001, data: fit}
  - {key: kernel.launch_overhead, unit: us, range: [0.1, 10], resolution: 0.000001, data: fit}
)");
  const CalibrationResult r = calibrate(spec, kH800);
  REQUIRE(r.converged);
  REQUIRE(r.constants.size() == 2);
  CHECK(r.constants[0].base == Approx(1.45));
  CHECK(r.constants[0].fitted == Approx(1.62).epsilon(0.005));
  CHECK(r.constants[1].base == Approx(1.0));
  CHECK(r.constants[1].fitted == Approx(2.5).epsilon(0.02));
  for (const auto& c : r.constants) CHECK(c.identifiable);

  REQUIRE(r.scores.size() == 2);
  CHECK(r.scores[0].fitted_on);
  CHECK(r.scores[0].ops == 4);
  CHECK(r.scores[0].base_mape > 0.05);  // the base constants are far off
  CHECK(r.scores[0].fit_mape < 0.005);
  CHECK(r.scores[0].cv_mape < 0.02);
  CHECK_FALSE(r.scores[1].fitted_on);  // predicted: informs no constant
  CHECK(r.scores[1].ops == 2);
  CHECK(r.scores[1].cv_mape < 0.01);
  CHECK(r.scores[1].base_mape > 0.05);

  // The written config extends the base, loads, and carries the fitted values with their provenance.
  const std::string yaml = calibrated_config_yaml(spec, r, kH800);
  CHECK_THAT(yaml, Catch::Contains("fitted by v3sim calibrate (synthetic) on fit (4 ops)"));
  const std::string out = (dir.path / "h800-cal.yaml").string();
  std::ofstream(out) << yaml;
  const HardwareConfig cal = load_hardware(load_config_file(out));
  CHECK(cal.sustained_clock.ghz() == Approx(r.constants[0].fitted));
  CHECK(cal.sms == 132);  // the rest is the base's
}

// The micro suite as `measure --suite micro` names it, timed by the simulator on `hw`.
void write_micro_trace(const std::string& file, const HardwareConfig& hw) {
  Timeline t;
  t.source = "measured";
  Time at;
  auto add = [&](const std::string& name, const std::string& kind) {
    TimelineEvent e;
    e.op = static_cast<uint32_t>(t.events.size());
    e.name = name;
    e.kind = kind;
    e.start = at;
    e.end = at + Time::us(1);
    at = at + Time::ms(10);
    t.events.push_back(e);
  };
  for (const MicroProblem& p : kernels::micro_suite(hw.sms)) add(p.name(), to_string(p.op));
  for (const kernels::GemmShape& g : kernels::micro_gemm_shapes()) {
    add(fmt::format("gemm-cublaslt:m={},n={},k={}", g.m, g.n, g.k), "gemm");
  }
  report::ResultFile f;
  f.meta = report::standard_meta();
  f.timeline = report::project_kernel_trace(t, hw);
  REQUIRE(f.timeline.events.size() == t.events.size());  // every op of the suite has a projection
  f.timeline.source = "measured";
  report::write_result_h5(file, f);
}

TEST_CASE("calibrate micro recovers a GPU's five constants from the micro suite made with them",
          "[study][calibrate][slow]") {
  TempDir dir;
  const std::string h100 = std::string(V3SIM_SOURCE_DIR) + "/configs/hardware/h100-sxm.yaml";
  ConfigNode root = load_config_file(h100);
  merge_config(root, parse_config_text("clocks: {sustained: 1.6GHz}\nl2: {bytes_per_clk: 7400}\n"
                                       "hbm: {achievable_fraction: 0.9}\ntma: {store_bytes_per_clk: 48}\n"
                                       "kernel: {launch_overhead: 0.7us}\n",
                                       "truth"));
  const HardwareConfig truth = load_hardware(root);
  const std::string trace = (dir.path / "micro.h5").string();
  write_micro_trace(trace, truth);
  const std::string spec_file = std::string(V3SIM_SOURCE_DIR) + "/configs/calibration/micro.yaml";
  CalibrationSpec spec = parse_calibration(load_config_file(spec_file), spec_file);
  REQUIRE(spec.data.size() == 1);
  CHECK(spec.data[0].suite == "micro");
  CHECK(spec.data[0].trace.empty());  // the user's GPU measures it
  CHECK_THROWS_WITH(calibrate(spec, h100), Catch::Contains("a measured trace of the 'micro' suite"));
  spec.data[0].trace = trace;
  spec.folds = 3;  // leave-one-out in the shipped spec; 3 folds keep the test short
  const CalibrationResult r = calibrate(spec, h100);
  REQUIRE(r.converged);
  REQUIRE(r.constants.size() == 5);
  const std::map<std::string, double> want = {{"clocks.sustained", 1.6},
                                              {"l2.bytes_per_clk", 7400},
                                              {"hbm.achievable_fraction", 0.9},
                                              {"tma.store_bytes_per_clk", 48},
                                              {"kernel.launch_overhead", 0.7}};
  for (const auto& c : r.constants) {
    INFO(c.key << ": base " << c.base << ", fitted " << c.fitted);
    CHECK(c.identifiable);
    CHECK(c.base != Approx(want.at(c.key)).epsilon(0.03));  // the base is off: the fit had work to do
    CHECK(c.fitted == Approx(want.at(c.key)).epsilon(0.01));
  }
  REQUIRE(r.scores.size() == 1);
  CHECK(r.scores[0].ops == 11);
  CHECK(r.scores[0].fit_mape < 0.002);
  CHECK(r.scores[0].cv_mape < 0.02);
}

TEST_CASE("calibrate recovers the cluster constants a DeepEP table was made with", "[study][calibrate][slow]") {
  TempDir dir;
  // A DeepEP normal table projected on a cluster with known NIC and SM push rates ("measured" with known constants).
  const std::string cluster_file = std::string(V3SIM_SOURCE_DIR) + "/configs/clusters/h800-2048-mpft.yaml";
  ConfigNode root = load_config_file(cluster_file);
  merge_config(root, parse_config_text("nic: {bandwidth: 38GB/s}\ncomm: {channel_push_rate: 15GB/s}\n", "test"));
  const net::ClusterConfig truth = net::load_cluster(root);
  const ConfigNode rows =
      parse_config_text("rows:\n  - [intranode, 8, 1, 8, 1, NVLink]\n  - [internode, 32, 1, 32, 1, RDMA]\n", "table");
  std::string table = "deepep_test:\n  normal:\n    source: synthetic\n    rows:\n";
  const std::vector<report::DeepEPFigure> figures = report::deepep_normal_figures(rows);
  REQUIRE(figures.size() == 4);
  std::vector<double> gbps;
  for (const auto& f : figures) gbps.push_back(report::project_deepep_figure(f, truth).metric_gbps);
  table += fmt::format("      - [intranode, 8, {}, 8, {}, NVLink]\n      - [internode, 32, {}, 32, {}, RDMA]\n",
                       gbps[0], gbps[1], gbps[2], gbps[3]);
  std::ofstream((dir.path / "ref.yaml").string()) << table;
  const CalibrationSpec spec = spec_of(dir, R"(name: synthetic-deepep
cluster: h800-2048-mpft
folds: 2
data:
  - {name: deepep, table: deepep_test.normal, reference: ref.yaml}
constants:
  - {key: nic.bandwidth, unit: GB/s, range: [20, 50], resolution: 0.01, data: deepep}
  - {key: comm.channel_push_rate, unit: GB/s, range: [4, 30], resolution: 0.01, data: deepep}
)");
  CHECK(spec.base_kind == CalibrationSpec::Base::Cluster);
  const CalibrationResult r = calibrate(spec, cluster_file);
  REQUIRE(r.constants.size() == 2);
  CHECK(r.constants[0].base == Approx(44));
  CHECK(r.constants[0].fitted == Approx(38).epsilon(0.01));
  CHECK(r.constants[1].base == Approx(12.2));
  CHECK(r.constants[1].fitted == Approx(15).epsilon(0.01));
  REQUIRE(r.scores.size() == 1);
  CHECK(r.scores[0].base_mape > 0.05);
  CHECK(r.scores[0].fit_mape < 0.005);
  REQUIRE(r.data.size() == 4);
  CHECK(r.data[0].unit == "GB/s");
  CHECK(r.data[0].op == "intranode dispatch EP8");
  CHECK(r.data[0].measured == Approx(gbps[0]));

  // The record: every datum with its role and its out-of-sample figure, parseable JSON.
  const nlohmann::json j = nlohmann::json::parse(calibration_json(spec, r, cluster_file, {{"command", "test"}}));
  CHECK(j["format"] == "v3sim-calibration-1");
  CHECK(j["base_kind"] == "cluster");
  CHECK(j["provenance"]["command"] == "test");
  REQUIRE(j["data"].size() == 4);
  CHECK(j["data"][3]["role"] == "fitted");
  CHECK(j["data"][3]["cross_validated"].get<double>() == Approx(r.data[3].cv));

  // The output config extends the cluster and loads as one.
  const std::string out = (dir.path / "cluster-cal.yaml").string();
  std::ofstream(out) << calibrated_config_yaml(spec, r, cluster_file);
  const net::ClusterConfig cal = net::load_cluster(load_config_file(out));
  CHECK(cal.gpus_per_node == 8);
}

TEST_CASE("calibration specs with a mistake are refused, naming the key", "[study][calibrate]") {
  TempDir dir;
  auto error_of = [&](const std::string& yaml) {
    try {
      spec_of(dir, yaml);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string head = "name: x\nhardware: h800\ndata:\n  - {name: d, trace: t.h5}\n";
  CHECK_THAT(error_of(head + "constants:\n  - {key: clocks.sustained, unit: GHz, range: [1, 2], data: e}\n"),
             Catch::Contains("constants[0].data") && Catch::Contains("the name of a dataset"));
  CHECK_THAT(error_of(head + "constants:\n  - {key: clocks.sustained, unit: GHz, range: [2, 1], data: d}\n"),
             Catch::Contains("lower < upper"));
  CHECK_THAT(error_of(head + "constants:\n  - {key: clocks.sustained, unit: GHz, rnage: [1, 2], data: d}\n"),
             Catch::Contains("did you mean 'range'"));
  CHECK_THAT(error_of(head + "constants:\n  - {key: a.b, range: [0, 2], data: d}\n"),
             Catch::Contains("positive lower bound"));
  CHECK_THAT(error_of(head + "folds: 1\nconstants:\n  - {key: a.b, range: [1, 2], data: d}\n"),
             Catch::Contains("folds"));
  CHECK_THAT(error_of(head + "constants:\n  - {key: a.b, range: [1, 2], data: [d, d]}\n"),
             Catch::Contains("one dataset"));
  // Kernel traces inform hardware, all-to-all tables clusters; one base.
  CHECK_THAT(error_of("name: x\nhardware: h800\ndata:\n  - {name: d, table: a.b, reference: r.yaml}\n"
                      "constants:\n  - {key: a.b, range: [1, 2], data: d}\n"),
             Catch::Contains("data[0].table") && Catch::Contains("a measured `trace:`"));
  CHECK_THAT(error_of("name: x\ncluster: c\ndata:\n  - {name: d, trace: t.h5}\nconstants:\n"
                      "  - {key: a.b, range: [1, 2], data: d}\n"),
             Catch::Contains("data[0].trace") && Catch::Contains("cluster base"));
  CHECK_THAT(error_of("name: x\ncluster: c\ndata:\n  - {name: d, table: a.b}\nconstants:\n"
                      "  - {key: a.b, range: [1, 2], data: d}\n"),
             Catch::Contains("data[0].reference"));
  CHECK_THAT(error_of("name: x\nhardware: h\ncluster: c\n" + head.substr(head.find("data:")) +
                      "constants:\n  - {key: a.b, range: [1, 2], data: d}\n"),
             Catch::Contains("one base config"));
}

TEST_CASE("calibrate refuses a constant the base config lacks or writes in another unit", "[study][calibrate]") {
  TempDir dir;
  write_trace((dir.path / "t.h5").string(), {{64, 512, 512}, {128, 512, 512}}, h800_with("{}"));
  const std::string head = "name: x\nhardware: h800\ndata:\n  - {name: d, trace: t.h5}\nconstants:\n";
  auto error_of = [&](const std::string& constant) {
    try {
      calibrate(spec_of(dir, head + constant), kH800);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("  - {key: clocks.turbo, unit: GHz, range: [1, 2], data: d}\n"), Catch::Contains("clocks.turbo"));
  CHECK_THAT(error_of("  - {key: clocks.sustained, unit: MHz, range: [1000, 2000], data: d}\n"),
             Catch::Contains("a number in MHz") && Catch::Contains("1.45GHz"));
}

}  // namespace
}  // namespace v3sim::study
