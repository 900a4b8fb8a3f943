// The all-to-all over NCCL, one MPI rank per GPU (see alltoall.h). Host code only: NCCL moves the bytes.
#define OMPI_SKIP_MPICXX 1  // the C API only (no deprecated C++ bindings, no warnings from them)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <numeric>

#include "kernels/alltoall.h"
#include "kernels/cuda_common.h"
#include "kernels/dynlib.h"

namespace v3sim::kernels {

namespace {

struct NcclApi {
  std::string path;
  decltype(&::ncclGetVersion) get_version = nullptr;
  decltype(&::ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&::ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&::ncclCommDestroy) comm_destroy = nullptr;
  decltype(&::ncclGroupStart) group_start = nullptr;
  decltype(&::ncclGroupEnd) group_end = nullptr;
  decltype(&::ncclSend) send = nullptr;
  decltype(&::ncclRecv) recv = nullptr;
  decltype(&::ncclGetErrorString) error_string = nullptr;
};

const NcclApi& nccl_api() {
  static std::mutex mutex;
  static NcclApi api;
  static bool ready = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (!ready) {
    const SharedLibrary& lib = shared_library("libnccl.so." + std::to_string(NCCL_MAJOR));
    if (!lib.loaded()) throw DeviceUnavailable(lib.error);
    NcclApi a;
    a.path = lib.path;
    std::string error;
    auto bind = [&](const char* name, auto& fn) {
      void* p = library_symbol(lib, name, &error);
      if (p == nullptr) throw DeviceUnavailable(error);
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    bind("ncclGetVersion", a.get_version);
    bind("ncclGetUniqueId", a.get_unique_id);
    bind("ncclCommInitRank", a.comm_init_rank);
    bind("ncclCommDestroy", a.comm_destroy);
    bind("ncclGroupStart", a.group_start);
    bind("ncclGroupEnd", a.group_end);
    bind("ncclSend", a.send);
    bind("ncclRecv", a.recv);
    bind("ncclGetErrorString", a.error_string);
    api = a;
    ready = true;
  }
  return api;
}

#define V3SIM_NCCL_CHECK(expr)                                                                                 \
  do {                                                                                                         \
    const ncclResult_t v3sim_nr_ = (expr);                                                                     \
    if (v3sim_nr_ != ncclSuccess)                                                                              \
      ::v3sim::kernels::throw_library_error(std::string("NCCL: ") + nccl_api().error_string(v3sim_nr_), #expr, \
                                            __FILE__, __LINE__);                                               \
  } while (0)

#define V3SIM_MPI_CHECK(expr)                                                                                     \
  do {                                                                                                            \
    const int v3sim_mr_ = (expr);                                                                                 \
    if (v3sim_mr_ != MPI_SUCCESS)                                                                                 \
      ::v3sim::kernels::throw_library_error("MPI error " + std::to_string(v3sim_mr_), #expr, __FILE__, __LINE__); \
  } while (0)

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void ensure_mpi() {
  int initialized = 0;
  V3SIM_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;
  int provided = 0;
  V3SIM_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
  std::atexit(finalize_mpi);
}

// This process's rank among the ranks of its node.
int local_rank() {
  MPI_Comm local = MPI_COMM_NULL;
  V3SIM_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
  int r = 0;
  MPI_Comm_rank(local, &r);
  MPI_Comm_free(&local);
  return r;
}

// The payload byte of token copy `token`, byte `b`, sent from rank `src` to rank `dst` (verification only).
uint8_t pattern(int src, int dst, int64_t token, int64_t b) {
  return static_cast<uint8_t>(src * 131 + dst * 31 + token * 7 + b * 13 + 5);
}

template <typename F>
struct ScopeExit {
  F f;
  ~ScopeExit() { f(); }
};
template <typename F>
ScopeExit(F) -> ScopeExit<F>;

std::vector<int64_t> prefix(const std::vector<int64_t>& v, int64_t scale) {
  std::vector<int64_t> out(v.size() + 1, 0);
  for (size_t i = 0; i < v.size(); ++i) out[i + 1] = out[i] + v[i] * scale;
  return out;
}

}  // namespace

std::string alltoall_unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device: ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  }
  if (count == 0) return "no CUDA device: none visible";
  return {};
}

int alltoall_world_size() {
  ensure_mpi();
  int n = 0;
  V3SIM_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &n));
  return n;
}

int alltoall_rank() {
  ensure_mpi();
  int r = 0;
  V3SIM_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

AllToAllMeasurement measure_alltoall(const AllToAllProblem& p, const RunnerOptions& options, bool verify) {
  options.validate();
  const int world = alltoall_world_size(), rank = alltoall_rank();
  p.validate(world);
  const std::string why = alltoall_unavailable_reason();
  if (!why.empty()) throw DeviceUnavailable(why);
  const NcclApi& nccl = nccl_api();

  AllToAllMeasurement out;
  out.rank = rank;
  out.world_size = world;
  int devices = 0;
  V3SIM_CUDA_CHECK(cudaGetDeviceCount(&devices));
  out.device = local_rank() % devices;
  V3SIM_CUDA_CHECK(cudaSetDevice(out.device));

  // Receive counts: what every rank sends to this one.
  out.recv_tokens.assign(static_cast<size_t>(world), 0);
  V3SIM_MPI_CHECK(
      MPI_Alltoall(p.send_tokens.data(), 1, MPI_INT64_T, out.recv_tokens.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  const int64_t bpt = p.bytes_per_token();
  const std::vector<int64_t> send_off = prefix(p.send_tokens, bpt), recv_off = prefix(out.recv_tokens, bpt);
  const int64_t send_total = send_off.back(), recv_total = recv_off.back();
  DeviceBuffer<uint8_t> send = device_alloc<uint8_t>(static_cast<size_t>(send_total));
  DeviceBuffer<uint8_t> recv = device_alloc<uint8_t>(static_cast<size_t>(recv_total));
  if (verify) {
    std::vector<uint8_t> host(static_cast<size_t>(send_total));
    for (int d = 0; d < world; ++d)
      for (int64_t t = 0; t < p.send_tokens[static_cast<size_t>(d)]; ++t)
        for (int64_t b = 0; b < bpt; ++b)
          host[static_cast<size_t>(send_off[static_cast<size_t>(d)] + t * bpt + b)] = pattern(rank, d, t, b);
    copy_to_device(send.get(), host);
  } else {
    V3SIM_CUDA_CHECK(cudaMemset(send.get(), 0x5A, static_cast<size_t>(send_total)));
  }
  V3SIM_CUDA_CHECK(cudaMemset(recv.get(), 0, static_cast<size_t>(recv_total)));

  ncclUniqueId id{};
  if (rank == 0) V3SIM_NCCL_CHECK(nccl.get_unique_id(&id));
  V3SIM_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD));
  ncclComm_t comm = nullptr;
  V3SIM_NCCL_CHECK(nccl.comm_init_rank(&comm, world, id, rank));
  ScopeExit destroy_comm{[&] { nccl.comm_destroy(comm); }};
  cudaStream_t stream = nullptr;
  V3SIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  ScopeExit destroy_stream{[&] { cudaStreamDestroy(stream); }};

  auto exchange = [&] {
    V3SIM_NCCL_CHECK(nccl.group_start());
    for (int peer = 0; peer < world; ++peer) {
      const size_t n_send = static_cast<size_t>(p.send_tokens[static_cast<size_t>(peer)] * bpt);
      const size_t n_recv = static_cast<size_t>(out.recv_tokens[static_cast<size_t>(peer)] * bpt);
      if (n_send > 0)
        V3SIM_NCCL_CHECK(
            nccl.send(send.get() + send_off[static_cast<size_t>(peer)], n_send, ncclUint8, peer, comm, stream));
      if (n_recv > 0)
        V3SIM_NCCL_CHECK(
            nccl.recv(recv.get() + recv_off[static_cast<size_t>(peer)], n_recv, ncclUint8, peer, comm, stream));
    }
    V3SIM_NCCL_CHECK(nccl.group_end());
  };

  if (verify) {
    exchange();
    V3SIM_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<uint8_t> got = to_host(recv.get(), static_cast<size_t>(recv_total));
    int ok = 1;
    for (int s = 0; s < world && ok; ++s)
      for (int64_t t = 0; t < out.recv_tokens[static_cast<size_t>(s)] && ok; ++t)
        for (int64_t b = 0; b < bpt; ++b)
          if (got[static_cast<size_t>(recv_off[static_cast<size_t>(s)] + t * bpt + b)] != pattern(s, rank, t, b)) {
            ok = 0;
            break;
          }
    int all_ok = 0;
    V3SIM_MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    out.verified = all_ok == 1;
  }

  for (int i = 0; i < options.warmup; ++i) {
    V3SIM_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    exchange();
    V3SIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  Measurement& m = out.measurement;
  Event start, stop;
  for (int i = 0; i < options.repeats; ++i) {
    V3SIM_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    V3SIM_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    exchange();
    V3SIM_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    V3SIM_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0;
    V3SIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    double local = 1000.0 * ms, slowest = 0;
    V3SIM_MPI_CHECK(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    m.times_us.push_back(slowest);
  }

  out.send_bytes.assign(static_cast<size_t>(world), 0);
  out.recv_bytes.assign(static_cast<size_t>(world), 0);
  V3SIM_MPI_CHECK(MPI_Allgather(&send_total, 1, MPI_INT64_T, out.send_bytes.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  V3SIM_MPI_CHECK(MPI_Allgather(&recv_total, 1, MPI_INT64_T, out.recv_bytes.data(), 1, MPI_INT64_T, MPI_COMM_WORLD));
  int64_t busiest = 0;
  for (int r = 0; r < world; ++r)
    busiest = std::max({busiest, out.send_bytes[static_cast<size_t>(r)], out.recv_bytes[static_cast<size_t>(r)]});

  int version = 0;
  V3SIM_NCCL_CHECK(nccl.get_version(&version));
  out.nccl_version = str_cat(version / 10000, ".", (version % 10000) / 100, ".", version % 100);
  m.op = std::string("alltoall-") + to_string(p.phase);
  m.shape = p.describe() + " ranks=" + std::to_string(world);
  m.attributes = {{"kernel", "NCCL grouped ncclSend/ncclRecv (one MPI rank per GPU)"},
                  {"nccl", out.nccl_version + " (" + nccl.path + ")"},
                  {"ranks", std::to_string(world)},
                  {"bytes_per_token", std::to_string(bpt)}};
  m.cost.bytes = static_cast<double>(busiest);
  m.options = options;
  m.stats = summarize(m.times_us);
  if (m.stats.median_us > 0) m.gbps = achieved(m.cost, m.stats.median_us).second;
  m.provenance = collect_provenance(out.device);
  m.provenance.clock_source = "none: not sampled for the all-to-all";
  return out;
}

}  // namespace v3sim::kernels
