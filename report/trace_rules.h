// Rules that map a profiler trace's kernels onto v3sim's vocabulary (configs/traces/*.yaml): which device stream
// plays which role, which CPU annotation means which pass, micro-batch and layer, which kernel-name pattern is
// which op kind, and which kernels, counted in launch order inside an annotation, are which ops of the graph.
//
// A rules file (`v3sim describe trace_rules` lists every key):
//   streams:                       # device stream id -> v3sim stream (kTimelineStreams)
//     - {id: 7, role: compute}
//   kernels:                       # first match wins; `contains` a substring, or `regex` (ECMAScript, searched)
//     - {contains: "m_grouped_fp8_ptp128c", kind: grouped_gemm, name: m_grouped_fp8_ptp128c}
//     - {contains: "Memset", kind: other, why: "PyTorch's runtime memsets; no op of v3sim's graph"}
//   annotations:                   # user_annotation ranges containing the kernel's launch (same process)
//     - name: "attn(F)"
//       pass: fwd
//       micro_batch: 0
//       layers: ascending          # k-th occurrence is layer k (descending: layer n-1-k of n occurrences)
//       ops:                       # the k-th kernel matching `contains` in one occurrence is names[k]
//         - {contains: "fp8_ptp128c", names: [attn.wqkv_a, attn.wq_b, {op: attn.wo, pass: fwd}, ~]}
//
// The lists (streams, kernels, annotations, ops, names) are YAML lists of maps, each read against its own
// parameter table; unknown keys are errors naming file, line and key.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/params.h"

namespace v3sim::report {

// A kernel-name pattern: a substring or a regular expression searched anywhere in the name.
struct NamePattern {
  std::string text;  // as written
  bool is_regex = false;
  std::regex regex;

  bool matches(const std::string& kernel) const;
  // "contains 'abc'" or "regex 'a.c'", for notes and errors.
  std::string describe() const;
};

struct KernelRule {
  NamePattern pattern;
  std::string kind;  // a to_string(OpKind) name or "other"
  std::string pass;  // "fwd", "dgrad", "wgrad" or "" (the annotation's)
  std::string name;  // short name for the kernel's events ("" derives one from the kernel name)
  std::string why;   // for kind "other": why no op of v3sim's graph matches
  SourceLoc loc;
  std::string path;  // "kernels[3]"
};

// One name of an op list: a graph op name without the layer prefix ("attn.wq_b"); empty leaves a kernel unnamed.
struct OpName {
  std::string op;
  std::string kind;  // "" keeps the kernel rule's
  std::string pass;  // "" keeps the kernel rule's or the annotation's
};

struct OpList {
  NamePattern pattern;
  std::vector<OpName> names;
};

enum class LayerOrder { None, Ascending, Descending };
inline constexpr LayerOrder kLayerOrders[] = {LayerOrder::None, LayerOrder::Ascending, LayerOrder::Descending};
const char* to_string(LayerOrder o);  // "none", "ascending", "descending"

struct AnnotationRule {
  std::string name;  // "attn(F)"
  std::string pass;  // "" when the annotation does not say
  int32_t micro_batch = -1;
  LayerOrder layers = LayerOrder::None;
  std::vector<OpList> ops;
};

struct StreamRole {
  int64_t id = 0;    // device stream id in the trace
  int32_t code = 0;  // index in kTimelineStreams
};

struct TraceRules {
  std::string file;         // the rules file as given
  std::string sha256;       // of its text
  std::string yaml;         // resolved (after extends:), stamped into outputs
  std::string description;  // "" when none
  std::vector<StreamRole> streams;
  std::vector<KernelRule> kernels;
  std::vector<AnnotationRule> annotations;

  // The first kernel rule whose pattern matches, or nullptr.
  const KernelRule* match_kernel(const std::string& kernel) const;
  const AnnotationRule* annotation(std::string_view name) const;
  // The v3sim stream code of a device stream, or nothing when the rules give it no role.
  std::optional<int32_t> stream_code(int64_t id) const;
};

// Reads a rules tree. Throws ConfigError naming file, line and key for an unknown key, a missing or bad value,
// a bad regular expression, a rule with both or neither of contains/regex, kind `other` without `why`, or a
// stream id or annotation named twice.
TraceRules load_trace_rules(const ConfigNode& root);
// Reads a rules file (resolving `extends:`) and records its path and SHA-256.
TraceRules load_trace_rules_file(const std::string& path);

// The parameter tables of a rules file, for `v3sim describe`.
std::vector<const ComponentSpec*> trace_rules_specs();

}  // namespace v3sim::report
