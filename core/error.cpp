#include "core/error.h"

#include <fmt/format.h>

#include "core/text.h"

namespace v3sim {

std::string SourceLoc::str() const {
  if (file.empty()) return {};
  if (line <= 0) return file;
  return fmt::format("{}:{}", file, line);
}

namespace {

// A message stays one readable line whatever the user wrote: every part escaped (no line breaks, no raw binary)
// and cut. Values are quoted and cut where they are described (ConfigNode::describe, quote()); this is the net
// under every other part (a file name or key path that is itself garbage).
std::string safe_part(std::string_view s, size_t max_chars) {
  std::string out = escape_text(s);
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

constexpr size_t kMaxPart = 400;
constexpr size_t kMaxMessage = 2000;
// A key path or a location ("--set KEY=VALUE", a file) longer than this is cut in the middle: its start and its end
// (the leaf key, the value) are what tell the reader where to look.
constexpr size_t kMaxKeyPath = 120;
constexpr size_t kMaxLocation = 200;

std::string format_config_error(const SourceLoc& loc, const std::string& key_path, const std::string& expected,
                                const std::string& found) {
  std::string out = shorten_middle(loc.str(), kMaxLocation);
  if (!key_path.empty()) out += (out.empty() ? "" : ": ") + shorten_middle(key_path, kMaxKeyPath);
  if (!out.empty()) out += ": ";
  out += "expected " + safe_part(expected, kMaxMessage);
  if (!found.empty()) out += ", found " + safe_part(found, kMaxPart);
  return out;
}

}  // namespace

ConfigError::ConfigError(SourceLoc loc, std::string key_path, std::string expected, std::string found)
    : std::runtime_error(format_config_error(loc, key_path, expected, found)),
      m_loc(std::move(loc)),
      m_key_path(std::move(key_path)),
      m_expected(std::move(expected)),
      m_found(std::move(found)) {}

ConfigError::ConfigError(const std::string& message) : std::runtime_error(safe_part(message, kMaxMessage)) {}

void internal_error(const char* condition, const char* file, int line, const std::string& detail) {
  std::string msg = fmt::format("internal error at {}:{}: assertion '{}' failed", file, line, condition);
  if (!detail.empty()) msg += ": " + detail;
  throw InternalError(msg);
}

}  // namespace v3sim
