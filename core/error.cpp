#include "core/error.h"

#include <fmt/format.h>

namespace v3sim {

std::string SourceLoc::str() const {
  if (file.empty()) return {};
  if (line <= 0) return file;
  return fmt::format("{}:{}", file, line);
}

namespace {
std::string format_config_error(const SourceLoc& loc, const std::string& key_path, const std::string& expected,
                                const std::string& found) {
  std::string out = loc.str();
  if (!key_path.empty()) out += out.empty() ? key_path : ": " + key_path;
  if (!out.empty()) out += ": ";
  out += "expected " + expected;
  if (!found.empty()) out += ", found " + found;
  return out;
}
}  // namespace

ConfigError::ConfigError(SourceLoc loc, std::string key_path, std::string expected, std::string found)
    : std::runtime_error(format_config_error(loc, key_path, expected, found)),
      m_loc(std::move(loc)),
      m_key_path(std::move(key_path)),
      m_expected(std::move(expected)),
      m_found(std::move(found)) {}

ConfigError::ConfigError(const std::string& message) : std::runtime_error(message) {}

void internal_error(const char* condition, const char* file, int line, const std::string& detail) {
  std::string msg = fmt::format("internal error at {}:{}: assertion '{}' failed", file, line, condition);
  if (!detail.empty()) msg += ": " + detail;
  throw InternalError(msg);
}

}  // namespace v3sim
