#include "report/trace_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "core/sha256.h"
#include "models/op.h"
#include "models/timeline.h"

namespace v3sim::report {

const char* to_string(LayerOrder o) {
  switch (o) {
    case LayerOrder::None:
      return "none";
    case LayerOrder::Ascending:
      return "ascending";
    case LayerOrder::Descending:
      return "descending";
  }
  return "?";
}

namespace {

std::vector<std::string> kind_choices() {
  std::vector<std::string> out;
  for (const OpKindTraits& t : kOpKindTraits) out.emplace_back(t.name);
  out.emplace_back("other");
  return out;
}

std::vector<std::string> pass_choices() {
  return {to_string(Pass::Forward), to_string(Pass::Dgrad), to_string(Pass::Wgrad)};
}

ParamSpec pattern_param(const char* name, const char* description) {
  return {.name = name, .type = ParamType::String, .description = description, .required = false};
}

const ComponentSpec& stream_spec() {
  static const ComponentSpec spec{
      "trace_stream",
      "one device stream of the trace and the v3sim stream it plays",
      {
          {.name = "id",
           .type = ParamType::Int,
           .description = "the device stream id as the trace numbers it (a kernel's args.stream)",
           .range = range(0, 1e9)},
          {.name = "role",
           .type = ParamType::Enum,
           .description = "the v3sim stream: compute (code 0), comm (1), pipe_comm (2), compute2 (3)",
           .choices = std::vector<std::string>(kTimelineStreams.begin(), kTimelineStreams.end())},
      }};
  return spec;
}

const ComponentSpec& kernel_rule_spec() {
  static const ComponentSpec spec{
      "trace_kernel",
      "a kernel-name pattern and the op kind of the kernels it matches (the first matching rule wins)",
      {
          pattern_param("contains", "a substring of the kernel name (give this or regex)"),
          pattern_param("regex", "an ECMAScript regular expression searched in the kernel name"),
          {.name = "kind",
           .type = ParamType::Enum,
           .description = "v3sim op kind; `other` for kernels no op of v3sim's graph stands for",
           .choices = kind_choices()},
          {.name = "pass",
           .type = ParamType::Enum,
           .description = "the pass, overriding the annotation's",
           .required = false,
           .choices = pass_choices()},
          {.name = "name",
           .type = ParamType::String,
           .description = "short name of the kernel's events (default: derived from the kernel name)",
           .required = false},
          {.name = "why",
           .type = ParamType::String,
           .description = "for kind other: why no op of v3sim's graph matches",
           .required = false},
      }};
  return spec;
}

const ComponentSpec& op_name_spec() {
  static const ComponentSpec spec{
      "trace_op_name",
      "one graph op of an op list, written as a map when it changes the kind or the pass (else a plain name; "
      "~ leaves the kernel unnamed)",
      {
          {.name = "op",
           .type = ParamType::String,
           .description = "graph op name without the layer prefix (attn.wq_b, moe.experts.w13.wgrad)"},
          {.name = "kind",
           .type = ParamType::Enum,
           .description = "op kind, overriding the kernel rule's",
           .required = false,
           .choices = kind_choices()},
          {.name = "pass",
           .type = ParamType::Enum,
           .description = "the pass, overriding the kernel rule's and the annotation's",
           .required = false,
           .choices = pass_choices()},
      }};
  return spec;
}

const ComponentSpec& op_list_spec() {
  static const ComponentSpec spec{
      "trace_op_list",
      "graph op names of the kernels matching a pattern, in launch order within one occurrence of an annotation",
      {
          pattern_param("contains", "a substring of the kernel name (give this or regex)"),
          pattern_param("regex", "an ECMAScript regular expression searched in the kernel name"),
          {.name = "names",
           .type = ParamType::Section,
           .description = "list: the k-th matching kernel is the k-th name",
           .section = &op_name_spec()},
      }};
  return spec;
}

const ComponentSpec& annotation_spec() {
  static const ComponentSpec spec{
      "trace_annotation",
      "a profiler user annotation (a CPU range) and what the kernels launched inside it are",
      {
          {.name = "name", .type = ParamType::String, .description = "the annotation's name in the trace (attn(F))"},
          {.name = "pass",
           .type = ParamType::Enum,
           .description = "the pass of its kernels",
           .required = false,
           .choices = pass_choices()},
          {.name = "micro_batch",
           .type = ParamType::Int,
           .description = "the micro-batch its kernels work on",
           .required = false,
           .range = range(0, 1e9)},
          {.name = "layers",
           .type = ParamType::Enum,
           .description = "how the occurrence count gives the layer: ascending (k-th occurrence is layer k), "
                          "descending (layer n-1-k of n occurrences) or none",
           .required = false,
           .default_text = "none",
           .choices = enum_choices(kLayerOrders)},
          {.name = "ops",
           .type = ParamType::Section,
           .description = "list: graph op names by launch order within one occurrence",
           .section = &op_list_spec()},
      }};
  return spec;
}

const ComponentSpec& rules_spec() {
  static const ComponentSpec spec{
      "trace_rules",
      "how `v3sim import` maps a profiler trace's kernels to streams, op kinds, passes, layers and graph ops",
      {
          {.name = "description",
           .type = ParamType::String,
           .description = "what stack these rules are for",
           .required = false},
          {.name = "streams",
           .type = ParamType::Section,
           .description = "list: the role of each device stream",
           .section = &stream_spec()},
          {.name = "kernels",
           .type = ParamType::Section,
           .description = "list: kernel-name patterns to op kinds, first match wins",
           .section = &kernel_rule_spec()},
          {.name = "annotations",
           .type = ParamType::Section,
           .description = "list: user annotations to pass, micro-batch, layer and op names",
           .section = &annotation_spec()},
      }};
  return spec;
}

// ParamReader reads maps; the Section keys of these tables hold YAML lists of maps instead. ParamReader checks
// every other key on a copy of the map without them, against the table with those keys made optional and never
// read (so that an unknown key's error still lists them), and list() hands out their items.
class ListedMap {
 public:
  ListedMap(const ConfigNode& node, const ComponentSpec& spec)
      : m_node(&node), m_copy(std::make_unique<ConfigNode>(node)), m_spec(std::make_unique<ComponentSpec>(spec)) {
    for (ParamSpec& p : m_spec->params) {
      if (p.type != ParamType::Section) continue;
      m_copy->erase(p.name);
      p = ParamSpec{.name = p.name, .type = ParamType::String, .description = p.description, .required = false};
    }
    m_reader = std::make_unique<ParamReader>(*m_copy, *m_spec);
  }
  const ParamReader& r() const { return *m_reader; }
  std::string opt(std::string_view key) const { return m_reader->has(key) ? m_reader->get_string(key) : ""; }

  // The items of a list key; none when the key is absent.
  const std::vector<ConfigNode>& list(std::string_view key) const {
    static const std::vector<ConfigNode> kNone;
    const ConfigNode* v = m_node->find(key);
    if (!v || v->is_null()) return kNone;
    if (!v->is_sequence()) {
      throw ConfigError(v->loc(), v->path(), "a list (each item a map: see `v3sim describe trace_rules`)",
                        v->describe());
    }
    return v->items();
  }

 private:
  const ConfigNode* m_node;
  std::unique_ptr<ConfigNode> m_copy;
  std::unique_ptr<ComponentSpec> m_spec;
  std::unique_ptr<ParamReader> m_reader;
};

NamePattern read_pattern(const ListedMap& m, const ConfigNode& node) {
  const bool has_contains = m.r().has("contains"), has_regex = m.r().has("regex");
  if (has_contains == has_regex) {
    throw ConfigError(node.loc(), node.path(), "one of `contains` (a substring) or `regex` (a regular expression)",
                      has_regex ? "both" : "neither");
  }
  NamePattern p;
  p.is_regex = has_regex;
  p.text = m.r().get_string(has_regex ? "regex" : "contains");
  if (p.text.empty()) throw m.r().error(has_regex ? "regex" : "contains", "a non-empty pattern", "an empty string");
  if (has_regex) {
    try {
      p.regex = std::regex(p.text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw m.r().error("regex", "an ECMAScript regular expression", fmt::format("'{}' ({})", p.text, e.what()));
    }
  }
  return p;
}

OpName read_op_name(const ConfigNode& item) {
  OpName o;
  if (item.is_null()) return o;
  if (item.is_scalar()) {
    o.op = item.text();
    return o;
  }
  ParamReader r(item, op_name_spec());
  o.op = r.get_string("op");
  if (r.has("kind")) o.kind = r.get_string("kind");
  if (r.has("pass")) o.pass = r.get_string("pass");
  return o;
}

LayerOrder layer_order(const std::string& s) {
  return *enum_named(s, kLayerOrders);  // a choice: the reader checked it
}

}  // namespace

bool NamePattern::matches(const std::string& kernel) const {
  return is_regex ? std::regex_search(kernel, regex) : kernel.find(text) != std::string::npos;
}

std::string NamePattern::describe() const {
  return fmt::format("{} '{}'", is_regex ? "regex" : "contains", text);
}

const KernelRule* TraceRules::match_kernel(const std::string& kernel) const {
  for (const KernelRule& r : kernels)
    if (r.pattern.matches(kernel)) return &r;
  return nullptr;
}

const AnnotationRule* TraceRules::annotation(std::string_view name) const {
  for (const AnnotationRule& a : annotations)
    if (a.name == name) return &a;
  return nullptr;
}

std::optional<int32_t> TraceRules::stream_code(int64_t id) const {
  for (const StreamRole& s : streams)
    if (s.id == id) return s.code;
  return std::nullopt;
}

TraceRules load_trace_rules(const ConfigNode& root) {
  TraceRules rules;
  ListedMap top(root, rules_spec());
  rules.description = top.opt("description");
  rules.yaml = root.to_yaml();

  std::set<int64_t> ids;
  for (const ConfigNode& item : top.list("streams")) {
    ListedMap m(item, stream_spec());
    StreamRole s;
    s.id = m.r().get_int("id");
    const std::string& role = m.r().get_string("role");
    s.code = static_cast<int32_t>(std::find(kTimelineStreams.begin(), kTimelineStreams.end(), role) -
                                  kTimelineStreams.begin());
    if (!ids.insert(s.id).second) throw m.r().error("id", "each stream id once", fmt::format("{} again", s.id));
    rules.streams.push_back(s);
  }
  if (rules.streams.empty()) {
    throw ConfigError(root.loc(), "streams", "a list of device streams and their roles ({id: 7, role: compute})",
                      "none");
  }

  for (const ConfigNode& item : top.list("kernels")) {
    ListedMap m(item, kernel_rule_spec());
    KernelRule k;
    k.pattern = read_pattern(m, item);
    k.kind = m.r().get_string("kind");
    k.pass = m.opt("pass");
    k.name = m.opt("name");
    k.why = m.opt("why");
    k.loc = item.loc();
    k.path = item.path();
    if (k.kind == "other" && k.why.empty()) {
      throw ConfigError(item.loc(), item.child_path("why"),
                        "for kind other, the reason no op of v3sim's graph stands for these kernels", "nothing");
    }
    rules.kernels.push_back(std::move(k));
  }

  for (const ConfigNode& item : top.list("annotations")) {
    ListedMap m(item, annotation_spec());
    AnnotationRule a;
    a.name = m.r().get_string("name");
    if (rules.annotation(a.name)) throw m.r().error("name", "each annotation once", fmt::format("'{}' again", a.name));
    a.pass = m.opt("pass");
    if (m.r().has("micro_batch")) a.micro_batch = static_cast<int32_t>(m.r().get_int("micro_batch"));
    a.layers = layer_order(m.r().get_string("layers"));
    for (const ConfigNode& list_item : m.list("ops")) {
      ListedMap lm(list_item, op_list_spec());
      OpList ol;
      ol.pattern = read_pattern(lm, list_item);
      for (const ConfigNode& name : lm.list("names")) ol.names.push_back(read_op_name(name));
      a.ops.push_back(std::move(ol));
    }
    rules.annotations.push_back(std::move(a));
  }
  return rules;
}

TraceRules load_trace_rules_file(const std::string& path) {
  ConfigNode root = load_config_file(path);
  TraceRules rules = load_trace_rules(root);
  rules.file = path;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  rules.sha256 = sha256_hex(text.str());
  return rules;
}

std::vector<const ComponentSpec*> trace_rules_specs() {
  return {&rules_spec()};
}

}  // namespace v3sim::report
