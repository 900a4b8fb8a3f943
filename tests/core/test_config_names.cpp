// core/config_names.h: config names under a configs root, subfolders included, with suggestions for typos.
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/config_names.h"
#include "tests/temp_dir.h"

using namespace v3sim;
namespace fs = std::filesystem;

TEST_CASE("config names are found in subfolders and typos suggest the subfolder's name", "[core]") {
  test::TempDir dir("v3sim-config-names");
  fs::create_directories(dir.path() / "hardware" / "proposals");
  dir.file("hardware/h800.yaml", "name: h800\n");
  dir.file("hardware/proposals/fp32-accumulation.yaml", "extends: ../h800.yaml\n");
  dir.file("hardware/notes.txt", "not a config\n");
  const std::string root = dir.path().string();

  CHECK(config_names(root, "hardware") == std::vector<std::string>{"h800", "proposals/fp32-accumulation"});
  CHECK(config_names(root, "clusters").empty());

  SECTION("a name at the top and a name with its subfolder") {
    CHECK(find_config(root, "hardware", "h800") == (dir.path() / "hardware" / "h800.yaml").string());
    CHECK(find_config(root, "hardware", "proposals/fp32-accumulation") ==
          (dir.path() / "hardware" / "proposals" / "fp32-accumulation.yaml").string());
  }
  SECTION("a name found only in a subfolder resolves") {
    CHECK(find_config(root, "hardware", "fp32-accumulation") ==
          (dir.path() / "hardware" / "proposals" / "fp32-accumulation.yaml").string());
  }
  SECTION("a name two subfolders hold is not chosen") {
    fs::create_directories(dir.path() / "hardware" / "other");
    dir.file("hardware/other/fp32-accumulation.yaml", "extends: ../h800.yaml\n");
    CHECK(find_config(root, "hardware", "fp32-accumulation").empty());
  }
  SECTION("unknown names resolve to nothing") {
    CHECK(find_config(root, "hardware", "h900").empty());
    CHECK(find_config(root, "hardware", "").empty());
  }
  SECTION("a typo suggests the proposals/... name") {
    CHECK(closest_config_name(root, "hardware", "fp32-acumulation") == "proposals/fp32-accumulation");
    CHECK(closest_config_name(root, "hardware", "proposals/fp32-accumulatoin") == "proposals/fp32-accumulation");
    CHECK(closest_config_name(root, "hardware", "h80") == "h800");
    CHECK(closest_config_name(root, "hardware", "tpu-v5").empty());
  }
}
