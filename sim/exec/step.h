// One whole step on a simulated cluster: a training step (pipeline schedule, the optimizer and the DP gradient
// reduction), a prefill step (two micro-batches overlapped) or a decode step (two micro-batches, low-latency
// all-to-all, KV-cache reads, optional MTP speculation). The graph of one representative GPU per pipeline rank is
// costed op by op (op_cost.h) and scheduled on its streams (executor.h); the step's figures follow from that
// timeline.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/units.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "models/timeline.h"
#include "sim/exec/metrics.h"
#include "sim/exec/op_cost.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::exec {

struct StepInputs {
  ModelConfig model;
  Deployment deploy;
  HardwareConfig hw;
  net::ClusterConfig cluster;
  std::string hw_yaml;  // resolved configs, for the kernel-cache fingerprint and the result's meta
  std::string cluster_yaml;
};

// The inputs of a step from its four resolved documents (overrides already applied): the model, the deployment
// of that model, the chip and the cluster, each checked by its own loader (ConfigError naming the file and key).
// The one place the loading order lives: `v3sim step`, `compare`, `bench` and both study evaluators call it.
StepInputs load_step_inputs(const ConfigNode& model, const ConfigNode& deploy, const ConfigNode& hw,
                            const ConfigNode& cluster);

struct StepOptions {
  bool keep_timeline = true;     // fill StepResult::timeline (every op instance)
  KernelCache* cache = nullptr;  // shared kernel results; nullptr: a private in-memory cache
  uint64_t seed = 1;
  int64_t threads = 1;  // kernels simulated at once (the result is the same for any number)
  // Called while kernels are simulated: (kernels done, kernels to simulate, current kernel).
  CostProgress progress;
  // A step whose memory does not fit the GPU still runs (StepResult::fits false) instead of throwing
  // MemoryCapacityError.
  bool allow_over_capacity = false;
};

// A deployment whose peak memory per GPU exceeds hw.hbm.capacity (a user's choice of configuration: exit 2).
class MemoryCapacityError : public ConfigError {
 public:
  explicit MemoryCapacityError(const std::string& message) : ConfigError(message) {}
};

// A distinct kernel of the step and what it costs (the roofline table of a report).
struct KernelRow {
  std::string name;  // one op that runs it (layer prefix replaced by "L*")
  std::string kind;  // op kind
  std::string kernel;
  CostModel model = CostModel::Roofline;
  std::string bound;
  double flops = 0;  // per call
  double bytes = 0;  // read + written per call
  double time_s = 0;
  int64_t calls = 0;  // on the representative GPUs
};

struct StepResult {
  Phase phase = Phase::Train;
  double step_time_s = 0;
  double tokens_per_step = 0;
  double tokens_per_s_per_gpu = 0;
  double tokens_per_s_per_node = 0;
  // training
  double mfu = 0;  // causal model FLOPs (MTP excluded) / (GPUs x BF16 dense peak x time)
  double gpu_hours_per_trillion_tokens = 0;
  // prefill
  double ttft_ms = 0;  // time per prompt: the step (all prompts of a GPU are processed together)
  // decode
  double tpot_ms = 0;  // time per output token: step time / tokens accepted per request per step
  double tokens_per_s_per_request = 0;
  double accepted_tokens_per_step = 0;  // per request (1 + MTP drafts x acceptance)

  double bubble_s = 0;                          // pipeline idle of the compute stream (max over ranks)
  double exposed_comm_s = 0;                    // compute stream waiting on its own communication (max over ranks)
  std::map<std::string, double> breakdown_s;    // op kind -> seconds per GPU (mean over ranks)
  std::map<std::string, double> model_s;        // cost model (CostModel) -> seconds per GPU of the ops it priced
  std::map<std::string, double> stream_busy_s;  // stream -> busy seconds per GPU (mean over ranks)
  // Memory of the rank with the highest peak (memory.h): the composition at its peak (MemCategory names) and "total"
  // (the peak); when the peak occurs; every rank's peak; the rank's bytes over time (with keep_timeline).
  std::map<std::string, double> memory_per_gpu_bytes;
  double memory_capacity_bytes = 0;
  double memory_peak_time_s = 0;
  int64_t memory_peak_rank = 0;
  std::vector<double> memory_rank_peak_bytes;
  std::vector<std::pair<double, double>> memory_track;  // (seconds from the step's start, bytes)
  bool fits = true;                                     // peak <= capacity
  std::string capacity_problem;                         // why not, one line
  // Inference: requests per GPU whose KV cache fits beside everything else at the peak (-1: training).
  int64_t kv_requests_fit = -1;
  std::vector<std::string> roofline_ops;  // ops not modeled at cycle level (layer prefix replaced by "L*")
  std::vector<KernelRow> kernels;
  int64_t compute_sms = 0;
  int64_t comm_sms = 0;
  std::vector<double> rank_busy_s;  // compute-stream busy time of each pipeline rank

  Timeline timeline;  // one event per op instance; device = pipeline rank, stream = Stream
  uint64_t ops = 0;
  uint64_t kernels_simulated = 0;  // cache misses of this step
  double wall_s = 0;               // simulator time

  // The registry's metrics (metrics.h) of this phase, by name, for HDF5 summaries and studies; metric_names(phase)
  // lists every name they can take.
  std::vector<std::pair<std::string, double>> metrics() const;
};

// Checks that the deployment fits the cluster and the model fits GPU memory; throws ConfigError naming the key.
void validate_step(const StepInputs& in);

// Throws ConfigError for bad input (validate_step), InternalError for a schedule that deadlocks.
StepResult simulate_step(const StepInputs& in, const StepOptions& options = {});

// DeepSeek's closed-form decode bound (ISCA'25 §2.3.2, benchmarks.md): per layer and micro-batch the all-to-all
// moves (dispatch + combine bytes per value) x tokens per GPU x experts per token x hidden over the scale-out
// bandwidth; compute and latency hidden; two micro-batches per layer.
struct DecodeBound {
  double bandwidth_Bps = 0;
  double hidden = 0;
  double bytes_per_value = 0;  // dispatch + combine
  double tokens_per_gpu = 0;
  double experts_per_token = 0;
  int64_t layers = 0;
  int64_t micro_batches = 0;
  double layer_us = 0;  // one layer, one micro-batch
  double tpot_ms = 0;
  double tokens_per_s_per_request = 0;
  std::string assumptions;
};
// `paper_rounding`: hidden rounded to 7000 and dispatch counted at 1 B per value without scales, as the paper does;
// otherwise the model's hidden and the FP8 payload with its scales.
DecodeBound decode_bound(const StepInputs& in, Bandwidth bandwidth, bool paper_rounding);

}  // namespace v3sim::exec
