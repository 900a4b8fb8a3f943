#include "cli/common.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"

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
    fs::path named = fs::path(configs_dir()) / kind / (arg + ".yaml");
    if (fs::exists(named, ec)) return named.string();
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(fs::path(configs_dir()) / kind, ec)) {
      if (entry.path().extension() == ".yaml") found.push_back(entry.path().stem().string());
    }
    std::sort(found.begin(), found.end());
    std::string names;
    for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
    throw ConfigError(SourceLoc{option, 0}, "",
                      fmt::format("a YAML file or the name of a config in {}/{} ({})", configs_dir(), kind, names),
                      fmt::format("'{}'", arg));
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
    Override o = parse_override(s);
    bool known = false;
    std::string list;
    for (const auto& d : documents) {
      known |= d == o.document;
      list += (list.empty() ? "" : ", ") + d + ".";
    }
    if (!known) {
      throw ConfigError(SourceLoc{"--set " + s, 0}, o.document + "." + o.key_path,
                        "a key of a document this command reads (" + list + ")", "the document '" + o.document + "'");
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

CLI::Validator positive_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || used == 0 || v <= 0) return "expected a positive integer, found '" + text + "'";
        return {};
      },
      "N>0");
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
