#include "report/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "models/op.h"
#include "report/published.h"
#include "sim/sm/cast_kernels.h"
#include "sim/sm/gemm.h"
#include "sim/sm/micro.h"

namespace v3sim::report {

Comparison compare_timelines(const Timeline& measured, const Timeline& projected) {
  // The k-th projected op of each name pairs with the k-th measured op of that name.
  std::map<std::string, std::vector<const TimelineEvent*>> by_name;
  for (const auto& e : projected.events) by_name[e.name].push_back(&e);
  std::map<std::string, size_t> seen;
  Comparison c;
  double sum = 0;
  int64_t paired = 0;
  for (const auto& m : measured.events) {
    OpComparison o;
    o.name = m.name;
    o.kind = m.kind;
    o.measured = m.duration();
    const size_t k = seen[m.name]++;
    auto it = by_name.find(m.name);
    if (it != by_name.end() && k < it->second.size()) {
      o.projected = it->second[k]->duration();
      const double meas = static_cast<double>(o.measured.picoseconds());
      o.error = meas > 0 ? (static_cast<double>(o.projected->picoseconds()) - meas) / meas : 0;
      sum += std::fabs(o.error);
      c.worst = std::max(c.worst, std::fabs(o.error));
      ++paired;
    } else {
      ++c.unmatched;
    }
    c.ops.push_back(std::move(o));
  }
  c.mape = paired > 0 ? sum / static_cast<double>(paired) : 0;
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Categories

Category category_of(std::string_view kind, std::string_view pass) {
  const std::optional<OpKind> k = op_kind_named(kind);
  if (!k) return Category::Other;  // "other", "unmapped": kernels no op of the graph stands for
  const bool wgrad = pass == to_string(Pass::Wgrad);
  switch (traits_of(*k).family) {
    case OpFamily::GemmDense:
      return wgrad ? Category::Wgrad : Category::GemmDense;
    case OpFamily::GemmGrouped:
      return wgrad ? Category::Wgrad : Category::GemmGrouped;
    case OpFamily::Attention:
      return Category::Attention;
    case OpFamily::MemoryBound:
      return Category::Membound;
    case OpFamily::Communication:
      return Category::Comm;
  }
  throw InternalError(fmt::format("category_of: op kind '{}' without a category", kind));
}

Category event_category(const TimelineEvent& e) {
  return is_compute_stream(e.stream) ? category_of(e.kind, e.pass) : Category::Comm;
}

const char* to_string(Category c) {
  switch (c) {
    case Category::GemmDense:
      return "gemm_dense";
    case Category::GemmGrouped:
      return "gemm_grouped";
    case Category::Wgrad:
      return "wgrad";
    case Category::Attention:
      return "attention";
    case Category::Membound:
      return "membound";
    case Category::Other:
      return "other";
    case Category::Comm:
      return "comm";
    case Category::kCount:
      break;
  }
  return "?";
}

const std::vector<CategoryInfo>& category_info() {
  using C = Category;
  static const std::vector<CategoryInfo> rows = {
      {"compute",
       "all compute-stream kernels",
       "every kernel on the compute streams (compute and compute2): the sum of the rows gemm to other",
       {C::GemmDense, C::GemmGrouped, C::Wgrad, C::Attention, C::Membound, C::Other}},
      {"gemm",
       "GEMMs other than weight gradients",
       "FP8 (and the BF16 MoE gate's) GEMMs of the forward and Dgrad passes, dense and grouped",
       {C::GemmDense, C::GemmGrouped}},
      {"gemm_dense", "  dense GEMMs", "one problem per kernel (kind gemm; not pass wgrad)", {C::GemmDense}},
      {"gemm_grouped",
       "  grouped GEMMs",
       "the routed experts' grouped GEMMs (kind grouped_gemm, batched_gemm; not pass wgrad)",
       {C::GemmGrouped}},
      {"wgrad",
       "weight-gradient GEMMs",
       "every GEMM of pass wgrad, dense or grouped, on either compute stream (DeepSeek's stack accumulates them into "
       "the FP32 gradient)",
       {C::Wgrad}},
      {"attention",
       "attention fwd + bwd",
       "core attention (FlashAttention-style kernels), forward and backward",
       {C::Attention}},
      {"membound",
       "memory-bound kernels",
       "FP8 casts, transposes, SwiGLU, norms, RoPE, permute/unpermute, router, weight casts, element-wise, "
       "embedding, loss, optimizer",
       {C::Membound}},
      {"other",
       "kernels v3sim has no op for",
       "measured kernels of kind other or unmapped (copies, memsets, operand re-layouts the graph does not model)",
       {C::Other}},
      {"membound_all",
       "memory-bound + other",
       "membound and other together: the trace rules call some memory-bound kernels other (copies, casts back to "
       "BF16, scale re-layouts) that a projection may model as memory-bound ops",
       {C::Membound, C::Other}},
      {"comm",
       "communication stream",
       "every kernel on a stream other than the compute streams (dispatch, combine, their notify/handshake "
       "kernels, collectives, and computation placed there); a profiler counts a communication kernel's wait for "
       "its peers",
       {C::Comm}},
  };
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// A whole step against a measured profile

namespace {

double ms_of(Time t) {
  return static_cast<double>(t.picoseconds()) * 1e-9;
}

int64_t distinct_layers(const std::vector<const TimelineEvent*>& events) {
  std::set<int32_t> layers;
  for (const TimelineEvent* e : events)
    if (e->layer >= 0) layers.insert(e->layer);
  return static_cast<int64_t>(layers.size());
}

Timeline as_timeline(const std::vector<const TimelineEvent*>& events, const std::string& source) {
  Timeline t;
  t.source = source;
  t.events.reserve(events.size());
  for (const TimelineEvent* e : events) t.events.push_back(*e);
  return t;
}

struct Sums {
  Time measured, projected;
  int64_t measured_events = 0, projected_events = 0;
  std::string measured_kind, projected_kind;  // of the first event of each side
  Category measured_category = Category::Other, projected_category = Category::Other;
};

void add(Sums& s, const TimelineEvent& e, bool measured) {
  if (measured) {
    if (s.measured_events++ == 0) {
      s.measured_kind = e.kind;
      s.measured_category = event_category(e);
    }
    s.measured += e.duration();
  } else {
    if (s.projected_events++ == 0) {
      s.projected_kind = e.kind;
      s.projected_category = event_category(e);
    }
    s.projected += e.duration();
  }
}

nlohmann::json stats_json(const std::optional<StreamStats>& s) {
  if (!s) return nullptr;
  return {{"events", s->events},
          {"time_ms", ms_of(s->time)},
          {"busy_ms", ms_of(s->busy)},
          {"span_ms", ms_of(s->span)},
          {"idle_ms", ms_of(s->idle)},
          {"gaps",
           {{"count", s->gaps.count},
            {"total_ms", ms_of(s->gaps.total)},
            {"median_us", s->gaps.median.microseconds()},
            {"p90_us", s->gaps.p90.microseconds()}}}};
}

nlohmann::json figures_json(const Figures& f) {
  const double err = f.error();
  return {{"measured_ms", f.measured},
          {"projected_ms", f.projected},
          {"error", std::isfinite(err) ? nlohmann::json(err) : nlohmann::json(nullptr)}};
}

}  // namespace

double Figures::error() const {
  if (measured == 0) return std::numeric_limits<double>::quiet_NaN();
  return (projected - measured) / measured;
}

std::string generic_op_name(const std::string& name) {
  std::string n = name;
  // " mb<k>" at the end (projected events of several micro-batches)
  const size_t sp = n.rfind(" mb");
  if (sp != std::string::npos && sp + 3 < n.size() &&
      std::all_of(n.begin() + static_cast<std::ptrdiff_t>(sp) + 3, n.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    n.resize(sp);
  }
  // "L<n>." at the start
  if (n.size() > 2 && n[0] == 'L' && std::isdigit(static_cast<unsigned char>(n[1])) != 0) {
    size_t i = 1;
    while (i < n.size() && std::isdigit(static_cast<unsigned char>(n[i])) != 0) ++i;
    if (i < n.size() && n[i] == '.') n = n.substr(i + 1);
  }
  return n;
}

TimelineComparison compare_step_timelines(const Timeline& measured, const Timeline& projected,
                                          const StepCompareOptions& options) {
  std::vector<const TimelineEvent*> m, p;
  for (const TimelineEvent& e : measured.events) m.push_back(&e);
  for (const TimelineEvent& e : projected.events) {
    if (options.projected_layers.empty() || options.projected_layers.count(e.layer)) p.push_back(&e);
  }
  TimelineComparison c;
  c.measured_layers = distinct_layers(m);
  c.projected_layers = distinct_layers(p);
  c.measured_events = static_cast<int64_t>(m.size());
  c.projected_events = static_cast<int64_t>(p.size());
  const double m_div = static_cast<double>(std::max<int64_t>(c.measured_layers, 1));
  const double p_div = static_cast<double>(std::max<int64_t>(c.projected_layers, 1));
  auto per_layer = [&](const Sums& s) { return Figures{ms_of(s.measured) / m_div, ms_of(s.projected) / p_div}; };

  std::array<Sums, static_cast<size_t>(Category::kCount)> by_cat{};
  std::map<std::pair<std::string, std::string>, Sums> by_kind_pass;
  std::map<std::string, Sums> by_name;
  std::map<int32_t, std::array<Time, 2>> m_layer, p_layer;  // compute, comm
  for (int side = 0; side < 2; ++side) {
    const bool is_m = side == 0;
    for (const TimelineEvent* e : is_m ? m : p) {
      const Category cat = event_category(*e);
      add(by_cat[static_cast<size_t>(cat)], *e, is_m);
      add(by_kind_pass[{e->kind, e->pass}], *e, is_m);
      add(by_name[generic_op_name(e->name)], *e, is_m);
      if (e->layer >= 0) {
        (is_m ? m_layer : p_layer)[e->layer][cat == Category::Comm ? 1 : 0] += e->duration();
      }
    }
  }

  for (const CategoryInfo& info : category_info()) {
    CategoryRow row;
    row.info = &info;
    Sums s;
    for (Category member : info.members) {
      const Sums& x = by_cat[static_cast<size_t>(member)];
      s.measured += x.measured;
      s.projected += x.projected;
      row.measured_events += x.measured_events;
      row.projected_events += x.projected_events;
    }
    row.ms = per_layer(s);
    c.categories.push_back(row);
  }
  for (const auto& [key, s] : by_kind_pass) {
    KindPassRow row;
    row.kind = key.first;
    row.pass = key.second;
    row.category = category_of(key.first, key.second);
    row.ms = per_layer(s);
    row.measured_events = s.measured_events;
    row.projected_events = s.projected_events;
    c.kind_pass.push_back(row);
  }
  {
    auto mi = m_layer.begin();
    auto pi = p_layer.begin();
    while (mi != m_layer.end() || pi != p_layer.end()) {
      LayerRow row;
      if (mi != m_layer.end()) {
        row.measured_layer = mi->first;
        row.compute_ms.measured = ms_of(mi->second[0]);
        row.comm_ms.measured = ms_of(mi->second[1]);
        ++mi;
      }
      if (pi != p_layer.end()) {
        row.projected_layer = pi->first;
        row.compute_ms.projected = ms_of(pi->second[0]);
        row.comm_ms.projected = ms_of(pi->second[1]);
        ++pi;
      }
      c.layers.push_back(row);
    }
  }
  {
    const TimelineAnalysis am = analyze_timeline(as_timeline(m, measured.source));
    const TimelineAnalysis ap = analyze_timeline(as_timeline(p, projected.source));
    std::map<std::pair<int32_t, int32_t>, StreamRow> rows;
    for (const StreamStats& s : am.streams) {
      StreamRow& r = rows[{s.device, s.stream}];
      r.device = s.device;
      r.stream = s.stream;
      r.measured = s;
    }
    for (const StreamStats& s : ap.streams) {
      StreamRow& r = rows[{s.device, s.stream}];
      r.device = s.device;
      r.stream = s.stream;
      r.projected = s;
    }
    for (auto& [key, r] : rows) c.streams.push_back(std::move(r));
  }
  {
    std::vector<NameRow> rows;
    for (const auto& [name, s] : by_name) {
      NameRow row;
      row.name = name;
      row.kind = s.measured_events > 0 ? s.measured_kind : s.projected_kind;
      row.category = s.measured_events > 0 ? s.measured_category : s.projected_category;
      row.ms = per_layer(s);
      row.measured_events = s.measured_events;
      row.projected_events = s.projected_events;
      rows.push_back(row);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const NameRow& a, const NameRow& b) {
      if (a.ms.measured != b.ms.measured) return a.ms.measured > b.ms.measured;
      return a.ms.projected > b.ms.projected;
    });
    c.names_total = static_cast<int64_t>(rows.size());
    if (rows.size() > options.top_names) rows.resize(options.top_names);
    c.names = std::move(rows);
  }
  return c;
}

namespace {

// The cost models (sim/exec CostModel names) that price nearly all of a category's time in a step projection, as
// sim/exec/op_cost plans them: FP8 GEMMs on the cycle GEMM model, attention on the roofline, the memory-bound kernels
// streaming (their launch shape given) and the casts on the cycle cast model, DeepEP's dispatch and combine on the
// cycle all-to-all model and the collectives analytical. Left out, so that a category's error is not credited to a
// model that prices a sliver of it: the roofline's BF16 gate GEMM and the kernels without a launch shape.
std::vector<std::string> category_models(Category c) {
  switch (c) {
    case Category::GemmDense:
    case Category::GemmGrouped:
    case Category::Wgrad:
      return {"cycle-gemm"};
    case Category::Attention:
      return {"roofline"};
    case Category::Membound:
      return {"streaming", "cycle-cast"};
    case Category::Comm:
      return {"cycle-alltoall", "analytical"};
    case Category::Other:
    case Category::kCount:
      break;
  }
  return {};
}

// The role of a measured profile's category: "fitted" where a constant of the projection was fitted to that very
// profile, "predicted" elsewhere. The one such constant: the deployment's load_cv (configs/deployments/
// v3-train-2048.yaml), measured from the profile's own token counts, which sets the communication it projects.
const char* category_role(const CategoryInfo& info) {
  for (const Category m : info.members)
    if (m == Category::Comm) return "fitted";
  return "predicted";
}

}  // namespace

nlohmann::json category_json(const TimelineComparison& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CategoryRow& r : c.categories) {
    nlohmann::json j = figures_json(r.ms);
    j["name"] = r.info->name;
    j["label"] = r.info->label;
    j["description"] = r.info->description;
    std::vector<std::string> models;
    for (const Category m : r.info->members)
      for (const std::string& name : category_models(m))
        if (std::find(models.begin(), models.end(), name) == models.end()) models.push_back(name);
    j["models"] = models;
    j["role"] = category_role(*r.info);
    j["measured_events"] = r.measured_events;
    j["projected_events"] = r.projected_events;
    rows.push_back(j);
  }
  return rows;
}

nlohmann::json comparison_json(const TimelineComparison& c) {
  nlohmann::json j;
  j["measured_layers"] = c.measured_layers;
  j["projected_layers"] = c.projected_layers;
  j["measured_events"] = c.measured_events;
  j["projected_events"] = c.projected_events;
  j["units"] = "ms per layer (layers: the distinct layer indices of each timeline) unless a key says otherwise";
  j["categories"] = category_json(c);
  j["kind_pass"] = nlohmann::json::array();
  for (const KindPassRow& r : c.kind_pass) {
    nlohmann::json row = figures_json(r.ms);
    row["kind"] = r.kind;
    row["pass"] = r.pass;
    row["category"] = to_string(r.category);
    row["measured_events"] = r.measured_events;
    row["projected_events"] = r.projected_events;
    j["kind_pass"].push_back(row);
  }
  j["layers"] = nlohmann::json::array();
  for (const LayerRow& r : c.layers) {
    j["layers"].push_back({{"measured_layer", r.measured_layer},
                           {"projected_layer", r.projected_layer},
                           {"compute", figures_json(r.compute_ms)},
                           {"comm", figures_json(r.comm_ms)}});
  }
  j["streams"] = nlohmann::json::array();
  for (const StreamRow& r : c.streams) {
    j["streams"].push_back({{"device", r.device},
                            {"stream", r.stream},
                            {"name", timeline_stream_name(r.stream)},
                            {"measured", stats_json(r.measured)},
                            {"projected", stats_json(r.projected)}});
  }
  j["names"] = nlohmann::json::array();
  for (const NameRow& r : c.names) {
    nlohmann::json row = figures_json(r.ms);
    row["name"] = r.name;
    row["kind"] = r.kind;
    row["category"] = to_string(r.category);
    row["measured_events"] = r.measured_events;
    row["projected_events"] = r.projected_events;
    j["names"].push_back(row);
  }
  j["names_total"] = c.names_total;
  return j;
}

std::vector<Table> comparison_tables(const TimelineComparison& c) {
  // Columns are added first, then filled by index (Table::add_* references do not survive the next add).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto column = [](Table& t, const std::string& name) -> TableColumn& {
    for (TableColumn& col : t.columns)
      if (col.name == name) return col;
    throw InternalError(fmt::format("comparison table {}: no column '{}'", t.name, name));
  };
  auto add_figures = [&](Table& t, const Figures& f, const std::string& prefix = "") {
    column(t, prefix + "measured").numbers.push_back(f.measured);
    column(t, prefix + "projected").numbers.push_back(f.projected);
    column(t, prefix + "error").numbers.push_back(100 * f.error());
  };
  auto figure_columns = [](Table& t, const std::string& prefix = "") {
    t.add_number(prefix + "measured", "ms");
    t.add_number(prefix + "projected", "ms");
    t.add_number(prefix + "error", "%");
  };
  std::vector<Table> out;
  {
    Table t{"categories", "Per category, ms per layer", "", {}, {}};
    t.add_text("category");
    figure_columns(t);
    t.add_text("what");
    for (const CategoryRow& r : c.categories) {
      column(t, "category").texts.push_back(r.info->name);
      add_figures(t, r.ms);
      column(t, "what").texts.push_back(r.info->label);
    }
    out.push_back(std::move(t));
  }
  {
    Table t{"kind_pass", "Per op kind and pass, ms per layer", "", {}, {}};
    t.add_text("kind");
    t.add_text("pass");
    t.add_text("category");
    t.add_number("events m");
    t.add_number("events p");
    figure_columns(t);
    for (const KindPassRow& r : c.kind_pass) {
      column(t, "kind").texts.push_back(r.kind);
      column(t, "pass").texts.push_back(r.pass.empty() ? "-" : r.pass);
      column(t, "category").texts.push_back(to_string(r.category));
      column(t, "events m").numbers.push_back(static_cast<double>(r.measured_events));
      column(t, "events p").numbers.push_back(static_cast<double>(r.projected_events));
      add_figures(t, r.ms);
    }
    out.push_back(std::move(t));
  }
  {
    Table t{"layers", "Per layer (the i-th measured layer against the i-th projected one), ms", "", {}, {}};
    t.add_number("layer m");
    t.add_number("layer p");
    figure_columns(t, "compute ");
    figure_columns(t, "comm ");
    for (const LayerRow& r : c.layers) {
      column(t, "layer m").numbers.push_back(r.measured_layer >= 0 ? r.measured_layer : nan);
      column(t, "layer p").numbers.push_back(r.projected_layer >= 0 ? r.projected_layer : nan);
      add_figures(t, r.compute_ms, "compute ");
      add_figures(t, r.comm_ms, "comm ");
    }
    out.push_back(std::move(t));
  }
  {
    Table t{"streams", "Per stream (whole timelines): busy, idle and the gaps between kernels", "", {}, {}};
    t.add_text("stream");
    t.add_text("timeline");
    t.add_number("events");
    t.add_number("busy", "ms");
    t.add_number("idle", "ms");
    t.add_number("gaps");
    t.add_number("gap median", "us");
    t.add_number("gap p90", "us");
    for (const StreamRow& r : c.streams) {
      for (int side = 0; side < 2; ++side) {
        const std::optional<StreamStats>& st = side == 0 ? r.measured : r.projected;
        column(t, "stream").texts.push_back(side == 0 ? timeline_stream_name(r.stream) : "");
        column(t, "timeline").texts.push_back(side == 0 ? "measured" : "projected");
        column(t, "events").numbers.push_back(st ? static_cast<double>(st->events) : nan);
        column(t, "busy").numbers.push_back(st ? ms_of(st->busy) : nan);
        column(t, "idle").numbers.push_back(st ? ms_of(st->idle) : nan);
        column(t, "gaps").numbers.push_back(st ? static_cast<double>(st->gaps.count) : nan);
        column(t, "gap median").numbers.push_back(st ? st->gaps.median.microseconds() : nan);
        column(t, "gap p90").numbers.push_back(st ? st->gaps.p90.microseconds() : nan);
      }
    }
    out.push_back(std::move(t));
  }
  {
    Table t{"names",
            fmt::format("Per op name, the {} of {} with the most measured time, ms per layer", c.names.size(),
                        c.names_total),
            "",
            {},
            {}};
    t.add_text("name");
    t.add_text("kind");
    t.add_number("events m");
    t.add_number("events p");
    figure_columns(t);
    for (const NameRow& r : c.names) {
      column(t, "name").texts.push_back(r.name);
      column(t, "kind").texts.push_back(r.kind);
      column(t, "events m").numbers.push_back(static_cast<double>(r.measured_events));
      column(t, "events p").numbers.push_back(static_cast<double>(r.projected_events));
      add_figures(t, r.ms);
    }
    out.push_back(std::move(t));
  }
  return out;
}

namespace {

int64_t int_field(const std::vector<std::pair<std::string, std::string>>& kv, const std::string& key, int64_t dflt) {
  for (const auto& [k, v] : kv)
    if (k == key) return std::stoll(v);
  return dflt;
}

// The projected duration of one measured op, or nothing when v3sim has no model of it.
std::optional<Time> project(const TimelineEvent& e, const HardwareConfig& hw) {
  auto [kind, kv] = parse_op_name(e.name);
  if (kind == "gemm" || kind == "gemm-cublaslt") {
    sm::GemmDesc d;
    d.m = int_field(kv, "m", 0);
    d.n = int_field(kv, "n", 0);
    d.k = int_field(kv, "k", 0);
    d.groups = int_field(kv, "groups", 1);
    if (d.groups > 1) d.layout = sm::GemmLayout::Contiguous;
    for (const auto& [key, v] : kv)
      if (key == "layout" && v == "masked") d.layout = sm::GemmLayout::Masked;
    d.sms = int_field(kv, "sms", 0);
    const sm::GemmResult r = sm::simulate_gemm(d, hw);
    return r.time;
  }
  if (kind == "quantize" || kind == "transpose-requant") {
    sm::CastDesc d;
    d.kernel = kind == "quantize" ? sm::CastKernel::Quantize : sm::CastKernel::TransposeRequant;
    d.rows = int_field(kv, "rows", 0);
    d.cols = int_field(kv, "cols", 0);
    return sm::simulate_cast(d, hw).time;
  }
  if (const std::optional<MicroProblem> m = MicroProblem::from_name(kind, kv)) return sm::simulate_micro(*m, hw).time;
  return std::nullopt;
}

}  // namespace

Timeline project_kernel_trace(const Timeline& measured, const HardwareConfig& hw) {
  Timeline projected;
  projected.source = "projected";
  for (const TimelineEvent& e : measured.events) {
    if (auto t = project(e, hw)) {
      TimelineEvent p = e;
      p.end = p.start + *t;
      projected.events.push_back(p);
    }
  }
  return projected;
}

}  // namespace v3sim::report
