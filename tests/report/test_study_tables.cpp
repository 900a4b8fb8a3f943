// The study's extra tables: FP8 accumulation error against K, and projected against DeepSeek's published H800
// figures (read back from the reference file itself, so the rows cannot drift from it).
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "report/h5_study.h"
#include "report/study_tables.h"
#include "tests/temp_dir.h"

using namespace v3sim;
using namespace v3sim::report;

namespace {

namespace fs = std::filesystem;

const std::string kConfigs = std::string(V3SIM_SOURCE_DIR) + "/configs";
const std::string kReference = std::string(V3SIM_SOURCE_DIR) + "/tests/data/reference/deepseek-v3.yaml";

HardwareConfig chip(const std::string& rel) {
  return load_hardware(load_config_file(kConfigs + "/hardware/" + rel));
}

net::ClusterConfig mpft() {
  return net::load_cluster(load_config_file(kConfigs + "/clusters/h800-2048-mpft.yaml"));
}

std::vector<std::string> column_names(const Table& t) {
  std::vector<std::string> names;
  for (const auto& c : t.columns) names.push_back(c.name);
  return names;
}

// The column `name`'s numbers for the rows whose `accumulator` is `label`.
std::vector<double> series(const Table& t, const std::string& label, const std::string& name) {
  const TableColumn* acc = t.find("accumulator");
  const TableColumn* col = t.find(name);
  REQUIRE(acc);
  REQUIRE(col);
  std::vector<double> out;
  for (size_t i = 0; i < t.rows(); ++i)
    if (acc->texts[i] == label) out.push_back(col->numbers[i]);
  return out;
}

// Every published figure of a reference table, in the reference file's row order.
std::vector<double> published(const std::vector<std::string>& path, const std::vector<std::string>& sections,
                              const std::vector<size_t>& columns) {
  const ConfigNode root = load_config_file(kReference);
  const ConfigNode* node = &root;
  for (const auto& key : path) {
    node = node->find(key);
    REQUIRE(node);
  }
  std::vector<double> out;
  for (const auto& s : sections) {
    const ConfigNode* rows = node->find(s);
    REQUIRE(rows);
    for (const ConfigNode& r : rows->items())
      for (size_t c : columns) out.push_back(std::stod(r.items()[c].text()));
  }
  return out;
}

// The rows of `suite`: measured as published, `projected` and `error` (the in-sample fit_* columns or the
// out-of-sample ones) consistent, and their MAPE within `mape_limit` percent.
void check_validation_rows(const Table& t, const std::string& suite, const std::vector<double>& expected,
                           double mape_limit, const std::string& projected = "fit_projected",
                           const std::string& error = "fit_error_pct") {
  const TableColumn *s = t.find("suite"), *m = t.find("measured"), *p = t.find(projected), *e = t.find(error);
  REQUIRE((s && m && p && e));
  std::vector<double> measured;
  double sum = 0;
  std::string rows;
  for (size_t i = 0; i < t.rows(); ++i) {
    if (s->texts[i] != suite) continue;
    measured.push_back(m->numbers[i]);
    CHECK(p->numbers[i] > 0);
    CHECK(e->numbers[i] == Approx(100.0 * (p->numbers[i] - m->numbers[i]) / m->numbers[i]).epsilon(1e-12));
    sum += std::fabs(e->numbers[i]);
    rows += fmt::format("{}: measured {} projected {:.1f} ({:+.1f}%)\n", t.find("case")->texts[i], m->numbers[i],
                        p->numbers[i], e->numbers[i]);
  }
  INFO(rows);
  CHECK(measured == expected);
  REQUIRE(!measured.empty());
  CHECK(sum / static_cast<double>(measured.size()) <= mape_limit);
}

}  // namespace

TEST_CASE("the numerics table: FP32 accumulation cuts the error, Hopper's tensor-core-only error grows with K",
          "[report][study_tables][numerics]") {
  const HardwareConfig h800 = chip("h800.yaml");
  const std::vector<NumericsAccumulator> accs = {
      {"h800", h800, 0}, {"fp32", chip("proposals/fp32-accumulation.yaml"), 0}, {"h800 promoted", h800, 128}};
  NumericsTableOptions o;
  o.m = o.n = 16;  // 256 outputs: the differences checked are factors, not percents
  const Table t = numerics_error_table(accs, {256, 2048, 16384}, o);
  CHECK(t.name == "numerics_error_vs_k");
  CHECK(column_names(t) ==
        std::vector<std::string>{"accumulator", "k", "max_rel_error", "mean_rel_error", "normwise_error"});
  CHECK(t.find("accumulator")->text);
  REQUIRE(t.rows() == 9);
  for (const auto& c : t.columns) CHECK(c.size() == 9);
  CHECK(series(t, "fp32", "k") == std::vector<double>{256, 2048, 16384});

  for (const char* metric : {"mean_rel_error", "normwise_error"}) {
    CAPTURE(metric);
    const auto hop = series(t, "h800", metric), fp32 = series(t, "fp32", metric),
               promoted = series(t, "h800 promoted", metric);
    CHECK(hop[0] < hop[1]);
    CHECK(hop[1] < hop[2]);
    CHECK(hop[2] > 4 * hop[0]);  // truncation error accumulates with K
    for (size_t i = 0; i < hop.size(); ++i) {
      CHECK(fp32[i] > 0);
      CHECK(fp32[i] < hop[i] / 4);
      CHECK(promoted[i] <= hop[i]);
    }
    CHECK(promoted[2] < hop[2] / 4);  // promotion every 128 is DeepSeek's fix at large K
  }
}

TEST_CASE("the numerics table refuses what it cannot run", "[report][study_tables][numerics][errors]") {
  const HardwareConfig h800 = chip("h800.yaml");
  CHECK_THROWS_AS(numerics_error_table({}, {256}), ConfigError);
  CHECK_THROWS_WITH(numerics_error_table({{"h800", h800, 0}}, {}), Catch::Contains("at least one accumulator"));
  CHECK_THROWS_WITH(numerics_error_table({{"h800", h800, 0}}, {0}), Catch::Contains("positive K"));
  CHECK_THROWS_AS(numerics_error_table({{"h800", h800, 100}}, {256}), ConfigError);
}

TEST_CASE("the default numerics table: every accumulator at every K, in a few seconds",
          "[report][study_tables][numerics][slow]") {
  const auto accs = default_accumulators(kConfigs);
  REQUIRE(accs.size() == 4);
  const auto start = std::chrono::steady_clock::now();
  const Table t = numerics_error_table(accs, default_error_ks());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(fmt::format("numerics_error_vs_k (defaults): {:.2f} s", seconds));
  CHECK(t.rows() == accs.size() * default_error_ks().size());
  const auto hop = series(t, accs[0].label, "normwise_error"), fp32 = series(t, accs[2].label, "normwise_error"),
             b200 = series(t, accs[3].label, "normwise_error");
  CHECK(hop.back() > hop.front());
  for (size_t i = 0; i < hop.size(); ++i) {
    CHECK(fp32[i] < hop[i]);
    CHECK(b200[i] < hop[i]);
  }
}

TEST_CASE("the validation table: DeepGEMM's published dense TFLOPS and the error against each",
          "[report][study_tables][validation]") {
  ValidationInputs in;
  in.reference_yaml = kReference;
  in.gpu = chip("h800.yaml");
  in.deepep = false;
  const Table t = validation_table(in);
  CHECK(t.name == "validation");
  CHECK(column_names(t) == std::vector<std::string>{"suite", "case", "model", "role", "measured", "projected", "unit",
                                                    "error_pct", "fit_projected", "fit_error_pct", "source"});
  REQUIRE(t.rows() == 18);
  CHECK(t.find("model")->texts[0] == "cycle-gemm");
  // No calibration record: the role is unknown and there is no out-of-sample figure.
  CHECK(t.find("role")->texts[0] == "");
  CHECK(std::isnan(t.find("projected")->numbers[0]));
  CHECK_THAT(t.attrs.at("cross_validation"), Catch::StartsWith("none"));
  CHECK(t.find("case")->texts[0] == "m=64 n=2112 k=7168");
  CHECK(t.find("unit")->texts[0] == "TFLOPS");
  CHECK_THAT(t.find("source")->texts[0], Catch::Contains("DeepGEMM@989c9e3"));
  CHECK(std::set<std::string>(t.find("suite")->texts.begin(), t.find("suite")->texts.end()) ==
        std::set<std::string>{"deepgemm_h800_dense"});
  // Calibration targets of tests/sim/test_gemm_calibration.cpp: 10% MAPE (a fit residual).
  const std::vector<double> deepgemm =
      published({"deepgemm_h800", "v3_2025_04_09_last_published_table"}, {"dense", "dense_large_m"}, {3});
  check_validation_rows(t, "deepgemm_h800_dense", deepgemm, 10.0);

  // With the shipped calibration record (traces/calibration, `v3sim calibrate h800-gemm --folds 0 --record`): every
  // row fitted, its out-of-sample figure the record's leave-one-out one, within 10% MAPE. A stale record (one the
  // live model no longer reproduces) fails here: rerun its command.
  in.records = calibration_records(std::string(V3SIM_SOURCE_DIR) + "/traces/calibration");
  REQUIRE(!in.records.empty());
  const Table cv = validation_table(in);
  INFO(cv.attrs.at("cross_validation"));
  CHECK_THAT(cv.attrs.at("cross_validation"), !Catch::Contains("STALE") && Catch::Contains("leave-one-out"));
  for (const std::string& role : cv.find("role")->texts) CHECK(role == "fitted");
  check_validation_rows(cv, "deepgemm_h800_dense", deepgemm, 10.0, "projected", "error_pct");
  for (size_t i = 0; i < cv.rows(); ++i) {  // the in-sample figures are the live ones, whatever the record
    CHECK(cv.find("fit_projected")->numbers[i] == Approx(t.find("fit_projected")->numbers[i]));
  }
}

TEST_CASE("a calibration record the model no longer reproduces gives no out-of-sample figure, and says so",
          "[report][study_tables][validation]") {
  ValidationInputs in;
  in.reference_yaml = kReference;
  in.gpu = chip("h800.yaml");
  in.deepep = false;
  const fs::path dir = fs::temp_directory_path() / fmt::format("v3sim-records-{}", ::getpid());
  fs::create_directories(dir);
  const std::string file = (dir / "old.json").string();
  // One fitted datum whose base projection is 3% off the live one (as after a change of the GEMM model), one
  // predicted datum that matches it.
  const Table live = validation_table(in);
  const double t0 = 2.0 * 64 * 2112 * 7168 / (live.find("fit_projected")->numbers[0] * 1e12);
  const double t1 = 2.0 * 64 * 24576 * 1536 / (live.find("fit_projected")->numbers[1] * 1e12);
  REQUIRE(live.find("case")->texts[1] == "m=64 n=24576 k=1536");
  std::ofstream(file) << nlohmann::json{{"format", "v3sim-calibration-1"},
                                        {"cross_validation", "leave-one-out"},
                                        {"data",
                                         {{{"op", "gemm:m=64,n=2112,k=7168"},
                                           {"role", "fitted"},
                                           {"unit", "s"},
                                           {"base", t0 * 1.03},
                                           {"cross_validated", t0}},
                                          {{"op", "gemm:m=64,n=24576,k=1536"},
                                           {"role", "predicted"},
                                           {"unit", "s"},
                                           {"base", t1},
                                           {"cross_validated", t1}}}}};
  in.records = {file};
  const Table t = validation_table(in);
  CHECK(t.find("role")->texts[0] == "fitted");
  CHECK(std::isnan(t.find("projected")->numbers[0]));
  CHECK(t.find("fit_projected")->numbers[0] == Approx(live.find("fit_projected")->numbers[0]));
  CHECK_THAT(t.attrs.at("cross_validation"), Catch::Contains("STALE old.json") && Catch::Contains("old.json: leave"));
  // The predicted datum: its out-of-sample figure is the live projection, and it has no fit residual.
  CHECK(t.find("role")->texts[1] == "predicted");
  CHECK(t.find("projected")->numbers[1] == Approx(live.find("fit_projected")->numbers[1]));
  CHECK(std::isnan(t.find("fit_error_pct")->numbers[1]));

  std::ofstream(file) << "{\"format\": \"something else\"}";
  CHECK_THROWS_WITH(validation_table(in), Catch::Contains("old.json") && Catch::Contains("v3sim-calibration-1"));
  fs::remove_all(dir);
}

TEST_CASE("the validation table: DeepEP's published normal-kernel bandwidths and the error against each",
          "[report][study_tables][validation][slow]") {
  ValidationInputs in;
  in.reference_yaml = kReference;
  in.cluster = mpft();
  in.deepgemm = false;
  const auto start = std::chrono::steady_clock::now();
  const Table t = validation_table(in);
  WARN(fmt::format("validation (DeepEP rows): {:.2f} s",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  REQUIRE(t.rows() == 8);
  CHECK(t.find("unit")->texts[0] == "GB/s");
  CHECK_THAT(t.find("case")->texts[0], Catch::Contains("intranode dispatch EP8") && Catch::Contains("nvl"));
  CHECK_THAT(t.find("case")->texts[7], Catch::Contains("internode combine EP64") && Catch::Contains("rdma"));
  // [type, dispatch_EP, dispatch_GBps, combine_EP, combine_GBps, bottleneck_link]: dispatch then combine per row.
  // Calibration targets of tests/net/test_alltoall.cpp: 10% MAPE (a fit residual), and with the shipped record
  // (`v3sim calibrate h800-deepep --record`) leave-one-out within 10% too.
  const std::vector<double> deepep = published({"deepep_h800", "normal_v1_2025_04_22"}, {"rows"}, {2, 4});
  check_validation_rows(t, "deepep_h800_normal", deepep, 10.0);
  CHECK(t.find("model")->texts[0] == "cycle-alltoall");
  in.records = calibration_records(std::string(V3SIM_SOURCE_DIR) + "/traces/calibration");
  const Table cv = validation_table(in);
  INFO(cv.attrs.at("cross_validation"));
  for (const std::string& role : cv.find("role")->texts) CHECK(role == "fitted");
  check_validation_rows(cv, "deepep_h800_normal", deepep, 10.0, "projected", "error_pct");
}

TEST_CASE("the validation table names the reference file and key it cannot read", "[report][study_tables][errors]") {
  ValidationInputs in;
  in.reference_yaml = kConfigs + "/hardware/h800.yaml";  // a YAML file without the tables
  in.gpu = chip("h800.yaml");
  CHECK_THROWS_WITH(validation_table(in), Catch::Contains("h800.yaml") && Catch::Contains("deepgemm_h800"));
  in.reference_yaml = kConfigs + "/no-such-file.yaml";
  CHECK_THROWS_AS(validation_table(in), ConfigError);
}

TEST_CASE("study tables by name", "[report][study_tables]") {
  CHECK(study_table_names() == std::vector<std::string>{"numerics_error_vs_k", "validation"});
  CHECK_THROWS_WITH(make_study_table("roofline", {kConfigs, kReference}),
                    Catch::Contains("numerics_error_vs_k, validation") && Catch::Contains("'roofline'"));
}

TEST_CASE("a table declared by its schema reaches results.h5 with its columns, units, descriptions and attributes",
          "[report][study_tables][h5]") {
  const TableSpec& spec = kernels_table_spec();
  Table t = Table::from_spec(spec);
  REQUIRE(t.columns.size() == spec.columns.size());
  for (TableColumn& c : t.columns) {
    if (c.text) {
      c.texts.emplace_back("x");
    } else {
      c.numbers.push_back(1.5);
    }
  }
  // Which models are closed-form comes from sim/exec's CostModel, not from a list of names.
  CHECK(t.attrs.at("closed_form_models") == "roofline,analytical");
  StudyResults r;
  r.attrs["study"] = "schema-test";
  r.index = {0};
  r.label = {"a"};
  r.group = {""};
  r.phase = {"train"};
  r.value = {""};
  r.status = {"ok"};
  r.value_num = {std::nan("")};
  r.tables.push_back(t);
  const test::TempDir dir("v3sim-schema");
  const std::string path = (dir.path() / "results.h5").string();
  write_study_results(path, r);
  const StudyResults back = read_study_results(path);
  const Table* k = back.table("kernels");
  REQUIRE(k != nullptr);
  REQUIRE(k->columns.size() == spec.columns.size());
  for (size_t i = 0; i < spec.columns.size(); ++i) {
    INFO(spec.columns[i].name);
    CHECK(k->columns[i].name == spec.columns[i].name);
    CHECK(k->columns[i].unit == spec.columns[i].unit);
    CHECK(k->columns[i].text == spec.columns[i].text);
    CHECK(k->columns[i].description == spec.columns[i].description);
    CHECK(k->columns[i].size() == 1);
  }
  CHECK(k->attrs == spec.attrs);
  CHECK(k->source == spec.source);
}

TEST_CASE("every declared table schema is well formed", "[report][study_tables]") {
  std::set<std::string> names;
  for (const TableSpec* s : table_specs()) {
    INFO(s->name);
    CHECK(names.insert(s->name).second);
    std::set<std::string> cols;
    for (const TableColumnSpec& c : s->columns) {
      INFO(c.name);
      CHECK(cols.insert(c.name).second);
      CHECK(std::string(c.description).size() > 5);
      CHECK(std::string(c.name).find_first_of("/,") == std::string::npos);
    }
  }
  CHECK(names.count("kernels") == 1);
  CHECK(names.count("hardware") == 1);
}
