#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/config.h"

using namespace v3sim;
namespace fs = std::filesystem;

namespace {

// A scratch folder with YAML files, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("v3sim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

ConfigError error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError thrown");
  return ConfigError("unreachable");
}

}  // namespace

SCENARIO("a YAML document becomes a tree that remembers file, line and key path", "[core][config]") {
  ConfigNode root = parse_config_text("name: x\nparallelism:\n  ep: 64\n  pp: 16\nlist: [1, 2]\n", "d.yaml");
  REQUIRE(root.is_map());
  const ConfigNode* ep = root.find("parallelism")->find("ep");
  REQUIRE(ep);
  CHECK(ep->text() == "64");
  CHECK(ep->loc().file == "d.yaml");
  CHECK(ep->loc().line == 3);
  CHECK(ep->path() == "parallelism.ep");
  CHECK(root.find("list")->items().at(1).path() == "list[1]");
  CHECK(root.find("missing") == nullptr);
  // Resolved YAML text parses back to the same tree.
  ConfigNode again = parse_config_text(root.to_yaml(), "again.yaml");
  CHECK(again.find("parallelism")->find("pp")->text() == "16");
}

SCENARIO("bad YAML is reported with its line", "[core][config]") {
  WHEN("the syntax is broken") {
    ConfigError e = error_of([] { parse_config_text("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml"); });
    THEN("the error names the file and a line and says valid YAML was expected") {
      CHECK(e.loc().file == "bad.yaml");
      CHECK(e.loc().line >= 2);
      CHECK_THAT(e.what(), Catch::StartsWith("bad.yaml:") && Catch::Contains("expected valid YAML"));
    }
  }
  WHEN("a key appears twice") {
    ConfigError e = error_of([] { parse_config_text("a: 1\nb:\n  x: 1\n  x: 2\n", "dup.yaml"); });
    CHECK(e.loc().line == 4);
    CHECK(e.key_path() == "b.x");
    CHECK_THAT(e.found(), Catch::Contains("duplicate key 'x'"));
  }
  WHEN("the top level is not a map") {
    ConfigError e = error_of([] { parse_config_text("- 1\n- 2\n", "list.yaml"); });
    CHECK_THAT(e.expected(), Catch::Contains("a map"));
  }
  WHEN("the file does not exist") {
    ConfigError e = error_of([] { load_config_file("/nonexistent/v3sim/none.yaml"); });
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/v3sim/none.yaml") && Catch::Contains("No such file"));
  }
}

SCENARIO("extends: derives one file from another", "[core][config]") {
  TempDir dir;
  dir.write("base.yaml", "name: base\nsms: 132\nhbm:\n  size: 80GB\n  bw: 3.35TB/s\nlist: [1, 2, 3]\n");
  fs::create_directories(dir.path / "proposals");
  std::string derived =
      dir.write("proposals/fast.yaml", "extends: ../base.yaml\nname: fast\nhbm:\n  bw: 8TB/s\nlist: [4]\n");
  ConfigNode root = load_config_file(derived);
  THEN("maps merge key by key, scalars and lists are replaced, extends itself is gone") {
    CHECK(root.find("name")->text() == "fast");
    CHECK(root.find("sms")->text() == "132");
    CHECK(root.find("hbm")->find("size")->text() == "80GB");
    CHECK(root.find("hbm")->find("bw")->text() == "8TB/s");
    CHECK(root.find("list")->items().size() == 1);
    CHECK(root.find("extends") == nullptr);
  }
  THEN("each value keeps the location of the file that set it") {
    CHECK_THAT(root.find("sms")->loc().file, Catch::EndsWith("base.yaml"));
    CHECK(root.find("sms")->loc().line == 2);
    CHECK_THAT(root.find("hbm")->find("bw")->loc().file, Catch::EndsWith("fast.yaml"));
    CHECK(root.find("hbm")->find("bw")->loc().line == 4);
  }
  WHEN("the base is missing") {
    std::string bad = dir.write("bad.yaml", "name: x\nextends: nope.yaml\n");
    ConfigError e = error_of([&] { load_config_file(bad); });
    CHECK(e.loc().line == 2);
    CHECK(e.key_path() == "extends");
    CHECK_THAT(e.found(), Catch::Contains("nope.yaml"));
  }
  WHEN("files extend each other in a cycle") {
    dir.write("a.yaml", "extends: b.yaml\n");
    std::string b = dir.write("b.yaml", "extends: a.yaml\n");
    CHECK_THROWS_WITH(load_config_file(b), Catch::Contains("without cycles"));
  }
}

SCENARIO("--set overrides one value by its key path", "[core][config]") {
  ConfigNode root = parse_config_text("parallelism:\n  ep: 64\nname: x\n", "d.yaml");
  SourceLoc where{"--set deploy.parallelism.ep=32", 0};
  apply_override(root, "parallelism.ep", "32", where);
  CHECK(root.find("parallelism")->find("ep")->text() == "32");
  CHECK(root.find("parallelism")->find("ep")->loc().file == where.file);
  CHECK(root.find("parallelism")->find("ep")->path() == "parallelism.ep");
  apply_override(root, "batch.seq_len", "4096", where);  // creates the missing map
  CHECK(root.find("batch")->find("seq_len")->text() == "4096");
  apply_override(root, "parallelism.list", "[1, 2]", where);
  CHECK(root.find("parallelism")->find("list")->items().size() == 2);
  CHECK_THROWS_WITH(apply_override(root, "name.inner", "1", where), Catch::Contains("a map to set 'inner' in"));
  CHECK_THROWS_WITH(apply_override(root, "a..b", "1", where), Catch::Contains("an empty key"));
  CHECK_THROWS_AS(apply_override(root, "x", "", where), ConfigError);

  Override o = parse_override("deploy.parallelism.ep=32");
  CHECK(o.document == "deploy");
  CHECK(o.key_path == "parallelism.ep");
  CHECK(o.value == "32");
  CHECK(parse_override("hw.link=50GB/s").value == "50GB/s");
  CHECK_THROWS_WITH(parse_override("deploy.parallelism.ep"), Catch::Contains("no '='"));
  CHECK_THROWS_WITH(parse_override("ep=32"), Catch::Contains("no document prefix"));
}
