// Measured against projected.
//
// Two ways:
//  - op by op (compare_timelines): each measured op is paired with the projected op of the same name (and
//    occurrence), and their durations compared; for the measured traces of `v3sim measure`, whose ops name a kernel
//    and its shape;
//  - a whole step against a measured profile (compare_step_timelines): the measured trace (an imported profiler
//    trace) and the projection of the same work (`v3sim step` on the deployment it was measured on) summed per
//    category of kernels, per op kind and pass, per layer, per stream (busy, idle, launch gaps) and per op name,
//    each per layer of the trace.
//
// Example:
//   TimelineComparison c = compare_step_timelines(measured.timeline, projected.timeline);
//   c.categories[0]          // "compute": all kernels of the compute streams, ms per layer, measured and projected
//   c.categories[0].error()  // (projected - measured) / measured
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "models/timeline.h"
#include "report/table.h"
#include "report/trace_analysis.h"
#include "sim/hardware.h"

namespace v3sim::report {

struct OpComparison {
  std::string name;
  std::string kind;
  Time measured;
  std::optional<Time> projected;  // absent when the projection has no such op
  double error = 0;               // (projected - measured) / measured
};

struct Comparison {
  std::vector<OpComparison> ops;
  double mape = 0;        // mean |error| over the paired ops
  double worst = 0;       // largest |error|
  int64_t unmatched = 0;  // measured ops without a projection
};

Comparison compare_timelines(const Timeline& measured, const Timeline& projected);

// The projection of a trace of single kernels (`v3sim measure`: ops named with their problem, "gemm:m=..,n=..,k=..",
// "quantize:rows=..,cols=.."): each op the cycle-level models know (FP8 GEMMs, grouped ones, casts, and the
// microbenchmarks of `measure --suite micro`, sim/sm/micro.h) simulated on `hw`, at the measured op's start; ops
// without a model are left out (compare_timelines counts them unmatched).
Timeline project_kernel_trace(const Timeline& measured, const HardwareConfig& hw);

// ---------------------------------------------------------------------------------------------------------------
// Categories of kernels: what the time of a training step goes to, for measured (trace-rule kinds) and projected
// (graph op kinds) timelines alike.

enum class Category : uint8_t {
  GemmDense,    // FP8 (and BF16) GEMMs other than weight gradients, one problem per kernel
  GemmGrouped,  // the same, several problems per kernel (MoE experts' grouped GEMMs, batched GEMMs)
  Wgrad,        // weight-gradient GEMMs (pass wgrad), dense or grouped
  Attention,    // core attention, forward and backward
  Membound,     // casts, transposes, SwiGLU, norms, RoPE, permute/unpermute, router, weight casts, element-wise
  Other,        // kernels no op of v3sim's graph stands for (kind "other", "unmapped" or unknown)
  Comm,         // communication kernels (dispatch, combine, their notify/handshake kernels, collectives)
  kCount
};

// The category of an op kind ("gemm", "all_to_all_dispatch", "other") in a pass ("fwd", "dgrad", "wgrad", "").
Category category_of(std::string_view kind, std::string_view pass);

// The category of an event as the comparison counts it: whatever runs on a stream that is not a compute stream
// (is_compute_stream()) is communication-stream time (Comm), including computation placed there (DeepSeek's stack
// casts dY to FP8 on DeepEP's stream), as a profiler attributes it; otherwise category_of(kind, pass).
Category event_category(const TimelineEvent& e);

// "gemm_dense", "wgrad", ...
const char* to_string(Category c);

// One row of the per-category table: a category, or a sum of several ("compute": every category of the compute
// streams; "gemm": dense + grouped).
struct CategoryInfo {
  std::string name;         // "compute", "gemm", "gemm_dense", ...
  std::string label;        // for tables: "FP8 GEMMs, dense (not Wgrad)"
  std::string description;  // one sentence: what is counted
  std::vector<Category> members;
};

// The rows, in the order tables show them: compute, gemm, gemm_dense, gemm_grouped, wgrad, attention, membound,
// other, membound_all (membound + other), comm.
const std::vector<CategoryInfo>& category_info();

// ---------------------------------------------------------------------------------------------------------------
// A whole step against a measured profile.

// A measured and a projected figure. In milliseconds per layer unless a field says otherwise.
struct Figures {
  double measured = 0;
  double projected = 0;
  // (projected - measured) / measured; NaN when nothing was measured.
  double error() const;
};

struct CategoryRow {
  const CategoryInfo* info = nullptr;
  Figures ms;  // per layer
  int64_t measured_events = 0, projected_events = 0;
};

struct KindPassRow {
  std::string kind, pass;  // pass "" when none
  Category category = Category::Other;
  Figures ms;  // per layer
  int64_t measured_events = 0, projected_events = 0;
};

// The i-th layer of the measured trace against the i-th layer of the projection (both in ascending order).
struct LayerRow {
  int32_t measured_layer = -1, projected_layer = -1;  // -1 where one side has fewer layers
  Figures compute_ms;                                 // compute streams, ms (this layer, not per layer)
  Figures comm_ms;                                    // other streams
};

struct StreamRow {
  int32_t device = 0, stream = 0;
  std::optional<StreamStats> measured, projected;  // absent when that timeline has no event on the stream
};

// Per op name without layer and micro-batch ("attn.wq_b", "moe.experts.w13.wgrad", "torch_elementwise").
struct NameRow {
  std::string name;
  std::string kind;  // the measured events' kind (else the projected ones')
  Category category = Category::Other;
  Figures ms;  // per layer
  int64_t measured_events = 0, projected_events = 0;
};

struct StepCompareOptions {
  // Projected events of these layers only (empty: all); `v3sim compare` passes the layers with MoE.
  std::set<int32_t> projected_layers;
  size_t top_names = 25;  // rows of `names`, by measured time (then projected)
};

struct TimelineComparison {
  int64_t measured_layers = 0, projected_layers = 0;  // distinct layer indices >= 0 (divisors of "per layer")
  int64_t measured_events = 0, projected_events = 0;  // events counted (projected: after the layer filter)
  std::vector<CategoryRow> categories;                // category_info() order
  std::vector<KindPassRow> kind_pass;                 // by kind, then pass
  std::vector<LayerRow> layers;
  std::vector<StreamRow> streams;  // by device, then stream code
  std::vector<NameRow> names;      // top_names, by measured time
  int64_t names_total = 0;         // distinct names before the cut
};

TimelineComparison compare_step_timelines(const Timeline& measured, const Timeline& projected,
                                          const StepCompareOptions& options = {});

// The generic op name: "L3.attn.wq_b mb0" -> "attn.wq_b", "MTP.L61.x" -> unchanged but for the micro-batch.
std::string generic_op_name(const std::string& name);

// One JSON object: layers, categories, kind_pass, layers, streams, names (ms per layer, errors as fractions, null
// when nothing was measured).
nlohmann::json comparison_json(const TimelineComparison& c);

// The comparison as text tables (report/table.h): categories, kind_pass, layers, streams, names.
std::vector<Table> comparison_tables(const TimelineComparison& c);

// The per-category table alone, as JSON rows {name, label, description, measured_ms, projected_ms, error}.
nlohmann::json category_json(const TimelineComparison& c);

}  // namespace v3sim::report
