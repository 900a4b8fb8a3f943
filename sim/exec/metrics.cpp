#include "sim/exec/metrics.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/exec/memory.h"
#include "sim/exec/op_cost.h"
#include "sim/exec/step.h"

namespace v3sim::exec {

namespace {

std::vector<std::pair<std::string, double>> prefixed(const std::map<std::string, double>& m) {
  return {m.begin(), m.end()};
}

std::vector<std::string> op_kinds() {
  std::vector<std::string> k;
  for (const OpKindTraits& t : kOpKindTraits) k.emplace_back(t.name);
  return k;
}

std::vector<std::string> memory_parts() {
  std::vector<std::string> k;
  for (size_t c = 0; c < kMemCategories; ++c) k.emplace_back(to_string(static_cast<MemCategory>(c)));
  k.emplace_back("total");
  return k;
}

std::vector<std::string> cost_models() {
  std::vector<std::string> k;
  for (CostModel m : kCostModels) k.emplace_back(to_string(m));
  return k;
}

std::vector<std::string> streams() {
  std::vector<std::string> k;
  for (int s = 0; s < kStreams; ++s) k.emplace_back(to_string(static_cast<Stream>(s)));
  return k;
}

bool in_phase(uint8_t mask, Phase p) {
  switch (p) {
    case Phase::Train:
      return (mask & kTrainOnly) != 0;
    case Phase::Prefill:
      return (mask & kPrefillOnly) != 0;
    case Phase::Decode:
      return (mask & kDecodeOnly) != 0;
  }
  return false;
}

std::vector<MetricSpec> build_registry() {
  using R = const StepResult&;
  return {
      {.name = "step_time_s",
       .unit = "s",
       .label = "step time (s)",
       .description = "one step: first kernel start to last kernel end on the busiest GPU",
       .sweep = 1,
       .sweep_phases = kTrainOnly,
       .get = [](R r) { return r.step_time_s; }},
      {.name = "ttft_ms",
       .unit = "ms",
       .label = "TTFT (ms)",
       .description = "time to first token: the prefill step of a GPU's prompts, processed together",
       .phases = kPrefillOnly,
       .sweep = 1,
       .get = [](R r) { return r.ttft_ms; }},
      {.name = "tpot_ms",
       .unit = "ms",
       .label = "TPOT (ms)",
       .description = "time per output token: the decode step over the tokens each request accepts per step",
       .phases = kDecodeOnly,
       .sweep = 1,
       .get = [](R r) { return r.tpot_ms; }},
      {.name = "tokens_per_s_per_request",
       .unit = "tokens/s",
       .label = "tokens/s per request",
       .description = "output tokens per second one request sees",
       .phases = kDecodeOnly,
       .sweep = 2,
       .get = [](R r) { return r.tokens_per_s_per_request; }},
      {.name = "tokens_per_s_per_gpu",
       .unit = "tokens/s",
       .label = "tokens/s per GPU",
       .description = "tokens of the step (trained, prefilled or decoded) per second and GPU",
       .sweep = 3,
       .get = [](R r) { return r.tokens_per_s_per_gpu; }},
      {.name = "mfu",
       .unit = "1",
       .label = "MFU",
       .description = "model FLOPs utilization: causal model FLOPs (MTP excluded) over GPUs x BF16 dense peak x time",
       .phases = kTrainOnly,
       .sweep = 4,
       .get = [](R r) { return r.mfu; }},
      {.name = "tokens_per_s_per_node",
       .unit = "tokens/s",
       .label = "tokens/s per node",
       .description = "tokens per second and node of the deployment",
       .get = [](R r) { return r.tokens_per_s_per_node; }},
      {.name = "gpu_hours_per_trillion_tokens",
       .unit = "GPU h",
       .label = "GPU hours per trillion tokens",
       .description = "GPU hours to train on 10^12 tokens at this step time",
       .phases = kTrainOnly,
       .get = [](R r) { return r.gpu_hours_per_trillion_tokens; }},
      {.name = "accepted_tokens_per_step",
       .unit = "1",
       .label = "tokens accepted per step",
       .description = "tokens each request accepts per decode step (1 + MTP drafts x acceptance)",
       .phases = kDecodeOnly,
       .get = [](R r) { return r.accepted_tokens_per_step; }},
      {.name = "bubble_s",
       .unit = "s",
       .label = "pipeline bubble (s)",
       .description = "the compute stream idle for the pipeline (the largest over ranks)",
       .get = [](R r) { return r.bubble_s; }},
      {.name = "exposed_comm_s",
       .unit = "s",
       .label = "exposed communication (s)",
       .description = "the compute stream waiting on its own communication (the largest over ranks)",
       .get = [](R r) { return r.exposed_comm_s; }},
      {.name = "compute_sms",
       .unit = "1",
       .label = "compute SMs",
       .description = "SMs left to compute kernels while communication holds its own",
       .get = [](R r) { return static_cast<double>(r.compute_sms); }},
      {.name = "comm_sms",
       .unit = "1",
       .label = "communication SMs",
       .description = "SMs the all-to-all kernels hold (execution.comm_sms)",
       .get = [](R r) { return static_cast<double>(r.comm_sms); }},
      {.name = "memory_capacity_bytes",
       .unit = "bytes",
       .label = "capacity per GPU (bytes)",
       .description = "the GPU's memory (hw.hbm.capacity)",
       .get = [](R r) { return r.memory_capacity_bytes; }},
      {.name = "memory_peak_time_s",
       .unit = "s",
       .label = "time of the memory peak (s)",
       .description = "when the most loaded GPU reaches its peak memory, from the step's start",
       .get = [](R r) { return r.memory_peak_time_s; }},
      {.name = "memory_fits",
       .unit = "1",
       .label = "fits memory",
       .description = "1 when the peak memory of every GPU is within its capacity, else 0",
       .get = [](R r) { return r.fits ? 1.0 : 0.0; }},
      {.name = "kv_requests_fit",
       .unit = "1",
       .label = "requests the KV cache fits",
       .description = "requests (decode) or prompts (prefill) per GPU whose KV cache fits beside the rest at the peak",
       .phases = kInference,
       .get = [](R r) { return static_cast<double>(r.kv_requests_fit); }},
      {.name = "numerics_rel_error",
       .unit = "1",
       .label = "FP8 GEMM relative error",
       .description = "mean relative error of an FP8 GEMM at K = 7168 on the point's chip against FP64 of the same "
                      "quantized inputs",
       .evaluator_only = true},
      {.name = "breakdown_s.",
       .unit = "s",
       .label = "{} (s)",
       .description = "time per GPU of the ops of one kind on their stream (mean over ranks)",
       .keys = op_kinds,
       .members = [](R r) { return prefixed(r.breakdown_s); }},
      {.name = "model_s.",
       .unit = "s",
       .label = "{} (s)",
       .description = "time per GPU of the ops one cost model priced, all streams (mean over ranks)",
       .keys = cost_models,
       .members = [](R r) { return prefixed(r.model_s); }},
      {.name = "stream_busy_s.",
       .unit = "s",
       .label = "{} stream busy (s)",
       .description = "busy time per GPU of one stream (mean over ranks)",
       .keys = streams,
       .members = [](R r) { return prefixed(r.stream_busy_s); }},
      {.name = "memory_per_gpu_bytes.",
       .unit = "bytes",
       .label = "peak memory: {} (bytes per GPU)",
       .description = "memory of the most loaded GPU at its peak, by part ('total': the peak)",
       .keys = memory_parts,
       .members = [](R r) { return prefixed(r.memory_per_gpu_bytes); }},
  };
}

bool is_family(const MetricSpec& m) {
  return std::string_view(m.name).ends_with('.');
}

}  // namespace

const std::vector<MetricSpec>& metric_registry() {
  static const std::vector<MetricSpec> registry = build_registry();
  return registry;
}

std::optional<MetricInfo> metric_info(const std::string& name) {
  for (const MetricSpec& m : metric_registry()) {
    MetricInfo info{name, m.unit, m.label, m.description, "", m.sweep, "", {}};
    if (m.sweep > 0) {
      for (Phase p : {Phase::Train, Phase::Prefill, Phase::Decode}) {
        if (!in_phase(m.sweep_phases & m.phases, p)) continue;
        info.sweep_phases += (info.sweep_phases.empty() ? "" : ",") + std::string(to_string(p));
      }
    }
    if (!is_family(m)) {
      if (name != m.name) continue;
      return info;
    }
    if (!name.starts_with(m.name) || name.size() == std::string_view(m.name).size()) continue;
    const std::string member = name.substr(std::string_view(m.name).size());
    const std::vector<std::string> keys = m.keys();
    if (std::find(keys.begin(), keys.end(), member) == keys.end()) return std::nullopt;
    info.family = m.name;
    info.label = fmt::format(fmt::runtime(m.label), member);
    if (info.family == "breakdown_s.") {
      // Which stream the kind's ops run on: the report stacks compute kinds and draws communication apart.
      if (const std::optional<OpKind> k = op_kind_named(member)) {
        info.traits["stream"] = is_communication(*k) ? "comm" : "compute";
      }
    }
    return info;
  }
  return std::nullopt;
}

std::map<std::string, std::string> MetricInfo::attributes() const {
  std::map<std::string, std::string> a = traits;
  a["unit"] = unit;
  a["label"] = label;
  a["description"] = description;
  if (!family.empty()) a["family"] = family;
  if (sweep > 0) {
    a["sweep"] = std::to_string(sweep);
    a["sweep_phases"] = sweep_phases;
  }
  return a;
}

std::vector<std::string> metric_names(Phase phase, bool with_evaluator) {
  std::vector<std::string> names;
  for (const MetricSpec& m : metric_registry()) {
    if (!in_phase(m.phases, phase) || (m.evaluator_only && !with_evaluator)) continue;
    if (!is_family(m)) {
      names.emplace_back(m.name);
      continue;
    }
    for (const std::string& k : m.keys()) names.push_back(m.name + k);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace v3sim::exec
