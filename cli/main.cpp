// The `v3sim` executable: parses the command line, runs one command, maps errors to exit codes
// (0 ok, 2 the user's mistake, 3 our bug). One line `error: ...` on stderr for a mistake.
#include <cstdio>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "core/error.h"

namespace {

// Under --json an error is one JSON object on stdout too (the same line stays on stderr), so a script reading
// stdout always gets one object: {"error": "...", "exit_code": 2}.
int report(bool json, int code, const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  if (json) std::puts(nlohmann::json{{"error", line}, {"exit_code", code}}.dump().c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) json |= std::string_view(argv[i]) == "--json";
  try {
    return v3sim::cli::run_command_line(argc, argv);
  } catch (const v3sim::ConfigError& e) {
    return report(json, 2, std::string("error: ") + e.what());
  } catch (const v3sim::InternalError& e) {
    return report(json, 3, e.what());
  } catch (const std::bad_alloc&) {
    // Every command estimates its memory first; running out anyway is ours to fix.
    return report(json, 3, "internal error: out of memory (a size estimate let through a problem that does not fit)");
  } catch (const std::exception& e) {
    return report(json, 3, std::string("internal error: unexpected exception: ") + e.what());
  }
}
