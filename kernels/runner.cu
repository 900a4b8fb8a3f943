// The timing runner (see runner.h): CUDA events around each launch, an L2 flush between launches, NVML clock
// sampling on a side thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>

#include "kernels/cuda_common.h"
#include "kernels/device.h"
#include "kernels/dynlib.h"
#include "kernels/runner.h"

namespace v3sim::kernels {

namespace {

// ---- NVML, loaded at run time (libnvidia-ml ships with the driver, not the toolkit) --------------------------------

// NOTES: the few NVML types and constants used, declared here so that no nvml.h is needed (the toolkit on the
// build machine has none); they are part of NVML's stable C ABI.
using NvmlReturn = int;  // nvmlReturn_t, NVML_SUCCESS = 0
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr int kNvmlClockSm = 1;         // NVML_CLOCK_SM
constexpr int kNvmlClockMem = 2;        // NVML_CLOCK_MEM
constexpr int kNvmlTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU

struct NvmlApi {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*handle_by_pci)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*clock_info)(NvmlDevice, int, unsigned*) = nullptr;
  NvmlReturn (*power_usage)(NvmlDevice, unsigned*) = nullptr;
  NvmlReturn (*temperature)(NvmlDevice, int, unsigned*) = nullptr;
  NvmlReturn (*driver_version)(char*, unsigned) = nullptr;
  std::string error;  // empty when usable
};

const NvmlApi& nvml() {
  static std::once_flag once;
  static NvmlApi api;
  std::call_once(once, [] {
    const SharedLibrary& lib = shared_library("libnvidia-ml.so.1");
    if (!lib.loaded()) {
      api.error = lib.error;
      return;
    }
    std::string err;
    auto bind = [&](const char* name, auto& fn) {
      void* p = library_symbol(lib, name, &err);
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
      return p != nullptr;
    };
    const bool ok =
        bind("nvmlInit_v2", api.init) && bind("nvmlShutdown", api.shutdown) &&
        bind("nvmlDeviceGetHandleByPciBusId_v2", api.handle_by_pci) && bind("nvmlDeviceGetClockInfo", api.clock_info) &&
        bind("nvmlDeviceGetPowerUsage", api.power_usage) && bind("nvmlDeviceGetTemperature", api.temperature) &&
        bind("nvmlSystemGetDriverVersion", api.driver_version);
    if (!ok) {
      api.error = err;
      return;
    }
    const NvmlReturn r = api.init();
    if (r != 0) api.error = "nvmlInit_v2 returned " + std::to_string(r);
  });
  return api;
}

// The NVML handle of CUDA device 0 (matched by PCI bus id, so CUDA_VISIBLE_DEVICES cannot mislead it).
bool nvml_device(const std::string& pci_bus_id, NvmlDevice& out, std::string& error) {
  const NvmlApi& api = nvml();
  if (!api.error.empty()) {
    error = api.error;
    return false;
  }
  const NvmlReturn r = api.handle_by_pci(pci_bus_id.c_str(), &out);
  if (r != 0) {
    error = "nvmlDeviceGetHandleByPciBusId_v2(" + pci_bus_id + ") returned " + std::to_string(r);
    return false;
  }
  return true;
}

// Samples clocks, power and temperature every interval until stopped.
class ClockSampler {
 public:
  ClockSampler(NvmlDevice dev, int interval_ms) : m_dev(dev), m_interval(interval_ms) {
    m_thread = std::thread([this] { run(); });
  }
  ~ClockSampler() { stop(); }
  ClockSampler(const ClockSampler&) = delete;
  ClockSampler& operator=(const ClockSampler&) = delete;

  void stop() {
    m_stop = true;
    if (m_thread.joinable()) m_thread.join();
  }

  void fill(Provenance& p) const {
    if (m_sm.empty()) return;
    auto stats = [](const std::vector<double>& v, double& lo, double& mean, double& hi) {
      lo = *std::min_element(v.begin(), v.end());
      hi = *std::max_element(v.begin(), v.end());
      double sum = 0;
      for (double x : v) sum += x;
      mean = sum / static_cast<double>(v.size());
    };
    p.clock_samples = static_cast<int>(m_sm.size());
    stats(m_sm, p.sm_clock_mhz_min, p.sm_clock_mhz_mean, p.sm_clock_mhz_max);
    stats(m_mem, p.mem_clock_mhz_min, p.mem_clock_mhz_mean, p.mem_clock_mhz_max);
    p.power_w_max = m_power_max;
    p.temperature_c_max = m_temp_max;
  }

 private:
  void run() {
    const NvmlApi& api = nvml();
    do {
      unsigned sm = 0, mem = 0, mw = 0, temp = 0;
      if (api.clock_info(m_dev, kNvmlClockSm, &sm) == 0 && api.clock_info(m_dev, kNvmlClockMem, &mem) == 0) {
        m_sm.push_back(sm);
        m_mem.push_back(mem);
      }
      if (api.power_usage(m_dev, &mw) == 0) m_power_max = std::max(m_power_max, mw / 1000.0);
      if (api.temperature(m_dev, kNvmlTemperatureGpu, &temp) == 0)
        m_temp_max = std::max(m_temp_max, static_cast<double>(temp));
      std::this_thread::sleep_for(std::chrono::milliseconds(m_interval));
    } while (!m_stop);
  }

  NvmlDevice m_dev;
  int m_interval;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
  std::vector<double> m_sm, m_mem;
  double m_power_max = 0, m_temp_max = 0;
};

}  // namespace

Provenance collect_provenance(int device) {
  const DeviceInfo dev = query_device(device);
  if (!dev.available) throw DeviceUnavailable("no CUDA device: " + dev.reason);
  Provenance p;
  p.gpu_name = dev.name;
  p.sm_count = dev.sm_count;
  p.cc_major = dev.cc_major;
  p.cc_minor = dev.cc_minor;
  p.memory_bytes = dev.memory_bytes;
  p.driver_version = dev.driver_version;
  p.runtime_version = dev.runtime_version;
  int v = 0;
  V3SIM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrL2CacheSize, device));
  p.l2_bytes = v;
  V3SIM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, device));
  p.peak_sm_clock_mhz = v / 1000;  // kHz
  V3SIM_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMemoryClockRate, device));
  p.peak_mem_clock_mhz = v / 1000;
  char bus[32] = {};
  V3SIM_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof(bus), device));
  p.pci_bus_id = bus;
  const NvmlApi& api = nvml();
  if (api.error.empty()) {
    char release[96] = {};
    if (api.driver_version(release, sizeof(release)) == 0) p.driver_release = release;
  }
  p.clock_source = api.error.empty() ? "nvml" : "none: " + api.error;
  return p;
}

Measurement measure(DeviceOp& op, const RunnerOptions& options) {
  options.validate();
  Measurement m;
  m.op = op.name();
  m.shape = op.shape();
  m.attributes = op.attributes();
  m.cost = op.cost();
  m.options = options;
  use_hopper_device();
  m.provenance = collect_provenance(0);

  DeviceBuffer<uint8_t> flush;
  size_t flush_bytes = 0;
  if (options.flush_l2) {
    flush_bytes = options.flush_bytes > 0
                      ? static_cast<size_t>(options.flush_bytes)
                      : std::max<size_t>(size_t{64} << 20, 2 * static_cast<size_t>(m.provenance.l2_bytes));
    flush = device_alloc<uint8_t>(flush_bytes);
  }
  auto flush_l2 = [&](int i) {
    if (flush) V3SIM_CUDA_CHECK(cudaMemsetAsync(flush.get(), i & 0xFF, flush_bytes, nullptr));
  };

  for (int i = 0; i < options.warmup; ++i) {
    flush_l2(i);
    op.enqueue();
  }
  V3SIM_CUDA_CHECK(cudaDeviceSynchronize());

  std::vector<Event> start(static_cast<size_t>(options.repeats)), stop(static_cast<size_t>(options.repeats));
  std::unique_ptr<ClockSampler> sampler;
  NvmlDevice nvml_dev = nullptr;
  std::string nvml_error;
  if (options.sample_clocks && nvml_device(m.provenance.pci_bus_id, nvml_dev, nvml_error)) {
    sampler = std::make_unique<ClockSampler>(nvml_dev, options.sample_interval_ms);
  } else if (!options.sample_clocks) {
    m.provenance.clock_source = "none: sampling disabled";
  } else {
    m.provenance.clock_source = "none: " + nvml_error;
  }
  for (size_t i = 0; i < start.size(); ++i) {
    flush_l2(static_cast<int>(i) + 1);
    V3SIM_CUDA_CHECK(cudaEventRecord(start[i].get(), nullptr));
    op.enqueue();
    V3SIM_CUDA_CHECK(cudaEventRecord(stop[i].get(), nullptr));
  }
  V3SIM_CUDA_CHECK(cudaDeviceSynchronize());
  if (sampler) {
    sampler->stop();
    sampler->fill(m.provenance);
  }

  m.times_us.reserve(start.size());
  for (size_t i = 0; i < start.size(); ++i) {
    float ms = 0;
    V3SIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start[i].get(), stop[i].get()));
    m.times_us.push_back(1000.0 * ms);
  }
  m.stats = summarize(m.times_us);
  if (m.stats.median_us > 0) std::tie(m.tflops, m.gbps) = achieved(m.cost, m.stats.median_us);
  return m;
}

}  // namespace v3sim::kernels
