#include "report/study_tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "report/published.h"
#include "sim/exec/op_cost.h"
#include "sim/net/alltoall.h"
#include "sim/sm/gemm.h"

namespace v3sim::report {

namespace {

HardwareConfig load_chip(const std::string& configs_dir, const std::string& rel) {
  return load_hardware(load_config_file((std::filesystem::path(configs_dir) / "hardware" / rel).string()));
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// ---- validation helpers ----

// One datum of a calibration record (`v3sim calibrate --record`, format v3sim-calibration-1).
struct RecordedDatum {
  std::string role;  // "fitted" or "predicted"
  std::string unit;  // "s" or "GB/s"
  double base = 0;   // the projection with the base config when the record was made
  double cross_validated = 0;
  std::string record;  // the record's file and how its out-of-sample figures were made
};

// The data of every record, by op ("gemm:m=4096,n=7168,k=2048", "internode dispatch EP64").
std::map<std::string, RecordedDatum> read_records(const std::vector<std::string>& files) {
  std::map<std::string, RecordedDatum> out;
  for (const std::string& file : files) {
    nlohmann::json j;
    try {
      std::ifstream in(file);
      if (!in) throw ConfigError(SourceLoc{file, 0}, "", "a readable calibration record", "a file v3sim cannot open");
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(SourceLoc{file, 0}, "", "a calibration record (JSON, format v3sim-calibration-1)", e.what());
    }
    if (j.value("format", "") != "v3sim-calibration-1" || !j.contains("data") || !j["data"].is_array()) {
      throw ConfigError(SourceLoc{file, 0}, "format", "v3sim-calibration-1 with a data list",
                        "'" + j.value("format", std::string("nothing")) + "'");
    }
    const std::string how =
        fmt::format("{}: {} ({})", std::filesystem::path(file).filename().string(), j.value("cross_validation", ""),
                    j.contains("provenance") ? j["provenance"].value("command", "") : "");
    for (const nlohmann::json& d : j["data"]) {
      auto num = [&](const char* key) {
        return d.contains(key) && d[key].is_number() ? d[key].get<double>() : std::nan("");
      };
      out[d.value("op", "")] = {d.value("role", ""), d.value("unit", ""), num("base"), num("cross_validated"), how};
    }
  }
  return out;
}

// The columns of the validation table, filled row by row. Each published figure has one row: its live projection
// with the shipped config (fit_projected: a fit residual when the figure was fitted on), its role, and its
// out-of-sample projection (projected: leave-one-out from a calibration record for a fitted figure, the live
// projection for a predicted one; NaN when no fresh record covers it).
struct ValidationColumns {
  Table table;
  TableColumn *suite, *name, *model, *role, *measured, *projected, *unit, *error_pct, *fit_projected, *fit_error_pct,
      *source;
  std::map<std::string, RecordedDatum> records;
  std::map<std::string, size_t> used, stale;  // per record: rows it covered, rows it no longer matches

  ValidationColumns(const ValidationColumns&) = delete;
  ValidationColumns& operator=(const ValidationColumns&) = delete;
  explicit ValidationColumns(std::map<std::string, RecordedDatum> recorded) : records(std::move(recorded)) {
    table.name = "validation";
    table.title = "Projected against measured: DeepSeek's published H800 figures";
    table.columns.reserve(11);  // the column pointers stay valid
    suite = &table.add_text("suite");
    name = &table.add_text("case");
    model = &table.add_text("model");
    role = &table.add_text("role");
    measured = &table.add_number("measured");
    projected = &table.add_number("projected");
    unit = &table.add_text("unit");
    error_pct = &table.add_number("error_pct", "%");
    fit_projected = &table.add_number("fit_projected");
    fit_error_pct = &table.add_number("fit_error_pct", "%");
    source = &table.add_text("source");
  }
  // `key`: the datum's op in a calibration record; `to_unit` turns a recorded value (s or GB/s) into the row's unit.
  void add(const std::string& s, const std::string& c, exec::CostModel m, double meas, double proj,
           const std::string& u, const std::string& src, const std::string& key,
           const std::function<double(double)>& to_unit) {
    const double nan = std::nan("");
    std::string r;
    double out_of_sample = nan;
    if (auto it = records.find(key); it != records.end()) {
      const RecordedDatum& d = it->second;
      r = d.role;
      // The record holds for the model as it is only while its base projection is the live one.
      if (std::abs(to_unit(d.base) / proj - 1) > 0.005) {
        ++stale[d.record];
      } else {
        ++used[d.record];
        out_of_sample = d.role == "fitted" ? to_unit(d.cross_validated) : proj;
      }
    }
    suite->texts.push_back(s);
    name->texts.push_back(c);
    model->texts.push_back(exec::to_string(m));
    role->texts.push_back(r);
    measured->numbers.push_back(meas);
    projected->numbers.push_back(out_of_sample);
    unit->texts.push_back(u);
    error_pct->numbers.push_back(100.0 * (out_of_sample - meas) / meas);
    const bool fitted = r != "predicted";
    fit_projected->numbers.push_back(fitted ? proj : nan);
    fit_error_pct->numbers.push_back(fitted ? 100.0 * (proj - meas) / meas : nan);
    source->texts.push_back(src);
  }
  // The table attribute that says where the out-of-sample figures come from, and which records are stale.
  void describe_records() {
    std::string text;
    for (const auto& [rec, n] : used) text += fmt::format("{}{} ({} rows)", text.empty() ? "" : "; ", rec, n);
    for (const auto& [rec, n] : stale) {
      text += fmt::format(
          "{}STALE {} ({} rows: the model no longer projects what the record fitted; rerun its "
          "command)",
          text.empty() ? "" : "; ", rec, n);
    }
    table.attrs["cross_validation"] =
        text.empty() ? "none: no calibration record (traces/calibration/*.json) covers these rows" : text;
  }
};

// A child that must be there; the error names the reference file, line and key.
const ConfigNode& require(const ConfigNode& parent, const char* key, const char* expected) {
  const ConfigNode* n = parent.find(key);
  if (!n) throw ConfigError(parent.loc(), parent.child_path(key), expected, "nothing");
  return *n;
}

std::string source_of(const ConfigNode& table) {
  const ConfigNode* s = table.find("source");
  return s && s->is_scalar() ? s->text() : "";
}

// A row [a, b, c, ...] with at least `columns` scalar items.
const std::vector<ConfigNode>& row_items(const ConfigNode& row, size_t columns, const char* expected) {
  if (!row.is_sequence() || row.items().size() < columns) {
    throw ConfigError(row.loc(), row.path(), expected, row.describe());
  }
  for (const ConfigNode& item : row.items()) {
    if (!item.is_scalar()) throw ConfigError(item.loc(), item.path(), expected, item.describe());
  }
  return row.items();
}

// DeepGEMM's dense table: TFLOPS = 2MNK / t, published against simulate_gemm on the chip.
void add_deepgemm_rows(ValidationColumns& out, const ConfigNode& ref, const HardwareConfig& gpu) {
  const ConfigNode& deepgemm = require(ref, "deepgemm_h800", "DeepGEMM's H800 tables");
  const ConfigNode& table =
      require(deepgemm, "v3_2025_04_09_last_published_table", "DeepGEMM's last published H800 table");
  const std::string source = "deepseek-v3.yaml deepgemm_h800: " + source_of(table);
  for (const char* section : {"dense", "dense_large_m"}) {
    const char* expected = "a list of [M, N, K, TFLOPS, GBps, speedup] rows";
    const ConfigNode& rows = require(table, section, expected);
    if (!rows.is_sequence()) throw ConfigError(rows.loc(), rows.path(), expected, rows.describe());
    for (const ConfigNode& row : rows.items()) {
      const auto& r = row_items(row, 4, "[M, N, K, TFLOPS, ...]");
      sm::GemmDesc d;
      d.m = static_cast<int64_t>(table_number(r[0]));
      d.n = static_cast<int64_t>(table_number(r[1]));
      d.k = static_cast<int64_t>(table_number(r[2]));
      d.validate(gpu);
      const sm::GemmResult res = sm::simulate_gemm(d, gpu);
      const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
      out.add("deepgemm_h800_dense", fmt::format("m={} n={} k={}", d.m, d.n, d.k), exec::CostModel::CycleGemm,
              table_number(r[3]), res.tflops, "TFLOPS", source, gemm_op_name(d.m, d.n, d.k),
              [flops](double seconds) { return flops / seconds / 1e12; });
    }
  }
}

// DeepEP's normal kernels: the bottleneck bandwidth its benchmark prints, per phase and EP size.
void add_deepep_rows(ValidationColumns& out, const ConfigNode& ref, const net::ClusterConfig& cluster) {
  const ConfigNode& deepep = require(ref, "deepep_h800", "DeepEP's H800 tables");
  const ConfigNode& table = require(deepep, "normal_v1_2025_04_22", "DeepEP's normal-kernel table");
  const std::string source = "deepseek-v3.yaml deepep_h800: " + source_of(table);
  for (const DeepEPFigure& f : deepep_normal_figures(table)) {
    const net::AllToAllResult res = project_deepep_figure(f, cluster);
    out.add("deepep_h800_normal", fmt::format("{} ({} GB/s)", f.label, res.metric), exec::CostModel::CycleAllToAll,
            f.measured_gbps, res.metric_gbps, "GB/s", source, f.label, [](double gbps) { return gbps; });
  }
}

}  // namespace

// ---- numerics_error_vs_k ----

std::vector<NumericsAccumulator> default_accumulators(const std::string& configs_dir) {
  const HardwareConfig h800 = load_chip(configs_dir, "h800.yaml");
  return {
      {"H800 tensor core only", h800, 0},
      {"H800 + promotion every 128 (DeepGEMM)", h800, 128},
      {"H800 + FP32 accumulation (proposal), tensor core only",
       load_chip(configs_dir, "proposals/fp32-accumulation.yaml"), 0},
      {"B200 tensor core only", load_chip(configs_dir, "b200.yaml"), 0},
  };
}

std::vector<int64_t> default_error_ks() {
  return {256, 512, 1024, 2048, 4096, 8192, 16384};
}

Table numerics_error_table(const std::vector<NumericsAccumulator>& accumulators, std::vector<int64_t> ks,
                           const NumericsTableOptions& o) {
  if (accumulators.empty() || ks.empty()) {
    throw ConfigError(SourceLoc{"numerics_error_vs_k", 0}, "", "at least one accumulator and one K",
                      fmt::format("{} accumulators and {} K values", accumulators.size(), ks.size()));
  }
  for (int64_t k : ks) {
    if (k <= 0) throw ConfigError(SourceLoc{"numerics_error_vs_k", 0}, "k", "positive K values", std::to_string(k));
  }
  Table t;
  t.name = "numerics_error_vs_k";
  t.title = fmt::format("FP8 GEMM accumulation error against K ({}x{} outputs, {} inputs, seed {})", o.m, o.n,
                        numerics::to_string(o.dist), o.seed);
  std::vector<std::string> labels;
  for (const auto& a : accumulators) labels.push_back(a.label);
  t.source = "sim/numerics/error_study (what `v3sim numerics gemm` computes over a range of K): " + join(labels) +
             "; errors against the FP64 product of the same quantized inputs";
  t.columns.reserve(5);
  TableColumn& name = t.add_text("accumulator");
  TableColumn& k_col = t.add_number("k");
  TableColumn& max_rel = t.add_number("max_rel_error");
  TableColumn& mean_rel = t.add_number("mean_rel_error");
  TableColumn& normwise = t.add_number("normwise_error");
  for (const auto& a : accumulators) {
    numerics::check_promotion(a.hw.fp8, a.promote_every);  // before any work
  }
  for (const auto& a : accumulators) {
    numerics::ErrorStudy s;
    s.m = o.m;
    s.n = o.n;
    s.dist = o.dist;
    s.seed = o.seed;
    s.emulation.model = a.hw.fp8;
    s.emulation.promote_every = a.promote_every;
    s.emulation.threads = o.threads;
    for (int64_t k : ks) {
      s.k = k;
      const numerics::ErrorStats e = numerics::run_error_study(s);
      name.texts.push_back(a.label);
      k_col.numbers.push_back(static_cast<double>(k));
      max_rel.numbers.push_back(e.max_rel_error);
      mean_rel.numbers.push_back(e.mean_rel_error);
      normwise.numbers.push_back(e.normwise_rel_error);
    }
  }
  return t;
}

// ---- validation ----

Table validation_table(const ValidationInputs& in) {
  const ConfigNode ref = load_config_file(in.reference_yaml);
  ValidationColumns out(read_records(in.records));
  std::vector<std::string> sources;
  if (in.deepgemm) {
    add_deepgemm_rows(out, ref, in.gpu);
    sources.push_back(fmt::format("sim/sm/gemm on {}", in.gpu.name));
  }
  if (in.deepep) {
    add_deepep_rows(out, ref, in.cluster);
    sources.push_back(fmt::format("sim/net/alltoall on {}", in.cluster.name));
  }
  out.table.source = fmt::format("measured: {}; projected: {}", in.reference_yaml, join(sources));
  out.describe_records();
  return std::move(out.table);
}

// ---- by name ----

std::vector<std::string> calibration_records(const std::filesystem::path& folder) {
  std::vector<std::string> files;
  if (!std::filesystem::is_directory(folder)) return files;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> study_table_names() {
  return {"numerics_error_vs_k", "validation"};
}

Table make_study_table(const std::string& name, const StudyTableInputs& in) {
  if (name == "numerics_error_vs_k") {
    return numerics_error_table(default_accumulators(in.configs_dir), default_error_ks());
  }
  if (name == "validation") {
    ValidationInputs v;
    v.reference_yaml = in.reference_yaml;
    v.gpu = load_chip(in.configs_dir, "h800.yaml");
    v.cluster = net::load_cluster(
        load_config_file((std::filesystem::path(in.configs_dir) / "clusters" / "h800-2048-mpft.yaml").string()));
    v.records = calibration_records(std::filesystem::path(in.configs_dir).parent_path() / "traces" / "calibration");
    return validation_table(v);
  }
  throw ConfigError(SourceLoc{"study tables", 0}, "", "a table name (" + join(study_table_names()) + ")",
                    fmt::format("'{}'", name));
}

const TableSpec& kernels_table_spec() {
  static const TableSpec spec = [] {
    std::string closed;
    for (const exec::CostModel m : exec::kCostModels)
      if (exec::is_closed_form(m)) closed += (closed.empty() ? "" : ",") + std::string(exec::to_string(m));
    return TableSpec{
        "kernels",
        "v3sim study: sim/exec simulate_step, StepResult::kernels",
        {{"phase", "", true, "the phase of the baseline point (train, prefill, decode)"},
         {"name", "", true, "the op's name in the graph (one row per distinct kernel)"},
         {"kind", "", true, "the op kind (models/op.h)"},
         {"model", "", true, "the cost model that priced it (sim/exec CostModel)"},
         {"bound", "", true, "what limits it (tensor, hbm, l2, nic, ...)"},
         {"flops", "FLOP", false, "floating-point operations per call"},
         {"bytes", "B", false, "bytes moved to and from memory per call"},
         {"time_s", "s", false, "time per call"},
         {"calls", "", false, "calls per step on the representative GPU of its pipeline rank"},
         {"kernel", "", true, "the kernel's key, which identical ops share (\"gemm m4096 n7168 k2048 ...\")"}},
        {{"closed_form_models", closed}}};
  }();
  return spec;
}

const TableSpec& hardware_table_spec() {
  static const TableSpec spec{"hardware",
                              "configs/hardware, as each point resolves them (proposals and overrides applied)",
                              {{"name", "", true, "the chip's name"},
                               {"file", "", true, "the hardware config file of the point"},
                               {"sms", "", false, "streaming multiprocessors"},
                               {"peak_flops", "FLOP/s", false, "FP8 dense tensor-core peak"},
                               {"bf16_peak_flops", "FLOP/s", false, "BF16 dense tensor-core peak"},
                               {"hbm_Bps", "B/s", false, "HBM bandwidth"},
                               {"hbm_bytes", "B", false, "HBM capacity"}},
                              {}};
  return spec;
}

void add_hardware_row(Table& t, const HardwareConfig& hw, const std::string& file) {
  t.column("name").texts.push_back(hw.name);
  t.column("file").texts.push_back(file);
  t.column("sms").numbers.push_back(static_cast<double>(hw.sms));
  t.column("peak_flops").numbers.push_back(hw.fp8_peak_flops());
  t.column("bf16_peak_flops").numbers.push_back(hw.bf16_peak_flops());
  t.column("hbm_Bps").numbers.push_back(static_cast<double>(hw.hbm.bandwidth.bytes_per_second()));
  t.column("hbm_bytes").numbers.push_back(static_cast<double>(hw.hbm.capacity.count()));
}

std::vector<const TableSpec*> table_specs() {
  return {&kernels_table_spec(), &hardware_table_spec()};
}

}  // namespace v3sim::report
