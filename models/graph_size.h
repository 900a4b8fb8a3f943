// The size of a model's operator graph on a deployment, checked before anything is built: every per-op count
// (FLOPs, bytes) must fit the graph's 64-bit integers, and the ops must fit this machine's memory.
#pragma once

#include <cstdint>
#include <string>

#include "core/resources.h"
#include "models/deployment.h"
#include "models/model_config.h"

namespace v3sim {

// The largest count any one op or per-GPU total may reach (2^62: room for sums of a few of them).
inline constexpr long double kMaxOpCount = 0x1p62L;

// Why some per-op count of the graph would overflow (the largest attention, GEMM or KV-cache figure, computed in
// long double), or "" when every one fits.
std::string graph_counts_problem(const ModelConfig& m, const Deployment& d);

// The ops the graph will hold (all micro-batches, or the first `max_micro_batches` when > 0) and their memory.
WorkEstimate estimate_graph_work(const ModelConfig& m, const Deployment& d, int64_t max_micro_batches = 0);

// Throws ConfigError naming the deployment when graph_counts_problem() is not empty or the estimate exceeds what
// this machine can hold (core/resources.h).
void check_graph_size(const ModelConfig& m, const Deployment& d, int64_t max_micro_batches = 0);

}  // namespace v3sim
