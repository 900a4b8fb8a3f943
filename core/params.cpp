#include "core/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>

#include "core/text.h"

namespace v3sim {

const ParamSpec* ComponentSpec::find(std::string_view key) const {
  for (const auto& p : params)
    if (p.name == key) return &p;
  return nullptr;
}

bool is_metadata_key(std::string_view key) {
  return key == "source" || key == "note" || key == "assumption";
}

bool is_numeric(ParamType t) {
  switch (t) {
    case ParamType::Int:
    case ParamType::Float:
    case ParamType::Bytes:
    case ParamType::Time:
    case ParamType::Frequency:
    case ParamType::Bandwidth:
    case ParamType::IntList:
      return true;
    case ParamType::Bool:
    case ParamType::String:
    case ParamType::Enum:
    case ParamType::Section:
      return false;
  }
  return false;
}

std::string type_name(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::Int:
      return "integer";
    case ParamType::Float:
      return "number";
    case ParamType::Bool:
      return "true or false";
    case ParamType::String:
      return "text";
    case ParamType::Enum: {
      std::string out = "one of ";
      for (size_t i = 0; i < p.choices.size(); ++i) out += (i ? "|" : "") + p.choices[i];
      return out;
    }
    case ParamType::Bytes:
      return "size (e.g. 228KiB, 80GB)";
    case ParamType::Time:
      return "time (e.g. 3.7us, 500ns)";
    case ParamType::Frequency:
      return "frequency (e.g. 1.83GHz)";
    case ParamType::Bandwidth:
      return "bandwidth (e.g. 50GB/s, 400Gb/s)";
    case ParamType::IntList:
      return "list of integers";
    case ParamType::Section:
      return "section";
  }
  return "?";
}

namespace {

// A bound of a range as the parameter's type writes it.
std::string bound_text(const ParamSpec& p, double x) {
  if (!(std::fabs(x) < 0x1p62)) return fmt::format("{:.4g}", x);  // beyond what the integer units show exactly
  const auto whole = static_cast<int64_t>(x);
  switch (p.type) {
    case ParamType::Bytes:
      return to_string(Bytes(whole));
    case ParamType::Time:
      return to_string(Time::ps(whole));
    case ParamType::Frequency:
      return to_string(Frequency::hz(whole));
    case ParamType::Bandwidth:
      return to_string(Bandwidth::bytes_per_second(whole));
    case ParamType::Int:
    case ParamType::IntList:
      return std::to_string(whole);
    case ParamType::Float:
    case ParamType::Bool:
    case ParamType::String:
    case ParamType::Enum:
    case ParamType::Section:
      break;
  }
  return fmt::format("{}", x);
}

}  // namespace

std::string range_text(const ParamSpec& p) {
  if (!p.range.set) return {};
  if (p.range.min_open)
    return fmt::format("above {}, up to {}", bound_text(p, p.range.min), bound_text(p, p.range.max));
  return fmt::format("from {} to {}", bound_text(p, p.range.min), bound_text(p, p.range.max));
}

std::vector<std::pair<std::string, const ParamSpec*>> all_params(const ComponentSpec& spec) {
  std::vector<std::pair<std::string, const ParamSpec*>> out;
  for (const auto& p : spec.params) {
    out.emplace_back(p.name, &p);
    if (p.type == ParamType::Section && p.section) {
      for (const auto& [path, sub] : all_params(*p.section)) out.emplace_back(p.name + "." + path, sub);
    }
  }
  return out;
}

namespace {

const ConfigNode& null_node() {
  static const ConfigNode n;
  return n;
}

std::string what_of(const ParamSpec& p) {
  const std::string type = type_name(p);
  // "an integer", but "a one of ..." and "a unit" (a vowel letter with a consonant sound).
  const bool vowel = std::string("aeiou").find(type.front()) != std::string::npos && !type.starts_with("one") &&
                     !type.starts_with("uni");
  std::string out = (vowel ? "an " : "a ") + type;
  if (const std::string r = range_text(p); !r.empty()) out += " " + r;
  if (!p.unit.empty()) out += " [" + p.unit + "]";
  if (!p.description.empty()) out += " (" + p.description + ")";
  return out;
}

// Whether a value in the base unit lies in the parameter's range (NaN never does).
bool in_range(const ParamSpec& p, double x) {
  if (!p.range.set) return true;
  const bool above_min = p.range.min_open ? x > p.range.min : x >= p.range.min;
  return above_min && x <= p.range.max;
}

template <typename T>
bool parse_number(const std::string& text, T& out) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last && first != last;
}

}  // namespace

void check_keys(const ConfigNode& map, const std::vector<std::string>& known, const std::string& what) {
  for (const auto& [key, value] : map.entries()) {
    if (is_metadata_key(key) || std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    std::string found = "unknown key " + quote(key);
    if (const std::string guess = closest(key, known); !guess.empty()) found += " (did you mean '" + guess + "'?)";
    throw ConfigError(value.loc(), value.path(), "a key of " + what + " (" + list + ")", found);
  }
}

const ConfigNode* cited_value(const ConfigNode& n) {
  if (!n.is_map() || !n.find("value")) return nullptr;
  for (const auto& [k, sub] : n.entries()) {
    if (k != "value" && !is_metadata_key(k)) {
      throw ConfigError(sub.loc(), sub.path(), "only value, source, note or assumption in a cited value",
                        "unknown key " + quote(k));
    }
  }
  return n.find("value");
}

ParamReader::ParamReader(const ConfigNode& node, const ComponentSpec& spec) : m_node(&node), m_spec(&spec) {
  if (!node.is_null() && !node.is_map()) {
    throw ConfigError(node.loc(), node.path().empty() ? spec.name : node.path(),
                      "a map of " + spec.name + " parameters", node.describe());
  }
  // Unknown keys first: a typo should be named as such, not as a missing required key.
  if (node.is_map()) {
    std::vector<std::string> names;
    for (const auto& p : spec.params) names.push_back(p.name);
    check_keys(node, names, spec.name);
  }
  for (const auto& p : spec.params) {
    ConfigNode default_node;
    if (const ConfigNode* v = value_to_read(p, default_node)) read_value(p, *v);
  }
}

const ConfigNode* ParamReader::value_to_read(const ParamSpec& p, ConfigNode& default_node) {
  const ConfigNode& node = *m_node;
  const ConfigNode* v = node.find(p.name);
  if (v && v->is_null()) {
    throw ConfigError(v->loc(), v->path(), what_of(p), "an empty value");
  }
  if (v && p.type != ParamType::Section) {
    if (const ConfigNode* cited = cited_value(*v)) v = cited;  // {value: X, source: ...}: a cited scalar
  }
  if (v) {
    m_written.emplace(p.name, v);
    return v;
  }
  if (p.type == ParamType::Section) return &null_node();
  if (p.required) {
    throw ConfigError(node.loc(), node.child_path(p.name), what_of(p), "nothing (the key is required)");
  }
  if (p.default_text.empty()) return nullptr;
  default_node =
      ConfigNode::scalar(p.default_text, SourceLoc{"(default of " + m_spec->name + ")", 0}, node.child_path(p.name));
  return &default_node;
}

void ParamReader::read_value(const ParamSpec& p, const ConfigNode& value) {
  const ConfigNode& node = *m_node;
  const ConfigNode* v = &value;
  auto bad = [&](const std::string& found) { return ConfigError(v->loc(), v->path(), what_of(p), found); };
  auto need_scalar = [&] {
    if (!v->is_scalar()) throw bad(v->describe());
  };
  auto check_bound = [&](double x) {
    if (!in_range(p, x)) throw bad(v->describe());
  };
  switch (p.type) {
    case ParamType::Int: {
      need_scalar();
      int64_t x = 0;
      if (!parse_number(v->text(), x)) throw bad(v->describe());
      check_bound(static_cast<double>(x));
      m_values[p.name] = x;
      break;
    }
    case ParamType::Float: {
      need_scalar();
      double x = 0;
      if (!parse_number(v->text(), x)) throw bad(v->describe());
      check_bound(x);
      m_values[p.name] = x;
      break;
    }
    case ParamType::Bool: {
      need_scalar();
      const std::string& t = v->text();
      if (t == "true" || t == "True" || t == "TRUE") {
        m_values[p.name] = true;
      } else if (t == "false" || t == "False" || t == "FALSE") {
        m_values[p.name] = false;
      } else {
        throw bad(v->describe());
      }
      break;
    }
    case ParamType::String:
      need_scalar();
      m_values[p.name] = v->text();
      break;
    case ParamType::Enum: {
      need_scalar();
      if (std::find(p.choices.begin(), p.choices.end(), v->text()) == p.choices.end()) throw bad(v->describe());
      m_values[p.name] = v->text();
      break;
    }
    case ParamType::Bytes:
    case ParamType::Time:
    case ParamType::Frequency:
    case ParamType::Bandwidth:
      need_scalar();
      read_unit(p, *v);
      break;
    case ParamType::IntList: {
      if (!v->is_sequence()) throw bad(v->describe());
      std::vector<int64_t> xs;
      for (const auto& item : v->items()) {
        int64_t x = 0;
        if (!item.is_scalar() || !parse_number(item.text(), x)) {
          throw ConfigError(item.loc(), item.path(), what_of(p), item.describe());
        }
        if (!in_range(p, static_cast<double>(x)))
          throw ConfigError(item.loc(), item.path(), what_of(p), item.describe());
        xs.push_back(x);
      }
      m_values[p.name] = std::move(xs);
      break;
    }
    case ParamType::Section: {
      V3SIM_ASSERT_MSG(p.section, "section parameter without a spec: " + p.name);
      if (v->is_null()) {
        // An absent section reads as an empty map at the parent's location, so errors inside name it.
        auto empty = std::make_shared<ConfigNode>(ConfigNode::map(node.loc(), node.child_path(p.name)));
        m_owned.push_back(empty);
        v = empty.get();
      }
      m_values[p.name] = std::make_shared<ParamReader>(*v, *p.section);
      break;
    }
  }
}

void ParamReader::read_unit(const ParamSpec& p, const ConfigNode& v) {
  auto check_bound = [&](double x) {
    if (!in_range(p, x)) throw ConfigError(v.loc(), v.path(), what_of(p), v.describe());
  };
  try {
    switch (p.type) {
      case ParamType::Bytes: {
        Bytes b = parse_bytes(v.text());
        check_bound(static_cast<double>(b.count()));
        m_values[p.name] = b;
        break;
      }
      case ParamType::Time: {
        Time t = parse_time(v.text());
        check_bound(static_cast<double>(t.picoseconds()));
        m_values[p.name] = t;
        break;
      }
      case ParamType::Frequency: {
        Frequency f = parse_frequency(v.text());
        check_bound(static_cast<double>(f.hertz()));
        m_values[p.name] = f;
        break;
      }
      case ParamType::Int:  // not a unit type: the outer case admits none of these
      case ParamType::Float:
      case ParamType::Bool:
      case ParamType::String:
      case ParamType::Enum:
      case ParamType::IntList:
      case ParamType::Section:
      case ParamType::Bandwidth: {
        Bandwidth bw = parse_bandwidth(v.text());
        check_bound(static_cast<double>(bw.bytes_per_second()));
        m_values[p.name] = bw;
        break;
      }
    }
  } catch (const UnitError& e) {
    throw ConfigError(v.loc(), v.path(), e.expected() + (p.description.empty() ? "" : " (" + p.description + ")"),
                      e.found());
  }
}

bool ParamReader::has(std::string_view name) const {
  auto it = m_values.find(name);
  return it != m_values.end() && !std::holds_alternative<std::monostate>(it->second);
}

const ParamReader::Value& ParamReader::get(std::string_view name, ParamType type) const {
  const ParamSpec* p = m_spec->find(name);
  V3SIM_ASSERT_MSG(p, fmt::format("component '{}' has no parameter '{}'", m_spec->name, name));
  V3SIM_ASSERT_MSG(p->type == type || (type == ParamType::String && p->type == ParamType::Enum),
                   fmt::format("parameter '{}.{}' read with the wrong type", m_spec->name, name));
  auto it = m_values.find(name);
  if (it == m_values.end()) {
    // Optional without default: the caller must ask has() first. Being here is our bug.
    internal_error("has(name)", __FILE__, __LINE__,
                   fmt::format("optional parameter '{}.{}' read while absent", m_spec->name, name));
  }
  return it->second;
}

int64_t ParamReader::get_int(std::string_view name) const {
  return std::get<int64_t>(get(name, ParamType::Int));
}
double ParamReader::get_float(std::string_view name) const {
  return std::get<double>(get(name, ParamType::Float));
}
bool ParamReader::get_bool(std::string_view name) const {
  return std::get<bool>(get(name, ParamType::Bool));
}
const std::string& ParamReader::get_string(std::string_view name) const {
  return std::get<std::string>(get(name, ParamType::String));
}
Bytes ParamReader::get_bytes(std::string_view name) const {
  return std::get<Bytes>(get(name, ParamType::Bytes));
}
Time ParamReader::get_time(std::string_view name) const {
  return std::get<Time>(get(name, ParamType::Time));
}
Frequency ParamReader::get_frequency(std::string_view name) const {
  return std::get<Frequency>(get(name, ParamType::Frequency));
}
Bandwidth ParamReader::get_bandwidth(std::string_view name) const {
  return std::get<Bandwidth>(get(name, ParamType::Bandwidth));
}
const std::vector<int64_t>& ParamReader::get_int_list(std::string_view name) const {
  return std::get<std::vector<int64_t>>(get(name, ParamType::IntList));
}
const ParamReader& ParamReader::section(std::string_view name) const {
  return *std::get<std::shared_ptr<ParamReader>>(get(name, ParamType::Section));
}

const ConfigNode* ParamReader::value_node(std::string_view name) const {
  auto it = m_written.find(name);
  return it == m_written.end() ? nullptr : it->second;
}

SourceLoc ParamReader::loc_of(std::string_view name) const {
  const ConfigNode* v = value_node(name);
  return v ? v->loc() : m_node->loc();
}

std::string ParamReader::path_of(std::string_view name) const {
  return m_node->child_path(name);
}

ConfigError ParamReader::error(std::string_view name, const std::string& expected, const std::string& found) const {
  return ConfigError(loc_of(name), path_of(name), expected, found);
}

std::string describe_component(const ComponentSpec& spec) {
  std::string out = fmt::format("{}: {}\n", spec.name, spec.description);
  for (const auto& p : spec.params) {
    std::string req = p.type == ParamType::Section ? "section"
                      : p.required                 ? "required"
                      : p.default_text.empty()     ? "optional"
                                                   : "default " + p.default_text;
    std::string type = type_name(p);
    if (!p.unit.empty()) type += " [" + p.unit + "]";
    out += fmt::format("  {:<28} {:<36} {:<18} {:<30} {}\n", p.name, type, req, range_text(p), p.description);
  }
  for (const auto& p : spec.params) {
    if (p.type == ParamType::Section && p.section) {
      std::string sub = describe_component(*p.section);
      out += "\n" + spec.name + "." + sub;
    }
  }
  return out;
}

void check_range(const ParamSpec& p, double value, const SourceLoc& loc, const std::string& key,
                 const std::string& found) {
  if (!in_range(p, value)) throw ConfigError(loc, key, what_of(p), found);
}

}  // namespace v3sim
