// What the commands share: locating named configs, loading them with --set overrides, printing.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/config.h"

namespace v3sim::cli {

// The folder of the shipped configs: $V3SIM_CONFIGS, else the source tree's configs/.
std::string configs_dir();

// A config argument is a path to a YAML file, or a name found in configs/<kind>/<name>.yaml
// ("deepseek-v3-671b" for --model). Throws ConfigError naming the option when neither exists.
std::string resolve_config(const std::string& arg, const std::string& kind, const std::string& option);

// The model a deployment file names: a config name, or a path relative to the deployment file.
std::string resolve_deployment_model(const std::string& deploy_path, const std::string& model);

// Parses every --set; each must address one of `documents` ("model", "deploy", ...).
std::vector<Override> parse_overrides(const std::vector<std::string>& sets, const std::vector<std::string>& documents);

// Loads a config file (after resolve_config) and applies the overrides addressed to `document`.
ConfigNode load_document(const std::string& path, const std::string& document, const std::vector<Override>& overrides);

// Adds the --set option every command takes.
CLI::Option* add_set_option(CLI::App& app, std::vector<std::string>& sets);

// A CLI11 validator for options that take a count: "expected a positive integer, found '-5'".
CLI::Validator positive_integer();

// 671000000000 -> "671.00 B"; 1.2e12 -> "1.20 T" (SI thousands with two decimals).
std::string human(double value);

}  // namespace v3sim::cli
