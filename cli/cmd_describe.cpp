// `v3sim describe [COMPONENT]`: the parameter tables that every config file is checked against.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/text.h"
#include "models/components.h"
#include "models/op.h"
#include "report/study_tables.h"
#include "report/trace_rules.h"
#include "sim/exec/metrics.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::cli {

namespace {

struct DescribeArgs {
  std::string component;
  bool json = false;
};

nlohmann::json to_json(const ComponentSpec& spec) {
  nlohmann::json j;
  j["name"] = spec.name;
  j["description"] = spec.description;
  j["params"] = nlohmann::json::array();
  for (const auto& p : spec.params) {
    nlohmann::json q;
    q["name"] = p.name;
    q["type"] = type_name(p);
    q["description"] = p.description;
    if (p.type == ParamType::Section && p.section) {
      q["section"] = to_json(*p.section);
    } else {
      q["required"] = p.required;
      if (!p.default_text.empty()) q["default"] = p.default_text;
      if (!p.unit.empty()) q["unit"] = p.unit;
      if (!p.choices.empty()) q["choices"] = p.choices;
      if (p.range.set) {
        // In the type's base unit (bytes, picoseconds, hertz, bytes per second), and as text.
        q["range"] = {
            {"min", p.range.min}, {"max", p.range.max}, {"min_exclusive", p.range.min_open}, {"text", range_text(p)}};
      }
    }
    j["params"].push_back(q);
  }
  return j;
}

// `describe metrics`: the metric registry (sim/exec/metrics.h), every name with the attributes results.h5 gives it.
int describe_metrics(const DescribeArgs& a) {
  std::vector<std::string> names;
  for (Phase p : {Phase::Train, Phase::Prefill, Phase::Decode}) {
    for (auto& n : exec::metric_names(p, true)) names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (a.json) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& n : names) {
      nlohmann::json m = exec::metric_info(n)->attributes();
      nlohmann::json phases = nlohmann::json::array();
      for (Phase p : {Phase::Train, Phase::Prefill, Phase::Decode}) {
        const auto in = exec::metric_names(p, true);
        if (std::binary_search(in.begin(), in.end(), n)) phases.push_back(to_string(p));
      }
      m["phases"] = phases;
      j[n] = m;
    }
    std::puts(nlohmann::json{{"metrics", j}}.dump(2).c_str());
    return 0;
  }
  fmt::print(
      "metrics of a step and of a study point (sim/exec/metrics.h); results.h5 keeps each one's entry as the\n"
      "attributes of its /metrics dataset:\n");
  for (const exec::MetricSpec& m : exec::metric_registry()) {
    const std::string name = std::string(m.name) + (std::string_view(m.name).ends_with('.') ? "<member>" : "");
    fmt::print("  {:<32} {:<9} {}\n", name, m.unit, m.description);
  }
  return 0;
}

// `describe tables`: the schemas of the tables a study stores (report/study_tables.h), as results.h5 carries them.
int describe_tables(const DescribeArgs& a) {
  if (a.json) {
    nlohmann::json j = nlohmann::json::object();
    for (const report::TableSpec* t : report::table_specs()) {
      nlohmann::json cols = nlohmann::json::array();
      for (const report::TableColumnSpec& c : t->columns) {
        cols.push_back({{"name", c.name}, {"unit", c.unit}, {"text", c.text}, {"description", c.description}});
      }
      j[t->name] = {{"source", t->source}, {"columns", cols}, {"attrs", t->attrs}};
    }
    std::puts(nlohmann::json{{"tables", j}}.dump(2).c_str());
    return 0;
  }
  fmt::print(
      "tables of a study (report/study_tables.h); results.h5 keeps them as /tables/<name>, each column with\n"
      "its unit and description as attributes:\n");
  for (const report::TableSpec* t : report::table_specs()) {
    fmt::print("\n{} ({})\n", t->name, t->source);
    for (const report::TableColumnSpec& c : t->columns) {
      fmt::print("  {:<16} {:<7} {:<5} {}\n", c.name, c.unit, c.text ? "text" : "", c.description);
    }
    for (const auto& [k, v] : t->attrs) fmt::print("  attribute {} = {}\n", k, v);
  }
  return 0;
}

// `describe op-kinds`: the op-kind traits table (models/op.h), one row per kind of the operator graph.
int describe_op_kinds(const DescribeArgs& a) {
  if (a.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const OpKindTraits& t : kOpKindTraits) {
      list.push_back({{"name", t.name},
                      {"family", to_string(t.family)},
                      {"communication", is_communication(t.kind)},
                      {"description", t.description}});
    }
    std::puts(nlohmann::json{{"op_kinds", list}}.dump(2).c_str());
    return 0;
  }
  fmt::print("op kinds of the operator graph (models/op.h), with the family an op-by-op comparison groups them in:\n");
  for (const OpKindTraits& t : kOpKindTraits) {
    fmt::print("  {:<20} {:<13} {}\n", t.name, to_string(t.family), t.description);
  }
  return 0;
}

int run_describe(const DescribeArgs& a, const RunOptions& opts) {
  if (a.component == "metrics") return opts.validate_only ? 0 : describe_metrics(a);
  if (a.component == "tables") return opts.validate_only ? 0 : describe_tables(a);
  if (a.component == "op-kinds") return opts.validate_only ? 0 : describe_op_kinds(a);
  std::vector<const ComponentSpec*> specs = model_component_specs();
  for (const ComponentSpec* s : sim_component_specs()) specs.push_back(s);
  for (const ComponentSpec* s : net::net_component_specs()) specs.push_back(s);
  for (const ComponentSpec* s : report::trace_rules_specs()) specs.push_back(s);
  if (!a.component.empty()) {
    // The documents' names as --set spells them (model, deploy, hw, cluster) are accepted too.
    const std::string wanted = a.component == "hw" ? "hardware" : a.component == "deploy" ? "deployment" : a.component;
    std::vector<const ComponentSpec*> chosen;
    std::string names;
    for (const auto* s : specs) {
      names += (names.empty() ? "" : ", ") + s->name;
      if (s->name == wanted) chosen.push_back(s);
    }
    if (chosen.empty()) {
      std::vector<std::string> all;
      for (const auto* s : specs) all.push_back(s->name);
      for (const char* x : {"metrics", "tables", "op-kinds", "hw", "deploy"}) all.push_back(x);
      std::string found = quote(a.component);
      if (const std::string guess = closest(a.component, all); !guess.empty())
        found += " (did you mean '" + guess + "'?)";
      throw ConfigError(SourceLoc{"describe", 0}, "",
                        "a component name (" + names +
                            "; hw and deploy as --set names them), metrics, tables or "
                            "op-kinds",
                        found);
    }
    specs = chosen;
  }
  if (opts.validate_only) return 0;
  if (a.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto* s : specs) list.push_back(to_json(*s));
    std::puts(nlohmann::json{{"components", list}}.dump(2).c_str());
    return 0;
  }
  for (size_t i = 0; i < specs.size(); ++i) fmt::print("{}{}", i ? "\n" : "", describe_component(*specs[i]));
  fmt::print(
      "\nEvery map also takes `source:`, `note:` and `assumption:` (free text), and a value may be written as\n"
      "{{value: X, source: \"...\"}} to cite it. `extends: base.yaml` derives a file from another.\n");
  return 0;
}

}  // namespace

CommandRunner add_describe_command(CLI::App& app) {
  auto args = std::make_shared<DescribeArgs>();
  CLI::App* cmd = app.add_subcommand("describe", "List the config components and their parameter tables");
  cmd->add_option("component", args->component,
                  "one component (model, deployment, ...), `metrics`: the metrics of a step and a study point, or "
                  "`tables`: the schemas of a study's tables, or `op-kinds`: the op kinds of the graph");
  cmd->add_flag("--json", args->json, "print the tables as one JSON object {\"components\": [...]}");
  return [args](const RunOptions& opts) { return run_describe(*args, opts); };
}

}  // namespace v3sim::cli
