// Parameter tables: each component declares its parameters once (name, type, unit, required or default,
// description). The same table parses the YAML, answers `v3sim describe`, and rejects unknown keys.
//
// Example:
//   const ComponentSpec kSpec{"model", "a transformer model", {
//       {.name = "n_layers", .type = ParamType::Int, .description = "transformer blocks", .range = range(1, 1024)},
//       {.name = "score_func", .type = ParamType::Enum, .description = "router score",
//        .required = false, .default_text = "softmax", .choices = {"softmax", "sigmoid"}}}};
//   ParamReader r(node, kSpec);   // throws ConfigError on the first bad key, naming file:line:key
//   int64_t layers = r.get_int("n_layers");
//
// Every map also accepts the metadata keys `source`, `note` and `assumption` (free text: where the values
// come from). A scalar parameter may be written as {value: X, source: "..."} to cite one value.
//
// Every numeric parameter has a physical range (a test checks that none lacks one): values outside it are refused
// at load, so that no user value reaches the models' 64-bit time, size and FLOP arithmetic beyond what it holds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/units.h"

namespace v3sim {

enum class ParamType { Int, Float, Bool, String, Enum, Bytes, Time, Frequency, Bandwidth, IntList, Section };

// The physical range of a numeric parameter in the base unit of its type (the number itself, bytes, picoseconds,
// hertz, bytes per second; each item of an IntList): min <= x <= max, or min < x <= max when min_open.
struct Range {
  double min = 0;
  double max = 0;
  bool min_open = false;
  bool set = false;  // false: no range (only for non-numeric types)
};
// [min, max]
constexpr Range range(double min, double max) {
  return Range{min, max, false, true};
}
// (0, max]: a positive real (fractions, efficiencies, scales).
constexpr Range above_zero(double max) {
  return Range{0, max, true, true};
}

// Whether a type is numeric (and so needs a Range).
bool is_numeric(ParamType t);

struct ComponentSpec;

struct ParamSpec {
  std::string name{};
  ParamType type = ParamType::Int;
  std::string description{};
  bool required = true;
  std::string default_text{};              // YAML text of the default when !required ("" = absent: has() is false)
  std::string unit{};                      // shown by describe for plain numbers ("tokens", "GPUs")
  std::vector<std::string> choices{};      // ParamType::Enum
  const ComponentSpec* section = nullptr;  // ParamType::Section
  Range range{};                           // numeric types: the values allowed
};

struct ComponentSpec {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;

  const ParamSpec* find(std::string_view key) const;
};

// Name of a type as `describe` and errors show it ("integer", "size (e.g. 228KiB)").
std::string type_name(const ParamSpec& p);
// A parameter's range in its own units ("from 1 to 1024", "above 0, up to 1", "from 0ps to 1ms"); "" without one.
std::string range_text(const ParamSpec& p);
// Checks a value given outside a config map (a command-line option) against a parameter's range, in the base unit
// of its type; throws ConfigError(loc, key, what the parameter expects, found) when it lies outside.
void check_range(const ParamSpec& p, double value, const SourceLoc& loc, const std::string& key,
                 const std::string& found);
// Every parameter of `spec` and its sections, with its key path ("clocks.boost"), depth first.
std::vector<std::pair<std::string, const ParamSpec*>> all_params(const ComponentSpec& spec);

// The metadata keys every map accepts.
bool is_metadata_key(std::string_view key);

// Rejects the first key of `map` that is neither in `known` nor metadata (source, note, assumption), suggesting the
// nearest: ConfigError at that key, expected "a key of WHAT (known, ...)", found "unknown key 'x' (did you mean 'y'?)".
void check_keys(const ConfigNode& map, const std::vector<std::string>& known, const std::string& what);

// A cited value {value: X, source: ...}: its value: node; nullptr when `n` is not a map with a value: key. Its other
// keys may only be metadata (source, note, assumption): ConfigError at the first that is not, expected "only value,
// source, note or assumption in a cited value", found "unknown key 'x'".
const ConfigNode* cited_value(const ConfigNode& n);

// Reads one map of a config tree against a ComponentSpec. The constructor validates everything eagerly
// (unknown keys, required keys, types, units, bounds, nested sections), so a config either loads whole or
// fails on its first mistake with file, line and key path.
class ParamReader {
 public:
  // `node` may be null (an absent optional section): then every key is absent.
  ParamReader(const ConfigNode& node, const ComponentSpec& spec);

  const ComponentSpec& spec() const { return *m_spec; }
  const ConfigNode& node() const { return *m_node; }

  // True when the key was given (or has a default).
  bool has(std::string_view name) const;
  int64_t get_int(std::string_view name) const;
  double get_float(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  const std::string& get_string(std::string_view name) const;  // String and Enum
  Bytes get_bytes(std::string_view name) const;
  Time get_time(std::string_view name) const;
  Frequency get_frequency(std::string_view name) const;
  Bandwidth get_bandwidth(std::string_view name) const;
  const std::vector<int64_t>& get_int_list(std::string_view name) const;
  const ParamReader& section(std::string_view name) const;

  // The value node of a key as written (nullptr when absent or defaulted).
  const ConfigNode* value_node(std::string_view name) const;
  // Where a key was written: its value's location, or the map's when it was not written.
  SourceLoc loc_of(std::string_view name) const;
  std::string path_of(std::string_view name) const;
  // A ConfigError about one key of this map, for checks that need more than one value (EP divides experts).
  ConfigError error(std::string_view name, const std::string& expected, const std::string& found) const;

 private:
  using Value = std::variant<std::monostate, int64_t, double, bool, std::string, Bytes, Time, Frequency, Bandwidth,
                             std::vector<int64_t>, std::shared_ptr<ParamReader>>;
  const Value& get(std::string_view name, ParamType type) const;
  // The phases of the constructor, for each parameter: the node to read (as written, a cited value's value:, the
  // default in `default_node`, or an empty node for an absent section; nullptr when absent, optional and without a
  // default), then its value by type, units (Bytes, Time, Frequency, Bandwidth) in read_unit.
  const ConfigNode* value_to_read(const ParamSpec& p, ConfigNode& default_node);
  void read_value(const ParamSpec& p, const ConfigNode& value);
  void read_unit(const ParamSpec& p, const ConfigNode& v);

  const ConfigNode* m_node;
  const ComponentSpec* m_spec;
  std::map<std::string, Value, std::less<>> m_values;
  std::map<std::string, const ConfigNode*, std::less<>> m_written;
  std::vector<std::shared_ptr<ConfigNode>> m_owned;  // empty maps standing in for absent sections
};

// Lists every component's table for `v3sim describe`: filled by each library's component_specs().
std::string describe_component(const ComponentSpec& spec);

}  // namespace v3sim
