#include <catch2/catch.hpp>

#include <limits>

#include "core/error.h"
#include "core/units.h"

using namespace v3sim;

SCENARIO("unit strings parse exactly into integer base units", "[core][units]") {
  GIVEN("sizes in decimal and binary prefixes") {
    auto [text, bytes] = GENERATE(table<const char*, int64_t>({
        {"228KiB", 233472},  // H800 shared memory per SM (profile-data deviceProperties)
        {"232448B", 232448},
        {"80GB", 80'000'000'000},
        {"1.5KiB", 1536},
        {"50 MB", 50'000'000},
        {"7392B", 7392},
        {"1TiB", 1099511627776},
        {"0.5KB", 500},
    }));
    THEN(text << " is " << bytes << " bytes") {
      CHECK(parse_bytes(text).count() == bytes);
    }
  }
  GIVEN("times") {
    auto [text, ps] = GENERATE(table<const char*, int64_t>({
        {"3.7us", 3'700'000},
        {"500ns", 500'000},
        {"1ps", 1},
        {"2ms", 2'000'000'000},
        {"1.25s", 1'250'000'000'000},
        {"3.33us", 3'330'000},
        {"1e3ns", 1'000'000},
    }));
    THEN(text << " is " << ps << " ps") {
      CHECK(parse_time(text).picoseconds() == ps);
    }
  }
  GIVEN("frequencies") {
    CHECK(parse_frequency("1.83GHz").hertz() == 1'830'000'000);
    CHECK(parse_frequency("1755MHz").hertz() == 1'755'000'000);
    CHECK(parse_frequency("100kHz").hertz() == 100'000);
  }
  GIVEN("bandwidths in bytes and in bits") {
    CHECK(parse_bandwidth("50GB/s").bytes_per_second() == 50'000'000'000);
    CHECK(parse_bandwidth("400Gb/s").bytes_per_second() == 50'000'000'000);  // one CX7 NIC = 50 GB/s
    CHECK(parse_bandwidth("400Gbps").bytes_per_second() == 50'000'000'000);
    CHECK(parse_bandwidth("3.35TB/s").bytes_per_second() == 3'350'000'000'000);
    CHECK(parse_bandwidth("160GB/s") > parse_bandwidth("1000Gb/s"));
  }
}

SCENARIO("unit strings that do not parse say what was expected", "[core][units]") {
  auto text = GENERATE(as<std::string>{}, "", "GB", "12", "12 parsecs", "1.5.3GB", "0.5B", "1b/s", "abc",
                       "99999999999999999999TB");
  CAPTURE(text);
  CHECK_THROWS_AS(parse_bytes(text), UnitError);
  if (text != "1b/s") CHECK_THROWS_AS(parse_bandwidth(text), UnitError);
  try {
    parse_bytes(text);
  } catch (const UnitError& e) {
    CHECK_THAT(e.expected(), Catch::Contains("a size with a unit"));
    CHECK_THAT(e.found(), Catch::Contains("'" + text + "'"));
  }
  CHECK_THROWS_WITH(parse_time("0.5ps"), Catch::Contains("not a whole number of picoseconds"));
  CHECK_THROWS_WITH(parse_bandwidth("1b/s"), Catch::Contains("not a whole number of bytes per second"));
  CHECK_THROWS_WITH(parse_frequency("1.83GB"), Catch::Contains("unknown unit 'GB'"));
}

TEST_CASE("formatted units parse back to the same value", "[core][units]") {
  for (const char* t : {"228KiB", "80GB", "7392B", "7.392KB", "1.5KiB"}) {
    Bytes b = parse_bytes(t);
    CHECK(parse_bytes(to_string(b)) == b);
  }
  CHECK(to_string(parse_bytes("228KiB")) == "228KiB");
  CHECK(to_string(parse_time("3.7us")) == "3.7us");
  CHECK(to_string(parse_frequency("1.83GHz")) == "1.83GHz");
  CHECK(to_string(parse_bandwidth("400Gb/s")) == "50GB/s");
  for (const char* t : {"3.7us", "500ns", "1ps", "1.25s"}) CHECK(parse_time(to_string(parse_time(t))) == parse_time(t));
}

TEST_CASE("transfer and cycle times round up to the next picosecond", "[core][units]") {
  Bandwidth nic = parse_bandwidth("50GB/s");
  CHECK(nic.transfer_time(Bytes(50)).picoseconds() == 1000);  // 50 B at 50 GB/s = 1 ns
  CHECK(nic.transfer_time(Bytes(1)).picoseconds() == 20);
  CHECK(nic.transfer_time(Bytes(0)).picoseconds() == 0);
  Bandwidth odd = Bandwidth::bytes_per_second(3);
  CHECK(odd.transfer_time(Bytes(1)).picoseconds() == 333'333'333'334);  // 1/3 s, rounded up
  Frequency f = parse_frequency("1.83GHz");
  CHECK(f.cycles(1).picoseconds() == 547);           // 546.448... ps rounded up
  CHECK(f.cycles(1830).picoseconds() == 1'000'000);  // exactly 1 us
}

TEST_CASE("simulated time that leaves the 64-bit range throws instead of wrapping", "[core][units]") {
  const Time max = Time::ps(std::numeric_limits<int64_t>::max());
  CHECK_THROWS_AS(max + Time::ps(1), ConfigError);
  CHECK_THROWS_WITH(max + Time::ps(1), Catch::Contains("beyond the engine's 64-bit picosecond range"));
  CHECK_THROWS_AS(Time::ps(std::numeric_limits<int64_t>::min()) - Time::ps(1), ConfigError);
  CHECK((max - Time::ps(1)) + Time::ps(1) == max);
  CHECK_THROWS_AS(Frequency::hz(1).cycles(std::numeric_limits<int64_t>::max()), ConfigError);
  CHECK_THROWS_AS(parse_bandwidth("1B/s").transfer_time(Bytes(std::numeric_limits<int64_t>::max())), ConfigError);
  CHECK(parse_bandwidth("1B/s").transfer_time(Bytes(1000)) == Time::ms(1'000'000));
}
