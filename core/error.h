// Errors of v3sim: the user's mistakes (ConfigError, exit 2) and our own bugs (InternalError, exit 3).
// Library code throws; only cli/ turns an exception into an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace v3sim {

// Where a value came from: a file and a 1-based line (0 when unknown), or a pseudo-file like "--set".
struct SourceLoc {
  std::string file;
  int line = 0;

  // "file:line", "file" when the line is unknown, "" when nothing is known.
  std::string str() const;
};

// A user's mistake: bad YAML, unknown key, impossible parallelism, missing file.
// what() is one line: "FILE:LINE: key.path: expected X, found Y".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(SourceLoc loc, std::string key_path, std::string expected, std::string found);
  // A free-form message for errors that are not about one key (the message is used as is).
  explicit ConfigError(const std::string& message);

  const SourceLoc& loc() const { return m_loc; }
  const std::string& key_path() const { return m_key_path; }
  const std::string& expected() const { return m_expected; }
  const std::string& found() const { return m_found; }

 private:
  SourceLoc m_loc;
  std::string m_key_path;
  std::string m_expected;
  std::string m_found;
};

// A bug of ours: a broken invariant. Carries the condition text and file:line.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void internal_error(const char* condition, const char* file, int line, const std::string& detail);

}  // namespace v3sim

// V3SIM_ASSERT(cond) / V3SIM_ASSERT_MSG(cond, msg): throw InternalError naming the condition and file:line.
#define V3SIM_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::v3sim::internal_error(#cond, __FILE__, __LINE__, std::string()))
#define V3SIM_ASSERT_MSG(cond, msg) \
  ((cond) ? static_cast<void>(0) : ::v3sim::internal_error(#cond, __FILE__, __LINE__, (msg)))
