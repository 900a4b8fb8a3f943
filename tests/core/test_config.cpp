#include <fmt/format.h>
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
    THEN("the error names the whole chain") {
      ConfigError e = error_of([&] { load_config_file(b); });
      CHECK_THAT(e.expected(), Catch::Contains("without cycles"));
      CHECK_THAT(e.found(),
                 Catch::Contains("b.yaml -> ") && Catch::Contains("a.yaml -> ") && Catch::EndsWith("b.yaml"));
    }
  }
  WHEN("a file extends itself") {
    std::string self = dir.write("self.yaml", "name: x\nextends: self.yaml\n");
    CHECK_THROWS_WITH(load_config_file(self), Catch::Contains("the cycle"));
  }
  WHEN("the chain is longer than the limit") {
    for (size_t i = 0; i <= kMaxExtendsDepth; ++i) {
      dir.write(fmt::format("c{}.yaml", i), fmt::format("extends: c{}.yaml\nk{}: 1\n", i + 1, i));
    }
    dir.write(fmt::format("c{}.yaml", kMaxExtendsDepth + 1), "name: end\n");
    ConfigError e = error_of([&] { load_config_file((dir.path / "c0.yaml").string()); });
    CHECK_THAT(e.expected(), Catch::Contains(fmt::format("at most {} files", kMaxExtendsDepth)));
  }
  WHEN("extends: names something that is not a regular file") {
    std::string dev = dir.write("dev.yaml", "extends: /dev/zero\nname: x\n");
    ConfigError e = error_of([&] { load_config_file(dev); });
    CHECK(e.key_path() == "extends");
    CHECK_THAT(e.expected(), Catch::Contains("a regular YAML file"));
    std::string folder = dir.write("folder.yaml", "extends: proposals\n");
    CHECK_THROWS_WITH(load_config_file(folder), Catch::Contains("a directory"));
  }
  WHEN("a required key is missing from a map that both files write") {
    THEN("the merged map carries the derived file's location") {
      CHECK_THAT(root.loc().file, Catch::EndsWith("fast.yaml"));
      CHECK_THAT(root.find("hbm")->loc().file, Catch::EndsWith("fast.yaml"));
    }
  }
}

SCENARIO("YAML that could exhaust the machine is refused early", "[core][config]") {
  WHEN("an alias contains itself") {
    ConfigError e = error_of([] { parse_config_text("note: &r [*r]\n", "alias.yaml"); });
    CHECK_THAT(e.expected(), Catch::Contains("an alias that does not contain itself"));
    CHECK(e.key_path() == "note[0]");
    SourceLoc where{"--set model.note=&r [*r]", 0};
    ConfigNode root = parse_config_text("name: x\n", "m.yaml");
    CHECK_THROWS_WITH(apply_override(root, "note", "&r [*r]", where), Catch::Contains("an alias"));
    CHECK_THROWS_WITH(parse_config_text("a: &m {b: *m}\n", "map.yaml"), Catch::Contains("an alias"));
  }
  WHEN("aliases expand exponentially (billion laughs)") {
    std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; ++c) {
      const char prev = static_cast<char>(c - 1);
      text += fmt::format("{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n", c, c,
                          fmt::arg("p", prev));
    }
    ConfigError e = error_of([&] { parse_config_text(text, "laughs.yaml"); });
    CHECK_THAT(e.expected(), Catch::Contains(fmt::format("at most {} keys and values", kMaxConfigNodes)));
  }
  WHEN("aliases are used within the bounds") {
    ConfigNode root = parse_config_text("base: &b {x: 1}\nother: *b\n", "ok.yaml");
    CHECK(root.find("other")->find("x")->text() == "1");
  }
  WHEN("nesting is deeper than the limit") {
    const std::string deep = std::string(kMaxConfigDepth + 1, '[') + std::string(kMaxConfigDepth + 1, ']');
    CHECK_THROWS_WITH(parse_config_text("a: " + deep + "\n", "deep.yaml"), Catch::Contains("levels of nesting"));
    const std::string very_deep = std::string(100000, '[');
    CHECK_THROWS_AS(parse_config_text("a: " + very_deep + "\n", "deeper.yaml"), ConfigError);
  }
  WHEN("the text holds control bytes") {
    ConfigError e = error_of([] { parse_config_text(std::string("a: 1\nb: x\0y\n", 12), "nul.yaml"); });
    CHECK(e.loc().line == 2);
    CHECK_THAT(e.found(), Catch::Contains("\\x00"));
  }
  WHEN("a file is larger than the limit") {
    TempDir dir;
    std::string big = dir.write("big.yaml", "a: '" + std::string(kMaxConfigBytes, 'x') + "'\n");
    CHECK_THROWS_WITH(load_config_file(big), Catch::Contains("at most"));
  }
  WHEN("a map has many keys") {
    THEN("loading stays linear in the key count, and too many keys are refused") {
      std::string text;
      for (int i = 0; i < 15000; ++i) text += fmt::format("k{}: {}\n", i, i);
      REQUIRE(text.size() <= kMaxConfigBytes);
      ConfigNode root = parse_config_text(text, "wide.yaml");
      CHECK(root.entries().size() == 15000);
      ConfigNode over = parse_config_text(text, "wide2.yaml");
      merge_config(root, over);
      CHECK(root.entries().size() == 15000);
      // kMaxConfigNodes one-line keys no longer fit in kMaxConfigBytes: the size bound refuses them first.
      std::string more;
      for (size_t i = 0; i < kMaxConfigNodes; ++i) more += fmt::format("k{}: 1\n", i);
      CHECK_THROWS_WITH(parse_config_text(more, "wider.yaml"), Catch::Contains("a YAML file of at most"));
      // Aliases reach the node bound in a small text.
      std::string aliased = "a: &a [";
      for (int i = 0; i < 1000; ++i) aliased += i ? ", 1" : "1";
      aliased += "]\nb: [";
      for (int i = 0; i < 200; ++i) aliased += i ? ", *a" : "*a";
      aliased += "]\n";
      CHECK_THROWS_WITH(parse_config_text(aliased, "aliased.yaml"), Catch::Contains("keys and values"));
    }
  }
  WHEN("a value is long or binary") {
    ConfigNode root = parse_config_text("a: '" + std::string(100000, 'y') + "'\nb: \"\\x01\\x02\\n\"\n", "v.yaml");
    THEN("describe() quotes it cut, escaped and on one line") {
      const std::string a = root.find("a")->describe();
      CHECK(a.size() < 200);
      CHECK_THAT(a, Catch::Contains("(100000 bytes)"));
      const std::string b = root.find("b")->describe();
      CHECK(b == "'\\x01\\x02\\n'");
    }
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

SCENARIO("a long key path is cut in the middle in a message, its leaf kept, its bytes escaped", "[core][config]") {
  // 300 nested keys: a key path of about 3,600 characters, a control byte in one key.
  std::string deep = "batch";
  for (int i = 0; i < 300; ++i) deep += fmt::format(".k{:09d}", i);
  deep += ".bad\x01key";
  ConfigNode root = parse_config_text("name: x\n", "d.yaml");
  const std::string text = "deploy." + deep + ".x=1";
  const SourceLoc where{"--set " + text, 0};
  apply_override(root, deep + ".x", "1", where);
  try {
    apply_override(root, deep + ".x.leaf", "2", where);  // x is a scalar: no map to set 'leaf' in
    FAIL("no error");
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    CHECK(e.key_path() == deep + ".x");  // the whole path stays with the error, for code that reads it
    CHECK(m.size() < 500);
    CHECK(m.find('\n') == std::string::npos);
    CHECK(m.find('\x01') == std::string::npos);
    CHECK_THAT(m, Catch::StartsWith("--set deploy.batch.k000000000"));
    CHECK_THAT(m, Catch::Contains(".k000000299.bad\\x01key.x: expected a map to set 'leaf' in"));
    CHECK_THAT(m, Catch::Contains("..."));
  }
  // Short paths are shown whole.
  const ConfigError shortpath(SourceLoc{"d.yaml", 3}, "parallelism.ep", "an integer", "'x'");
  CHECK(std::string(shortpath.what()) == "d.yaml:3: parallelism.ep: expected an integer, found 'x'");
}
