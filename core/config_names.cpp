#include "core/config_names.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "core/text.h"

namespace v3sim {

namespace fs = std::filesystem;

std::vector<std::string> config_names(const std::string& configs_dir, const std::string& kind) {
  std::vector<std::string> names;
  std::error_code ec;
  const fs::path root = fs::path(configs_dir) / kind;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    if (e.path().extension() == ".yaml") {
      names.push_back(e.path().lexically_relative(root).replace_extension().generic_string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string find_config(const std::string& configs_dir, const std::string& kind, const std::string& name) {
  std::error_code ec;
  const fs::path named = fs::path(configs_dir) / kind / (name + ".yaml");
  if (fs::is_regular_file(named, ec)) return named.string();
  if (name.empty() || name.find('/') != std::string::npos) return {};
  std::string found;
  for (const auto& n : config_names(configs_dir, kind)) {
    if (fs::path(n).filename().string() != name) continue;
    if (!found.empty()) return {};  // several subfolders: not ours to choose
    found = (fs::path(configs_dir) / kind / (n + ".yaml")).string();
  }
  return found;
}

std::string closest_config_name(const std::string& configs_dir, const std::string& kind, const std::string& word) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& n : config_names(configs_dir, kind)) {
    const size_t d = std::min(edit_distance(word, n), edit_distance(word, fs::path(n).filename().string()));
    if (d < best_d) best_d = d, best = n;
  }
  return best_d <= 2 && best_d < word.size() ? best : std::string();
}

}  // namespace v3sim
