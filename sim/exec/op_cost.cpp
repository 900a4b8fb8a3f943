// The per-op cost model of the whole-step simulator. How each op kind is costed (every closed form is labelled
// Roofline or Analytical, as the step's output reports it):
//
//   FP8 Gemm / GroupedGemm     CycleGemm: sim/sm/gemm (DeepGEMM's kernel on the SM model). Dense for Gemm. Grouped:
//                              train/prefill use the contiguous layout, whose rows per group are rounded up to a
//                              multiple of 128 (DeepGEMM aligns each expert's segment to BLOCK_M so no tile straddles
//                              two experts); decode uses the masked layout (rows per group = ceil(total / groups)).
//                              A Wgrad GroupedGemm reduces over each expert's tokens (DeepGEMM's k-grouped kernel):
//                              simulated as `groups` problems of the weight's rows, K = the expert's padded tokens.
//   Quantize / TransposeReq.   CycleCast: sim/sm/cast_kernels on rows x cols rounded up to whole 128 x 128 tiles.
//   AllToAllDispatch/Combine   CycleAllToAll: sim/net/alltoall, DeepEP's normal kernels (low-latency in decode),
//                              with the graph's bytes per token copy.
//   everything else on the     Roofline: launch + max(executed FLOPs / peak, bytes / sustained HBM); peak = BF16
//   compute stream             tensor rate for BF16 GEMMs and attention, the CUDA cores' FP32 rate otherwise.
//   TP/DP collectives, PP      Analytical: ring alpha-beta over NVLink (group inside a node) or the NICs.
//   send/recv
//   ops the chip never runs    Dropped: the transposes (and the transposed weight cast) with transposed FP8 shared-
//                              memory reads; the quantizes whose consumers load BF16 through a casting TMA.
//
// Only the cycle-level results are kept in the KernelCache (and its file): the closed forms cost nothing to
// recompute and always follow the current formulas.
#include "sim/exec/op_cost.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/math.h"
#include "core/parallel.h"
#include "core/quant.h"
#include "core/text.h"
#include "sim/net/alltoall.h"
#include "sim/net/topology.h"
#include "sim/sm/cast_kernels.h"
#include "sim/sm/gemm.h"
#include "sim/sm/streaming.h"
#include "v3sim/version.h"

namespace v3sim::exec {

namespace {

__extension__ using i128 = __int128;  // exact products of 64-bit values

constexpr const char* kCacheHeader = "v3sim-kernel-cache 1";
// The version of the cost rules of this file that change a cached (cycle-level) result: how a graph op maps onto
// a GemmDesc / CastDesc / AllToAllDesc and what its OpCost holds. Bump it by hand when such a rule changes; the
// project version and git revision (core/version.h, stamped at every build) are part of the fingerprint too.
constexpr const char* kCostRulesVersion = "op-cost 6";  // 6: streaming kernels in rounds, latency + service

// kQuantTile (core/quant.h): the FP8 quantization tile, also DeepGEMM's K block and contiguous M alignment
constexpr int64_t kNAlign = 16;  // TMA: 16-byte rows of the FP8 B operand and the BF16 output
constexpr int64_t kNoInstance = -1;

// ceil(num * 10^12 / rate) picoseconds. @pre rate > 0, num >= 0
Time ps_of(int64_t num, int64_t rate) {
  const i128 ps = (static_cast<i128>(num) * 1000'000'000'000LL + rate - 1) / rate;
  if (ps > std::numeric_limits<int64_t>::max()) throw_time_overflow("an operation's time");
  return Time::ps(static_cast<int64_t>(ps));
}

bool is_fp8(DType t) {
  return t == DType::E4M3 || t == DType::E5M2;
}
bool is_fp8_gemm(const OpDesc& d) {
  return (d.kind == OpKind::Gemm || d.kind == OpKind::GroupedGemm) && is_fp8(d.gemm.a_type);
}

// ---- the kernel-cache file ----

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// false on a dangling or unknown escape.
bool unescape(const std::string& s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        return false;
    }
  }
  return true;
}

constexpr CostModel kModels[] = {CostModel::CycleGemm, CostModel::CycleCast,  CostModel::CycleAllToAll,
                                 CostModel::Roofline,  CostModel::Analytical, CostModel::Dropped};

bool parse_model(const std::string& s, CostModel& out) {
  for (CostModel m : kModels) {
    if (s == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

// The kernel of a cache key: what follows the fingerprint.
std::string kernel_of(const std::string& key) {
  const size_t bar = key.find('|');
  return bar == std::string::npos ? key : key.substr(bar + 1);
}

std::string cache_line(const std::string& key, const OpCost& c) {
  return fmt::format("{}\t{}\t{}\t{}\t{}\n", escape(key), c.time.picoseconds(), to_string(c.model), escape(c.bound),
                     escape(c.note));
}

// Parses one entry line (without its newline); false when malformed.
bool parse_line(const std::string& line, std::string& key, OpCost& c) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  if (fields.size() != 5 || fields[0].empty() || fields[1].empty()) return false;
  if (!unescape(fields[0], key)) return false;
  for (char ch : fields[1])
    if (ch < '0' || ch > '9') return false;
  errno = 0;
  char* end = nullptr;
  const long long ps = std::strtoll(fields[1].c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  c.time = Time::ps(ps);
  if (!parse_model(fields[2], c.model)) return false;
  if (!unescape(fields[3], c.bound) || !unescape(fields[4], c.note)) return false;
  c.kernel = kernel_of(key);
  return true;
}

ConfigError cache_error(const std::string& path, int line, const std::string& expected, const std::string& found) {
  return ConfigError(SourceLoc{path, line}, "", expected, found);
}

// Creates `path` holding only the header, atomically (core/atomic_file.h: hard-linked into place), so no process
// ever reads a cache file without its header. An existing file is left alone.
void create_cache_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw cache_error(path, 0, "a kernel-cache file whose directory can be created",
                        fmt::format("'{}': {}", parent.string(), ec.message()));
    }
  }
  if (fs::exists(path, ec)) return;
  create_file_atomic(path, std::string(kCacheHeader) + "\n");  // another process's file, when there, is left alone
}

}  // namespace

const char* to_string(CostModel m) {
  switch (m) {
    case CostModel::CycleGemm:
      return "cycle-gemm";
    case CostModel::CycleCast:
      return "cycle-cast";
    case CostModel::CycleAllToAll:
      return "cycle-alltoall";
    case CostModel::Roofline:
      return "roofline";
    case CostModel::Streaming:
      return "streaming";
    case CostModel::Analytical:
      return "analytical";
    case CostModel::Dropped:
      return "dropped";
  }
  return "?";
}

const char* to_string(Stream s) {
  switch (s) {
    case Stream::Compute:
      return "compute";
    case Stream::Comm:
      return "comm";
    case Stream::PipeComm:
      return "pipe_comm";
    case Stream::Compute2:
      return "compute2";
  }
  return "?";
}

Stream stream_of(const OpDesc& d) {
  switch (d.kind) {
    case OpKind::AllToAllDispatch:
    case OpKind::AllToAllCombine:
      return Stream::Comm;
    case OpKind::AllGather:
    case OpKind::ReduceScatter:
    case OpKind::AllReduce:
      return d.comm.group == CommGroup::TP || d.comm.group == CommGroup::EP ? Stream::Comm : Stream::PipeComm;
    case OpKind::SendRecv:
      return Stream::PipeComm;
    case OpKind::Embedding:
    case OpKind::Norm:
    case OpKind::Quantize:
    case OpKind::TransposeRequant:
    case OpKind::WeightCast:
    case OpKind::Gemm:
    case OpKind::GroupedGemm:
    case OpKind::BatchedGemm:
    case OpKind::Attention:
    case OpKind::Rope:
    case OpKind::Activation:
    case OpKind::Elementwise:
    case OpKind::Router:
    case OpKind::Permute:
    case OpKind::Unpermute:
    case OpKind::KvCacheAppend:
    case OpKind::Loss:
    case OpKind::Optimizer:
    case OpKind::kCount:
      break;
  }
  return d.has(kFlagCommStream) ? Stream::Comm : d.has(kFlagSideStream) ? Stream::Compute2 : Stream::Compute;
}

// ---- KernelCache ----

KernelCache::KernelCache() = default;

KernelCache::KernelCache(std::string path) : m_path(std::move(path)) {
  create_cache_file(m_path);
  std::ifstream in(m_path, std::ios::binary);
  if (!in) throw cache_error(m_path, 0, "a readable kernel-cache file", std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  // Every entry is appended as one whole line by one write(); a last line without its newline is an append still
  // in flight in another process (or cut by a crash) and is skipped.
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != kCacheHeader) {
        throw cache_error(m_path, 1, fmt::format("a v3sim kernel cache starting with the line '{}'", kCacheHeader),
                          quote(line));
      }
      continue;
    }
    std::string key;
    OpCost cost;
    if (!parse_line(line, key, cost)) {
      throw cache_error(m_path, line_no,
                        "an entry 'key<TAB>time in ps<TAB>model<TAB>bound<TAB>note' (tabs and newlines escaped)",
                        quote(line));
    }
    m_entries.emplace(std::move(key), std::move(cost));  // concurrent writers may repeat a key: the first stays
  }
  if (line_no == 0) {
    throw cache_error(m_path, 1, fmt::format("a v3sim kernel cache starting with the line '{}'", kCacheHeader),
                      text.empty() ? std::string("an empty file") : quote(text));
  }
}

KernelCache::~KernelCache() = default;

std::optional<OpCost> KernelCache::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  auto it = m_entries.find(key);
  if (it == m_entries.end()) {
    ++m_misses;
    return std::nullopt;
  }
  ++m_hits;
  return it->second;
}

void KernelCache::insert(const std::string& key, const OpCost& cost) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_entries.count(key)) return;
  OpCost stored = cost;
  stored.kernel = kernel_of(key);  // what a reload of the file gives back
  if (!m_path.empty()) {
    const std::string line = cache_line(key, stored);
    // O_APPEND and one write() per line: concurrent processes interleave whole lines.
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) throw cache_error(m_path, 0, "a writable kernel-cache file", std::strerror(errno));
    const ssize_t n = ::write(fd, line.data(), line.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      throw cache_error(m_path, 0, "room to append a kernel result",
                        n < 0 ? std::string(std::strerror(err)) : fmt::format("a short write of {} bytes", n));
    }
  }
  m_entries.emplace(key, std::move(stored));
}

size_t KernelCache::size() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_entries.size();
}
uint64_t KernelCache::hits() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_hits;
}
uint64_t KernelCache::misses() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_misses;
}

std::string default_cache_path() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
  };
  if (std::string p = env("V3SIM_CACHE"); !p.empty()) return p;
  if (std::string p = env("XDG_CACHE_HOME"); !p.empty()) return p + "/v3sim/kernels.txt";
  if (std::string p = env("HOME"); !p.empty()) return p + "/.cache/v3sim/kernels.txt";
  return ".cache/v3sim/kernels.txt";
}

std::string cost_fingerprint(const std::string& hw_yaml, const std::string& cluster_yaml) {
  // The hardware keys no op's cost reads leave the fingerprint (and the kernel cache) as it is: hbm.capacity only
  // decides whether the step fits (sim/exec/memory.h), so a capacity sweep reuses the baseline's kernels.
  std::string hw_cost = hw_yaml;
  if (hw_yaml.find("capacity") != std::string::npos) {
    ConfigNode hw = parse_config_text(hw_yaml, "hardware");
    if (ConfigNode* hbm = hw.find("hbm"); hbm && hbm->is_map() && hbm->erase("capacity")) hw_cost = hw.to_yaml();
  }
  // FNV-1a (64 bit) over the parts, each followed by a NUL so that no two splits of the same text collide.
  uint64_t h = 14695981039346656037ULL;
  auto add = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    h *= 1099511628211ULL;  // a NUL byte after each part (its XOR is a no-op)
  };
  add("hw");
  add(hw_cost);
  add("cluster");
  add(cluster_yaml);
  add(kVersion);
  add(kGitRevision);
  add(kCostRulesVersion);
  return fmt::format("{:016x}", h);
}

// ---- the cost rules ----

namespace {

enum class Job : uint8_t { None, Gemm, Cast, AllToAll };

// How one descriptor is costed: a closed form (cost complete) or a cycle-level job (cost.model/kernel/note set).
struct Plan {
  OpCost cost;
  Job job = Job::None;
  sm::GemmDesc gemm;
  sm::CastDesc cast;
  net::AllToAllDesc a2a;
};

// What the chip's features change in the graph, per descriptor (from one instance's neighbours: descriptors are
// shared by all micro-batches, whose instances have the same neighbours).
struct Rewrites {
  std::vector<uint8_t> quant_dropped;  // a Quantize whose FP8 GEMM consumers load BF16 through the TMA
  std::vector<uint8_t> a_bf16_cast;    // an FP8 GEMM that reads such a Quantize's input as operand A
  std::vector<uint8_t> scale_dropped;  // a kFlagScaleLayout op re-laying the scales of such a Quantize
};

Rewrites rewrites_of(const OpGraph& g, const HardwareConfig& hw) {
  const size_t n = g.num_descs();
  Rewrites r;
  r.quant_dropped.assign(n, 0);
  r.a_bf16_cast.assign(n, 0);
  r.scale_dropped.assign(n, 0);
  if (!hw.features.tma_fp8_cast) return r;
  std::vector<int64_t> first(n, kNoInstance);
  size_t found = 0;
  for (OpId id = 0; id < g.num_ops() && found < n; ++id) {
    int64_t& f = first[g.node(id).desc];
    if (f == kNoInstance) {
      f = id;
      ++found;
    }
  }
  // A Quantize goes when every consumer is an FP8 GEMM reading it as operand A: the activation of an Fprop or
  // the output gradient of a Dgrad (the builder's FP8 Wgrad GEMMs read their operands through transposes or the
  // saved FP8 tensors, which still need the cast).
  for (size_t d = 0; d < n; ++d) {
    if (g.descriptor(static_cast<uint32_t>(d)).kind != OpKind::Quantize || first[d] == kNoInstance) continue;
    std::span<const OpId> succ = g.successors(static_cast<OpId>(first[d]));
    bool all = !succ.empty();
    for (OpId s : succ) {
      const OpDesc& c = g.desc(s);
      if (c.has(kFlagScaleLayout)) continue;  // goes with the cast
      all = all && is_fp8_gemm(c) && c.pass != Pass::Wgrad;
    }
    r.quant_dropped[d] = all ? 1 : 0;
  }
  for (size_t d = 0; d < n; ++d) {
    const OpDesc& desc = g.descriptor(static_cast<uint32_t>(d));
    if (first[d] == kNoInstance || !(is_fp8_gemm(desc) || desc.has(kFlagScaleLayout))) continue;
    for (OpId p : g.predecessors(static_cast<OpId>(first[d]))) {
      if (!r.quant_dropped[g.node(p).desc]) continue;
      (desc.has(kFlagScaleLayout) ? r.scale_dropped : r.a_bf16_cast)[d] = 1;
    }
  }
  return r;
}

OpCost dropped(std::string kernel, std::string note) {
  OpCost c;
  c.time = Time();
  c.model = CostModel::Dropped;
  c.bound = "none";
  c.kernel = std::move(kernel);
  c.note = std::move(note);
  return c;
}

// FP32 FLOPs one SM's CUDA cores retire per clock: sub-partitions x FFMA lanes x 2.
int64_t cuda_core_flops_per_clk(const HardwareConfig& hw) {
  return hw.cuda_cores.sub_partitions * hw.cuda_cores.fp32_lanes_per_sub_partition * 2;
}

// Roofline (closed form): launch + max(executed FLOPs / peak, (bytes read + written) / sustained HBM).
// Executed FLOPs include the recomputation of a backward kernel (recompute_flops). Peak: the BF16 tensor-core
// rate for BF16 GEMMs and attention, the CUDA cores' FP32 rate (sub-partitions x FFMA lanes x 2 per clock) for the
// rest; both x the compute SMs x the sustained clock, so compute-bound time scales exactly with 1 / SMs. Fused
// attention reaches only the hardware's attention_{fwd,bwd}_efficiency of the tensor peak.
OpCost roofline(const OpDesc& d, const CostContext& ctx, bool tensor) {
  const HardwareConfig& hw = *ctx.hw;
  const int64_t per_sm_clk = tensor ? hw.tensor.bf16_flops_per_clk : cuda_core_flops_per_clk(hw);
  const int64_t peak = per_sm_clk * ctx.compute_sms * hw.sustained_clock.hertz();  // FLOP/s
  const auto hbm = static_cast<int64_t>(
      std::llround(static_cast<double>(hw.hbm.bandwidth.bytes_per_second()) * hw.hbm.achievable_fraction));
  if (peak <= 0 || hbm <= 0) {
    throw ConfigError(fmt::format("{}: a roofline needs a positive {} peak and HBM bandwidth on {}", describe(d),
                                  tensor ? "tensor-core" : "CUDA-core", hw.name));
  }
  const int64_t flops = d.flops + d.recompute_flops;
  const int64_t bytes = d.bytes_read + d.bytes_written;
  Time compute = ps_of(flops, peak);
  if (d.kind == OpKind::Attention) {
    const double eff =
        d.pass == Pass::Forward ? hw.kernel.attention_fwd_efficiency : hw.kernel.attention_bwd_efficiency;
    const double ps = std::ceil(static_cast<double>(compute.picoseconds()) / eff);
    if (!(ps < 0x1p63)) throw_time_overflow("an attention kernel's time");  // the cast below would overflow
    compute = Time::ps(static_cast<int64_t>(ps));
  }
  const Time memory = ps_of(bytes, hbm);
  OpCost c;
  c.model = CostModel::Roofline;
  c.time = hw.kernel.launch_overhead + std::max(compute, memory);
  c.bound = memory > compute ? "hbm" : tensor ? "tensor" : "cuda-core";
  c.kernel = fmt::format("{} flops{} bytes{} sms{}", to_string(d.kind), flops, bytes, ctx.compute_sms);
  if (d.kind == OpKind::Gemm || d.kind == OpKind::GroupedGemm || d.kind == OpKind::BatchedGemm) {
    c.kernel += fmt::format(" m{} n{} k{} g{} b{} {}", d.gemm.m, d.gemm.n, d.gemm.k, d.gemm.groups, d.gemm.batch,
                            to_string(d.gemm.a_type));
  }
  c.kernel = "roofline " + c.kernel;
  return c;
}

// A memory-bound kernel launched as its stack launches it (OpDesc::launch), on the SM and memory model: its
// occupancy, and the loads in flight that follow from it, bound its bandwidth (sim/sm/streaming.h); or its FLOPs on
// the CUDA cores when those take longer.
OpCost streaming(const OpDesc& d, const CostContext& ctx) {
  const HardwareConfig& hw = *ctx.hw;
  sm::StreamingDesc s;
  s.launch = d.launch;
  s.bytes_read = d.bytes_read;
  s.bytes_written = d.bytes_written;
  s.sms = ctx.compute_sms;
  sm::StreamingResult r;
  try {
    r = sm::simulate_streaming(s, hw);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: cannot run on {}: {}", describe(d), hw.name, e.what()));
  }
  const int64_t peak = cuda_core_flops_per_clk(hw) * ctx.compute_sms * hw.sustained_clock.hertz();
  const Time compute = hw.kernel.launch_overhead + ps_of(d.flops + d.recompute_flops, peak);
  OpCost c;
  c.model = CostModel::Streaming;
  c.time = std::max(r.time, compute);
  c.bound = compute > r.time ? "cuda-core" : r.bound;
  c.kernel = fmt::format("streaming {} grid{} block{} regs{} smem{} read{} written{} sms{} ({} CTAs/SM by {})",
                         to_string(d.kind), d.launch.grid, d.launch.block, d.launch.regs, d.launch.smem, d.bytes_read,
                         d.bytes_written, ctx.compute_sms, r.ctas_per_sm, r.limiter);
  return c;
}

// The consecutive GPUs a group's members lie within (placement: TP innermost, then EP, pipeline ranks outermost;
// a data-parallel group spans its pipeline rank's GPUs, or the whole deployment when DualPipe doubles it with the
// mirrored rank's copy).
int64_t group_span(const OpDesc& d, const Deployment& dep) {
  const int64_t n = d.comm.group_size;
  switch (d.comm.group) {
    case CommGroup::TP:
    case CommGroup::EP:
    case CommGroup::None:
      return n;
    case CommGroup::DP:
      return n > dep.dp() ? dep.gpus : dep.stage_gpus();
    case CommGroup::ExpertDP:
      return n > dep.expert_dp() ? dep.gpus : dep.stage_gpus();
    case CommGroup::PP:
      return 2 * dep.stage_gpus();
  }
  return n;
}

// Analytical (closed form), a ring alpha-beta model: reduce-scatter and all-gather take (n - 1) steps of
// latency + ceil(bytes / n) / bandwidth, all-reduce twice that; a pipeline send takes latency + bytes / bandwidth.
// NVLink (bandwidth and latency of the cluster) when the group lies inside one node; otherwise the NICs (the NIC
// rate x NICs per GPU) with the latency of the slowest hop of a ring step: 2 NIC ends + 1 leaf switch when the
// group's nodes sit under one leaf, + 2 fabric links and 3 switches (leaf, spine, leaf) when it spans leaves
// (DeepSeek's Table 5: 2.8 us same-leaf, 3.7 us cross-leaf on H800).
struct Hop {
  bool intra = false;  // inside one NVLink domain
  Bandwidth bw;
  Time latency;
  std::string link;
};

Hop hop_of(const OpDesc& d, const CostContext& ctx) {
  const net::ClusterConfig& cl = *ctx.cluster;
  const Deployment& dep = *ctx.deploy;
  const int64_t gpn = cl.gpus_per_node;
  bool intra = false;
  if (d.kind == OpKind::SendRecv) {
    intra = dep.stage_gpus() < gpn;  // neighbouring pipeline ranks share a node only when a rank is a node's part
  } else {
    intra = group_span(d, dep) <= gpn;
  }
  Bandwidth bw;
  Time latency;
  std::string link;
  if (intra) {
    bw = cl.nvlink_bandwidth;
    latency = cl.nvlink_latency;
    link = "nvlink";
  } else {
    bw = Bandwidth::bytes_per_second(cl.nic_bandwidth.bytes_per_second() * cl.nics_per_gpu);
    const int64_t nodes = ceil_div(group_span(d, dep), gpn);
    const int64_t nodes_per_leaf = std::max<int64_t>(1, cl.hosts_per_leaf() / std::max<int64_t>(1, gpn / cl.planes));
    const bool cross_leaf = d.kind != OpKind::SendRecv && cl.spines_per_plane() > 0 && nodes > nodes_per_leaf;
    latency = cl.nic_latency + cl.nic_latency + cl.switch_latency;
    if (cross_leaf)
      latency = latency + cl.switch_latency + cl.switch_latency + cl.fabric_link_latency + cl.fabric_link_latency;
    link = cross_leaf ? "nic-cross-leaf" : "nic";
  }
  return Hop{intra, bw, latency, link};
}

// DeepEP's handshake before a normal-kernel all-to-all (notify_dispatch / cached_notify): every GPU writes its
// counts to every peer at once and waits for theirs: a kernel launch and two hops (the counts out, the peers' back).
// What a profiler shows of it beyond that is waiting for the slowest peer (a collective in the executor).
OpCost handshake(const OpDesc& d, const CostContext& ctx) {
  const Hop h = hop_of(d, ctx);
  OpCost c;
  c.model = CostModel::Analytical;
  c.bound = "latency";
  c.time = ctx.hw->kernel.launch_overhead + h.latency + h.latency;
  c.kernel =
      fmt::format("handshake {} {} n{} {}", to_string(d.kind), to_string(d.comm.group), d.comm.group_size, h.link);
  return c;
}

OpCost collective(const OpDesc& d, const CostContext& ctx) {
  const net::ClusterConfig& cl = *ctx.cluster;
  const int64_t n = d.comm.group_size;
  const auto [intra, bw, latency, link] = hop_of(d, ctx);
  if (bw.bytes_per_second() <= 0) {
    throw ConfigError(fmt::format("{}: the {} group of {} GPUs spans nodes of {} ({}), whose GPUs have no NIC",
                                  describe(d), to_string(d.comm.group), n, cl.name, cl.file));
  }
  OpCost c;
  c.model = CostModel::Analytical;
  c.bound = intra ? "nvlink" : "nic";
  const int64_t bytes = d.comm.bytes;
  if (d.kind == OpKind::SendRecv) {
    c.time = latency + bw.transfer_time(Bytes(bytes));
  } else if (n > 1) {
    const Time step = latency + bw.transfer_time(Bytes(ceil_div(bytes, n)));
    Time t;
    const int64_t steps = (n - 1) * (d.kind == OpKind::AllReduce ? 2 : 1);
    for (int64_t i = 0; i < steps; ++i) t += step;
    c.time = t;
  }
  c.kernel = fmt::format("{} {} n{} bytes{} {}", to_string(d.kind), to_string(d.comm.group), n, bytes, link);
  return c;
}

Plan plan_gemm(const OpDesc& d, bool a_cast, const CostContext& ctx) {
  const HardwareConfig& hw = *ctx.hw;
  const GemmShape& s = d.gemm;
  V3SIM_ASSERT_MSG(s.batch == 1, describe(d));
  sm::GemmDesc g;
  std::string origin;  // how the graph's shape became the kernel's (part of the key, so the note follows from it)
  int64_t k = s.k;
  if (d.kind == OpKind::Gemm) {
    V3SIM_ASSERT_MSG(s.groups == 1, describe(d));
    g.layout = sm::GemmLayout::Dense;
    g.m = s.m;
  } else if (d.pass == Pass::Wgrad) {
    // dW_e = dY_e^T X_e per expert: M = the weight's rows (per expert), K = the expert's tokens (DeepGEMM's
    // k-grouped Wgrad), each expert's token segment padded to the 128-row K block.
    g.layout = sm::GemmLayout::Contiguous;
    g.m = round_up(s.m, kQuantTile);
    k = round_up(ceil_div(s.k, s.groups), kQuantTile);
    origin += fmt::format(" k-grouped(K{}/{})", s.k, s.groups);
  } else if (ctx.deploy->phase == Phase::Decode) {
    g.layout = sm::GemmLayout::Masked;
    g.m = ceil_div(s.m, s.groups);
  } else {
    g.layout = sm::GemmLayout::Contiguous;
    g.m = round_up(ceil_div(s.m, s.groups), kQuantTile);
  }
  g.groups = d.kind == OpKind::Gemm ? 1 : s.groups;
  // K and N of the kernel are whole 128-wide scale blocks and 16-byte TMA rows: a shape that is not (the fused
  // q/kv down-projection's Dgrad has K = 2112) runs on zero-padded operands (TMA fills the tail with zeros).
  g.k = round_up(k, kQuantTile);
  g.n = round_up(s.n, kNAlign);
  if (g.k != k) origin += fmt::format(" K{}->{}", k, g.k);
  if (g.n != s.n) origin += fmt::format(" N{}->{}", s.n, g.n);
  g.sms = ctx.compute_sms;
  // Promotion: DeepGEMM adds each 128-K partial sum into FP32 registers on the CUDA cores, applying the 1x128 and
  // 128x128 scales. Only a tensor core that takes the scales itself (block-scaled MMA) avoids it; an FP8 MMA with
  // FP32 accumulation alone still needs the per-block scales applied (proposals/fp32-accumulation.yaml).
  g.promote = !hw.features.block_scaled_mma;
  const bool transposed = hw.features.fp8_transposed_smem_reads;
  g.a_mn_major = transposed && s.a_transposed_copy;
  g.b_mn_major = transposed && s.b_transposed_copy;
  g.a_bf16_cast = a_cast;
  g.c_accumulate = s.out_type == DType::FP32;  // Wgrad adds into the FP32 gradient kept over the micro-batches
  // A Wgrad's B is an activation too (128x1 tiles of the original, 1x128 along K after the transpose): one scale per
  // row and K block, not per 128x128 block.
  g.b_row_scales = s.b_quant == QuantGran::Tile1x128 || s.b_quant == QuantGran::Tile128x1;
  const bool cutlass = ctx.deploy->gemm_kernel == GemmKernel::Cutlass;
  if (cutlass) {
    // DeepSeek's training kernels (profile-data train.json): 384 threads (a TMA producer and two math warpgroups),
    // 217.6-218.6 KB of shared memory growing by 8 B per K block (two B block scales per K block: BLOCK_N 256, BF16
    // output tile, 3 stages of 128 x 256); the FP32-accumulating Wgrad 203,776 B whatever K (128 x 128, FP32 output
    // tile, 4 stages with both operands' scales per stage).
    g.block_m = 128;
    g.block_n = g.c_accumulate ? 128 : 256;
    g.promotion_overlap = false;
  }

  Plan p;
  p.job = Job::Gemm;
  p.gemm = g;
  p.cost.model = CostModel::CycleGemm;
  p.cost.kernel = fmt::format("gemm {} {} g{} m{} n{} k{} sms{} {}{}{}{}{}{}", to_string(s.a_type),
                              sm::to_string(g.layout), g.groups, g.m, g.n, g.k, g.sms,
                              hw.features.block_scaled_mma ? "block-scaled" : (g.promote ? "promote" : "tc-accumulate"),
                              g.a_mn_major ? " a:mn" : "", g.b_mn_major ? " b:mn" : "",
                              g.a_bf16_cast ? " a:bf16-tma-cast" : "", g.c_accumulate ? " c:fp32-acc" : "", origin);
  if (g.b_row_scales) p.cost.kernel += " b:row-scales";
  if (cutlass) p.cost.kernel += fmt::format(" cutlass{}x{}", g.block_m, g.block_n);
  std::vector<std::string> notes;
  if (d.pass == Pass::Wgrad && d.kind == OpKind::GroupedGemm) {
    notes.push_back("k-grouped Wgrad as groups of the weight's rows over each expert's padded tokens");
  }
  if (g.k != k || g.n != s.n) notes.push_back("K/N zero-padded to whole 128-K blocks and 16-byte rows");
  if (g.a_mn_major || g.b_mn_major) notes.push_back("reads the FP8 operand MN-major (transposed FP8 smem reads)");
  if (g.a_bf16_cast) notes.push_back("loads A in BF16 and casts it to FP8 in the TMA");
  if (g.c_accumulate) notes.push_back("reads and writes the FP32 gradient it accumulates into");
  if (g.b_row_scales) notes.push_back("B scaled per row and 128 K: a scale product per accumulator");
  if (cutlass) notes.push_back("DeepSeek's CUTLASS-based kernel: fixed tile, promotion not overlapped with the MMAs");
  for (size_t i = 0; i < notes.size(); ++i) p.cost.note += (i ? "; " : "") + notes[i];
  return p;
}

Plan plan_cast(const OpDesc& d, const CostContext& ctx) {
  Plan p;
  p.job = Job::Cast;
  p.cast.kernel = d.kind == OpKind::Quantize ? sm::CastKernel::Quantize : sm::CastKernel::TransposeRequant;
  // The kernel works on whole 128 x 128 tiles: a partial tile at the edge costs a whole one (TMA masks it).
  p.cast.rows = round_up(d.gemm.m, kQuantTile);
  p.cast.cols = round_up(d.gemm.k, kQuantTile);
  // On the communication stream (kFlagCommStream) a kernel gets the SMs communication holds.
  p.cast.sms = d.has(kFlagCommStream) && ctx.comm_sms > 0 ? ctx.comm_sms : ctx.compute_sms;
  p.cost.model = CostModel::CycleCast;
  p.cost.kernel =
      fmt::format("cast {} rows{} cols{} sms{}", sm::to_string(p.cast.kernel), p.cast.rows, p.cast.cols, p.cast.sms);
  if (p.cast.rows != d.gemm.m || p.cast.cols != d.gemm.k) {
    p.cost.kernel += fmt::format(" from {}x{}", d.gemm.m, d.gemm.k);
    p.cost.note = "rows/cols rounded up to whole 128 x 128 tiles";
  }
  return p;
}

Plan plan_alltoall(const OpDesc& d, const CostContext& ctx) {
  const ModelConfig& m = *ctx.model;
  const Deployment& dep = *ctx.deploy;
  const net::ClusterConfig& cl = *ctx.cluster;
  net::AllToAllDesc a;
  a.mode = ctx.low_latency_alltoall ? net::AllToAllMode::LowLatency : net::AllToAllMode::Normal;
  a.phase = d.kind == OpKind::AllToAllDispatch ? AllToAllPhase::Dispatch : AllToAllPhase::Combine;
  a.ep = d.comm.group_size;
  a.tokens = d.comm.tokens;
  a.hidden = m.dim;
  a.topk = d.comm.fanout;
  // The routed experts, plus the shared expert's replicas when the deployment routes it like the others (its
  // fanout counts the shared expert: Deployment::fanout).
  a.experts = m.n_routed_experts + (dep.shared_as_routed ? dep.shared_slots : 0);
  a.redundant = dep.redundant_experts;
  a.node_limit = d.comm.node_limit;
  a.sms = ctx.comm_sms;
  a.seed = ctx.seed;
  a.bytes_per_copy = d.comm.bytes_per_copy;
  if (a.ep > cl.gpus()) {
    throw ConfigError(fmt::format("{}: deployment {} runs the all-to-all over EP {} GPUs, but cluster {} ({}) has {}",
                                  describe(d), dep.name, a.ep, cl.name, cl.file, cl.gpus()));
  }
  std::string slots;
  const int64_t nodes = a.nodes(cl);
  if (a.experts % nodes != 0 && (a.experts + a.redundant) % nodes == 0) {
    // The routing model places one expert group per node; when the logical experts do not divide over the nodes
    // (EP320: 256 routed + 32 shared replicas over 40 nodes) every expert slot is routed as an expert of its own.
    a.experts += a.redundant;
    a.redundant = 0;
    slots = " slots-as-experts";
  }
  try {
    a.validate(cl);
  } catch (const ConfigError& e) {
    // The problem's keys as the deployment, model and cluster write them.
    static const std::pair<const char*, const char*> kKeys[] = {
        {"alltoall.ep", "deploy.parallelism.ep"},           {"alltoall.experts", "model.n_routed_experts"},
        {"alltoall.redundant", "deploy.experts.redundant"}, {"alltoall.node_limit", "deploy.experts.node_limit"},
        {"alltoall.sms", "deploy.execution.comm_sms"},      {"alltoall.topk", "model.n_activated_experts"}};
    std::string key = e.key_path();
    for (const auto& [from, to] : kKeys)
      if (key == from) key = to;
    throw ConfigError(
        fmt::format("{}: the all-to-all of deployment {} (EP {}) cannot run on cluster {} ({}): {}: "
                    "expected {}, found {}",
                    describe(d), dep.name, a.ep, cl.name, cl.file, key, e.expected(), e.found()));
  }
  Plan p;
  p.job = Job::AllToAll;
  p.a2a = a;
  p.cost.model = CostModel::CycleAllToAll;
  const bool normal = a.mode == net::AllToAllMode::Normal;
  const std::string sms = !normal ? std::string(cl.low_latency_nvlink ? "no-sm-limit" : "no-sm-limit pure-rdma")
                          : cl.coprocessor ? std::string("coprocessor")
                                           : fmt::format("sms{}", a.comm_sms(cl));
  p.cost.kernel = fmt::format(
      "alltoall {} {} ep{} tokens{} hidden{} copy{} top{} experts{} redundant{} node-limit{} {} {} seed{}{}",
      to_string(a.mode), to_string(a.phase), a.ep, a.tokens, a.hidden, a.copy_bytes(), a.topk, a.experts, a.redundant,
      a.node_limit, sms, a.routing.str(), a.seed, slots);
  if (!slots.empty()) p.cost.note = "every expert slot routed as an expert (the experts do not divide over the nodes)";
  return p;
}

Plan plan_op(const OpDesc& d, const Rewrites& rw, uint32_t index, const CostContext& ctx) {
  const HardwareConfig& hw = *ctx.hw;
  const bool transposed = hw.features.fp8_transposed_smem_reads;
  Plan p;
  if (d.has(kFlagScaleLayout) && rw.scale_dropped[index]) {
    p.cost = dropped(fmt::format("dropped scale transpose rows{}", d.tokens),
                     "FP8 cast in TMA: the GEMM's load makes the scales it needs");
    return p;
  }
  const bool compute_kind = !is_memory_bound(d.kind);
  if (d.launch.given() && !compute_kind && !(transposed && d.has(kFlagTransposeForFp8)) &&
      !(d.kind == OpKind::Quantize && rw.quant_dropped[index])) {
    p.cost = streaming(d, ctx);
    return p;
  }
  switch (d.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm:
      if (is_fp8(d.gemm.a_type)) return plan_gemm(d, rw.a_bf16_cast[index] != 0, ctx);
      p.cost = roofline(d, ctx, true);
      return p;
    case OpKind::BatchedGemm:
    case OpKind::Attention:
      p.cost = roofline(d, ctx, true);
      return p;
    case OpKind::Quantize:
      if (rw.quant_dropped[index]) {
        p.cost = dropped(fmt::format("dropped cast quantize rows{} cols{}", d.gemm.m, d.gemm.k),
                         "FP8 cast in TMA: the consuming GEMMs load BF16 and cast while loading");
        return p;
      }
      return plan_cast(d, ctx);
    case OpKind::TransposeRequant:
      if (transposed && d.has(kFlagTransposeForFp8)) {
        p.cost = dropped(fmt::format("dropped cast transpose_requant rows{} cols{}", d.gemm.m, d.gemm.k),
                         "transposed FP8 smem reads: the Wgrad GEMM reads the FP8 operand MN-major");
        return p;
      }
      return plan_cast(d, ctx);
    case OpKind::WeightCast:
      if (transposed && d.has(kFlagTransposeForFp8)) {
        p.cost = dropped(fmt::format("dropped weight_cast transposed params{}", d.bytes_read / 2),
                         "transposed FP8 smem reads: the Dgrad GEMM reads the FP8 weights MN-major");
        return p;
      }
      p.cost = roofline(d, ctx, false);
      return p;
    case OpKind::AllToAllDispatch:
    case OpKind::AllToAllCombine:
      if (d.has(kFlagHandshake)) {
        p.cost = handshake(d, ctx);
        return p;
      }
      return plan_alltoall(d, ctx);
    case OpKind::AllGather:
    case OpKind::ReduceScatter:
    case OpKind::AllReduce:
    case OpKind::SendRecv:
      p.cost = collective(d, ctx);
      return p;
    case OpKind::Embedding:
    case OpKind::Norm:
    case OpKind::Rope:
    case OpKind::Activation:
    case OpKind::Elementwise:
    case OpKind::Router:
    case OpKind::Permute:
    case OpKind::Unpermute:
    case OpKind::KvCacheAppend:
    case OpKind::Loss:
    case OpKind::Optimizer:
    case OpKind::kCount:
      break;
  }
  p.cost = roofline(d, ctx, false);
  return p;
}

OpCost run_job(const Plan& p, const OpDesc& d, const CostContext& ctx) {
  OpCost c = p.cost;
  try {
    switch (p.job) {
      case Job::Gemm: {
        const sm::GemmResult r = sm::simulate_gemm(p.gemm, *ctx.hw);
        c.time = r.time;
        c.bound = r.bound;
        break;
      }
      case Job::Cast: {
        const sm::CastResult r = sm::simulate_cast(p.cast, *ctx.hw);
        c.time = r.time;
        c.bound = r.bound;
        break;
      }
      case Job::AllToAll: {
        const net::AllToAllResult r = net::run_alltoall(*ctx.cluster, p.a2a);
        c.time = r.time;
        c.bound = std::string(net::link_class_name(r.bottleneck_class));
        break;
      }
      case Job::None:
        break;
    }
  } catch (const ConfigError& e) {
    const std::string what = p.job == Job::Gemm   ? p.gemm.str()
                             : p.job == Job::Cast ? fmt::format("{} {}x{} on {} SMs", sm::to_string(p.cast.kernel),
                                                                p.cast.rows, p.cast.cols, p.cast.sms)
                                                  : p.a2a.str(*ctx.cluster);
    throw ConfigError(fmt::format("{}: kernel '{}' cannot run on {}: {}", describe(d), what, ctx.hw->name, e.what()));
  }
  return c;
}

void check_context(const CostContext& ctx) {
  V3SIM_ASSERT_MSG(ctx.model && ctx.deploy && ctx.hw && ctx.cluster, "CostContext needs model, deploy, hw, cluster");
  if (ctx.compute_sms < 1 || ctx.compute_sms > ctx.hw->sms) {
    throw ConfigError(
        fmt::format("compute SMs: expected between 1 and the {} SMs of {}, found {} (the SMs left "
                    "after communication takes {})",
                    ctx.hw->sms, ctx.hw->name, ctx.compute_sms, ctx.comm_sms));
  }
}

}  // namespace

std::vector<OpCost> cost_graph(const OpGraph& graph, const CostContext& ctx, KernelCache& cache,
                               const CostProgress& progress) {
  check_context(ctx);
  V3SIM_ASSERT(graph.finalized());
  const Rewrites rw = rewrites_of(graph, *ctx.hw);
  const auto n = static_cast<uint32_t>(graph.num_descs());
  std::vector<Plan> plans;
  plans.reserve(n);
  // Cycle-level kernels: the result of each distinct key, and the descriptors (in order) that must simulate one.
  std::unordered_map<std::string, std::optional<OpCost>> results;
  std::vector<uint32_t> jobs;
  for (uint32_t i = 0; i < n; ++i) {
    plans.push_back(plan_op(graph.descriptor(i), rw, i, ctx));
    const Plan& p = plans.back();
    if (p.job == Job::None) continue;
    auto [it, inserted] = results.try_emplace(p.cost.kernel);
    if (!inserted) continue;
    it->second = cache.find(ctx.fingerprint + "|" + p.cost.kernel);
    if (!it->second) jobs.push_back(i);
  }
  // The kernels are independent simulations: on ctx.threads threads, each into its own slot, then cached and
  // used in job order, so the costs are the same for any number of threads.
  std::vector<std::optional<OpCost>> computed(jobs.size());
  std::mutex progress_mutex;
  size_t done = 0;
  auto finish_in_order = [&] {
    for (size_t j = 0; j < jobs.size() && computed[j]; ++j) {
      const Plan& p = plans[jobs[j]];
      cache.insert(ctx.fingerprint + "|" + p.cost.kernel, *computed[j]);
      results[p.cost.kernel] = *computed[j];
    }
  };
  try {
    parallel_jobs(jobs.size(), static_cast<size_t>(std::max<int64_t>(1, ctx.threads)), [&](size_t j) {
      const Plan& p = plans[jobs[j]];
      computed[j] = run_job(p, graph.descriptor(jobs[j]), ctx);
      if (progress) {
        const std::lock_guard<std::mutex> lock(progress_mutex);
        progress(++done, jobs.size(), p.cost.kernel);
      }
    });
  } catch (...) {
    finish_in_order();  // what a serial run would have cached before the failing kernel
    throw;
  }
  finish_in_order();
  std::vector<OpCost> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const Plan& p = plans[i];
    out.push_back(p.job == Job::None ? p.cost : *results.at(p.cost.kernel));
  }
  return out;
}

}  // namespace v3sim::exec
