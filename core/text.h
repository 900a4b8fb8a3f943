// Text for messages: a value the user wrote, shown so that an error stays one readable line (quoted, cut at a
// sensible length, control and invalid bytes escaped), and the nearest known name for "did you mean".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace v3sim {

// Longest value shown whole in a message (longer ones are cut and say how long they were).
inline constexpr size_t kShownValueChars = 80;

// `s` with control characters and bytes that are not valid UTF-8 written as escapes (\n, \t, \r, \\xNN), so it
// prints on one line and never sends raw binary to a terminal. Valid UTF-8 (µs) is kept.
std::string escape_text(std::string_view s);

// `s` as a message shows a found value: escaped, in single quotes, cut after `max_chars` characters with the size
// of the whole: 'abc', 'aaaa...' (204800 bytes).
std::string quote(std::string_view s, size_t max_chars = kShownValueChars);

// `s` escaped (escape_text) and, when longer than `max_chars`, cut in the middle: its start, "...", its end (a key
// path keeps its first keys and its leaf: "model.mla.aaa...zzz.q_lora_rank"; a --set location its value).
std::string shorten_middle(std::string_view s, size_t max_chars);

// Levenshtein distance (insertions, deletions, substitutions).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` by edit distance when it is close enough to be a typo (at most 2 edits, and
// fewer than the word's length), else "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace v3sim
