// What the commands share: locating named configs, loading them with --set overrides, printing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/params.h"

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

// A CLI11 validator for options that take a count up to `max` (threads, repeats: command options that are no
// component's parameter): "expected an integer from 1 to 1024, found '-5'".
CLI::Validator positive_integer(int64_t max);

// Command-line options read through a library's parameter table (gemm_spec(), alltoall_spec(), ...): each option
// keeps its text as given; after parsing they become a config map whose values are located at their flags, read
// by a ParamReader with the table's types, ranges and defaults. An error names the flag and the key:
//   error: --m: gemm.m: expected an integer from 1 to 16777216 (rows of A and D ...), found '0'
// and errors the library throws later about one of these keys (GemmDesc::validate: "gemm.k") are re-thrown
// naming the flag too (guard()).
class TableOptions {
 public:
  // `prefix` is the key prefix of the table's values ("gemm": keys "gemm.m").
  TableOptions(const ComponentSpec& spec, std::string prefix);
  TableOptions(const TableOptions&) = delete;
  TableOptions& operator=(const TableOptions&) = delete;

  // Adds option `flags` ("--m", "-j,--threads") for the table's `key`; the help is the table's description
  // (with its range and default) unless `help` is given.
  CLI::Option* add(CLI::App& cmd, const std::string& flags, const std::string& key, const std::string& help = "");
  // Names `flag` for a key outside the table that the command sets from its own option (gemm.layout: --layout).
  void alias(const std::string& key, const std::string& flag);
  // The values given, read against the table. Call after parsing.
  const ParamReader& read();
  // Runs `f`; a ConfigError about one of these keys that has no location comes back located at its flag.
  template <typename F>
  auto guard(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const ConfigError& e) {
      rethrow_at_flag(e);
      throw;
    }
  }

 private:
  void rethrow_at_flag(const ConfigError& e) const;

  struct Value {
    std::string key;
    std::string flag;
    std::string text;
    CLI::Option* option = nullptr;
  };
  const ComponentSpec* m_spec;
  std::string m_prefix;
  std::vector<std::unique_ptr<Value>> m_values;  // stable addresses: CLI11 writes into `text`
  std::vector<std::pair<std::string, std::string>> m_aliases;
  ConfigNode m_node;
  std::unique_ptr<ParamReader> m_reader;
};

// A progress callback for long simulations (fraction done, estimated): silent for the first seconds, then a line on
// stderr every few seconds with the share done and the time left ("gemm: 35% done, about 2 min 10 s left"),
// redrawn in place on a terminal.
std::function<void(double)> progress_printer(const std::string& what);

// 671000000000 -> "671.00 B"; 1.2e12 -> "1.20 T" (SI thousands with two decimals).
std::string human(double value);

}  // namespace v3sim::cli
