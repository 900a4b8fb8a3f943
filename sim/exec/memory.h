// Memory of each GPU over a simulated step: which buffers are live when, from the executor's start and end times.
//
// Persistent (the whole step): the BF16 weights and the FP8 copies cast once per step; in training the FP32
// gradients accumulated over the micro-batches and the optimizer state of the GPU's ZeRO shard (FP32 master weights,
// the two AdamW moments in BF16 or FP32, an FP32 EMA of the weights unless it lives in CPU memory); in inference the
// KV cache; and the deployment's unpublished overheads (memory.workspace, memory.comm_buffers).
//
// Dynamic: every op instance's output is a buffer allocated when the op starts. It is held whole until the last op of
// its own pass that reads it ends (a working buffer); when a backward op reads a forward op's output, what the forward
// keeps for the backward (OpDesc::bytes_saved, else all of it) is held from then until the last such reader ends (a
// saved activation). Not buffers: weight gradients (accumulated into the persistent gradients) and the per-step ops
// (optimizer, DP collectives, weight casts). A pipeline send's output is the receiving rank's buffer: the next
// stage's input, held until that stage's backward of the micro-batch ends (training) or its last reader ends. The
// allocator's fragmentation adds memory.fragmentation of the dynamic part.
//
// Worked example (tests/sim/test_memory.cpp): a forward op A writing 100 B read by forward B and by a backward op C,
// A.bytes_saved = 40: 100 B from A's start to B's end, then 40 B until C's end.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/units.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "models/op_graph.h"
#include "sim/exec/executor.h"

namespace v3sim::exec {

enum class MemCategory : uint8_t {
  Weights,        // BF16 working weights and the FP8 copies of the step
  Gradients,      // FP32 weight gradients (training)
  Optimizer,      // the ZeRO shard's FP32 master weights, AdamW moments, EMA when on the GPU
  KvCache,        // inference
  Workspace,      // memory.workspace (assumption)
  CommBuffers,    // memory.comm_buffers (assumption)
  Activations,    // forward outputs kept for the backward, and received stage inputs
  Working,        // buffers between an op and its readers of the same pass
  Fragmentation,  // memory.fragmentation x (activations + working)
  kCount
};
inline constexpr size_t kMemCategories = static_cast<size_t>(MemCategory::kCount);
const char* to_string(MemCategory c);

using MemBytes = std::array<double, kMemCategories>;
double total(const MemBytes& m);

struct RankMemory {
  MemBytes persistent{};
  double peak = 0;
  Time peak_time;
  MemBytes at_peak{};                          // composition at the peak
  std::vector<std::pair<Time, double>> track;  // total bytes after each change (when asked for)
};

struct MemoryResult {
  std::vector<RankMemory> ranks;  // pipeline ranks (the balanced GPUs)
  size_t worst = 0;               // the rank with the highest peak
};

// The persistent part of each of `ranks` ranks (before anything runs).
std::vector<MemBytes> persistent_memory(const ModelConfig& model, const Deployment& d, const OpGraph& g, int64_t ranks);

// The whole profile over the executed step. `keep_track`: fill RankMemory::track of the worst rank.
MemoryResult memory_over_time(const ModelConfig& model, const Deployment& d, const OpGraph& g, const ExecResult& ex,
                              int64_t ranks, bool keep_track);

// KV cache bytes one request holds on a GPU at the deployment's context length (decode) or prompt length (prefill).
double kv_bytes_per_request(const ModelConfig& model, const Deployment& d);

}  // namespace v3sim::exec
