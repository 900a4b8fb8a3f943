#include "study/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/config_names.h"
#include "core/error.h"
#include "core/params.h"
#include "core/text.h"
#include "core/units.h"

namespace v3sim::study {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kDocuments = {"model", "deploy", "hw", "cluster"};
const std::vector<std::string> kPhases = {"train", "prefill", "decode"};

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

void require_map(const ConfigNode& n, const std::string& what) {
  if (!n.is_map()) throw ConfigError(n.loc(), n.path(), what, n.describe());
}

// A scalar, or a cited scalar {value: X, source: ...}; nullptr when `n` is neither.
const ConfigNode* scalar_of(const ConfigNode& n) {
  if (n.is_scalar()) return &n;
  const ConfigNode* v = cited_value(n);
  return v && v->is_scalar() ? v : nullptr;
}

const std::string& scalar_text(const ConfigNode& n, const std::string& what) {
  const ConfigNode* s = scalar_of(n);
  if (!s || s->text().empty()) throw ConfigError(n.loc(), n.path(), what, n.describe());
  return s->text();
}

const ConfigNode& required(const ConfigNode& map, const std::string& key, const std::string& what) {
  const ConfigNode* n = map.find(key);
  if (!n || n->is_null()) {
    throw ConfigError(map.loc(), map.child_path(key), what, "nothing (the key is required)");
  }
  return *n;
}

const ConfigNode& non_empty_list(const ConfigNode& n, const std::string& what) {
  if (!n.is_sequence() || n.items().empty()) {
    throw ConfigError(n.loc(), n.path(), what, n.is_sequence() ? "an empty list" : n.describe());
  }
  return n;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A config argument as the CLI takes it: a path (relative to the study file, else to the current folder) or a name
// in configs/<kind>/<name>.yaml ("h800", "proposals/fp32-accumulation").
std::string resolve_file(const ConfigNode& n, const std::string& kind, const std::string& base_dir,
                         const std::string& configs_dir) {
  const std::string& arg = scalar_text(n, fmt::format("a YAML file or the name of a config in configs/{}", kind));
  fs::path p(arg);
  if (p.is_absolute()) {
    if (is_file(p)) return arg;
  } else {
    if (is_file(fs::path(base_dir) / p)) return (fs::path(base_dir) / p).lexically_normal().string();
    if (is_file(p)) return arg;
  }
  const bool looks_like_name = !arg.ends_with(".yaml") && !arg.ends_with(".yml") && !p.is_absolute();
  if (looks_like_name) {
    if (std::string named = find_config(configs_dir, kind, arg); !named.empty()) return named;
    std::string found = fmt::format("'{}' (no such file or config)", arg);
    if (const std::string guess = closest_config_name(configs_dir, kind, arg); !guess.empty()) {
      found += " (did you mean '" + guess + "'?)";
    }
    throw ConfigError(n.loc(), n.path(),
                      fmt::format("an existing YAML file or the name of a config in {}/{} ({})", configs_dir, kind,
                                  join(config_names(configs_dir, kind))),
                      found);
  }
  throw ConfigError(n.loc(), n.path(), "an existing YAML file", fmt::format("'{}' (no such file)", arg));
}

// "cluster.nic.bandwidth" -> {"cluster", "nic.bandwidth"}; errors name `n`.
std::pair<std::string, std::string> split_key(const std::string& key, const ConfigNode& n) {
  const size_t dot = key.find('.');
  const std::string doc = dot == std::string::npos ? key : key.substr(0, dot);
  if (std::find(kDocuments.begin(), kDocuments.end(), doc) == kDocuments.end() || dot == std::string::npos ||
      dot + 1 >= key.size()) {
    throw ConfigError(n.loc(), n.path(),
                      "a key prefixed by its document: model.KEY, deploy.KEY, hw.KEY or cluster.KEY (e.g. "
                      "cluster.nic.bandwidth)",
                      fmt::format("'{}'", key));
  }
  return {doc, key.substr(dot + 1)};
}

StudySet parse_set(const ConfigNode& n) {
  const std::string& text = scalar_text(n, "DOC.KEY=VALUE (e.g. cluster.nodes=40)");
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    throw ConfigError(n.loc(), n.path(), "DOC.KEY=VALUE (e.g. cluster.nodes=40)", fmt::format("'{}' (no '=')", text));
  }
  StudySet s;
  std::tie(s.document, s.key_path) = split_key(text.substr(0, eq), n);
  s.value = text.substr(eq + 1);
  if (s.value.empty()) throw ConfigError(n.loc(), n.path(), "a value after '='", fmt::format("'{}'", text));
  s.loc = n.loc();
  return s;
}

std::vector<StudySet> parse_sets(const ConfigNode* n) {
  std::vector<StudySet> out;
  if (!n || n->is_null()) return out;
  if (!n->is_sequence()) throw ConfigError(n->loc(), n->path(), "a list of DOC.KEY=VALUE overrides", n->describe());
  for (const auto& item : n->items()) out.push_back(parse_set(item));
  return out;
}

Phase phase_of(const ConfigNode& n, const std::string& text, const std::vector<Phase>& allowed,
               const std::string& allowed_what) {
  if (std::find(kPhases.begin(), kPhases.end(), text) == kPhases.end()) {
    throw ConfigError(n.loc(), n.path(), "a phase: train, prefill or decode", fmt::format("'{}'", text));
  }
  const Phase p = parse_phase(text);
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), p) == allowed.end()) {
    throw ConfigError(n.loc(), n.path(), allowed_what, fmt::format("'{}'", text));
  }
  return p;
}

std::string phases_text(const std::vector<StudyPhase>& phases) {
  std::vector<std::string> names;
  for (const auto& p : phases) names.emplace_back(to_string(p.phase));
  return join(names);
}

// A subset of the study's phases, kept in study order.
std::vector<Phase> parse_phase_subset(const ConfigNode* n, const std::vector<StudyPhase>& study) {
  std::vector<Phase> all;
  for (const auto& p : study) all.push_back(p.phase);
  if (!n) return all;
  const ConfigNode& list = non_empty_list(*n, "a non-empty list of the study's phases (" + phases_text(study) + ")");
  std::set<Phase> chosen;
  for (const auto& item : list.items()) {
    const Phase p = phase_of(item, scalar_text(item, "a phase"), all,
                             "one of the phases under the study's phases: (" + phases_text(study) + ")");
    if (!chosen.insert(p).second) {
      throw ConfigError(item.loc(), item.path(), "distinct phases", fmt::format("'{}' twice", to_string(p)));
    }
  }
  std::vector<Phase> out;
  for (Phase p : all)
    if (chosen.count(p)) out.push_back(p);
  return out;
}

// Splits "25GB/s" into 25 and "GB/s".
bool split_number(const std::string& text, double& number, std::string& unit) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t digits_start = i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == digits_start) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    if (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
      i = j;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    }
  }
  const std::string num = text.substr(text[0] == '+' ? 1 : 0, i - (text[0] == '+' ? 1 : 0));
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), number);
  if (ec != std::errc() || ptr != num.data() + num.size()) return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  return true;
}

// A generated value as text that the config parsers read back: integers without a fraction, others with 6
// significant digits and no exponent.
std::string format_number(double x) {
  if (std::fabs(x) < 1e15 && x == std::floor(x)) return fmt::format("{:.0f}", x);
  std::string s = fmt::format("{:.6g}", x);
  if (s.find_first_of("eE") == std::string::npos) return s;
  s = fmt::format("{:.15f}", x);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// values: {from, to, steps, scale} -> the texts of the points.
std::vector<std::pair<std::string, SourceLoc>> expand_range(const ConfigNode& n) {
  check_keys(n, {"from", "to", "steps", "scale"}, "a range");
  const ConfigNode& from_n = required(n, "from", "the first value of the range (a number, may carry a unit: 25GB/s)");
  const ConfigNode& to_n = required(n, "to", "the last value of the range");
  const ConfigNode& steps_n = required(n, "steps", "the number of points of the range (at least 2)");
  const std::string& from = scalar_text(from_n, "a number, may carry a unit (25GB/s)");
  const std::string& to = scalar_text(to_n, "a number, may carry a unit (400GB/s)");
  double a = 0, b = 0;
  std::string unit_a, unit_b;
  if (!split_number(from, a, unit_a)) {
    throw ConfigError(from_n.loc(), from_n.path(), "a number, may carry a unit (25GB/s)", fmt::format("'{}'", from));
  }
  if (!split_number(to, b, unit_b)) {
    throw ConfigError(to_n.loc(), to_n.path(), "a number, may carry a unit (400GB/s)", fmt::format("'{}'", to));
  }
  if (unit_a != unit_b) {
    throw ConfigError(to_n.loc(), to_n.path(), fmt::format("the unit of from ('{}')", unit_a), fmt::format("'{}'", to));
  }
  // At most kMaxRangeSteps points: a range is enumerated (and each point simulated) before anything else happens, so
  // a typo like 1000000000 must be refused, not start an hour of work; 10000 steps at a second each is already hours.
  constexpr int64_t kMaxRangeSteps = 10000;
  const std::string& steps_text = scalar_text(steps_n, "an integer from 2 to 10000");
  int64_t steps = 0;
  {
    auto [ptr, ec] = std::from_chars(steps_text.data(), steps_text.data() + steps_text.size(), steps);
    if (ec != std::errc() || ptr != steps_text.data() + steps_text.size() || steps < 2 || steps > kMaxRangeSteps) {
      throw ConfigError(steps_n.loc(), steps_n.path(),
                        fmt::format("an integer from 2 to {} (points of the range)", kMaxRangeSteps),
                        quote(steps_text));
    }
  }
  std::string scale = "linear";
  if (const ConfigNode* s = n.find("scale")) {
    scale = scalar_text(*s, "linear or log");
    if (scale != "linear" && scale != "log") {
      throw ConfigError(s->loc(), s->path(), "linear or log", fmt::format("'{}'", scale));
    }
    if (scale == "log" && (a <= 0 || b <= 0)) {
      throw ConfigError(s->loc(), s->path(), "from and to above zero for a log range",
                        fmt::format("from '{}' to '{}'", from, to));
    }
  }
  std::vector<std::pair<std::string, SourceLoc>> out;
  for (int64_t i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(steps - 1);
    double x = scale == "log" ? a * std::pow(b / a, t) : a + (b - a) * t;
    if (i == 0) x = a;
    if (i == steps - 1) x = b;
    out.emplace_back(format_number(x) + unit_a, n.loc());
  }
  return out;
}

StudySweep parse_sweep(const ConfigNode& n, const StudySpec& spec) {
  require_map(n, "a sweep: a map with name, key or keys, values (and optionally phases, proposal)");
  check_keys(n, {"name", "phases", "key", "keys", "proposal", "values"}, "a sweep");
  StudySweep sw;
  sw.loc = n.loc();
  const ConfigNode& name_n = required(n, "name", "the sweep's name");
  sw.name = scalar_text(name_n, "a name");
  if (sw.name == "proposals") {
    throw ConfigError(name_n.loc(), name_n.path(), "a sweep name other than 'proposals' (the proposals' group)",
                      "'proposals'");
  }
  sw.phases = parse_phase_subset(n.find("phases"), spec.phases);
  if (const ConfigNode* p = n.find("proposal")) {
    sw.proposal = scalar_text(*p, "a proposal's label");
    bool found = false;
    std::vector<std::string> labels;
    for (const auto& pr : spec.proposals) {
      found |= pr.label == sw.proposal;
      labels.push_back(pr.label);
    }
    if (!found) {
      throw ConfigError(p->loc(), p->path(), "the label of a proposal of this study (" + join(labels) + ")",
                        fmt::format("'{}'", sw.proposal));
    }
  }
  const ConfigNode* key = n.find("key");
  const ConfigNode* keys = n.find("keys");
  if (key && keys) {
    throw ConfigError(keys->loc(), keys->path(), "either key or keys", "both");
  }
  std::vector<const ConfigNode*> key_nodes;
  if (key) key_nodes.push_back(key);
  if (keys) {
    for (const auto& k : non_empty_list(*keys, "a non-empty list of DOC.KEY.PATH").items()) key_nodes.push_back(&k);
  }
  for (const ConfigNode* k : key_nodes) {
    const std::string& text = scalar_text(*k, "DOC.KEY.PATH (e.g. cluster.nic.bandwidth)");
    split_key(text, *k);
    if (std::find(sw.keys.begin(), sw.keys.end(), text) != sw.keys.end()) {
      throw ConfigError(k->loc(), k->path(), "distinct keys", fmt::format("'{}' twice", text));
    }
    sw.keys.push_back(text);
  }
  const ConfigNode& values = required(n, "values", "a non-empty list of values or a range {from, to, steps, scale}");
  auto add_value = [&](SweepValue v) {
    for (const auto& other : sw.values) {
      if (other.text == v.text) {
        throw ConfigError(v.loc, values.path(), "distinct values (each a point of the sweep)",
                          fmt::format("'{}' again (first at {})", v.text, other.loc.str()));
      }
    }
    sw.values.push_back(std::move(v));
  };
  // One value given for every key.
  auto scalar_value = [&](const std::string& text, const SourceLoc& loc, const std::string& path) {
    if (sw.keys.empty()) {
      throw ConfigError(n.loc(), n.child_path("key"), "key: DOC.KEY.PATH (or keys: [...]) naming what the values set",
                        "nothing");
    }
    SweepValue v;
    v.text = text;
    v.number = study_value_number(text);
    v.loc = loc;
    for (const auto& k : sw.keys) {
      ConfigNode at = ConfigNode::scalar(k, loc, path);
      StudySet s;
      std::tie(s.document, s.key_path) = split_key(k, at);
      s.value = text;
      s.loc = loc;
      v.sets.push_back(std::move(s));
    }
    add_value(std::move(v));
  };
  if (values.is_map() && !values.find("value")) {
    for (const auto& [text, loc] : expand_range(values)) scalar_value(text, loc, values.path());
  } else {
    const ConfigNode& list = non_empty_list(values, "a non-empty list of values or a range {from, to, steps, scale}");
    for (const auto& item : list.items()) {
      if (const ConfigNode* s = scalar_of(item)) {
        if (s->text().empty()) throw ConfigError(item.loc(), item.path(), "a value", "an empty string");
        scalar_value(s->text(), item.loc(), item.path());
        continue;
      }
      if (!item.is_map()) {
        throw ConfigError(item.loc(), item.path(), "a value, or a map DOC.KEY.PATH -> value", item.describe());
      }
      std::vector<std::string> item_keys;
      for (const auto& [k, v] : item.entries())
        if (!is_metadata_key(k) && k != "label") item_keys.push_back(k);
      if (item_keys.empty()) {
        throw ConfigError(item.loc(), item.path(), "a map DOC.KEY.PATH -> value with at least one key", "no keys");
      }
      if (sw.keys.empty()) {
        for (const auto& k : item_keys) {
          split_key(k, *item.find(k));
          sw.keys.push_back(k);
        }
      }
      std::vector<std::string> want = sw.keys, have = item_keys;
      std::sort(want.begin(), want.end());
      std::sort(have.begin(), have.end());
      if (want != have) {
        throw ConfigError(item.loc(), item.path(), "a value for each of the sweep's keys (" + join(sw.keys) + ")",
                          "the keys " + join(item_keys));
      }
      SweepValue v;
      v.loc = item.loc();
      for (const auto& k : sw.keys) {
        const ConfigNode& vn = *item.find(k);
        StudySet s;
        std::tie(s.document, s.key_path) = split_key(k, vn);
        const ConfigNode* sv = scalar_of(vn);
        s.value = sv ? sv->text() : vn.to_yaml();
        if (s.value.empty()) throw ConfigError(vn.loc(), vn.path(), "a value", "an empty string");
        s.loc = vn.loc();
        v.sets.push_back(std::move(s));
      }
      // The point's name: its `label`, or the value of the first key.
      v.text = v.sets.front().value;
      if (const ConfigNode* label = item.find("label")) {
        const ConfigNode* l = scalar_of(*label);
        if (!l || l->text().empty()) {
          throw ConfigError(label->loc(), label->path(), "a non-empty name for the point", label->describe());
        }
        v.text = l->text();
      }
      v.number = study_value_number(v.text);
      add_value(std::move(v));
    }
  }
  return sw;
}

const char* kStudyKeysWhat = "a study";

// The study's name and description.
void parse_study_name(const ConfigNode& root, StudySpec& spec) {
  const ConfigNode& name_n = required(root, "name", "the study's name (the default output folder out/NAME)");
  spec.name = scalar_text(name_n, "a name");
  for (char c : spec.name) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
          c == '_' || c == '.')) {
      throw ConfigError(name_n.loc(), name_n.path(), "a name of a-z, 0-9, '-', '_' and '.' (a folder name)",
                        fmt::format("'{}'", spec.name));
    }
  }
  if (const ConfigNode* d = root.find("description")) spec.description = scalar_text(*d, "one paragraph of text");
}

// base: the model, hardware and cluster every phase uses unless it names its own.
void parse_study_base(const ConfigNode& root, StudySpec& spec, const std::string& base_dir,
                      const std::string& configs) {
  if (const ConfigNode* base = root.find("base")) {
    require_map(*base, "a map with model, hw, cluster");
    check_keys(*base, {"model", "hw", "cluster"}, "base");
    if (const ConfigNode* n = base->find("model")) spec.model = resolve_file(*n, "models", base_dir, configs);
    if (const ConfigNode* n = base->find("hw")) spec.hw = resolve_file(*n, "hardware", base_dir, configs);
    if (const ConfigNode* n = base->find("cluster")) spec.cluster = resolve_file(*n, "clusters", base_dir, configs);
  }
}

// The model of a phase that names none while the study has no base.model: the one its deployment names (a name,
// or a path relative to the deployment's folder); errors name the phase `n`.
std::string deployment_model(const ConfigNode& n, const std::string& key, const std::string& deployment,
                             const std::string& configs) {
  const ConfigNode droot = load_config_file(deployment);
  const std::string named = deployment_model_name(droot);
  if (named.empty()) {
    throw ConfigError(n.loc(), n.path(),
                      "a model: base.model, phases." + key + ".model, or a deployment that names its model",
                      fmt::format("'{}' without a model: key", deployment));
  }
  fs::path p(named);
  if (named.find('/') != std::string::npos && p.is_relative()) p = fs::path(deployment).parent_path() / p;
  ConfigNode at =
      ConfigNode::scalar(p.string(), droot.find("model") ? droot.find("model")->loc() : droot.loc(), "model");
  return resolve_file(at, "models", fs::path(deployment).parent_path().string(), configs);
}

// One entry of phases: a deployment, or a map with deployment and model, hw, cluster and set.
StudyPhase parse_phase(const std::string& key, const ConfigNode& n, const StudySpec& spec, const std::string& base_dir,
                       const std::string& configs) {
  StudyPhase ph;
  ph.phase = phase_of(n, key, {}, "");
  ph.loc = n.loc();
  const ConfigNode* deploy_n = &n;
  std::string model, hw, cluster;
  if (n.is_map() && !n.find("value")) {
    check_keys(n, {"deployment", "model", "hw", "cluster", "set"}, "a phase");
    deploy_n = &required(n, "deployment", "the phase's deployment (a name in configs/deployments or a path)");
    if (const ConfigNode* m = n.find("model")) model = resolve_file(*m, "models", base_dir, configs);
    if (const ConfigNode* h = n.find("hw")) hw = resolve_file(*h, "hardware", base_dir, configs);
    if (const ConfigNode* c = n.find("cluster")) cluster = resolve_file(*c, "clusters", base_dir, configs);
    ph.sets = parse_sets(n.find("set"));
  }
  ph.deployment = resolve_file(*deploy_n, "deployments", base_dir, configs);
  if (model.empty()) model = spec.model;
  if (model.empty()) model = deployment_model(n, key, ph.deployment, configs);
  ph.model = model;
  ph.hw = hw.empty() ? spec.hw : hw;
  ph.cluster = cluster.empty() ? spec.cluster : cluster;
  if (ph.hw.empty()) {
    throw ConfigError(n.loc(), n.path(), "a hardware file: base.hw or phases." + key + ".hw", "none");
  }
  if (ph.cluster.empty()) {
    throw ConfigError(n.loc(), n.path(), "a cluster file: base.cluster or phases." + key + ".cluster", "none");
  }
  return ph;
}

// phases: phase (train, prefill, decode) -> deployment.
void parse_study_phases(const ConfigNode& root, StudySpec& spec, const std::string& base_dir,
                        const std::string& configs) {
  const ConfigNode& phases = required(root, "phases", "a map phase (train, prefill, decode) -> deployment");
  require_map(phases, "a map phase (train, prefill, decode) -> deployment");
  if (phases.entries().empty()) {
    throw ConfigError(phases.loc(), phases.path(), "at least one phase (train, prefill, decode)", "an empty map");
  }
  for (const auto& [key, n] : phases.entries()) {
    if (is_metadata_key(key)) continue;
    spec.phases.push_back(parse_phase(key, n, spec, base_dir, configs));
  }
}

// set: the study-wide overrides, then the command line's, appended to `set:` in the resolved text.
void parse_study_sets(ConfigNode& root, StudySpec& spec, const StudyLoadOptions& options) {
  spec.sets = parse_sets(root.find("set"));
  if (!options.sets.empty()) {
    ConfigNode* set_n = root.find("set");
    if (!set_n || !set_n->is_sequence()) {
      set_n = &root.set("set", ConfigNode::sequence(SourceLoc{options.set_origin, 0}, "set"));
    }
    for (const auto& text : options.sets) {
      const SourceLoc loc{options.set_origin + " " + text, 0};
      ConfigNode item = ConfigNode::scalar(text, loc, fmt::format("set[{}]", set_n->items().size()));
      spec.sets.push_back(parse_set(item));
      set_n->push_back(std::move(item));
    }
  }
}

// proposals: labelled variants of the base (hw, cluster, set, a subset of the phases).
void parse_study_proposals(const ConfigNode& root, StudySpec& spec, const std::string& base_dir,
                           const std::string& configs) {
  if (const ConfigNode* props = root.find("proposals")) {
    const ConfigNode& list = non_empty_list(*props, "a non-empty list of proposals {label, hw, cluster, set, phases}");
    for (const auto& item : list.items()) {
      require_map(item, "a proposal: a map with label and hw, cluster, set or phases");
      check_keys(item, {"label", "hw", "cluster", "set", "phases"}, "a proposal");
      StudyProposal p;
      p.loc = item.loc();
      const ConfigNode& label_n = required(item, "label", "the proposal's label (e.g. baseline, fp32-accumulation)");
      p.label = scalar_text(label_n, "a label");
      for (const auto& other : spec.proposals) {
        if (other.label == p.label) {
          throw ConfigError(label_n.loc(), label_n.path(), "distinct proposal labels",
                            fmt::format("'{}' again (first at {})", p.label, other.loc.str()));
        }
      }
      if (const ConfigNode* h = item.find("hw")) p.hw = resolve_file(*h, "hardware", base_dir, configs);
      if (const ConfigNode* c = item.find("cluster")) p.cluster = resolve_file(*c, "clusters", base_dir, configs);
      p.sets = parse_sets(item.find("set"));
      p.phases = parse_phase_subset(item.find("phases"), spec.phases);
      spec.proposals.push_back(std::move(p));
    }
  }
}

// sweeps: one key over a list of values.
void parse_study_sweeps(const ConfigNode& root, StudySpec& spec) {
  if (const ConfigNode* sweeps = root.find("sweeps")) {
    const ConfigNode& list = non_empty_list(*sweeps, "a non-empty list of sweeps {name, phases, key, values}");
    for (const auto& item : list.items()) {
      StudySweep sw = parse_sweep(item, spec);
      for (const auto& other : spec.sweeps) {
        if (other.name == sw.name) {
          throw ConfigError(item.find("name")->loc(), item.child_path("name"), "distinct sweep names",
                            fmt::format("'{}' again (first at {})", sw.name, other.loc.str()));
        }
      }
      spec.sweeps.push_back(std::move(sw));
    }
  }
}

// metrics and tables: which the study records (all when absent).
void parse_study_outputs(const ConfigNode& root, StudySpec& spec) {
  if (const ConfigNode* m = root.find("metrics")) {
    const ConfigNode& list = non_empty_list(*m, "a non-empty list of metric names (or no metrics: key for all)");
    for (const auto& item : list.items()) {
      const std::string& name = scalar_text(item, "a metric name (e.g. step_time_s)");
      if (std::find(spec.metrics.begin(), spec.metrics.end(), name) != spec.metrics.end()) {
        throw ConfigError(item.loc(), item.path(), "distinct metric names", fmt::format("'{}' twice", name));
      }
      spec.metrics.push_back(name);
      spec.metric_locs.push_back(item.loc());
    }
  }
  if (const ConfigNode* t = root.find("tables")) {
    const ConfigNode& list = non_empty_list(*t, "a non-empty list of table names");
    for (const auto& item : list.items()) {
      const std::string& name = scalar_text(item, "a table name (e.g. numerics_error_vs_k)");
      const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
      });
      if (!ok)
        throw ConfigError(item.loc(), item.path(), "a table name of a-z, 0-9 and '_'", fmt::format("'{}'", name));
      if (std::find(spec.tables.begin(), spec.tables.end(), name) != spec.tables.end()) {
        throw ConfigError(item.loc(), item.path(), "distinct table names", fmt::format("'{}' twice", name));
      }
      spec.tables.push_back(name);
      spec.table_locs.push_back(item.loc());
    }
  }
}

}  // namespace

const StudyPhase* StudySpec::phase(Phase p) const {
  for (const auto& ph : phases)
    if (ph.phase == p) return &ph;
  return nullptr;
}

StudySpec load_study(const std::string& path, const StudyLoadOptions& options) {
  if (!is_file(path)) {
    throw ConfigError(SourceLoc{path, 0}, "", "an existing study file (YAML)", "no such file");
  }
  return parse_study(load_config_file(path), options);
}

StudySpec parse_study(const ConfigNode& root_in, const StudyLoadOptions& options) {
  ConfigNode root = root_in;
  require_map(root, "a study (a map)");
  check_keys(root, {"name", "description", "base", "phases", "set", "proposals", "sweeps", "metrics", "tables"},
             kStudyKeysWhat);
  StudySpec spec;
  spec.file = root.loc().file;
  const std::string base_dir = fs::path(spec.file).parent_path().string();
  const std::string& configs = options.configs_dir;

  parse_study_name(root, spec);
  parse_study_base(root, spec, base_dir, configs);
  parse_study_phases(root, spec, base_dir, configs);
  parse_study_sets(root, spec, options);
  parse_study_proposals(root, spec, base_dir, configs);
  parse_study_sweeps(root, spec);
  if (spec.proposals.empty() && spec.sweeps.empty()) {
    throw ConfigError(root.loc(), "", "proposals: or sweeps: (a study without them has no points)", "neither");
  }
  parse_study_outputs(root, spec);
  spec.yaml = root.to_yaml();
  return spec;
}

std::string StudyPoint::describe() const {
  return fmt::format("#{} {} ({})", index, label, to_string(phase));
}

namespace {

// The point a document error happened in, appended to the error so the user sees which study entry caused it.
ConfigError in_point(const ConfigError& e, const std::string& label, Phase phase, const SourceLoc& loc) {
  const std::string context = fmt::format(" [study point '{}' ({}), {}]", label, to_string(phase), loc.str());
  if (e.expected().empty()) return ConfigError(std::string(e.what()) + context);
  return ConfigError(e.loc(), e.key_path(), e.expected(), e.found() + context);
}

class DocumentCache {
 public:
  const ConfigNode& get(const std::string& path) {
    auto it = m_docs.find(path);
    if (it == m_docs.end()) it = m_docs.emplace(path, load_config_file(path)).first;
    return it->second;
  }

 private:
  std::map<std::string, ConfigNode> m_docs;
};

void apply_set(StudyPoint& pt, const StudySet& s) {
  ConfigNode* doc = s.document == "model"    ? &pt.model
                    : s.document == "deploy" ? &pt.deploy
                    : s.document == "hw"     ? &pt.hw
                                             : &pt.cluster;
  apply_override(*doc, s.key_path, s.value, s.loc);
  pt.overrides.push_back(s.text());
}

}  // namespace

std::vector<StudyPoint> enumerate_points(const StudySpec& spec) {
  DocumentCache cache;
  std::vector<StudyPoint> points;
  auto make = [&](const StudyPhase& ph, const StudyProposal* proposal, const StudySweep* sweep, const SweepValue* value,
                  const SourceLoc& loc) {
    StudyPoint pt;
    pt.index = static_cast<int64_t>(points.size());
    pt.phase = ph.phase;
    pt.loc = loc;
    if (sweep) {
      pt.group = sweep->name;
      pt.label = sweep->name + "=" + value->text;
      pt.value = value->text;
      pt.value_num = value->number;
    } else {
      pt.group = "proposals";
      pt.label = proposal->label;
    }
    try {
      pt.model_file = ph.model;
      pt.deploy_file = ph.deployment;
      pt.hw_file = proposal && !proposal->hw.empty() ? proposal->hw : ph.hw;
      pt.cluster_file = proposal && !proposal->cluster.empty() ? proposal->cluster : ph.cluster;
      pt.model = cache.get(pt.model_file);
      pt.deploy = cache.get(pt.deploy_file);
      pt.hw = cache.get(pt.hw_file);
      pt.cluster = cache.get(pt.cluster_file);
      const ConfigNode* dphase = pt.deploy.find("phase");
      const ConfigNode* dphase_s = dphase ? scalar_of(*dphase) : nullptr;
      if (!dphase_s || dphase_s->text() != to_string(ph.phase)) {
        throw ConfigError(ph.loc, fmt::format("phases.{}", to_string(ph.phase)),
                          fmt::format("a deployment for phase {}", to_string(ph.phase)),
                          fmt::format("'{}' (phase {})", ph.deployment, dphase_s ? dphase_s->text() : "not given"));
      }
      for (const auto& s : ph.sets) apply_set(pt, s);
      for (const auto& s : spec.sets) apply_set(pt, s);
      if (proposal)
        for (const auto& s : proposal->sets) apply_set(pt, s);
      if (value)
        for (const auto& s : value->sets) apply_set(pt, s);
    } catch (const ConfigError& e) {
      throw in_point(e, pt.label, pt.phase, loc);
    }
    pt.fingerprint = fingerprint_hex({std::to_string(pt.index), pt.label, pt.group, to_string(pt.phase), pt.value,
                                      pt.model.to_yaml(), pt.deploy.to_yaml(), pt.hw.to_yaml(), pt.cluster.to_yaml()});
    points.push_back(std::move(pt));
  };
  for (const auto& proposal : spec.proposals) {
    for (Phase p : proposal.phases) make(*spec.phase(p), &proposal, nullptr, nullptr, proposal.loc);
  }
  for (const auto& sweep : spec.sweeps) {
    const StudyProposal* base = nullptr;
    for (const auto& pr : spec.proposals)
      if (pr.label == sweep.proposal) base = &pr;
    for (const auto& v : sweep.values) {
      for (Phase p : sweep.phases) make(*spec.phase(p), base, &sweep, &v, v.loc);
    }
  }
  return points;
}

report::Table PointEvaluator::table(const std::string& name, const std::vector<StudyPoint>&) const {
  throw InternalError(fmt::format("the evaluator '{}' has no table '{}'", this->name(), name));
}

bool metric_matches(const std::string& metric, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n == metric) return true;
    if (n.ends_with(".*") && metric.size() > n.size() - 1 && metric.compare(0, n.size() - 1, n, 0, n.size() - 1) == 0)
      return true;
  }
  return false;
}

void validate_study(const StudySpec& spec, const std::vector<StudyPoint>& points, const PointEvaluator& evaluator) {
  std::vector<std::string> names;
  for (const auto& ph : spec.phases) {
    for (auto& n : evaluator.metric_names(ph.phase))
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  for (size_t i = 0; i < spec.metrics.size(); ++i) {
    if (!metric_matches(spec.metrics[i], names)) {
      std::vector<std::string> sorted = names;
      std::sort(sorted.begin(), sorted.end());
      throw ConfigError(spec.metric_locs[i], fmt::format("metrics[{}]", i),
                        fmt::format("a metric the evaluator '{}' computes for {} ({})", evaluator.name(),
                                    phases_text(spec.phases), join(sorted)),
                        fmt::format("'{}'", spec.metrics[i]));
    }
  }
  const std::vector<std::string> tables = evaluator.table_names();
  for (size_t i = 0; i < spec.tables.size(); ++i) {
    if (std::find(tables.begin(), tables.end(), spec.tables[i]) == tables.end()) {
      throw ConfigError(spec.table_locs[i], fmt::format("tables[{}]", i),
                        fmt::format("a table the evaluator '{}' produces ({})", evaluator.name(),
                                    tables.empty() ? std::string("none") : join(tables)),
                        fmt::format("'{}'", spec.tables[i]));
    }
  }
  for (const auto& pt : points) {
    try {
      evaluator.validate(pt);
    } catch (const ConfigError& e) {
      throw in_point(e, pt.label, pt.phase, pt.loc);
    }
  }
}

double study_value_number(const std::string& text) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (text.empty()) return kNaN;
  if (text == "true") return 1;
  if (text == "false") return 0;
  double x = 0;
  const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), x);
  if (ec == std::errc() && ptr == text.data() + text.size()) return x;
  try {
    return static_cast<double>(parse_bandwidth(text).bytes_per_second());
  } catch (const UnitError&) {
  }
  try {
    return static_cast<double>(parse_time(text).picoseconds()) / 1e12;
  } catch (const UnitError&) {
  }
  try {
    return static_cast<double>(parse_bytes(text).count());
  } catch (const UnitError&) {
  }
  try {
    return static_cast<double>(parse_frequency(text).hertz());
  } catch (const UnitError&) {
  }
  return kNaN;
}

std::string fingerprint_hex(const std::vector<std::string>& parts) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (const auto& p : parts) {
    uint64_t n = p.size();
    for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(n >> (8 * i)));
    for (char c : p) mix(static_cast<unsigned char>(c));
  }
  return fmt::format("{:016x}", h);
}

}  // namespace v3sim::study
