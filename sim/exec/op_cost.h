// What one op of the graph costs on a simulated GPU of a cluster: the kernel time on its stream, from the
// cycle-level models where v3sim has one (FP8 GEMMs on the SM model, the FP8 casts, the MoE all-to-all on the
// network model) and from an explicit, labelled closed form otherwise (roofline for attention, BF16 GEMMs and
// memory-bound elementwise kernels; alpha-beta ring models for the DP/TP collectives and pipeline sends).
//
// The chip's features change the graph's kernels the way DeepSeek-V3 §3.5 describes: with transposed FP8
// shared-memory reads the transpose-requantize ops are dropped and the Wgrad GEMMs read the MN-major operand;
// with FP8 cast in TMA the activation casts that feed a GEMM are dropped and that GEMM loads BF16 through the TMA.
//
// Identical kernels are simulated once: results are keyed by the kernel's own description (shape, layout, SMs,
// features) and kept in a KernelCache, which a caller may share across steps (studies) and persist on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "models/op_graph.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::exec {

// How an op's time was obtained. Everything but the Cycle* kinds is "not modeled at cycle level" and is listed in
// a step's roofline_ops.
enum class CostModel : uint8_t {
  CycleGemm,      // sim/sm/gemm: FP8 block-scaled GEMM (dense, grouped contiguous, grouped masked)
  CycleCast,      // sim/sm/cast_kernels: quantize, transpose-requantize
  CycleAllToAll,  // sim/net/alltoall: DeepEP normal or low-latency dispatch/combine
  Roofline,       // max(FLOPs / peak, bytes / HBM) + launch overhead
  Streaming,      // sim/sm/streaming: a memory-bound kernel at its launch's occupancy (Little's law, HBM, L2)
  Analytical,     // alpha-beta model of a collective or a point-to-point send
  Dropped,        // the op does not exist on this chip (e.g. a transpose a transposed-read chip never makes)
};
const char* to_string(CostModel m);
inline constexpr CostModel kCostModels[] = {CostModel::CycleGemm, CostModel::CycleCast, CostModel::CycleAllToAll,
                                            CostModel::Roofline,  CostModel::Streaming, CostModel::Analytical,
                                            CostModel::Dropped};
// A closed-form estimate (no model of the kernel's mechanism): the roofline and the alpha-beta formulas.
inline bool is_closed_form(CostModel m) {
  return m == CostModel::Roofline || m == CostModel::Analytical;
}
inline bool is_cycle_level(CostModel m) {
  return m == CostModel::CycleGemm || m == CostModel::CycleCast || m == CostModel::CycleAllToAll ||
         m == CostModel::Dropped;
}

// The stream an op runs on: compute kernels, the EP/TP communication of the layers (all-to-all, TP collectives),
// the pipeline/data-parallel traffic (PP sends, DP gradient reduction and parameter all-gather), and a second
// compute stream whose kernels share the SMs with the first (kFlagSideStream). The codes are those of
// kTimelineStreams (models/timeline.h).
enum class Stream : uint8_t { Compute = 0, Comm = 1, PipeComm = 2, Compute2 = 3 };
inline constexpr int kStreams = 4;
inline bool is_compute(Stream s) {
  return s == Stream::Compute || s == Stream::Compute2;
}
const char* to_string(Stream s);
Stream stream_of(const OpDesc& d);

struct OpCost {
  Time time;  // on its stream (zero for Dropped)
  CostModel model = CostModel::Roofline;
  std::string bound;   // "tensor", "hbm", "l2", "nvlink", "nic", "sm-push", "launch", ...
  std::string kernel;  // the kernel's key (what identical ops share), e.g. "gemm m4096 n7168 k2048 ..."
  std::string note;    // why, for Dropped and fused kernels ("transposed FP8 smem reads")
};

// The cache of kernel results. Keys are the kernel descriptions above prefixed by a fingerprint of the hardware
// and cluster configs and of the simulator version, so one cache file can hold results for many chips.
// Thread-safe. A disk-backed cache reads `path` when constructed (an unreadable or foreign file is an error naming
// it) and appends each new result as one line, so concurrent processes may share it.
class KernelCache {
 public:
  KernelCache();                           // in memory only
  explicit KernelCache(std::string path);  // backed by a file (created when missing)
  ~KernelCache();
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  std::optional<OpCost> find(const std::string& key) const;
  void insert(const std::string& key, const OpCost& cost);
  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;
  const std::string& path() const { return m_path; }

 private:
  mutable std::mutex m_mutex;
  std::map<std::string, OpCost> m_entries;
  std::string m_path;
  mutable uint64_t m_hits = 0, m_misses = 0;
};

// Where a cache file lives by default: $V3SIM_CACHE, else $XDG_CACHE_HOME/v3sim/kernels.txt, else
// ~/.cache/v3sim/kernels.txt.
std::string default_cache_path();

struct CostContext {
  const ModelConfig* model = nullptr;
  const Deployment* deploy = nullptr;
  const HardwareConfig* hw = nullptr;
  const net::ClusterConfig* cluster = nullptr;
  int64_t compute_sms = 0;            // SMs left to compute kernels (hw.sms minus those communication holds)
  int64_t comm_sms = 0;               // SMs of the normal all-to-all kernels (train, prefill)
  bool low_latency_alltoall = false;  // decode: DeepEP's low-latency kernels (no SMs held)
  uint64_t seed = 1;                  // routing of the simulated all-to-all
  std::string fingerprint;            // cost_fingerprint(...) of hw and cluster: prefixes every cache key
  int64_t threads = 1;                // kernels simulated at once (the costs are the same for any number)
};

// Costs of every descriptor of a finalized graph, in descriptor order. Uses (and fills) `cache`; `progress`, when
// set, is called after each newly simulated kernel with (kernels done, kernels to simulate, kernel key).
// Throws ConfigError when an op cannot run on the hardware or cluster (e.g. an EP group larger than the cluster).
using CostProgress = std::function<void(size_t done, size_t total, const std::string& kernel)>;
std::vector<OpCost> cost_graph(const OpGraph& graph, const CostContext& ctx, KernelCache& cache,
                               const CostProgress& progress = {});

// A fingerprint of everything a kernel result depends on besides its description: the resolved hardware and cluster
// configs (YAML text) and the simulator's version. Part of every cache key.
std::string cost_fingerprint(const std::string& hw_yaml, const std::string& cluster_yaml);

}  // namespace v3sim::exec
