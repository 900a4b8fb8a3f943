// Names of the shipped configs: configs/<kind>/<name>.yaml, where a name may lie in a subfolder
// ("proposals/fp32-accumulation"). One lookup for the command line and for study files.
//
// Example (configs/hardware holds h800.yaml and proposals/fp32-accumulation.yaml):
//   find_config(root, "hardware", "h800")                -> ROOT/hardware/h800.yaml
//   find_config(root, "hardware", "fp32-accumulation")   -> ROOT/hardware/proposals/fp32-accumulation.yaml
//   closest_config_name(root, "hardware", "fp32-acumulation") -> "proposals/fp32-accumulation"
#pragma once

#include <string>
#include <vector>

namespace v3sim {

// Every config name under CONFIGS_DIR/KIND, subfolders included, without ".yaml", sorted ("h800",
// "proposals/fp32-accumulation"); empty when the folder does not exist.
std::vector<std::string> config_names(const std::string& configs_dir, const std::string& kind);

// The file of config `name`: CONFIGS_DIR/KIND/NAME.yaml, else the one NAME.yaml of a subfolder (a name that lies
// only in a subfolder); "" when there is none, or several subfolders hold one.
std::string find_config(const std::string& configs_dir, const std::string& kind, const std::string& name);

// The config name nearest to `word` when it is close enough to be a typo of the whole name or of its last part
// (at most 2 edits, and fewer than the word's length), else "".
std::string closest_config_name(const std::string& configs_dir, const std::string& kind, const std::string& word);

}  // namespace v3sim
