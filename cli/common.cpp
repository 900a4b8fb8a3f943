#include "cli/common.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/config_names.h"
#include "core/error.h"
#include "core/resources.h"
#include "core/text.h"

namespace v3sim::cli {

namespace fs = std::filesystem;

std::string configs_dir() {
  if (const char* env = std::getenv("V3SIM_CONFIGS"); env && *env) return env;
  return V3SIM_SOURCE_CONFIGS;
}

std::string resolve_config(const std::string& arg, const std::string& kind, const std::string& option) {
  std::error_code ec;
  if (fs::exists(arg, ec)) return arg;
  // A name has no .yaml suffix; it may name a subfolder ("proposals/fp32-accumulation").
  bool looks_like_name = !arg.empty() && arg.front() != '/' && !arg.ends_with(".yaml") && !arg.ends_with(".yml");
  if (looks_like_name) {
    if (std::string named = find_config(configs_dir(), kind, arg); !named.empty()) return named;
    std::string names;
    for (const auto& n : config_names(configs_dir(), kind)) names += (names.empty() ? "" : ", ") + n;
    std::string found = fmt::format("'{}'", arg);
    if (const std::string guess = closest_config_name(configs_dir(), kind, arg); !guess.empty()) {
      found += " (did you mean '" + guess + "'?)";
    }
    throw ConfigError(SourceLoc{option, 0}, "",
                      fmt::format("a YAML file or the name of a config in {}/{} ({})", configs_dir(), kind, names),
                      found);
  }
  throw ConfigError(SourceLoc{option, 0}, "", "an existing YAML file", fmt::format("'{}' (no such file)", arg));
}

std::string resolve_deployment_model(const std::string& deploy_path, const std::string& model) {
  fs::path p(model);
  if (model.find('/') != std::string::npos && p.is_relative()) p = fs::path(deploy_path).parent_path() / p;
  return resolve_config(p.string(), "models", deploy_path + ": model");
}

std::vector<Override> parse_overrides(const std::vector<std::string>& sets, const std::vector<std::string>& documents) {
  std::vector<Override> out;
  for (const auto& s : sets) {
    Override o = parse_override(s, "--set");
    bool known = false;
    std::string list;
    for (const auto& d : documents) {
      known |= d == o.document;
      list += (list.empty() ? "" : ", ") + d + ".";
    }
    if (!known) {
      throw ConfigError(SourceLoc{"--set " + s, 0}, o.document + "." + o.key_path,
                        "a key of a document this command reads (" + list + ")", "the document " + quote(o.document));
    }
    out.push_back(std::move(o));
  }
  return out;
}

ConfigNode load_document(const std::string& path, const std::string& document, const std::vector<Override>& overrides) {
  ConfigNode root = load_config_file(path);
  for (const auto& o : overrides) {
    if (o.document == document) apply_override(root, o.key_path, o.value, SourceLoc{"--set " + o.text, 0});
  }
  return root;
}

CLI::Option* add_set_option(CLI::App& app, std::vector<std::string>& sets) {
  return app
      .add_option("--set", sets,
                  "override one config value, KEY.PATH=VALUE with the key prefixed by its document: "
                  "model.n_layers=4, deploy.parallelism.ep=32 (repeatable)")
      ->type_name("DOC.KEY=VALUE");
}

CLI::Validator positive_integer(int64_t max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || used == 0 || v <= 0 || v > max) {
          return fmt::format("expected an integer from 1 to {}, found {}", max, quote(text));
        }
        return {};
      },
      fmt::format("1..{}", max));
}

TableOptions::TableOptions(const ComponentSpec& spec, std::string prefix)
    : m_spec(&spec), m_prefix(std::move(prefix)) {}

CLI::Option* TableOptions::add(CLI::App& cmd, const std::string& flags, const std::string& key,
                               const std::string& help) {
  const ParamSpec* p = m_spec->find(key);
  V3SIM_ASSERT_MSG(p, fmt::format("option {} reads '{}', which table '{}' does not have", flags, key, m_spec->name));
  auto v = std::make_unique<Value>();
  v->key = key;
  std::string text = help.empty() ? p->description : help;
  if (const std::string r = range_text(*p); !r.empty()) text += " (" + r + (p->unit.empty() ? "" : " " + p->unit) + ")";
  v->option = cmd.add_option(flags, v->text, text)->type_name(p->type == ParamType::IntList ? "N,N,..." : "N");
  if (!p->default_text.empty()) v->option->default_str(p->default_text);
  // The long name as errors show it ("--threads" of "-j,--threads").
  v->flag = v->option->get_lnames().empty() ? v->option->get_name() : "--" + v->option->get_lnames().front();
  CLI::Option* out = v->option;
  m_values.push_back(std::move(v));
  return out;
}

void TableOptions::alias(const std::string& key, const std::string& flag) {
  m_aliases.emplace_back(key, flag);
}

const ParamReader& TableOptions::read() {
  if (m_reader) return *m_reader;
  m_node = ConfigNode::map(SourceLoc{"(command line)", 0}, m_prefix);
  for (const auto& v : m_values) {
    if (v->option->count() == 0) continue;
    const SourceLoc loc{v->flag, 0};
    const ParamSpec* p = m_spec->find(v->key);
    if (p->type == ParamType::IntList) {
      // "1024,4096" -> a list; an empty item reads as an empty string (and is refused as one).
      ConfigNode list = ConfigNode::sequence(loc, m_prefix + "." + v->key);
      size_t start = 0, i = 0;
      while (true) {
        const size_t comma = v->text.find(',', start);
        std::string item = v->text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        list.push_back(ConfigNode::scalar(item, loc, fmt::format("{}.{}[{}]", m_prefix, v->key, i++)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      m_node.set(v->key, std::move(list));
    } else {
      m_node.set(v->key, ConfigNode::scalar(v->text, loc, m_prefix + "." + v->key));
    }
  }
  m_reader = std::make_unique<ParamReader>(m_node, *m_spec);
  return *m_reader;
}

void TableOptions::rethrow_at_flag(const ConfigError& e) const {
  if (!e.loc().file.empty()) return;
  const std::string& key = e.key_path();
  for (const auto& v : m_values) {
    if (key == m_prefix + "." + v->key) throw ConfigError(SourceLoc{v->flag, 0}, key, e.expected(), e.found());
  }
  for (const auto& [k, flag] : m_aliases) {
    if (key == k) throw ConfigError(SourceLoc{flag, 0}, key, e.expected(), e.found());
  }
  // A key without a flag (the whole problem: "gemm") keeps its own name.
}

std::function<void(double)> progress_printer(const std::string& what) {
  using Clock = std::chrono::steady_clock;
  struct State {
    Clock::time_point start = Clock::now(), last{};
    bool printed = false;
    bool tty = ::isatty(STDERR_FILENO) != 0;
    ~State() {
      if (printed && tty) std::fputc('\n', stderr);
    }
  };
  auto st = std::make_shared<State>();
  return [st, what](double fraction) {
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - st->start).count();
    if (elapsed < 5 || now - st->last < std::chrono::seconds(3) || fraction <= 0) return;
    st->last = now;
    st->printed = true;
    const double f = std::min(fraction, 0.99);
    std::fprintf(stderr, "%s%s: %.0f%% done, about %s left%s", st->tty ? "\r\033[K" : "", what.c_str(), 100 * f,
                 human_seconds(elapsed * (1 - f) / f).c_str(), st->tty ? "" : "\n");
    std::fflush(stderr);
  };
}

std::string human(double value) {
  static const char* kSuffix[] = {"", " K", " M", " G", " T", " P", " E"};
  int i = 0;
  double v = value;
  while (std::fabs(v) >= 1000 && i < 6) {
    v /= 1000;
    ++i;
  }
  return i == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.2f}{}", v, kSuffix[i]);
}

}  // namespace v3sim::cli
