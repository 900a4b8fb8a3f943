// Profiler traces into v3sim's measured timeline: the Chrome/Kineto JSON that the PyTorch profiler writes (gzip
// too), its GPU events (cat kernel, gpu_memcpy, gpu_memset) mapped by TraceRules (report/trace_rules.h).
//
// Each GPU event finds its CPU launch (a cuda_runtime or cuda_driver event with the same args.correlation); the
// innermost user annotation of the rules that contains the launch, in the launching process, gives its pass,
// micro-batch, layer and, counted in launch order, its graph op name. Every GPU event becomes one timeline event:
// mapped to a kind, or kept with kind "unmapped" and listed in ImportedTrace::unmapped; none is dropped.
// Times are relative to the first GPU event (its absolute timestamp is in /meta trace_time_origin_us).
#pragma once

#include <string>
#include <vector>

#include "report/h5_file.h"
#include "report/trace_rules.h"

namespace v3sim::report {

struct UnmappedKernel {
  std::string kernel;  // full name
  int64_t count = 0;
  Time time;  // summed durations
};

struct ImportedTrace {
  ResultFile result;                     // meta (provenance), timeline (source "measured"), summary
  std::vector<UnmappedKernel> unmapped;  // kernels no rule maps, longest total time first
  std::vector<std::string> notes;        // what the rules did not cover (op lists that counted differently, ...)
};

// Throws ConfigError naming the file and what is wrong: missing or unreadable, a corrupt or truncated gzip, not
// JSON, truncated JSON (with the line), no `traceEvents` list, an event without the fields it needs, no GPU
// events, or GPU events on a device stream the rules give no role.
ImportedTrace import_profiler_trace(const std::string& path, const TraceRules& rules);

// The text of a file, gunzipped when it starts with gzip's magic bytes; `raw_sha256` (when given) receives the
// SHA-256 of the file's bytes as stored. Throws ConfigError for a missing file or a corrupt or truncated gzip.
std::string read_trace_file(const std::string& path, std::string* raw_sha256 = nullptr);

// A kernel's name without return type, template arguments and parameters: "cuda::per_token_cast_to_fp8_with_channels"
// from "void cuda::per_token_cast_to_fp8_with_channels<__nv_bfloat16, 128>(__nv_bfloat16 const*, int)".
std::string short_kernel_name(const std::string& kernel);

}  // namespace v3sim::report
