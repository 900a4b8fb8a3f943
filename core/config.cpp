// The only file of v3sim that includes yaml-cpp.
#include "core/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "core/text.h"

namespace v3sim {

namespace fs = std::filesystem;

ConfigNode ConfigNode::null(SourceLoc loc, std::string path) {
  ConfigNode n;
  n.m_loc = std::move(loc);
  n.m_path = std::move(path);
  return n;
}

ConfigNode ConfigNode::scalar(std::string text, SourceLoc loc, std::string path) {
  ConfigNode n = null(std::move(loc), std::move(path));
  n.m_kind = Kind::Scalar;
  n.m_text = std::move(text);
  return n;
}

ConfigNode ConfigNode::map(SourceLoc loc, std::string path) {
  ConfigNode n = null(std::move(loc), std::move(path));
  n.m_kind = Kind::Map;
  return n;
}

ConfigNode ConfigNode::sequence(SourceLoc loc, std::string path) {
  ConfigNode n = null(std::move(loc), std::move(path));
  n.m_kind = Kind::Sequence;
  return n;
}

std::string ConfigNode::child_path(std::string_view key) const {
  return m_path.empty() ? std::string(key) : m_path + "." + std::string(key);
}

const std::string& ConfigNode::text() const {
  V3SIM_ASSERT_MSG(is_scalar(), "ConfigNode::text() on a non-scalar at " + m_path);
  return m_text;
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  for (const auto& [k, v] : m_entries)
    if (k == key) return &v;
  return nullptr;
}

ConfigNode* ConfigNode::find(std::string_view key) {
  for (auto& [k, v] : m_entries)
    if (k == key) return &v;
  return nullptr;
}

ConfigNode& ConfigNode::set(std::string key, ConfigNode value) {
  V3SIM_ASSERT(is_map());
  for (auto& [k, v] : m_entries) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  m_entries.emplace_back(std::move(key), std::move(value));
  return m_entries.back().second;
}

void ConfigNode::append_new(std::string key, ConfigNode value) {
  V3SIM_ASSERT(is_map());
  m_entries.emplace_back(std::move(key), std::move(value));
}

void ConfigNode::push_back(ConfigNode value) {
  V3SIM_ASSERT(is_sequence());
  m_items.push_back(std::move(value));
}

bool ConfigNode::erase(std::string_view key) {
  for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
    if (it->first == key) {
      m_entries.erase(it);
      return true;
    }
  }
  return false;
}

std::string ConfigNode::describe() const {
  switch (m_kind) {
    case Kind::Null:
      return "nothing";
    case Kind::Scalar:
      return m_text.empty() ? "an empty string" : quote(m_text);
    case Kind::Sequence:
      return fmt::format("a list of {} item{}", m_items.size(), m_items.size() == 1 ? "" : "s");
    case Kind::Map:
      return "a map";
  }
  return "?";
}

namespace {

void emit(YAML::Emitter& out, const ConfigNode& n) {
  switch (n.kind()) {
    case ConfigNode::Kind::Null:
      out << YAML::Null;
      break;
    case ConfigNode::Kind::Scalar:
      out << n.text();
      break;
    case ConfigNode::Kind::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : n.items()) emit(out, item);
      out << YAML::EndSeq;
      break;
    case ConfigNode::Kind::Map:
      out << YAML::BeginMap;
      for (const auto& [k, v] : n.entries()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
  }
}

std::string index_path(const std::string& parent, size_t i) {
  return fmt::format("{}[{}]", parent, i);
}

// Converts a yaml-cpp tree, bounded: at most kMaxConfigNodes nodes (aliases count each time they are expanded, so
// "billion laughs" stops early), kMaxConfigDepth levels, and no alias that contains itself. Lines come from
// yaml-cpp's marks, or are all `fixed_line` when it is >= 0 (values given on the command line have no line).
class Converter {
 public:
  Converter(std::string file, int fixed_line) : m_file(std::move(file)), m_fixed_line(fixed_line) {}

  ConfigNode convert(const YAML::Node& y, const std::string& path) {
    SourceLoc loc = loc_of(y.Mark());
    if (++m_nodes > kMaxConfigNodes) {
      throw ConfigError(loc, path,
                        fmt::format("at most {} keys and values in one document (aliases expanded)", kMaxConfigNodes),
                        "more");
    }
    if (m_stack.size() >= kMaxConfigDepth) {
      throw ConfigError(loc, path, fmt::format("at most {} levels of nesting", kMaxConfigDepth), "deeper nesting");
    }
    for (const YAML::Node& ancestor : m_stack) {
      if (ancestor.is(y)) {
        throw ConfigError(loc, path, "an alias that does not contain itself", "an alias of an enclosing node");
      }
    }
    switch (y.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return ConfigNode::null(loc, path);
      case YAML::NodeType::Scalar:
        return ConfigNode::scalar(y.Scalar(), loc, path);
      case YAML::NodeType::Sequence: {
        m_stack.push_back(y);
        ConfigNode out = ConfigNode::sequence(loc, path);
        size_t i = 0;
        for (const auto& item : y) {
          out.push_back(convert(item, index_path(path, i)));
          ++i;
        }
        m_stack.pop_back();
        return out;
      }
      case YAML::NodeType::Map: {
        m_stack.push_back(y);
        ConfigNode out = ConfigNode::map(loc, path);
        std::unordered_set<std::string> seen;
        for (const auto& kv : y) {
          if (!kv.first.IsScalar()) {
            throw ConfigError(loc_of(kv.first.Mark()), path, "a plain key", "a complex key");
          }
          std::string key = kv.first.Scalar();
          std::string child = path.empty() ? key : path + "." + key;
          if (!seen.insert(key).second) {
            throw ConfigError(loc_of(kv.first.Mark()), child, "each key once in a map",
                              "a duplicate key " + quote(key));
          }
          ConfigNode value = convert(kv.second, child);
          // yaml-cpp marks an empty value where the next token starts; the key's line is the useful one.
          if (value.is_null()) value = ConfigNode::null(loc_of(kv.first.Mark()), child);
          out.append_new(std::move(key), std::move(value));
        }
        m_stack.pop_back();
        return out;
      }
    }
    return ConfigNode::null(loc, path);
  }

 private:
  SourceLoc loc_of(const YAML::Mark& m) const {
    return SourceLoc{m_file, m_fixed_line >= 0 ? m_fixed_line : (m.line >= 0 ? m.line + 1 : 0)};
  }

  std::string m_file;
  int m_fixed_line;
  size_t m_nodes = 0;
  std::vector<YAML::Node> m_stack;  // the collections being converted, to find an alias inside itself
};

ConfigNode convert(const YAML::Node& y, const std::string& file, const std::string& path, int fixed_line = -1) {
  return Converter(file, fixed_line).convert(y, path);
}

// What yaml-cpp cannot guard itself, checked on the text before it parses it: the size, and bytes that YAML does
// not allow in a stream (C0 controls other than tab and line breaks, DEL), which would otherwise reach messages.
void check_yaml_text(std::string_view text, const std::string& name) {
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError(SourceLoc{name, 0}, "", fmt::format("a YAML file of at most {} bytes", kMaxConfigBytes),
                      fmt::format("{} bytes", text.size()));
  }
  int line = 1;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') ++line;
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7F) {
      throw ConfigError(SourceLoc{name, line}, "", "YAML text (printable characters, tabs and line breaks)",
                        fmt::format("the control byte \\x{:02X}", c));
    }
  }
}

YAML::Node parse_yaml(std::string_view text, const std::string& name) {
  check_yaml_text(text, name);
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    // DeepRecursion (nesting beyond yaml-cpp's own limit) is a ParserException too.
    throw ConfigError(SourceLoc{name, e.mark.line >= 0 ? e.mark.line + 1 : 0}, "", "valid YAML",
                      "a syntax error (" + escape_text(e.msg) + ")");
  } catch (const YAML::Exception& e) {
    throw ConfigError(SourceLoc{name, e.mark.line >= 0 ? e.mark.line + 1 : 0}, "", "valid YAML",
                      "text yaml-cpp cannot read (" + escape_text(e.msg) + ")");
  }
}

// Only a regular file of at most kMaxConfigBytes is read: a FIFO, /dev/zero or a directory is refused before any
// byte is read, and a file that grows while it is read stops at the limit.
std::string read_file(const std::string& path, const SourceLoc& referenced_from, const std::string& key) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    throw ConfigError(referenced_from, key, "a readable YAML file",
                      fmt::format("{} ({})", quote(path), ec ? ec.message() : "no such file"));
  }
  if (fs::is_directory(st)) {
    throw ConfigError(referenced_from, key, "a YAML file", fmt::format("a directory {}", quote(path)));
  }
  if (!fs::is_regular_file(st)) {
    throw ConfigError(referenced_from, key, "a regular YAML file",
                      fmt::format("{} (a device, FIFO or socket)", quote(path)));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    throw ConfigError(referenced_from, key, "a readable YAML file",
                      fmt::format("{} ({})", quote(path), std::strerror(err)));
  }
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError(SourceLoc{path, 0}, "", fmt::format("a YAML file of at most {} bytes", kMaxConfigBytes),
                      "a larger file");
  }
  return text;
}

// The files being read, from the one given to the base being read now: for cycles and the depth of `extends:`.
using ExtendsChain = std::vector<std::pair<std::string, std::string>>;  // (canonical path, path as written)

std::string chain_text(const ExtendsChain& chain, const std::string& last) {
  std::string out;
  for (const auto& [canon, written] : chain) out += escape_text(written) + " -> ";
  return out + escape_text(last);
}

ConfigNode load_resolved(std::string_view text, const std::string& name, const std::string& base_dir,
                         ExtendsChain& chain);

ConfigNode load_file_resolved(const std::string& path, const SourceLoc& referenced_from, const std::string& key,
                              ExtendsChain& chain) {
  std::error_code ec;
  std::string canon = fs::weakly_canonical(path, ec).string();
  if (ec) canon = path;
  for (const auto& link : chain) {
    if (link.first == canon) {
      throw ConfigError(referenced_from, key, "a chain of extends: without cycles",
                        fmt::format("the cycle {}", chain_text(chain, path)));
    }
  }
  if (chain.size() >= kMaxExtendsDepth) {
    throw ConfigError(referenced_from, key, fmt::format("at most {} files in a chain of extends:", kMaxExtendsDepth),
                      fmt::format("the chain {}", chain_text(chain, path)));
  }
  std::string text = read_file(path, referenced_from, key);
  chain.emplace_back(canon, path);
  ConfigNode out = load_resolved(text, path, fs::path(path).parent_path().string(), chain);
  chain.pop_back();
  return out;
}

ConfigNode load_resolved(std::string_view text, const std::string& name, const std::string& base_dir,
                         ExtendsChain& chain) {
  YAML::Node y = parse_yaml(text, name);
  ConfigNode root = convert(y, name, "");
  if (root.is_null()) root = ConfigNode::map(SourceLoc{name, 1}, "");  // an empty file is an empty map
  if (!root.is_map()) {
    throw ConfigError(root.loc(), "(document)", "a map of keys at the top level", root.describe());
  }
  const ConfigNode* ext = root.find("extends");
  if (!ext) return root;
  if (!ext->is_scalar() || ext->text().empty()) {
    throw ConfigError(ext->is_null() ? root.loc() : ext->loc(), "extends", "the path of a base YAML file",
                      ext->describe());
  }
  fs::path base_path = fs::path(ext->text());
  if (base_path.is_relative() && !base_dir.empty()) base_path = fs::path(base_dir) / base_path;
  ConfigNode merged = load_file_resolved(base_path.string(), ext->loc(), "extends", chain);
  root.erase("extends");
  merge_config(merged, root);
  return merged;
}

}  // namespace

std::string ConfigNode::to_yaml() const {
  YAML::Emitter out;
  emit(out, *this);
  return std::string(out.c_str()) + "\n";
}

ConfigNode load_config_file(const std::string& path) {
  ExtendsChain chain;
  return load_file_resolved(path, SourceLoc{path, 0}, "", chain);
}

ConfigNode parse_config_text(std::string_view text, const std::string& name, const std::string& base_dir) {
  ExtendsChain chain;
  return load_resolved(text, name, base_dir, chain);
}

void merge_config(ConfigNode& base, const ConfigNode& over) {
  if (!base.is_map() || !over.is_map()) {
    base = over;
    return;
  }
  // A map both files write is named by the derived file (the one given, or nearer to it): a key missing there is
  // the derived file's to add.
  base.m_loc = over.m_loc;
  std::unordered_map<std::string_view, size_t> index;  // linear in the keys, not quadratic
  for (size_t i = 0; i < base.m_entries.size(); ++i) index.emplace(base.m_entries[i].first, i);
  std::vector<std::pair<std::string, ConfigNode>> added;
  for (const auto& [key, value] : over.entries()) {
    auto it = index.find(key);
    if (it == index.end()) {
      added.emplace_back(key, value);
      continue;
    }
    ConfigNode& existing = base.m_entries[it->second].second;
    if (existing.is_map() && value.is_map()) {
      merge_config(existing, value);
    } else {
      existing = value;
    }
  }
  for (auto& entry : added) base.m_entries.push_back(std::move(entry));
}

void apply_override(ConfigNode& root, std::string_view key_path, std::string_view value, const SourceLoc& loc) {
  V3SIM_ASSERT(root.is_map());
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key_path.find('.', start);
    parts.emplace_back(key_path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (parts.back().empty()) {
      throw ConfigError(loc, std::string(key_path), "a dot-separated key path like parallelism.ep", "an empty key");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  ConfigNode* node = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    ConfigNode* child = node->find(parts[i]);
    if (!child || child->is_null()) {
      child = &node->set(parts[i], ConfigNode::map(loc, node->child_path(parts[i])));
    } else if (!child->is_map()) {
      throw ConfigError(loc, child->path(), "a map to set " + quote(parts[i + 1]) + " in", child->describe());
    }
    node = child;
  }
  std::string path = node->child_path(parts.back());
  if (value.empty()) throw ConfigError(loc, path, "a value after '='", "nothing");
  YAML::Node y = parse_yaml(value, loc.file);
  node->set(parts.back(), convert(y, loc.file, path, loc.line));
}

Override parse_override(std::string_view text, const std::string& origin) {
  Override o;
  o.text = std::string(text);
  size_t eq = text.find('=');
  SourceLoc loc{origin + " " + std::string(text), 0};
  if (eq == std::string_view::npos) {
    throw ConfigError(loc, "", "KEY.PATH=VALUE with the key prefixed by its document (model., deploy., hw., cluster.)",
                      "no '='");
  }
  std::string_view key = text.substr(0, eq);
  size_t dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= key.size()) {
    throw ConfigError(loc, std::string(key),
                      "a key path prefixed by its document, like deploy.parallelism.ep or hw.sms",
                      "no document prefix");
  }
  o.document = std::string(key.substr(0, dot));
  o.key_path = std::string(key.substr(dot + 1));
  o.value = std::string(text.substr(eq + 1));
  return o;
}

}  // namespace v3sim
