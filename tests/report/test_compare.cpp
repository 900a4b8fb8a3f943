// Measured against projected for a whole step: categories of op kinds, the per-category/kind/layer/stream/name
// comparison on hand-made timelines, and the Perfetto writer's nesting (check_chrome_trace).
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "models/op.h"
#include "report/compare.h"
#include "report/trace.h"
#include "report/trace_rules.h"

using namespace v3sim;
using namespace v3sim::report;

namespace {

Time us(double v) {
  return Time::ps(static_cast<int64_t>(std::llround(v * 1e6)));
}

TimelineEvent ev(std::string name, std::string kind, std::string pass, int32_t stream, double start_us, double end_us,
                 int32_t layer = 0) {
  TimelineEvent e;
  e.name = std::move(name);
  e.kind = std::move(kind);
  e.pass = std::move(pass);
  e.stream = stream;
  e.start = us(start_us);
  e.end = us(end_us);
  e.layer = layer;
  return e;
}

const CategoryRow& row(const TimelineComparison& c, const std::string& name) {
  for (const CategoryRow& r : c.categories)
    if (r.info->name == name) return r;
  FAIL("no category row " << name);
  throw;
}

}  // namespace

TEST_CASE("every op kind of the shipped trace rules and of the graph has the category the comparison expects",
          "[report][compare]") {
  const TraceRules rules =
      load_trace_rules_file(std::string(V3SIM_SOURCE_DIR) + "/configs/traces/deepseek-v3-h800.yaml");
  // What each kind of the rules must count as, by pass.
  auto expected = [](const std::string& kind, const std::string& pass) {
    if (kind == "gemm") return pass == "wgrad" ? Category::Wgrad : Category::GemmDense;
    if (kind == "grouped_gemm") return pass == "wgrad" ? Category::Wgrad : Category::GemmGrouped;
    if (kind == "attention") return Category::Attention;
    if (kind.starts_with("all_to_all")) return Category::Comm;
    if (kind == "other") return Category::Other;
    return Category::Membound;
  };
  std::set<std::pair<std::string, std::string>> seen;
  for (const KernelRule& k : rules.kernels) {
    for (const char* pass : {"fwd", "dgrad", "wgrad"}) {
      const std::string p = k.pass.empty() ? pass : k.pass;
      seen.insert({k.kind, p});
    }
  }
  for (const AnnotationRule& a : rules.annotations) {
    for (const OpList& l : a.ops) {
      for (const OpName& n : l.names) {
        if (!n.kind.empty()) seen.insert({n.kind, n.pass.empty() ? a.pass : n.pass});
      }
    }
  }
  REQUIRE(seen.size() > 30);
  for (const auto& [kind, pass] : seen) {
    INFO(kind << " " << pass);
    CHECK(category_of(kind, pass) == expected(kind, pass));
  }
  // Every graph kind has a category (a new kind without one is an InternalError), the measured-only ones too.
  for (int k = 0; k < static_cast<int>(OpKind::kCount); ++k) {
    const char* kind = to_string(static_cast<OpKind>(k));
    INFO(kind);
    CHECK_NOTHROW(category_of(kind, "fwd"));
  }
  CHECK(category_of("unmapped", "") == Category::Other);
  CHECK(category_of("batched_gemm", "fwd") == Category::GemmGrouped);
  CHECK(category_of("send_recv", "") == Category::Comm);
  CHECK(category_of("optimizer", "") == Category::Membound);
  // On the communication stream everything is communication-stream time (DeepSeek's dY cast there).
  CHECK(event_category(ev("moe.dy_quant", "quantize", "dgrad", 1, 0, 1)) == Category::Comm);
  CHECK(event_category(ev("w", "grouped_gemm", "wgrad", 3, 0, 1)) == Category::Wgrad);
  // The table: compute is every category but comm; gemm is dense + grouped.
  const auto& info = category_info();
  REQUIRE(info.front().name == "compute");
  CHECK(info.front().members.size() == static_cast<size_t>(Category::kCount) - 1);
  for (const CategoryInfo& i : info) {
    CHECK(!i.label.empty());
    CHECK(!i.description.empty());
  }
}

TEST_CASE("a step comparison sums categories per layer, pairs layers, kinds and names, and measures launch gaps",
          "[report][compare]") {
  Timeline m, p;
  m.source = "measured";
  p.source = "projected";
  // Measured, two layers (0, 1): per layer 100 us of dense GEMM, 50 of grouped, 40 of Wgrad on compute2, 20 of
  // casts, 10 of an unmapped copy, and 200 us on the communication stream (one of them a cast there).
  for (int32_t l = 0; l < 2; ++l) {
    const double t = 1000.0 * l;
    m.events.push_back(ev("L" + std::to_string(l) + ".attn.wq_b", "gemm", "fwd", 0, t, t + 100, l));
    m.events.push_back(ev("L" + std::to_string(l) + ".attn.x_quant", "quantize", "fwd", 0, t + 102, t + 122, l));
    m.events.push_back(ev("L" + std::to_string(l) + ".moe.experts.w13", "grouped_gemm", "fwd", 0, t + 130, t + 180, l));
    m.events.push_back(ev("copy_tensor", "other", "fwd", 0, t + 190, t + 200, l));
    m.events.push_back(
        ev("L" + std::to_string(l) + ".moe.experts.w13.wgrad", "grouped_gemm", "wgrad", 3, t, t + 40, l));
    m.events.push_back(ev("L" + std::to_string(l) + ".moe.dispatch", "all_to_all_dispatch", "fwd", 1, t, t + 150, l));
    m.events.push_back(ev("L" + std::to_string(l) + ".moe.dy_quant", "quantize", "dgrad", 1, t + 150, t + 200, l));
  }
  // Projected, layers 5 and 6 (MoE) and layer 0 (dense, filtered out): GEMMs 10% slower, casts half, no copy.
  for (int32_t l : {5, 6}) {
    const double t = 1000.0 * l;
    const std::string mb = " mb0";
    p.events.push_back(ev("L" + std::to_string(l) + ".attn.wq_b" + mb, "gemm", "fwd", 0, t, t + 110, l));
    p.events.push_back(ev("L" + std::to_string(l) + ".attn.x_quant" + mb, "quantize", "fwd", 0, t + 110, t + 120, l));
    p.events.push_back(
        ev("L" + std::to_string(l) + ".moe.experts.w13" + mb, "grouped_gemm", "fwd", 0, t + 120, t + 175, l));
    p.events.push_back(ev("L" + std::to_string(l) + ".moe.experts.w13.wgrad" + mb, "gemm", "wgrad", 3, t, t + 30, l));
    p.events.push_back(
        ev("L" + std::to_string(l) + ".moe.dispatch" + mb, "all_to_all_dispatch", "fwd", 1, t, t + 100, l));
  }
  p.events.push_back(ev("L0.ffn.w1 mb0", "gemm", "fwd", 0, 0, 5000, 0));
  StepCompareOptions o;
  o.projected_layers = {5, 6};
  const TimelineComparison c = compare_step_timelines(m, p, o);
  CHECK(c.measured_layers == 2);
  CHECK(c.projected_layers == 2);
  CHECK(c.projected_events == 10);

  CHECK(row(c, "gemm_dense").ms.measured == Approx(0.100));
  CHECK(row(c, "gemm_dense").ms.projected == Approx(0.110));
  CHECK(row(c, "gemm_dense").ms.error() == Approx(0.1));
  CHECK(row(c, "gemm").ms.measured == Approx(0.150));
  CHECK(row(c, "gemm").ms.projected == Approx(0.165));
  CHECK(row(c, "wgrad").ms.measured == Approx(0.040));
  CHECK(row(c, "wgrad").ms.error() == Approx(-0.25));
  CHECK(row(c, "membound").ms.measured == Approx(0.020));
  CHECK(row(c, "membound").ms.error() == Approx(-0.5));
  CHECK(row(c, "other").ms.error() == Approx(-1.0));
  CHECK(row(c, "membound_all").ms.measured == Approx(0.030));
  CHECK(row(c, "membound_all").ms.projected == Approx(0.010));
  CHECK(row(c, "compute").ms.measured == Approx(0.220));
  CHECK(row(c, "compute").ms.projected == Approx(0.205));
  CHECK(row(c, "comm").ms.measured == Approx(0.200));  // the dY cast on the communication stream included
  CHECK(row(c, "comm").ms.projected == Approx(0.100));
  CHECK(std::isnan(row(c, "attention").ms.error()));  // nothing measured

  // Kinds by pass: the projected Wgrad is kind gemm, the measured grouped_gemm; both count as wgrad.
  std::map<std::pair<std::string, std::string>, const KindPassRow*> kp;
  for (const KindPassRow& r : c.kind_pass) kp[{r.kind, r.pass}] = &r;
  REQUIRE(kp.count({"grouped_gemm", "wgrad"}));
  CHECK(kp.at({"grouped_gemm", "wgrad"})->projected_events == 0);
  CHECK(kp.at({"gemm", "wgrad"})->category == Category::Wgrad);
  CHECK(kp.at({"quantize", "dgrad"})->measured_events == 2);

  // Layers pair in order: measured 0 with projected 5.
  REQUIRE(c.layers.size() == 2);
  CHECK(c.layers[0].measured_layer == 0);
  CHECK(c.layers[0].projected_layer == 5);
  CHECK(c.layers[0].compute_ms.measured == Approx(0.220));
  CHECK(c.layers[1].comm_ms.projected == Approx(0.100));

  // Names without layer and micro-batch pair across the timelines.
  const NameRow* wq = nullptr;
  for (const NameRow& r : c.names)
    if (r.name == "attn.wq_b") wq = &r;
  REQUIRE(wq != nullptr);
  CHECK(wq->measured_events == 2);
  CHECK(wq->projected_events == 2);
  CHECK(wq->ms.error() == Approx(0.1));
  CHECK(c.names.front().name == "moe.dispatch");  // most measured time first
  CHECK(generic_op_name("L12.moe.shared.w2.dgrad mb3") == "moe.shared.w2.dgrad");
  CHECK(generic_op_name("torch_elementwise") == "torch_elementwise");

  // Launch gaps on the measured compute stream: per layer 2, 8 and 10 us between its 4 kernels, plus the 800 us
  // from layer 0's last kernel to layer 1's first.
  const StreamRow* compute = nullptr;
  for (const StreamRow& s : c.streams)
    if (s.stream == 0) compute = &s;
  REQUIRE(compute != nullptr);
  REQUIRE(compute->measured);
  CHECK(compute->measured->gaps.count == 7);
  CHECK(compute->measured->gaps.median.microseconds() == Approx(8.0));
  CHECK(compute->measured->gaps.p90.microseconds() == Approx(800.0));
  CHECK(compute->measured->busy.microseconds() == Approx(360.0));
  REQUIRE(compute->projected);
  CHECK(compute->projected->gaps.median.microseconds() == Approx(0.0));

  // JSON: one object, errors null where nothing was measured; text tables with every row.
  const nlohmann::json j = comparison_json(c);
  CHECK(j["categories"].size() == category_info().size());
  for (const auto& r : j["categories"]) {
    if (r["name"] == "attention") CHECK(r["error"].is_null());
    if (r["name"] == "compute") CHECK(r["error"].get<double>() == Approx(0.205 / 0.220 - 1));
    // Which cost models price the category's ops, and whether the profile informed a constant of them.
    if (r["name"] == "attention") CHECK(r["models"] == nlohmann::json{"roofline"});
    if (r["name"] == "gemm_dense") CHECK(r["models"] == nlohmann::json{"cycle-gemm"});
    if (r["name"] == "membound") CHECK(r["models"] == nlohmann::json{"streaming", "cycle-cast"});
    if (r["name"] == "other") CHECK(r["models"].empty());
    CHECK(r["role"] == (r["name"] == "comm" ? "fitted" : "predicted"));
  }
  const std::vector<Table> tables = comparison_tables(c);
  REQUIRE(tables.size() == 5);
  CHECK(tables[0].rows() == category_info().size());
  const std::string text = table_text(tables[0]);
  CHECK_THAT(text, Catch::Contains("gemm_dense"));
  CHECK_THAT(text, Catch::Contains("+10.0%"));
}

TEST_CASE("the Perfetto writer nests slices per thread, and check_chrome_trace finds what does not nest",
          "[report][trace]") {
  SECTION("a hand-written trace with a partial overlap fails, one that nests passes") {
    const std::string bad = R"({"traceEvents": [
      {"name": "a", "ph": "X", "pid": 0, "tid": 1, "ts": 10, "dur": 20},
      {"name": "b", "ph": "X", "pid": 0, "tid": 1, "ts": 20, "dur": 20},
      {"name": "c", "ph": "X", "pid": 0, "tid": 2, "ts": 20, "dur": 20}]})";
    const auto problems = check_chrome_trace(bad);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::Contains("pid 0 tid 1: 'a'"));
    CHECK_THAT(problems[0], Catch::Contains("overlap without nesting"));
    const std::string good = R"({"traceEvents": [
      {"name": "a", "ph": "X", "pid": 0, "tid": 1, "ts": 10, "dur": 30},
      {"name": "b", "ph": "X", "pid": 0, "tid": 1, "ts": 20, "dur": 20},
      {"name": "c", "ph": "X", "pid": 0, "tid": 1, "ts": 40, "dur": 5},
      {"name": "thread_name", "ph": "M", "pid": 0, "tid": 1, "args": {"name": "x"}}]})";
    CHECK(check_chrome_trace(good).empty());
    CHECK(check_chrome_trace("not json").size() == 1);
    CHECK(check_chrome_trace(R"({"events": []})") == std::vector<std::string>{"no traceEvents list"});
    CHECK(check_chrome_trace(R"({"traceEvents": [{"name": "a", "ph": "X", "ts": 1, "dur": -1}]})").size() == 1);
  }
  SECTION("overlapping events of one stream go on extra threads, in both timelines") {
    Timeline m, p;
    m.source = "measured";
    p.source = "projected";
    // Partial overlaps on the communication stream (spinning kernels), a nested pair and sub-nanosecond times.
    m.events = {ev("a", "all_to_all_dispatch", "fwd", 1, 0, 100), ev("b", "all_to_all_combine", "fwd", 1, 50, 150),
                ev("c", "all_to_all_combine", "fwd", 1, 60, 70), ev("d", "gemm", "fwd", 0, 0, 10)};
    p.events = {ev("a mb0", "gemm", "fwd", 0, 0.0004, 10.0006), ev("b mb0", "gemm", "fwd", 0, 10.0004, 20),
                ev("c mb0", "gemm", "fwd", 0, 5, 15)};
    const std::string text = chrome_trace_json({&m, &p}, {"compute", "comm", "pipe_comm", "compute2"});
    const auto problems = check_chrome_trace(text);
    INFO((problems.empty() ? std::string() : problems.front()));
    CHECK(problems.empty());
    const auto j = nlohmann::json::parse(text);
    std::set<std::pair<int, int>> threads;
    std::set<std::string> thread_names;
    int complete = 0;
    for (const auto& e : j["traceEvents"]) {
      if (e["ph"] == "X") {
        ++complete;
        threads.insert({e["pid"].get<int>(), e["tid"].get<int>()});
        CHECK(e["args"].contains("category"));
        CHECK(e["args"]["layer"] == 0);
      }
      if (e["ph"] == "M" && e["name"] == "thread_name") thread_names.insert(e["args"]["name"].get<std::string>());
    }
    CHECK(complete == 7);
    // measured: compute, comm, comm (2) (b overlaps a; c nests in a); projected: a on compute, c (overlapping a)
    // on compute (2), b (overlapping a by 0.2 ns and c) on compute (3)
    CHECK(threads == std::set<std::pair<int, int>>{{0, 0}, {0, 1}, {0, 1001}, {1000, 0}, {1000, 1000}, {1000, 2000}});
    CHECK(thread_names.count("comm (2)") == 1);
    CHECK(thread_names.count("compute (2)") == 1);
  }
}
