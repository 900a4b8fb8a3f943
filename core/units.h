// Strong unit types: sizes, times, frequencies and bandwidths as exact integers of a base unit.
// Config values carry units as strings ("228KiB", "3.7us", "1.83GHz", "50GB/s", "400Gb/s"); they are
// parsed once here, exactly (decimal arithmetic, no binary rounding), and never travel as bare doubles.
#pragma once

#include <compare>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace v3sim {

// A unit string that does not parse. The config layer turns it into a ConfigError with file:line:key.
class UnitError : public std::invalid_argument {
 public:
  UnitError(std::string expected, std::string found)
      : std::invalid_argument("expected " + expected + ", found " + found),
        m_expected(std::move(expected)),
        m_found(std::move(found)) {}
  const std::string& expected() const { return m_expected; }
  const std::string& found() const { return m_found; }

 private:
  std::string m_expected;
  std::string m_found;
};

// A size in bytes. Decimal prefixes (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB)
// powers of 1024, as in DeepSeek's papers.
class Bytes {
 public:
  constexpr Bytes() = default;
  constexpr explicit Bytes(int64_t n) : m_n(n) {}
  constexpr int64_t count() const { return m_n; }
  constexpr auto operator<=>(const Bytes&) const = default;
  constexpr Bytes operator+(Bytes o) const { return Bytes(m_n + o.m_n); }
  constexpr Bytes operator-(Bytes o) const { return Bytes(m_n - o.m_n); }
  constexpr Bytes operator*(int64_t k) const { return Bytes(m_n * k); }

 private:
  int64_t m_n = 0;
};

// Thrown (as a ConfigError: only a user's value out of physical range can get there) when simulated time leaves
// the 64-bit picosecond range.
[[noreturn]] void throw_time_overflow(const char* what);

// A point or span of simulated time, in integer picoseconds (about 106 days of range). Sums and differences are
// checked: one that overflows throws instead of wrapping to a time in the past.
class Time {
 public:
  constexpr Time() = default;
  static constexpr Time ps(int64_t n) { return Time(n); }
  static constexpr Time ns(int64_t n) { return Time(n * 1000); }
  static constexpr Time us(int64_t n) { return Time(n * 1000'000); }
  static constexpr Time ms(int64_t n) { return Time(n * 1000'000'000); }
  constexpr int64_t picoseconds() const { return m_ps; }
  constexpr double seconds() const { return static_cast<double>(m_ps) * 1e-12; }
  constexpr double microseconds() const { return static_cast<double>(m_ps) * 1e-6; }
  constexpr auto operator<=>(const Time&) const = default;
  constexpr Time operator+(Time o) const {
    int64_t r = 0;
    if (__builtin_add_overflow(m_ps, o.m_ps, &r)) throw_time_overflow("a sum of times");
    return Time(r);
  }
  constexpr Time operator-(Time o) const {
    int64_t r = 0;
    if (__builtin_sub_overflow(m_ps, o.m_ps, &r)) throw_time_overflow("a difference of times");
    return Time(r);
  }
  constexpr Time& operator+=(Time o) { return *this = *this + o; }

 private:
  constexpr explicit Time(int64_t ps) : m_ps(ps) {}
  int64_t m_ps = 0;
};

// A clock frequency in integer hertz.
class Frequency {
 public:
  constexpr Frequency() = default;
  static constexpr Frequency hz(int64_t n) { return Frequency(n); }
  static constexpr Frequency mhz(int64_t n) { return Frequency(n * 1000'000); }
  constexpr int64_t hertz() const { return m_hz; }
  constexpr double ghz() const { return static_cast<double>(m_hz) * 1e-9; }
  constexpr auto operator<=>(const Frequency&) const = default;
  // Time of n cycles, rounded up to the next picosecond. @pre hertz() > 0
  Time cycles(int64_t n) const;

 private:
  constexpr explicit Frequency(int64_t hz) : m_hz(hz) {}
  int64_t m_hz = 0;
};

// A data rate in integer bytes per second. "Gb/s" and "Gbps" are bits (400Gb/s = 50GB/s).
class Bandwidth {
 public:
  constexpr Bandwidth() = default;
  static constexpr Bandwidth bytes_per_second(int64_t n) { return Bandwidth(n); }
  constexpr int64_t bytes_per_second() const { return m_bps; }
  constexpr double gb_per_s() const { return static_cast<double>(m_bps) * 1e-9; }
  constexpr auto operator<=>(const Bandwidth&) const = default;
  // Time to move `size` at this rate, rounded up to the next picosecond. @pre bytes_per_second() > 0
  Time transfer_time(Bytes size) const;

 private:
  constexpr explicit Bandwidth(int64_t bps) : m_bps(bps) {}
  int64_t m_bps = 0;
};

// Parsers: a number (integer, decimal or with exponent) and a unit, optional space between.
// Each throws UnitError saying what was expected when the text does not parse, the unit is unknown,
// or the value is not a whole number of the base unit (0.5ps, 1b/s) or overflows.
Bytes parse_bytes(std::string_view text);
Time parse_time(std::string_view text);
Frequency parse_frequency(std::string_view text);
Bandwidth parse_bandwidth(std::string_view text);

// Human-readable forms that parse back to the same value ("228KiB", "3.7us", "1.83GHz", "50GB/s").
std::string to_string(Bytes v);
std::string to_string(Time v);
std::string to_string(Frequency v);
std::string to_string(Bandwidth v);

}  // namespace v3sim
