// The typed config tree: YAML documents as v3sim's own tree (only core/config.cpp includes yaml-cpp),
// with every node remembering its file, line and key path, so every error can name all three.
//
// Lifecycle of a config: load_config_file() reads YAML and resolves `extends:` (a derived file overrides a
// few keys of its base: maps merge key by key, scalars and lists replace), then apply_override() applies
// `--set key.path=value`, then a component reads it through a ParamReader (core/params.h), which rejects
// unknown keys and checks types and units against the component's parameter table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace v3sim {

// Bounds on what a config may hold, far above any real config (the largest shipped file has a few thousand nodes):
// a file's size, the nodes of one document (aliases counted each time they are expanded), nesting, and the files
// of one chain of `extends:`. The size bounds the time too: yaml-cpp reads about 0.5 MB/s here (80,000 one-line
// keys, 790 KB: 1.7 s), so 256 KiB (15x the largest shipped file, 17 KB) is refused or read within 1 s. The node
// bound is 40,000 (a 256 KiB file of one-line keys holds about 25,000): aliases expanded to 100,000 nodes under
// 300-byte keys took 1.2 s of CPU under ASan, and a fuzzer on a busy machine timed out on it.
inline constexpr size_t kMaxConfigBytes = size_t{256} << 10;
inline constexpr size_t kMaxConfigNodes = 40'000;
inline constexpr size_t kMaxConfigDepth = 64;
inline constexpr size_t kMaxExtendsDepth = 16;

class ConfigNode {
 public:
  enum class Kind { Null, Scalar, Sequence, Map };

  ConfigNode() = default;
  static ConfigNode null(SourceLoc loc, std::string path);
  static ConfigNode scalar(std::string text, SourceLoc loc, std::string path);
  static ConfigNode map(SourceLoc loc, std::string path);
  static ConfigNode sequence(SourceLoc loc, std::string path);

  Kind kind() const { return m_kind; }
  bool is_null() const { return m_kind == Kind::Null; }
  bool is_scalar() const { return m_kind == Kind::Scalar; }
  bool is_map() const { return m_kind == Kind::Map; }
  bool is_sequence() const { return m_kind == Kind::Sequence; }
  const SourceLoc& loc() const { return m_loc; }
  // Key path from the document root: "parallelism.ep", "layers[2].name"; "" for the root.
  const std::string& path() const { return m_path; }
  // The path of a child key: path() + "." + key, or key at the root.
  std::string child_path(std::string_view key) const;

  // @pre is_scalar()
  const std::string& text() const;
  const std::vector<ConfigNode>& items() const { return m_items; }
  const std::vector<std::pair<std::string, ConfigNode>>& entries() const { return m_entries; }
  // The child under `key` of a map, or nullptr (also for non-maps).
  const ConfigNode* find(std::string_view key) const;
  ConfigNode* find(std::string_view key);

  // Adds or replaces a map entry, keeping first-insertion order. @pre is_map()
  ConfigNode& set(std::string key, ConfigNode value);
  // Adds an entry without looking for the key (linear loading of large maps). @pre is_map(), no entry `key`
  void append_new(std::string key, ConfigNode value);
  void push_back(ConfigNode value);
  bool erase(std::string_view key);

  // How this node reads in an error's "found" part: "'abc'", "a map", "a list of 3 items", "nothing".
  std::string describe() const;
  // The whole subtree as YAML text (the resolved config stamped into output files).
  std::string to_yaml() const;

 private:
  friend void merge_config(ConfigNode& base, const ConfigNode& over);

  Kind m_kind = Kind::Null;
  std::string m_text;
  std::vector<ConfigNode> m_items;
  std::vector<std::pair<std::string, ConfigNode>> m_entries;
  SourceLoc m_loc;
  std::string m_path;
};

// Reads a YAML file into a tree and resolves `extends: other.yaml` (relative to the file, recursively; a cycle
// is refused naming the chain). Throws ConfigError for a missing, unreadable or non-regular file, one beyond the
// bounds above, a YAML syntax error or control byte, a duplicate key, an alias that contains itself, or a bad
// `extends:`. The root must be a map.
ConfigNode load_config_file(const std::string& path);

// Same for YAML text held in memory; `name` stands for the file in errors. `extends:` is resolved
// relative to `base_dir` (the current directory when empty).
ConfigNode parse_config_text(std::string_view text, const std::string& name, const std::string& base_dir = {});

// Merges `over` into `base`: maps key by key (recursively), anything else replaced by `over`'s value. A map both
// hold takes `over`'s location, so errors about it name the derived file.
void merge_config(ConfigNode& base, const ConfigNode& over);

// Sets `key_path` (dot-separated, e.g. "parallelism.ep") to `value` parsed as a YAML value ("8", "50GB/s",
// "[1, 2]"). Missing maps along the path are created; the set node's location is `loc`.
// Throws ConfigError when the path runs through a non-map or the value is not valid YAML.
void apply_override(ConfigNode& root, std::string_view key_path, std::string_view value, const SourceLoc& loc);

// One override (the command line's `--set`) split into the document it addresses ("model", "deploy", "hw", "cluster",
// ...), the key path inside it and the value: "deploy.parallelism.ep=32" -> {"deploy", "parallelism.ep", "32"}.
struct Override {
  std::string document;
  std::string key_path;
  std::string value;
  std::string text;  // as given, for error locations
};
// Throws ConfigError when the text has no '=', no document prefix, or an empty key; its location is
// "ORIGIN TEXT" (the command line passes its flag as the origin).
Override parse_override(std::string_view text, const std::string& origin = "override");

}  // namespace v3sim
