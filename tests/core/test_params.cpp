#include <catch2/catch.hpp>

#include "core/params.h"

using namespace v3sim;

namespace {

const ComponentSpec& link_spec() {
  static const ComponentSpec spec{
      "link",
      "a test link",
      {{.name = "bandwidth", .type = ParamType::Bandwidth, .description = "per direction", .range = range(1e9, 1e12)},
       {.name = "latency",
        .type = ParamType::Time,
        .description = "one hop",
        .required = false,
        .default_text = "1us",
        .range = range(0, 1e9)}}};
  return spec;
}

const ComponentSpec& chip_spec() {
  static const ComponentSpec spec{
      "chip",
      "a test chip",
      {
          {.name = "name", .type = ParamType::String, .description = "chip name"},
          {.name = "sms", .type = ParamType::Int, .description = "SM count", .range = range(1, 1024)},
          {.name = "spare",
           .type = ParamType::Int,
           .description = "spare SMs",
           .required = false,
           .default_text = "0",
           .range = range(0, 1024)},
          {.name = "clock", .type = ParamType::Frequency, .description = "boost clock", .range = range(1e8, 1e10)},
          {.name = "smem",
           .type = ParamType::Bytes,
           .description = "shared memory per SM",
           .range = range(1024, 1 << 30)},
          {.name = "ratio",
           .type = ParamType::Float,
           .description = "a ratio",
           .required = false,
           .range = above_zero(1)},
          {.name = "fp32_accumulate",
           .type = ParamType::Bool,
           .description = "accumulator",
           .required = false,
           .default_text = "false"},
          {.name = "mode",
           .type = ParamType::Enum,
           .description = "a mode",
           .required = false,
           .default_text = "fast",
           .choices = {"fast", "exact"}},
          {.name = "ns",
           .type = ParamType::IntList,
           .description = "wgmma N values",
           .required = false,
           .range = range(8, 256)},
          {.name = "link", .type = ParamType::Section, .description = "the link", .section = &link_spec()},
      }};
  return spec;
}

const char* kGood =
    "name: h800\n"
    "source: a test\n"
    "sms: {value: 132, source: 'profile-data deviceProperties'}\n"
    "clock: 1.83GHz\n"
    "smem: 228KiB\n"
    "ns: [64, 128, 256]\n"
    "link:\n"
    "  bandwidth: 400Gb/s\n";

ConfigError read_error(const std::string& yaml) {
  ConfigNode root = parse_config_text(yaml, "chip.yaml");
  try {
    ParamReader r(root, chip_spec());
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for:\n" << yaml);
  return ConfigError("unreachable");
}

std::string with(const std::string& line_to_replace, const std::string& replacement) {
  std::string s = kGood;
  size_t at = s.find(line_to_replace);
  REQUIRE(at != std::string::npos);
  s.replace(at, line_to_replace.size(), replacement);
  return s;
}

}  // namespace

SCENARIO("a parameter table reads a config map with types, units and defaults", "[core][params]") {
  ConfigNode root = parse_config_text(kGood, "chip.yaml");
  ParamReader r(root, chip_spec());
  CHECK(r.get_string("name") == "h800");
  CHECK(r.get_int("sms") == 132);  // a cited value
  CHECK(r.get_int("spare") == 0);  // default
  CHECK(r.get_frequency("clock").hertz() == 1'830'000'000);
  CHECK(r.get_bytes("smem").count() == 233472);
  CHECK(!r.has("ratio"));
  CHECK(r.get_bool("fp32_accumulate") == false);
  CHECK(r.get_string("mode") == "fast");
  CHECK(r.get_int_list("ns") == std::vector<int64_t>{64, 128, 256});
  CHECK(r.section("link").get_bandwidth("bandwidth").bytes_per_second() == 50'000'000'000);
  CHECK(r.section("link").get_time("latency").picoseconds() == 1'000'000);
  CHECK(r.loc_of("clock").line == 4);
  CHECK(r.path_of("sms") == "sms");
  CHECK(r.section("link").path_of("bandwidth") == "link.bandwidth");
  CHECK_THROWS_AS(r.get_int("nonexistent"), InternalError);
  CHECK_THROWS_AS(r.get_float("ratio"), InternalError);  // optional, absent: ask has() first
}

SCENARIO("every mistake in a config map names file, line, key, expectation and finding", "[core][params]") {
  struct Case {
    std::string yaml;
    int line;
    std::string path;
    std::string expected;
    std::string found;
  };
  auto c = GENERATE(values<Case>({
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "smss: 132"), 3, "smss", "a key of chip",
       "unknown key 'smss' (did you mean 'sms'?)"},
      {with("clock: 1.83GHz\n", ""), 1, "clock", "a frequency", "nothing (the key is required)"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: -4"), 3, "sms",
       "an integer from 1 to 1024", "'-4'"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: 0"), 3, "sms",
       "an integer from 1 to 1024", "'0'"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: 1025"), 3, "sms",
       "an integer from 1 to 1024", "'1025'"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: 9223372036854775807"), 3, "sms",
       "an integer from 1 to 1024", "'9223372036854775807'"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: 99999999999999999999"), 3, "sms",
       "an integer from 1 to 1024", "'99999999999999999999'"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: many"), 3, "sms",
       "an integer from 1 to 1024", "'many'"},
      {with("name: h800", "name: h800\nratio: nan"), 2, "ratio", "a number above 0, up to 1", "'nan'"},
      {with("name: h800", "name: h800\nratio: inf"), 2, "ratio", "a number above 0, up to 1", "'inf'"},
      {with("name: h800", "name: h800\nratio: 0"), 2, "ratio", "a number above 0, up to 1", "'0'"},
      {with("clock: 1.83GHz", "clock: 1Hz"), 4, "clock", "a frequency (e.g. 1.83GHz) from 100MHz to 10GHz", "'1Hz'"},
      {with("ns: [64, 128, 256]", "ns: [64, 1024]"), 6, "ns[1]", "from 8 to 256", "'1024'"},
      {with("  bandwidth: 400Gb/s", "  bandwidth: -5GB/s"), 8, "link.bandwidth", "from 1GB/s to 1TB/s", "'-5GB/s'"},
      {with("smem: 228KiB", "smem: 228"), 5, "smem", "a size with a unit", "'228' (no unit)"},
      {with("smem: 228KiB", "smem: 228 furlongs"), 5, "smem", "a size with a unit", "unknown unit 'furlongs'"},
      {with("clock: 1.83GHz", "clock: fast"), 4, "clock", "a frequency with a unit", "'fast'"},
      {with("  bandwidth: 400Gb/s", "  bandwidth: 0GB/s"), 8, "link.bandwidth", "bandwidth", "'0GB/s'"},
      {with("  bandwidth: 400Gb/s", "  bandwdth: 400Gb/s"), 8, "link.bandwdth", "a key of link",
       "did you mean 'bandwidth'?"},
      {with("ns: [64, 128, 256]", "ns: [64, x]"), 6, "ns[1]", "a list of integers", "'x'"},
      {with("ns: [64, 128, 256]", "ns: 64"), 6, "ns", "a list of integers", "'64'"},
      {with("name: h800", "name: h800\nmode: slow"), 2, "mode", "one of fast|exact", "'slow'"},
      {with("name: h800", "name: h800\nfp32_accumulate: maybe"), 2, "fp32_accumulate", "true or false", "'maybe'"},
      {with("name: h800", "name:"), 1, "name", "a text", "an empty value"},
      {with("sms: {value: 132, source: 'profile-data deviceProperties'}", "sms: {value: 132, sauce: x}"), 3,
       "sms.sauce", "only value, source", "unknown key 'sauce'"},
      {with("link:\n  bandwidth: 400Gb/s\n", "link: 5\n"), 7, "link", "a map of link parameters", "'5'"},
  }));
  CAPTURE(c.yaml);
  ConfigError e = read_error(c.yaml);
  CHECK(e.loc().file == "chip.yaml");
  CHECK(e.loc().line == c.line);
  CHECK(e.key_path() == c.path);
  CHECK_THAT(e.expected(), Catch::Contains(c.expected));
  CHECK_THAT(e.found(), Catch::Contains(c.found));
  std::string what = e.what();
  CHECK_THAT(what, Catch::StartsWith("chip.yaml:" + std::to_string(c.line) + ": " + c.path + ": expected "));
  CHECK(what.find('\n') == std::string::npos);
}

TEST_CASE("a missing optional section reads its defaults, and errors inside it name it", "[core][params]") {
  ConfigNode root = parse_config_text("name: x\nsms: 1\nclock: 1GHz\nsmem: 1KiB\n", "chip.yaml");
  try {
    ParamReader r(root, chip_spec());
    FAIL("link.bandwidth is required");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "link.bandwidth");
    CHECK(e.loc().file == "chip.yaml");
  }
}

TEST_CASE("describe prints every parameter with type, requirement and description", "[core][params]") {
  std::string text = describe_component(chip_spec());
  for (const char* s : {"chip: a test chip", "sms", "integer", "from 1 to 1024", "required", "default 0", "frequency",
                        "from 100MHz to 10GHz", "one of fast|exact", "chip.link: a test link", "bandwidth",
                        "default 1us", "above 0, up to 1"}) {
    CHECK_THAT(text, Catch::Contains(s));
  }
}
