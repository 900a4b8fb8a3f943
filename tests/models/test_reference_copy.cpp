// The calibration tests read tests/data/reference/, a copy of ../shared/reference/. Where the original is at
// hand, the copy must be identical, so a refreshed reference is noticed.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("the vendored reference data matches ../shared/reference where present", "[models][reference]") {
  const fs::path copy = fs::path(V3SIM_SOURCE_DIR) / "tests/data/reference";
  const fs::path original = fs::path(V3SIM_SOURCE_DIR) / "../shared/reference";
  REQUIRE(fs::exists(copy / "deepseek-v3.yaml"));
  if (!fs::exists(original / "deepseek-v3.yaml")) {
    WARN("../shared/reference is not present: only the vendored copy is checked");
    return;
  }
  for (const char* f : {"deepseek-v3.yaml", "benchmarks.md"}) {
    CAPTURE(f);
    CHECK(slurp(copy / f) == slurp(original / f));
  }
}
