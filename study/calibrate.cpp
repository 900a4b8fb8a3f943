#include "study/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/parallel.h"
#include "core/params.h"
#include "report/compare.h"
#include "report/h5_file.h"
#include "report/published.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::study {

namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

const ConfigNode& need(const ConfigNode& map, const std::string& key, const std::string& expected) {
  const ConfigNode* n = map.find(key);
  if (!n || n->is_null()) throw ConfigError(map.loc(), map.child_path(key), expected, "nothing");
  return *n;
}

std::string need_text(const ConfigNode& map, const std::string& key, const std::string& expected) {
  const ConfigNode& n = need(map, key, expected);
  if (!n.is_scalar()) throw ConfigError(n.loc(), n.path(), expected, n.describe());
  return n.text();
}

// A whole-text number; nullopt when the text is not one.
std::optional<double> number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double need_number(const ConfigNode& n, const std::string& expected) {
  if (n.is_scalar())
    if (auto v = number(n.text())) return *v;
  throw ConfigError(n.loc(), n.path(), expected, n.describe());
}

// The node at a dotted key path under `root`, or nullptr.
const ConfigNode* find_path(const ConfigNode& root, const std::string& key) {
  const ConfigNode* n = &root;
  size_t start = 0;
  while (n) {
    const size_t dot = key.find('.', start);
    n = n->find(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return n;
}

// One dataset's measured figures, and their projection with a base config whose constants are set.
class Dataset {
 public:
  explicit Dataset(const CalibrationSpec::Dataset& d) : m_spec(d) {}
  virtual ~Dataset() = default;
  const CalibrationSpec::Dataset& spec() const { return m_spec; }
  virtual const char* unit() const = 0;
  // Per figure (in a fixed order), its projection with the config `root`; NaN where v3sim has no model. names and
  // measured, when given, receive each figure's name and measured value.
  virtual std::vector<double> project(const ConfigNode& root, std::vector<std::string>* names = nullptr,
                                      std::vector<double>* measured = nullptr) const = 0;

 private:
  CalibrationSpec::Dataset m_spec;
};

// A measured trace of kernels, projected op by op as `v3sim compare` does (seconds).
class TraceDataset final : public Dataset {
 public:
  TraceDataset(const CalibrationSpec::Dataset& d, const std::string& spec_file) : Dataset(d) {
    if (d.trace.empty()) {
      throw ConfigError(SourceLoc{spec_file, 0}, "data." + d.name + ".trace",
                        fmt::format("a measured trace of the '{}' suite", d.suite), "none");
    }
    const report::ResultFile f = report::read_result_h5(d.trace);
    if (f.timeline.source != "measured") {
      throw ConfigError(SourceLoc{spec_file, 0}, "data." + d.name + ".trace",
                        "a measured trace (v3sim import or measure)",
                        fmt::format("'{}', whose timeline is '{}'", d.trace, f.timeline.source));
    }
    m_measured = f.timeline;
  }
  const char* unit() const override { return "s"; }

  std::vector<double> project(const ConfigNode& root, std::vector<std::string>* names,
                              std::vector<double>* measured) const override {
    const HardwareConfig hw = load_hardware(root);
    // The ops are independent: each projected on whichever thread is free, then joined in order.
    const size_t n = m_measured.events.size();
    std::vector<Timeline> parts(n);
    parallel_jobs(n, hardware_threads(), [&](size_t i) {
      Timeline one;
      one.source = m_measured.source;
      one.events.push_back(m_measured.events[i]);
      parts[i] = report::project_kernel_trace(one, hw);
    });
    Timeline projected;
    projected.source = "projected";
    for (const Timeline& p : parts) projected.events.insert(projected.events.end(), p.events.begin(), p.events.end());
    const report::Comparison c = report::compare_timelines(m_measured, projected);
    std::vector<double> t;
    for (const report::OpComparison& o : c.ops) {
      t.push_back(o.projected ? o.projected->seconds() : kNaN);
      if (names) names->push_back(o.name);
      if (measured) measured->push_back(o.measured.seconds());
    }
    return t;
  }

 private:
  Timeline m_measured;
};

// DeepEP's normal-kernel table: each figure's bottleneck bandwidth projected on the cluster (GB/s).
class DeepEPDataset final : public Dataset {
 public:
  DeepEPDataset(const CalibrationSpec::Dataset& d, const std::string& spec_file) : Dataset(d) {
    const ConfigNode ref = load_config_file(d.reference);
    const ConfigNode* table = find_path(ref, d.table);
    if (!table || !table->is_map()) {
      throw ConfigError(SourceLoc{spec_file, 0}, "data." + d.name + ".table",
                        fmt::format("a DeepEP normal table (a key of '{}' with rows)", d.reference),
                        table ? table->describe() : fmt::format("no key '{}' there", d.table));
    }
    m_figures = report::deepep_normal_figures(*table);
  }
  const char* unit() const override { return "GB/s"; }

  std::vector<double> project(const ConfigNode& root, std::vector<std::string>* names,
                              std::vector<double>* measured) const override {
    const net::ClusterConfig cluster = net::load_cluster(root);
    std::vector<double> out(m_figures.size(), kNaN);
    // Small EP groups simulate fast, large ones slow: interleave them over the threads.
    std::vector<size_t> order(m_figures.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return m_figures[a].desc.ep > m_figures[b].desc.ep; });
    parallel_jobs(order.size(), hardware_threads(), [&](size_t k) {
      out[order[k]] = report::project_deepep_figure(m_figures[order[k]], cluster).metric_gbps;
    });
    for (const report::DeepEPFigure& f : m_figures) {
      if (names) names->push_back(f.label);
      if (measured) measured->push_back(f.measured_gbps);
    }
    return out;
  }

 private:
  std::vector<report::DeepEPFigure> m_figures;
};

// The base config (hardware or cluster) and the constants' values written into it.
class BaseConfig {
 public:
  BaseConfig(const std::string& file, const std::vector<CalibrationSpec::Constant>& constants)
      : m_base(load_config_file(file)), m_constants(constants) {
    for (const auto& c : constants) {
      const ConfigNode* n = find_path(m_base, c.key);
      if (n && n->is_map()) n = n->find("value");  // a cited value {value: X, source: ...}
      if (!n || !n->is_scalar()) {
        throw ConfigError(SourceLoc{file, 0}, c.key, "a value to calibrate (the spec's constants name it)",
                          n ? n->describe() : "nothing");
      }
      const std::string& text = n->text();
      const bool has_unit = text.size() > c.unit.size() && text.ends_with(c.unit);
      const std::optional<double> v =
          has_unit || c.unit.empty() ? number(text.substr(0, text.size() - c.unit.size())) : std::nullopt;
      if (!v) {
        throw ConfigError(n->loc(), c.key,
                          fmt::format("a number in {} (the unit the spec gives)", c.unit.empty() ? "no unit" : c.unit),
                          quote(text));
      }
      m_values.push_back(*v);
    }
  }
  const std::vector<double>& base_values() const { return m_values; }
  // The value as the config takes it: a multiple of the constant's resolution.
  double written(size_t i, double v) const {
    const double r = m_constants[i].resolution;
    return r > 0 ? std::round(v / r) * r : v;
  }
  // The value as the config's text, with the unit: as many decimals as the resolution has (no binary noise).
  std::string text(size_t i, double v) const {
    const double r = m_constants[i].resolution;
    // No resolution: 9 significant digits, which a rate in GB/s takes as whole bytes per second.
    if (!(r > 0)) return fmt::format("{:.9g}{}", v, m_constants[i].unit);
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(r) - 1e-9)));
    return fmt::format("{:.{}f}{}", written(i, v), decimals, m_constants[i].unit);
  }

  // The config with constant i set to values[i] (all constants).
  ConfigNode with(const std::vector<double>& values) const {
    ConfigNode root = m_base;
    for (size_t i = 0; i < m_constants.size(); ++i) {
      apply_override(root, m_constants[i].key, text(i, values[i]), SourceLoc{"calibrate", 0});
    }
    return root;
  }

 private:
  ConfigNode m_base;
  const std::vector<CalibrationSpec::Constant>& m_constants;
  std::vector<double> m_values;
};

}  // namespace

CalibrationSpec parse_calibration(const ConfigNode& root, const std::string& file) {
  CalibrationSpec s;
  s.file = file;
  if (!root.is_map()) throw ConfigError(root.loc(), "", "a calibration spec (a map)", root.describe());
  check_keys(root, {"name", "hardware", "cluster", "folds", "data", "constants"}, "a calibration spec");
  s.name = need_text(root, "name", "the calibration's name");
  const char* base_expected =
      "one base config: `hardware:` (a name in configs/hardware or a path) or `cluster:` (configs/clusters)";
  if (root.find("hardware") && root.find("cluster")) {
    throw ConfigError(root.find("cluster")->loc(), "cluster", base_expected, "both hardware and cluster");
  }
  s.base_kind = root.find("cluster") ? CalibrationSpec::Base::Cluster : CalibrationSpec::Base::Hardware;
  s.base = need_text(root, s.base_kind == CalibrationSpec::Base::Cluster ? "cluster" : "hardware", base_expected);
  if (const ConfigNode* f = root.find("folds")) {
    const double v = need_number(*f, "0 (leave-one-out) or a number of folds >= 2");
    if (v != std::floor(v) || v < 0 || v == 1) {
      throw ConfigError(f->loc(), f->path(), "0 (leave-one-out) or a number of folds >= 2", quote(f->text()));
    }
    s.folds = static_cast<size_t>(v);
  }
  const fs::path dir = fs::path(file).parent_path();
  const ConfigNode& data = need(root, "data", "a list of datasets");
  if (!data.is_sequence() || data.items().empty())
    throw ConfigError(data.loc(), data.path(), "a list of datasets", data.describe());
  std::set<std::string> names;
  for (const ConfigNode& d : data.items()) {
    if (!d.is_map()) throw ConfigError(d.loc(), d.path(), "a dataset {name, trace, source}", d.describe());
    check_keys(d, {"name", "trace", "suite", "table", "reference", "source"}, "a dataset");
    CalibrationSpec::Dataset ds;
    ds.name = need_text(d, "name", "the dataset's name");
    auto path = [&](const std::string& p) {
      return fs::path(p).is_absolute() ? p : (dir / p).lexically_normal().string();
    };
    const bool cluster = s.base_kind == CalibrationSpec::Base::Cluster;
    if (cluster) {
      // A cluster's constants are informed by all-to-all figures: DeepEP's normal table.
      if (d.find("trace") || d.find("suite")) {
        const char* key = d.find("trace") ? "trace" : "suite";
        throw ConfigError(d.find(key)->loc(), d.child_path(key),
                          "a `table:` of all-to-all figures (a cluster base: kernel traces inform `hardware:` specs)",
                          fmt::format("a {}", key));
      }
      ds.table = need_text(d, "table", "the dotted key of a DeepEP normal table (deepep_h800.normal_v1_2025_04_22)");
      ds.reference = path(need_text(d, "reference", "the reference YAML that holds the table, relative to the spec"));
    } else {
      if (d.find("table")) {
        throw ConfigError(d.find("table")->loc(), d.child_path("table"),
                          "a measured `trace:` (a hardware base: all-to-all tables inform `cluster:` specs)",
                          "a table");
      }
      if (const ConfigNode* suite = d.find("suite")) {
        ds.suite = need_text(d, "suite", "a measurement suite (micro)");
        if (ds.suite != "micro") {
          throw ConfigError(suite->loc(), d.child_path("suite"), "a measurement suite: micro", quote(ds.suite));
        }
      }
      if (!ds.suite.empty() && !d.find("trace")) {
        // Measured by the user: the trace comes with --data or --measure.
      } else {
        ds.trace = path(need_text(d, "trace", "a measured trace (.h5), relative to the spec's folder"));
      }
    }
    if (const ConfigNode* src = d.find("source"); src && src->is_scalar()) ds.source = src->text();
    if (!names.insert(ds.name).second)
      throw ConfigError(d.loc(), d.child_path("name"), "a dataset name used once", quote(ds.name));
    s.data.push_back(ds);
  }
  const ConfigNode& consts = need(root, "constants", "a list of constants to fit");
  if (!consts.is_sequence() || consts.items().empty()) {
    throw ConfigError(consts.loc(), consts.path(), "a list of constants to fit", consts.describe());
  }
  std::set<std::string> keys;
  for (const ConfigNode& c : consts.items()) {
    if (!c.is_map()) throw ConfigError(c.loc(), c.path(), "a constant {key, unit, range, data}", c.describe());
    check_keys(c, {"key", "unit", "range", "data", "scale", "resolution"}, "a constant");
    CalibrationSpec::Constant k;
    k.key = need_text(c, "key", "a hardware config key (clocks.sustained)");
    if (const ConfigNode* u = c.find("unit"); u && u->is_scalar()) k.unit = u->text();
    const ConfigNode& r = need(c, "range", "[lower, upper] in the constant's unit");
    if (!r.is_sequence() || r.items().size() != 2) throw ConfigError(r.loc(), r.path(), "[lower, upper]", r.describe());
    k.lower = need_number(r.items()[0], "a number (the lower bound)");
    k.upper = need_number(r.items()[1], "a number (the upper bound)");
    if (!(k.lower < k.upper)) {
      throw ConfigError(r.loc(), r.path(), "lower < upper", fmt::format("[{}, {}]", k.lower, k.upper));
    }
    if (const ConfigNode* sc = c.find("scale")) {
      const std::string t = sc->is_scalar() ? sc->text() : "";
      if (t != "log" && t != "linear") throw ConfigError(sc->loc(), sc->path(), "log or linear", sc->describe());
      k.log_scale = t == "log";
    }
    if (k.log_scale && !(k.lower > 0)) {
      throw ConfigError(r.loc(), r.path(), "a positive lower bound (scale: log), or scale: linear",
                        fmt::format("[{}, {}]", k.lower, k.upper));
    }
    if (const ConfigNode* res = c.find("resolution")) {
      k.resolution = need_number(*res, "a positive resolution (1 for an integer key)");
      if (!(k.resolution > 0)) {
        throw ConfigError(res->loc(), res->path(), "a positive resolution (1 for an integer key)", quote(res->text()));
      }
    }
    const ConfigNode& dn = need(c, "data", "the dataset the constant is fitted on");
    if (!dn.is_scalar()) {
      throw ConfigError(dn.loc(), dn.path(), "one dataset's name (a constant is fitted on one dataset)", dn.describe());
    }
    k.data = dn.text();
    if (!names.count(k.data)) throw ConfigError(dn.loc(), dn.path(), "the name of a dataset of `data`", quote(k.data));
    if (!keys.insert(k.key).second) throw ConfigError(c.loc(), c.child_path("key"), "a key fitted once", quote(k.key));
    s.constants.push_back(k);
  }
  return s;
}

CalibrationResult calibrate(const CalibrationSpec& spec, const std::string& base_file,
                            const std::function<void(const std::string&)>& progress) {
  const BaseConfig hw(base_file, spec.constants);
  std::vector<double> values = hw.base_values();
  CalibrationResult out;

  // Per dataset: the ops v3sim models, their measured times and the base projection.
  struct Ops {
    std::vector<size_t> index;  // into project()'s vector
    std::vector<std::string> names;
    std::vector<double> measured, base;
  };
  std::vector<std::unique_ptr<Dataset>> datasets;
  std::vector<Ops> ops(spec.data.size());
  const ConfigNode base_root = hw.with(values);
  for (size_t d = 0; d < spec.data.size(); ++d) {
    if (spec.data[d].table.empty()) {
      datasets.push_back(std::make_unique<TraceDataset>(spec.data[d], spec.file));
    } else {
      datasets.push_back(std::make_unique<DeepEPDataset>(spec.data[d], spec.file));
    }
    std::vector<std::string> names;
    std::vector<double> measured;
    const std::vector<double> base = datasets[d]->project(base_root, &names, &measured);
    for (size_t i = 0; i < base.size(); ++i) {
      if (std::isnan(base[i]) || !(measured[i] > 0)) continue;
      ops[d].index.push_back(i);
      ops[d].names.push_back(names[i]);
      ops[d].measured.push_back(measured[i]);
      ops[d].base.push_back(base[i]);
    }
    if (ops[d].index.empty()) {
      throw ConfigError(
          SourceLoc{spec.file, 0}, "data." + spec.data[d].name,
          "figures v3sim models (GEMMs and casts in a trace, all-to-all figures in a table)",
          fmt::format("none in '{}'", spec.data[d].table.empty() ? spec.data[d].trace : spec.data[d].table));
    }
  }

  // Projections of dataset d's modeled figures with all constants at `v`, memoized: the folds of a cross-validation
  // start where the full fit ended, so their first Jacobian is the same.
  std::map<std::pair<size_t, std::vector<double>>, std::vector<double>> memo;
  auto times = [&](size_t d, const std::vector<double>& v) {
    std::vector<double> written(v.size());
    for (size_t i = 0; i < v.size(); ++i) written[i] = hw.written(i, v[i]);
    auto [it, fresh] = memo.try_emplace({d, written});
    if (fresh) {
      ConfigNode root = hw.with(written);
      std::vector<double> all;
      try {
        all = datasets[d]->project(root);
      } catch (const ConfigError& e) {
        // A trial value the config cannot take (a rate in whole bytes per second, a time in whole picoseconds).
        throw ConfigError(SourceLoc{spec.file, 0}, "constants",
                          "trial values the base config takes (give each constant the `resolution:` its key "
                          "takes, e.g. 0.01 for GB/s)",
                          e.what());
      }
      for (size_t i : ops[d].index) it->second.push_back(all[i]);
      ++out.evaluations;
    }
    return it->second;
  };

  std::vector<double> fitted = values, std_err(values.size(), kNaN);
  std::vector<bool> identifiable(values.size(), true), at_bound(values.size(), false);
  std::vector<std::vector<double>> cv_pred(spec.data.size());
  for (size_t d = 0; d < spec.data.size(); ++d) {
    std::vector<size_t> mine;
    for (size_t j = 0; j < spec.constants.size(); ++j)
      if (spec.constants[j].data == spec.data[d].name) mine.push_back(j);
    if (mine.empty()) continue;
    std::vector<fit::Parameter> params;
    for (size_t j : mine) {
      const auto& c = spec.constants[j];
      const double start = std::clamp(fitted[j], c.lower, c.upper);
      params.push_back({c.key, start, c.lower, c.upper, c.log_scale, c.resolution});
    }
    auto fit_on = [&](const std::vector<size_t>& train, const std::vector<fit::Parameter>& start) {
      fit::Options fo;
      fo.fd_step = 1e-3;    // 0.1% steps: the cycle models respond smoothly at that scale, not below a cycle
      fo.tolerance = 1e-6;  // a step that improves the squared error by less than 1 ppm ends the fit
      fo.step_tolerance = 1e-6;
      return fit::least_squares(
          start,
          [&](const std::vector<double>& x) {
            std::vector<double> v = fitted;
            for (size_t p = 0; p < mine.size(); ++p) v[mine[p]] = x[p];
            const std::vector<double> t = times(d, v);
            std::vector<double> r;
            for (size_t i : train) r.push_back(t[i] / ops[d].measured[i] - 1);
            return r;
          },
          fo);
    };
    std::vector<size_t> all(ops[d].index.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    if (progress)
      progress(fmt::format("fitting {} constant(s) on {} ({} ops)", mine.size(), spec.data[d].name, all.size()));
    const fit::Result r = fit_on(all, params);
    out.converged = out.converged && r.converged;
    for (size_t p = 0; p < mine.size(); ++p) {
      fitted[mine[p]] = r.values[p];
      std_err[mine[p]] = r.std_errors[p];
      identifiable[mine[p]] = r.identifiable[p];
      at_bound[mine[p]] = r.at_bound[p];
    }
    if (progress) progress(fmt::format("cross-validating on {}", spec.data[d].name));
    std::vector<fit::Parameter> warm = params;  // the folds start from the fit on all data
    for (size_t p = 0; p < mine.size(); ++p) warm[p].initial = r.values[p];
    std::vector<double> last_values;
    std::vector<double> last_times;
    const fit::CrossValidation cv = fit::cross_validate(
        ops[d].measured,
        [&](const std::vector<size_t>& train) {
          if (progress) progress(fmt::format("  fold without {} of {} ops", all.size() - train.size(), all.size()));
          const fit::Result f = fit_on(train, warm);
          out.converged = out.converged && f.converged;
          return f.values;
        },
        [&](const std::vector<double>& x, size_t i) {
          if (x != last_values) {
            std::vector<double> v = fitted;
            for (size_t p = 0; p < mine.size(); ++p) v[mine[p]] = x[p];
            last_times = times(d, v);
            last_values = x;
          }
          return last_times[i];
        },
        spec.folds);
    cv_pred[d] = cv.predicted;
  }

  // Every dataset with all fitted constants; predicted datasets are scored out of sample by construction.
  for (size_t d = 0; d < spec.data.size(); ++d) {
    const std::vector<double> t = times(d, fitted);
    const bool fitted_on = !cv_pred[d].empty();
    CalibrationResult::Score s{spec.data[d].name, fitted_on, t.size()};
    for (size_t i = 0; i < t.size(); ++i) {
      CalibratedDatum x{spec.data[d].name,
                        ops[d].names[i],
                        datasets[d]->unit(),
                        ops[d].measured[i],
                        ops[d].base[i],
                        t[i],
                        fitted_on ? cv_pred[d][i] : t[i],
                        fitted_on};
      out.data.push_back(x);
      const double m = x.measured;
      s.base_mape += std::abs(x.base / m - 1);
      s.fit_mape += std::abs(x.fitted / m - 1);
      s.cv_mape += std::abs(x.cv / m - 1);
      s.cv_max = std::max(s.cv_max, std::abs(x.cv / m - 1));
    }
    const double n = static_cast<double>(t.size());
    s.base_mape /= n;
    s.fit_mape /= n;
    s.cv_mape /= n;
    out.scores.push_back(s);
  }
  for (size_t j = 0; j < spec.constants.size(); ++j) {
    const auto& c = spec.constants[j];
    out.constants.push_back({c.key, c.unit, c.data, hw.text(j, fitted[j]), values[j], hw.written(j, fitted[j]),
                             std_err[j], identifiable[j], at_bound[j]});
  }
  return out;
}

std::string calibrated_config_yaml(const CalibrationSpec& spec, const CalibrationResult& r,
                                   const std::string& extends) {
  const SourceLoc here{"calibrate", 0};
  ConfigNode root = ConfigNode::map(here, "");
  root.set("extends", ConfigNode::scalar(extends, here, "extends"));
  root.set("note",
           ConfigNode::scalar(fmt::format("written by `v3sim calibrate {}` (spec '{}'): the constants below are "
                                          "fitted, the rest is the base config's",
                                          spec.file, spec.name),
                              here, "note"));
  for (const CalibratedConstant& c : r.constants) {
    const CalibrationResult::Score* s = nullptr;
    for (const auto& sc : r.scores)
      if (sc.dataset == c.dataset) s = &sc;
    ConfigNode* at = &root;
    std::string key = c.key;
    for (size_t dot; (dot = key.find('.')) != std::string::npos; key = key.substr(dot + 1)) {
      const std::string part = key.substr(0, dot);
      if (!at->find(part)) at->set(part, ConfigNode::map(here, at->child_path(part)));
      at = at->find(part);
    }
    ConfigNode leaf = ConfigNode::map(here, at->child_path(key));
    leaf.set("value", ConfigNode::scalar(c.fitted_text, here, leaf.child_path("value")));
    const std::string se = std::isnan(c.std_error) ? std::string("no standard error")
                                                   : fmt::format("+-{:.3g}{} (1 s.e.)", c.std_error, c.unit);
    leaf.set("assumption",
             ConfigNode::scalar(
                 fmt::format("fitted by v3sim calibrate ({}) on {} ({} ops): {}{}{}; base {:.6g}{}; MAPE base {:.1f}%, "
                             "fit residual {:.1f}%, cross-validated {:.1f}%",
                             spec.name, c.dataset, s ? s->ops : 0, se,
                             c.identifiable ? "" : ", NOT identifiable by these data",
                             c.at_bound ? ", at a bound of its range" : "", c.base, c.unit,
                             s ? 100 * s->base_mape : 0.0, s ? 100 * s->fit_mape : 0.0, s ? 100 * s->cv_mape : 0.0),
                 here, leaf.child_path("assumption")));
    at->set(key, leaf);
  }
  return root.to_yaml();
}

std::string calibration_json(const CalibrationSpec& spec, const CalibrationResult& r, const std::string& base_file,
                             const std::map<std::string, std::string>& provenance) {
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  nlohmann::json j;
  j["format"] = "v3sim-calibration-1";
  j["spec"] = spec.file;
  j["name"] = spec.name;
  j["base"] = base_file;
  j["base_kind"] = spec.base_kind == CalibrationSpec::Base::Cluster ? "cluster" : "hardware";
  j["folds"] = spec.folds;
  j["cross_validation"] = spec.folds == 0 ? std::string("leave-one-out") : fmt::format("{}-fold", spec.folds);
  j["converged"] = r.converged;
  j["evaluations"] = r.evaluations;
  if (!provenance.empty()) j["provenance"] = provenance;
  j["constants"] = nlohmann::json::array();
  for (const auto& c : r.constants) {
    j["constants"].push_back({{"key", c.key},
                              {"unit", c.unit},
                              {"dataset", c.dataset},
                              {"base", c.base},
                              {"fitted", c.fitted},
                              {"fitted_text", c.fitted_text},
                              {"std_error", num(c.std_error)},
                              {"identifiable", c.identifiable},
                              {"at_bound", c.at_bound}});
  }
  j["datasets"] = nlohmann::json::array();
  for (const auto& s : r.scores) {
    j["datasets"].push_back({{"name", s.dataset},
                             {"role", s.fitted_on ? "fitted" : "predicted"},
                             {"ops", s.ops},
                             {"base_mape", s.base_mape},
                             {"fit_mape", s.fitted_on ? num(s.fit_mape) : nlohmann::json()},
                             {"cv_mape", s.cv_mape},
                             {"cv_max_ape", s.cv_max}});
  }
  j["data"] = nlohmann::json::array();
  for (const auto& d : r.data) {
    j["data"].push_back({{"dataset", d.dataset},
                         {"op", d.op},
                         {"unit", d.unit},
                         {"role", d.fitted_on ? "fitted" : "predicted"},
                         {"measured", d.measured},
                         {"base", num(d.base)},
                         {"fitted", num(d.fitted)},
                         {"cross_validated", num(d.cv)}});
  }
  return j.dump(2) + "\n";
}

}  // namespace v3sim::study
