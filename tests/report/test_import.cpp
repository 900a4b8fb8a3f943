// `v3sim import`'s library side: rules files, the Kineto importer on hand-written traces (tests/data/traces/) and on
// DeepSeek's published profile, the trace analysis, and the timeline's new HDF5 columns.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "report/h5_file.h"
#include "report/trace_analysis.h"
#include "report/trace_import.h"
#include "report/trace_rules.h"
#include "tests/temp_dir.h"

using namespace v3sim;
using namespace v3sim::report;
using v3sim::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(V3SIM_SOURCE_DIR) + "/tests/data/traces/";

TraceRules rules_from(const std::string& yaml) {
  return load_trace_rules(parse_config_text(yaml, "rules.yaml"));
}

const std::string kStreams = "streams:\n  - {id: 7, role: compute}\n";

const TimelineEvent* find_event(const Timeline& t, const std::string& name, size_t nth = 0) {
  for (const TimelineEvent& e : t.events)
    if (e.name == name && nth-- == 0) return &e;
  return nullptr;
}

}  // namespace

// ---- rules

TEST_CASE("a rules file reads streams, kernel rules, annotations and op lists", "[report][import][rules]") {
  const TraceRules r = load_trace_rules_file(kData + "tiny-rules.yaml");
  CHECK(r.description == "rules of v3sim's importer tests");
  CHECK(r.sha256.size() == 64);
  REQUIRE(r.streams.size() == 3);
  CHECK(r.stream_code(7) == 0);
  CHECK(r.stream_code(9) == 1);
  CHECK(r.stream_code(11) == 3);
  CHECK(!r.stream_code(8));
  REQUIRE(r.annotation("layer(B)"));
  CHECK(r.annotation("layer(B)")->layers == LayerOrder::Descending);
  CHECK(r.annotation("layer(B)")->micro_batch == 1);
  const AnnotationRule& f = *r.annotation("layer(F)");
  CHECK(f.layers == LayerOrder::Ascending);
  REQUIRE(f.ops.size() == 1);
  REQUIRE(f.ops[0].names.size() == 2);
  CHECK(f.ops[0].names[0].op == "attn.wq");
  CHECK(f.ops[0].names[0].kind.empty());
  CHECK(f.ops[0].names[1].op == "attn.wo");
  CHECK(f.ops[0].names[1].kind == "grouped_gemm");
  CHECK(!r.annotation("layer(X)"));
}

TEST_CASE("kernel rules: the first match wins, substrings and regular expressions", "[report][import][rules]") {
  const TraceRules r = rules_from(kStreams +
                                  "kernels:\n"
                                  "  - {contains: acc, kind: gemm, pass: wgrad}\n"
                                  "  - {regex: '^void gemm<\\d+>', kind: grouped_gemm}\n"
                                  "  - {contains: gemm, kind: gemm}\n");
  REQUIRE(r.match_kernel("void gemm<128>(acc*)"));
  CHECK(r.match_kernel("void gemm<128>(acc*)")->pass == "wgrad");  // matches all three: the first wins
  CHECK(r.match_kernel("void gemm<128>(float*)")->kind == "grouped_gemm");
  CHECK(r.match_kernel("void gemm<x>(float*)")->kind == "gemm");  // the regex wants digits
  CHECK(r.match_kernel("cutlass::gemm")->kind == "gemm");         // the regex is anchored at the start
  CHECK(!r.match_kernel("flash_fwd"));
}

SCENARIO("bad rules files are refused naming file, line and key", "[report][import][rules][errors]") {
  auto [what, yaml, message] = GENERATE(table<const char*, std::string, const char*>({
      {"an unknown key", kStreams + "kernels:\n  - {contains: x, kind: gemm, colour: red}\n",
       "rules.yaml:4: kernels[0].colour: expected a key of trace_kernel"},
      {"a misspelt top-level key", kStreams + "kernel:\n  - {contains: x, kind: gemm}\n",
       // (the line is the value's: ParamReader places unknown keys there)
       "kernel: expected a key of trace_rules (description, streams, kernels, annotations), found "
       "unknown key 'kernel' (did you mean 'kernels'?)"},
      {"a bad regular expression", kStreams + "kernels:\n  - {regex: 'gemm(<', kind: gemm}\n",
       "rules.yaml:4: kernels[0].regex: expected an ECMAScript regular expression, found 'gemm(<'"},
      {"both contains and regex", kStreams + "kernels:\n  - {contains: a, regex: b, kind: gemm}\n",
       "rules.yaml:4: kernels[0]: expected one of `contains` (a substring) or `regex` (a regular expression), found "
       "both"},
      {"neither contains nor regex", kStreams + "kernels:\n  - {kind: gemm}\n", "found neither"},
      {"kind other without why", kStreams + "kernels:\n  - {contains: a, kind: other}\n",
       "rules.yaml:4: kernels[0].why: expected for kind other, the reason"},
      {"an unknown kind", kStreams + "kernels:\n  - {contains: a, kind: matmul}\n",
       "rules.yaml:4: kernels[0].kind: expected a one of embedding|"},
      {"an unknown stream role", "streams:\n  - {id: 7, role: copy}\n", "rules.yaml:2: streams[0].role: expected"},
      {"a stream named twice", kStreams + "  - {id: 7, role: comm}\n",
       "rules.yaml:3: streams[1].id: expected each stream id once, found 7 again"},
      {"no streams", "kernels: []\n", "streams: expected a list of device streams"},
      {"streams not a list", "streams: {id: 7, role: compute}\n", "rules.yaml:1: streams: expected a list"},
      {"an annotation named twice", kStreams + "annotations:\n  - {name: a}\n  - {name: a}\n",
       "rules.yaml:5: annotations[1].name: expected each annotation once, found 'a' again"},
      {"a bad layer order", kStreams + "annotations:\n  - {name: a, layers: backwards}\n",
       "rules.yaml:4: annotations[0].layers: expected a one of none|ascending|descending"},
      {"an unknown key in an op name",
       kStreams + "annotations:\n  - name: a\n    ops:\n      - contains: x\n"
                  "        names: [{op: attn.wq, layer: 3}]\n",
       "rules.yaml:7: annotations[0].ops[0].names[0].layer: expected a key of trace_op_name"},
  }));
  GIVEN("a rules file with " << what) {
    THEN("loading it throws a ConfigError saying so") {
      CHECK_THROWS_AS(rules_from(yaml), ConfigError);
      CHECK_THROWS_WITH(rules_from(yaml), Catch::Contains(message));
    }
  }
}

TEST_CASE("the shipped DeepSeek rules load, and describe names every list's table", "[report][import][rules]") {
  const TraceRules r = load_trace_rules_file(std::string(V3SIM_SOURCE_DIR) + "/configs/traces/deepseek-v3-h800.yaml");
  CHECK(r.streams.size() == 3);
  CHECK(r.annotations.size() == 10);
  for (const KernelRule& k : r.kernels) {
    INFO(k.path);
    CHECK((k.kind != "other" || !k.why.empty()));
  }
  std::string all;
  for (const ComponentSpec* s : trace_rules_specs()) all += describe_component(*s);
  for (const char* table :
       {"trace_rules", "trace_stream", "trace_kernel", "trace_annotation", "trace_op_list", "trace_op_name"}) {
    CHECK_THAT(all, Catch::Contains(table));
  }
}

// ---- the importer on a hand-written trace

TEST_CASE("a Kineto trace imports: streams, annotations, layers, op names, unmapped kernels", "[report][import]") {
  const TraceRules rules = load_trace_rules_file(kData + "tiny-rules.yaml");
  const ImportedTrace imp = import_profiler_trace(kData + "tiny.json", rules);
  const Timeline& t = imp.result.timeline;
  CHECK(t.source == "measured");
  REQUIRE(t.events.size() == 12);  // 10 kernels, 1 memcpy, 1 memset: every GPU event, none dropped
  for (size_t i = 1; i < t.events.size(); ++i) CHECK(t.events[i - 1].start <= t.events[i].start);

  SECTION("times are relative to the first GPU event, to the picosecond with fractional microseconds") {
    CHECK(t.events[0].start == Time());
    CHECK(t.events[0].duration() == Time::us(10));
    CHECK(t.events[1].start == Time::ps(12'250'000));  // 32.375 - 20.125 us: a double would lose the .125
    CHECK(imp.result.meta.at("trace_time_origin_us") == "1740000000000020.125");
  }
  SECTION("forward occurrences count layers up, backward ones down; op lists name kernels in launch order") {
    const TimelineEvent* wq0 = find_event(t, "L0.attn.wq");
    REQUIRE(wq0);
    CHECK(wq0->kind == "gemm");
    CHECK(wq0->pass == "fwd");
    CHECK(wq0->layer == 0);
    CHECK(wq0->micro_batch == 0);
    CHECK(wq0->annotation == "layer(F)#0");
    CHECK(wq0->stream == 0);
    CHECK(wq0->stream_id == 7);
    CHECK(wq0->grid == std::array<int32_t, 3>{2, 3, 1});
    CHECK(wq0->block == std::array<int32_t, 3>{128, 1, 1});
    CHECK(wq0->kernel == "void gemm_fp8_kernel<128>(float*, int)");
    REQUIRE(find_event(t, "L0.attn.wo"));
    CHECK(find_event(t, "L0.attn.wo")->kind == "grouped_gemm");  // the op name's kind overrides the rule's
    REQUIRE(find_event(t, "L1.attn.wq"));
    CHECK(find_event(t, "L1.attn.wq")->annotation == "layer(F)#1");
    // Backward: occurrence 0 of 2 is layer 1. Its kernels were launched from another thread of the process.
    const TimelineEvent* d1 = find_event(t, "L1.attn.wo.dgrad");
    REQUIRE(d1);
    CHECK(d1->annotation == "layer(B)#0");
    CHECK(d1->pass == "dgrad");
    CHECK(d1->micro_batch == 1);
    REQUIRE(find_event(t, "L0.attn.wo.dgrad"));
    CHECK(find_event(t, "L0.attn.wo.dgrad")->annotation == "layer(B)#1");
  }
  SECTION("stream roles and kernel rules give streams, kinds, passes and short names") {
    const TimelineEvent* a2a = find_event(t, "nccl_all_to_all");
    REQUIRE(a2a);
    CHECK(a2a->stream == 1);
    CHECK(a2a->kind == "all_to_all_dispatch");
    CHECK(a2a->layer == 0);
    const TimelineEvent* acc = find_event(t, "wgrad_acc");
    REQUIRE(acc);
    CHECK(acc->stream == 3);
    CHECK(acc->stream_id == 11);
    CHECK(acc->pass == "wgrad");  // the kernel rule's pass overrides the annotation's
    CHECK(acc->layer == 1);
    const TimelineEvent* copy = find_event(t, "Memcpy DtoD");
    REQUIRE(copy);
    CHECK(copy->kind == "other");
    CHECK(copy->bytes == 4096);
    CHECK(copy->layer == -1);  // launched outside the rules' annotations (inside "step", which has no rule)
    CHECK(copy->annotation.empty());
    CHECK(copy->pass.empty());
  }
  SECTION("kernels no rule matches are kept, listed and counted") {
    const TimelineEvent* m = find_event(t, "mystery_kernel");
    REQUIRE(m);
    CHECK(m->kind == "unmapped");
    CHECK(m->layer == 1);
    REQUIRE(imp.unmapped.size() == 1);
    CHECK(imp.unmapped[0].kernel == "void mystery_kernel<float>(float*)");
    CHECK(imp.unmapped[0].count == 2);
    CHECK(imp.unmapped[0].time == Time::us(10));
    CHECK(*imp.result.summary_value("unmapped_events") == 2);
  }
  SECTION("the memset without a launch event is kept and noted") {
    const TimelineEvent* ms = find_event(t, "Memset");
    REQUIRE(ms);
    CHECK(ms->annotation.empty());
    REQUIRE(imp.notes.size() == 1);
    CHECK_THAT(imp.notes[0], Catch::Contains("1 GPU event has no launch event"));
  }
  SECTION("provenance: the source and its hash, the GPU, the ranks, the trace's name, the rules") {
    const auto& m = imp.result.meta;
    CHECK(m.at("source_file") == kData + "tiny.json");
    CHECK(m.at("source_sha256").size() == 64);
    CHECK(m.at("gpu") == "Test GPU");
    CHECK(m.at("sm_count") == "8");
    CHECK(m.at("distributed_rank") == "3");
    CHECK(m.at("distributed_world_size") == "16");
    CHECK(m.at("distributed_backend") == "nccl");
    CHECK(m.at("trace_schema_version") == "1");
    CHECK_THAT(m.at("trace_name"), Catch::StartsWith("tiny hand-written"));
    CHECK(m.at("rules_file") == kData + "tiny-rules.yaml");
    CHECK(m.at("rules_sha256") == rules.sha256);
    CHECK_THAT(m.at("config_yaml"), Catch::Contains("layer(F)"));
    CHECK(*imp.result.summary_value("kernel_events") == 10);
    CHECK(*imp.result.summary_value("memcpy_events") == 1);
    CHECK(*imp.result.summary_value("memset_events") == 1);
    CHECK(*imp.result.summary_value("layers") == 2);
  }
}

TEST_CASE("a gzip-compressed trace imports like the plain one", "[report][import]") {
  const TraceRules rules = load_trace_rules_file(kData + "tiny-rules.yaml");
  const ImportedTrace plain = import_profiler_trace(kData + "tiny.json", rules);
  const ImportedTrace gz = import_profiler_trace(kData + "tiny.json.gz", rules);
  REQUIRE(gz.result.timeline.events.size() == plain.result.timeline.events.size());
  for (size_t i = 0; i < gz.result.timeline.events.size(); ++i) {
    CHECK(gz.result.timeline.events[i].name == plain.result.timeline.events[i].name);
    CHECK(gz.result.timeline.events[i].start == plain.result.timeline.events[i].start);
  }
  CHECK(gz.result.meta.at("source_sha256") != plain.result.meta.at("source_sha256"));  // the file as stored
}

TEST_CASE("op lists that count differently from the trace are noted; streams without a role are refused",
          "[report][import]") {
  std::ifstream in(kData + "tiny-rules.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SECTION("more names than kernels") {
    const std::string more = yaml.replace(yaml.find("[attn.wo.dgrad]"), 15, "[attn.wo.dgrad, attn.wq.dgrad]");
    const ImportedTrace imp = import_profiler_trace(kData + "tiny.json", rules_from(more));
    CHECK(std::count_if(imp.notes.begin(), imp.notes.end(), [](const std::string& n) {
            return n.find("layer(B): 1 kernels match contains 'gemm_fp8_kernel' in an occurrence, the rules name 2") !=
                   std::string::npos;
          }) == 1);
  }
  SECTION("a stream without a role") {
    const std::string fewer = yaml.replace(yaml.find("  - {id: 11, role: compute2}\n"), 29, "");
    CHECK_THROWS_WITH(import_profiler_trace(kData + "tiny.json", rules_from(fewer)),
                      Catch::Contains("tiny.json: expected GPU events on streams that the rules") &&
                          Catch::Contains("found 1 GPU event on stream 11"));
  }
}

SCENARIO("bad traces are refused with one line naming the file and what is wrong", "[report][import][errors]") {
  auto [file, message] = GENERATE(table<std::string, std::string>({
      {"not-json.json", "not-json.json:1: expected a Chrome/Kineto trace in JSON, found not JSON: "},
      {"truncated.json", "truncated.json:28: expected a Chrome/Kineto trace in JSON, found JSON that ends early"},
      {"no-trace-events.json", "no-trace-events.json: expected a `traceEvents` list"},
      {"no-kernels.json", "no-kernels.json: expected GPU events (cat kernel, gpu_memcpy or gpu_memset)"},
      {"corrupt.json.gz", "corrupt.json.gz: expected a gzip-compressed trace, found corrupt gzip data"},
      {"truncated.json.gz",
       "truncated.json.gz: expected a complete gzip-compressed trace, found a gzip stream that "
       "ends early"},
      {"missing.json", "missing.json: expected a trace file (Chrome/Kineto JSON), found no such file"},
  }));
  const TraceRules rules = load_trace_rules_file(kData + "tiny-rules.yaml");
  GIVEN(file) {
    try {
      import_profiler_trace(kData + file, rules);
      FAIL("no error");
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      CHECK_THAT(what, Catch::StartsWith(kData + message));
      CHECK(what.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("an event without the fields it needs is named by its index", "[report][import][errors]") {
  TempDir dir;
  const TraceRules rules = load_trace_rules_file(kData + "tiny-rules.yaml");
  const std::string no_stream = dir.file(
      "no-stream.json",
      R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "args": {"device": 0}}]})");
  CHECK_THROWS_WITH(import_profiler_trace(no_stream, rules),
                    Catch::EndsWith("no-stream.json: traceEvents[0] ('k').args.stream: expected an integer, found "
                                    "nothing"));
  const std::string text_ts = dir.file(
      "text-ts.json",
      R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": "1", "dur": 2, "args": {"stream": 7}}]})");
  CHECK_THROWS_WITH(import_profiler_trace(text_ts, rules),
                    Catch::EndsWith("traceEvents[0] ('k').ts: expected a number, found '1'"));
  const std::string array = dir.file("array.json", R"([{"ph": "X", "cat": "kernel"}])");
  CHECK_THROWS_WITH(import_profiler_trace(array, rules), Catch::Contains("found a list of 1 items"));
}

TEST_CASE("short kernel names drop return type, template arguments and parameters", "[report][import]") {
  CHECK(short_kernel_name("void cuda::per_token_cast<__nv_bfloat16, 128>(__nv_bfloat16 const*, int)") ==
        "cuda::per_token_cast");
  CHECK(short_kernel_name("void (anonymous namespace)::elementwise_kernel_with_index<int, f<(g)> >(int, f)") ==
        "(anonymous namespace)::elementwise_kernel_with_index");
  CHECK(short_kernel_name("Memcpy DtoD (Device -> Device)") == "Memcpy DtoD");
  CHECK(short_kernel_name("rotary_kernel") == "rotary_kernel");
  CHECK(short_kernel_name(std::string(300, 'x')).size() == 96);
}

// ---- analysis

TEST_CASE("trace analysis: busy, idle, gaps, and totals per kind, pass, layer and annotation", "[report][analysis]") {
  Timeline t;
  auto add = [&](int32_t stream, int64_t start_us, int64_t end_us, const char* kind, const char* pass, int32_t layer,
                 const char* ann) {
    TimelineEvent e;
    e.stream = stream;
    e.start = Time::us(start_us);
    e.end = Time::us(end_us);
    e.kind = kind;
    e.pass = pass;
    e.layer = layer;
    e.annotation = ann;
    e.stream_id = stream == 0 ? 7 : 27;
    t.events.push_back(e);
  };
  add(0, 0, 10, "gemm", "fwd", 0, "a#0");
  add(0, 12, 20, "gemm", "dgrad", 1, "b#0");
  add(0, 25, 30, "norm", "fwd", 0, "a#0");
  add(0, 30, 40, "gemm", "fwd", 1, "a#1");
  add(1, 0, 10, "all_to_all_dispatch", "fwd", 0, "");
  add(1, 5, 15, "all_to_all_dispatch", "fwd", -1, "");  // overlaps the previous one on its stream
  const TimelineAnalysis a = analyze_timeline(t);
  REQUIRE(a.streams.size() == 2);
  const StreamStats& c = a.streams[0];
  CHECK(c.stream == 0);
  CHECK(c.stream_ids == std::vector<int64_t>{7});
  CHECK(c.events == 4);
  CHECK(c.time == Time::us(33));
  CHECK(c.busy == Time::us(33));
  CHECK(c.span == Time::us(40));
  CHECK(c.idle == Time::us(7));
  CHECK(c.gaps.count == 3);  // 2, 5, 0 us
  CHECK(c.gaps.total == Time::us(7));
  CHECK(c.gaps.median == Time::us(2));
  CHECK(c.gaps.p90 == Time::us(5));
  const StreamStats& m = a.streams[1];
  CHECK(m.time == Time::us(20));
  CHECK(m.busy == Time::us(15));
  CHECK(m.idle == Time());
  CHECK(m.gaps.total == Time());
  CHECK(a.layers == 2);
  CHECK(a.by_kind.at("gemm").events == 3);
  CHECK(a.by_kind.at("gemm").time == Time::us(28));
  CHECK(a.by_kind_pass.at({"gemm", "fwd"}).time == Time::us(20));
  CHECK(a.by_kind_pass.at({"gemm", "dgrad"}).time == Time::us(8));
  CHECK(a.by_layer.at(0).time == Time::us(25));
  CHECK(a.by_layer.at(1).time == Time::us(18));
  CHECK(a.by_layer.at(-1).time == Time::us(10));
  CHECK(a.by_annotation.at("a#0").time == Time::us(15));
  CHECK(a.by_annotation.at("").events == 2);
  CHECK(a.per_layer_ms(Time::ms(3)) == Approx(1.5));
  const nlohmann::json j = analysis_json(a);
  CHECK(j["streams"][0]["name"] == "compute");
  CHECK(j["streams"][0]["gaps"]["p90_us"] == 5.0);
  CHECK(j["kinds"]["gemm"]["time_ms"] == Approx(0.028));
}

// ---- HDF5

TEST_CASE("the timeline's new columns round-trip through HDF5; files without them read with defaults",
          "[report][h5][import]") {
  TempDir dir;
  ResultFile f;
  f.meta = standard_meta();
  f.timeline.source = "measured";
  TimelineEvent e;
  e.name = "L2.attn.wq_b";
  e.kind = "gemm";
  e.stream = 3;
  e.start = Time::ps(5);
  e.end = Time::ps(17);
  e.kernel = "void kernel<" + std::string(1500, 'T') + ">(int)";  // longer than any fixed column
  e.layer = 2;
  e.pass = "wgrad";
  e.micro_batch = 1;
  e.annotation = "mlp(W)#1";
  e.stream_id = 23;
  e.grid = {112, 1, 1};
  e.block = {384, 1, 1};
  f.timeline.events.push_back(e);
  f.timeline.events.push_back(TimelineEvent{});  // defaults (a projected op)
  const std::string path = dir.file("r.h5");
  write_result_h5(path, f);
  const ResultFile g = read_result_h5(path);
  REQUIRE(g.timeline.events.size() == 2);
  const TimelineEvent& r = g.timeline.events[0];
  CHECK(r.kernel == e.kernel);
  CHECK(r.layer == 2);
  CHECK(r.pass == "wgrad");
  CHECK(r.micro_batch == 1);
  CHECK(r.annotation == "mlp(W)#1");
  CHECK(r.stream_id == 23);
  CHECK(r.grid == e.grid);
  CHECK(r.block == e.block);
  CHECK(r.stream == 3);
  const TimelineEvent& d = g.timeline.events[1];
  CHECK(d.kernel.empty());
  CHECK(d.layer == -1);
  CHECK(d.micro_batch == -1);
  CHECK(d.stream_id == -1);

  // A file written before these columns existed.
  const ResultFile old = read_result_h5(std::string(V3SIM_SOURCE_DIR) + "/traces/published/deepgemm-h800.h5");
  REQUIRE(!old.timeline.events.empty());
  for (const TimelineEvent& o : old.timeline.events) {
    CHECK(o.layer == -1);
    CHECK(o.micro_batch == -1);
    CHECK(o.stream_id == -1);
    CHECK(o.kernel.empty());
    CHECK(o.pass.empty());
    CHECK(o.grid == std::array<int32_t, 3>{0, 0, 0});
  }
}

// ---- DeepSeek's published profile

TEST_CASE("DeepSeek's V3 training profile imports whole, and its per-layer figures are issue 14's",
          "[report][import][profile]") {
  const std::string trace = std::string(V3SIM_SOURCE_DIR) + "/../shared/measured/deepseek-profile-data/train.json";
  if (!fs::exists(trace)) {
    WARN("skipped: " << trace << " is absent (it lives beside the repository, in ../shared/measured/)");
    return;
  }
  const TraceRules rules =
      load_trace_rules_file(std::string(V3SIM_SOURCE_DIR) + "/configs/traces/deepseek-v3-h800.yaml");
  const ImportedTrace imp = import_profiler_trace(trace, rules);
  const Timeline& t = imp.result.timeline;
  // The profile-data README: 963 kernel events, and 8 memcpy + 12 memset on the GPU.
  CHECK(*imp.result.summary_value("kernel_events") == 963);
  CHECK(*imp.result.summary_value("memcpy_events") == 8);
  CHECK(*imp.result.summary_value("memset_events") == 12);
  CHECK(t.events.size() == 983);
  CHECK(imp.unmapped.empty());
  CHECK(imp.notes.empty());  // every op list counted as many kernels as it names, in every occurrence
  CHECK(imp.result.meta.at("source_sha256") == "d7b7232efa7708990df5973a0558cf07394ec3f9387ac5d705a607960f2467c1");
  CHECK(imp.result.meta.at("gpu") == "NVIDIA H800");
  CHECK(imp.result.meta.at("sm_count") == "132");
  CHECK(imp.result.meta.at("distributed_world_size") == "64");

  const TimelineAnalysis a = analyze_timeline(t);
  CHECK(a.layers == 4);
  Time compute, comm;
  for (const StreamStats& s : a.streams) (is_compute_stream(s.stream) ? compute : comm) += s.time;
  // Issue 14's table, per MoE layer: all compute kernels (streams 7 + 23) 32.4 ms, the communication stream 28.6.
  CHECK(a.per_layer_ms(compute) == Approx(32.4).margin(0.1));
  CHECK(a.per_layer_ms(comm) == Approx(28.6).margin(0.1));

  // Every layer has each projection once per pass, the forward chunk counting up and the backward chunk down.
  for (int layer = 0; layer < 4; ++layer) {
    for (const char* op : {"attn.wq_b", "attn.wo", "attn.core", "moe.experts.w13", "moe.shared.w2.dgrad",
                           "attn.wo.wgrad", "moe.dispatch"}) {
      const std::string name = "L" + std::to_string(layer) + "." + op;
      INFO(name);
      CHECK(find_event(t, name));
    }
    const TimelineEvent* fwd = find_event(t, "L" + std::to_string(layer) + ".attn.wo");
    const TimelineEvent* bwd = find_event(t, "L" + std::to_string(layer) + ".attn.wo.dgrad");
    REQUIRE((fwd && bwd));
    CHECK(fwd->annotation == "attn(F)#" + std::to_string(layer));
    CHECK(bwd->annotation == "attn(B)#" + std::to_string(3 - layer));
    CHECK(fwd->micro_batch != bwd->micro_batch);
  }
  // Stream 23 runs only FP32-accumulating Wgrad GEMMs.
  for (const TimelineEvent& e : t.events) {
    if (e.stream_id != 23) continue;
    CHECK(e.stream == 3);
    CHECK(e.pass == "wgrad");
    CHECK_THAT(e.kernel, Catch::Contains("fp8_dptp128c_acc"));
  }
}
