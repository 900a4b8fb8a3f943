#include "core/units.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <limits>
#include <optional>

#include "core/error.h"

namespace v3sim {

namespace {

__extension__ using i128 = __int128;  // exact products of 64-bit values

// A decimal number as mantissa * 10^exp10, exactly as written.
struct Decimal {
  i128 mantissa = 0;
  int exp10 = 0;
};

struct UnitFactor {
  std::string_view name;
  i128 numerator;  // value in base units = number * numerator / denominator
  i128 denominator;
};

constexpr i128 pow10(int n) {
  i128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

// Splits "1.83GHz" into the decimal 183e-2 and the unit text "GHz".
std::optional<std::pair<Decimal, std::string_view>> split_number(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  Decimal d;
  int digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      if (d.mantissa > pow10(30)) return std::nullopt;  // absurdly long
      d.mantissa = d.mantissa * 10 + (c - '0');
      if (seen_point) --d.exp10;
      ++digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (digits == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E') && i + 1 < text.size() &&
      (std::isdigit(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '-' || text[i + 1] == '+')) {
    size_t j = i + 1;
    bool eneg = false;
    if (text[j] == '+' || text[j] == '-') eneg = text[j++] == '-';
    int e = 0;
    int edigits = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
      e = e * 10 + (text[j++] - '0');
      if (e > 40) return std::nullopt;
      ++edigits;
    }
    if (edigits == 0) return std::nullopt;
    d.exp10 += eneg ? -e : e;
    i = j;
  }
  if (negative) d.mantissa = -d.mantissa;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.remove_suffix(1);
  return std::make_pair(d, unit);
}

template <size_t N>
int64_t parse_with(std::string_view text, const std::array<UnitFactor, N>& units, const char* what, const char* example,
                   const char* base_unit) {
  auto fail = [&](const std::string& why) -> UnitError {
    return UnitError(fmt::format("{} with a unit like {}", what, example), fmt::format("'{}' ({})", text, why));
  };
  auto split = split_number(text);
  if (!split) throw fail("no number");
  auto [dec, unit] = *split;
  if (unit.empty()) throw fail("no unit");
  const UnitFactor* factor = nullptr;
  for (const auto& u : units)
    if (u.name == unit) factor = &u;
  if (!factor) {
    std::string known;
    for (const auto& u : units) known += (known.empty() ? "" : ", ") + std::string(u.name);
    throw fail(fmt::format("unknown unit '{}'; known: {}", unit, known));
  }
  i128 num = dec.mantissa * factor->numerator;
  i128 den = factor->denominator;
  if (dec.exp10 >= 0) {
    num *= pow10(dec.exp10);
  } else {
    den *= pow10(-dec.exp10);
  }
  if (num % den != 0) throw fail(fmt::format("not a whole number of {}", base_unit));
  i128 v = num / den;
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) throw fail("too large");
  return static_cast<int64_t>(v);
}

constexpr i128 kKi = 1024;

constexpr std::array<UnitFactor, 9> kByteUnits{{{"B", 1, 1},
                                                {"KB", 1000, 1},
                                                {"MB", pow10(6), 1},
                                                {"GB", pow10(9), 1},
                                                {"TB", pow10(12), 1},
                                                {"KiB", kKi, 1},
                                                {"MiB", kKi* kKi, 1},
                                                {"GiB", kKi* kKi* kKi, 1},
                                                {"TiB", kKi* kKi* kKi* kKi, 1}}};

constexpr std::array<UnitFactor, 7> kTimeUnits{{{"ps", 1, 1},
                                                {"ns", 1000, 1},
                                                {"us", pow10(6), 1},
                                                {"\xC2\xB5s", pow10(6), 1},  // µs
                                                {"ms", pow10(9), 1},
                                                {"s", pow10(12), 1},
                                                {"min", 60 * pow10(12), 1}}};

constexpr std::array<UnitFactor, 4> kFrequencyUnits{
    {{"Hz", 1, 1}, {"kHz", 1000, 1}, {"MHz", pow10(6), 1}, {"GHz", pow10(9), 1}}};

constexpr std::array<UnitFactor, 16> kBandwidthUnits{{{"B/s", 1, 1},
                                                      {"KB/s", 1000, 1},
                                                      {"MB/s", pow10(6), 1},
                                                      {"GB/s", pow10(9), 1},
                                                      {"TB/s", pow10(12), 1},
                                                      {"KiB/s", kKi, 1},
                                                      {"MiB/s", kKi* kKi, 1},
                                                      {"GiB/s", kKi* kKi* kKi, 1},
                                                      {"b/s", 1, 8},
                                                      {"Kb/s", 1000, 8},
                                                      {"Mb/s", pow10(6), 8},
                                                      {"Gb/s", pow10(9), 8},
                                                      {"Tb/s", pow10(12), 8},
                                                      {"Mbps", pow10(6), 8},
                                                      {"Gbps", pow10(9), 8},
                                                      {"Tbps", pow10(12), 8}}};

// The value in the first unit of `order` (largest first, all with integer factors that are powers of ten)
// whose factor is <= |v|, as an exact decimal with trailing zeros trimmed: 1830000000 Hz -> "1.83GHz".
template <size_t N>
std::string format_decimal(int64_t v, const std::array<UnitFactor, N>& units, std::initializer_list<int> order) {
  const UnitFactor* chosen = &units[static_cast<size_t>(*(order.end() - 1))];
  int64_t mag = v < 0 ? -v : v;
  for (int idx : order) {
    if (mag >= static_cast<int64_t>(units[static_cast<size_t>(idx)].numerator)) {
      chosen = &units[static_cast<size_t>(idx)];
      break;
    }
  }
  auto num = static_cast<int64_t>(chosen->numerator);
  std::string out = fmt::format("{}{}", v < 0 ? "-" : "", mag / num);
  if (int64_t rest = mag % num; rest != 0) {
    std::string frac = fmt::format("{:0{}}", rest, static_cast<int>(std::to_string(num).size() - 1));
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + std::string(chosen->name);
}

}  // namespace

void throw_time_overflow(const char* what) {
  throw ConfigError(fmt::format(
      "{} of simulated time beyond the engine's 64-bit picosecond range (about 106 days): a value out of physical "
      "range (a rate or clock too slow, a size too large) reached the simulation",
      what));
}

namespace {
Time checked_ps(i128 ps, const char* what) {
  if (ps > std::numeric_limits<int64_t>::max() || ps < std::numeric_limits<int64_t>::min()) throw_time_overflow(what);
  return Time::ps(static_cast<int64_t>(ps));
}
}  // namespace

Time Frequency::cycles(int64_t n) const {
  return checked_ps((static_cast<i128>(n) * pow10(12) + m_hz - 1) / m_hz, "a number of cycles");
}

Time Bandwidth::transfer_time(Bytes size) const {
  return checked_ps((static_cast<i128>(size.count()) * pow10(12) + m_bps - 1) / m_bps, "a transfer");
}

Bytes parse_bytes(std::string_view text) {
  return Bytes(parse_with(text, kByteUnits, "a size", "228KiB or 80GB", "bytes"));
}
Time parse_time(std::string_view text) {
  return Time::ps(parse_with(text, kTimeUnits, "a time", "3.7us or 500ns", "picoseconds"));
}
Frequency parse_frequency(std::string_view text) {
  return Frequency::hz(parse_with(text, kFrequencyUnits, "a frequency", "1.83GHz", "Hz"));
}
Bandwidth parse_bandwidth(std::string_view text) {
  return Bandwidth::bytes_per_second(
      parse_with(text, kBandwidthUnits, "a bandwidth", "50GB/s or 400Gb/s", "bytes per second"));
}

std::string to_string(Bytes v) {
  // A whole number of a binary unit (memory sizes: 228KiB) when it reads short; decimal otherwise.
  int64_t n = v.count();
  for (int idx : {8, 7, 6, 5}) {
    auto f = static_cast<int64_t>(kByteUnits[static_cast<size_t>(idx)].numerator);
    if (n != 0 && n % f == 0 && n / f < 10000 && n % 1000 != 0)
      return fmt::format("{}{}", n / f, kByteUnits[static_cast<size_t>(idx)].name);
  }
  return format_decimal(n, kByteUnits, {4, 3, 2, 1, 0});
}
std::string to_string(Time v) {
  return format_decimal(v.picoseconds(), kTimeUnits, {5, 4, 2, 1, 0});
}
std::string to_string(Frequency v) {
  return format_decimal(v.hertz(), kFrequencyUnits, {3, 2, 1, 0});
}
std::string to_string(Bandwidth v) {
  return format_decimal(v.bytes_per_second(), kBandwidthUnits, {4, 3, 2, 1, 0});
}

}  // namespace v3sim
