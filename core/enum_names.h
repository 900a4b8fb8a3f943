// Names of the enums v3sim reads from configs and prints, written once. Each such enum E has `to_string(E)`, a
// switch with no `default:` (a new enumerator without a name is a compile error), and a constexpr array of its
// values; the parser and a config spec's `choices` derive from those two instead of repeating the names.
//   enum class Phase { Train, Prefill, Decode };
//   inline constexpr Phase kPhases[] = {Phase::Train, Phase::Prefill, Phase::Decode};
//   enum_named("prefill", kPhases) == Phase::Prefill; enum_choices(kPhases) == {"train", "prefill", "decode"}
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace v3sim {

// The value of `values` whose to_string is `name`; nullopt when none is.
template <class E, size_t N>
std::optional<E> enum_named(std::string_view name, const E (&values)[N]) {
  for (const E v : values)
    if (name == to_string(v)) return v;
  return std::nullopt;
}

// The names of `values`, in order (a ParamSpec's `choices`).
template <class E, size_t N>
std::vector<std::string> enum_choices(const E (&values)[N]) {
  std::vector<std::string> names;
  names.reserve(N);
  for (const E v : values) names.emplace_back(to_string(v));
  return names;
}

}  // namespace v3sim
