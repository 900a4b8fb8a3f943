// Calibration against DeepSeek's published H800 FP8 GEMM measurements: the 18 dense shapes of DeepGEMM's last
// published table (deepseek-v3.yaml deepgemm_h800.v3_2025_04_09_last_published_table), read from the reference
// file itself, so a change that breaks calibration fails here. Targets: mean absolute percentage error of the
// TFLOPS at most 10%, no shape off by more than 25%.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "core/config.h"
#include "hw_helpers.h"
#include "sim/sm/gemm.h"

using namespace v3sim;

namespace {

struct Row {
  int64_t m, n, k;
  double tflops;
};

std::vector<Row> published_rows() {
  const std::string path = std::string(V3SIM_SOURCE_DIR) + "/tests/data/reference/deepseek-v3.yaml";
  ConfigNode root = load_config_file(path);
  const ConfigNode* table = root.find("deepgemm_h800");
  REQUIRE(table);
  table = table->find("v3_2025_04_09_last_published_table");
  REQUIRE(table);
  std::vector<Row> rows;
  for (const char* section : {"dense", "dense_large_m"}) {
    const ConfigNode* list = table->find(section);
    REQUIRE(list);
    for (const ConfigNode& r : list->items()) {
      REQUIRE(r.items().size() >= 4);  // [M, N, K, TFLOPS, GBps, speedup]
      rows.push_back({std::stoll(r.items()[0].text()), std::stoll(r.items()[1].text()), std::stoll(r.items()[2].text()),
                      std::stod(r.items()[3].text())});
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("DeepGEMM's H800 dense table: TFLOPS within 10% MAPE, no shape off by more than 25%",
          "[sim][gemm][calibration]") {
  const HardwareConfig hw = test::hardware("h800.yaml");
  const std::vector<Row> rows = published_rows();
  REQUIRE(rows.size() == 18);
  double sum = 0, worst = 0;
  std::string table;
  for (const Row& r : rows) {
    sm::GemmDesc d;
    d.m = r.m;
    d.n = r.n;
    d.k = r.k;
    const sm::GemmResult res = sm::simulate_gemm(d, hw);
    const double err = (res.tflops - r.tflops) / r.tflops;
    sum += std::fabs(err);
    worst = std::max(worst, std::fabs(err));
    table += fmt::format("{:>5} {:>6} {:>6}  published {:>5.0f}  simulated {:>7.1f}  {:+.1f}%  {}\n", r.m, r.n, r.k,
                         r.tflops, res.tflops, 100 * err, res.bound);
    CHECK(std::fabs(err) <= 0.25);
  }
  const double mape = sum / static_cast<double>(rows.size());
  INFO(table << fmt::format("MAPE {:.1f}%, worst {:.1f}%", 100 * mape, 100 * worst));
  CHECK(mape <= 0.10);
}
