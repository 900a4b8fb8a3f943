#include "study/fake.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/random.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "report/study_tables.h"
#include "sim/exec/step.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

namespace v3sim::study {

namespace {

// A number in [0, 1) from a digest and a salt.
double unit(uint64_t h, uint64_t salt) {
  return static_cast<double>(mix64(h ^ mix64(salt)) >> 11) * 0x1.0p-53;
}

// The same loading as the step evaluator's (exec::load_step_inputs), so a fake study refuses the same configs.
exec::StepInputs load_all(const StudyPoint& pt) {
  return exec::load_step_inputs(pt.model, pt.deploy, pt.hw, pt.cluster);
}

class FakeEvaluator final : public PointEvaluator {
 public:
  explicit FakeEvaluator(FakeEvaluatorOptions o) : m_options(std::move(o)) {}

  std::string name() const override { return "fake"; }

  // The registry's names (sim/exec/metrics.h), as the step evaluator's: evaluate() returns some of them.
  std::vector<std::string> metric_names(Phase phase) const override { return exec::metric_names(phase, true); }

  std::vector<std::string> table_names() const override {
    return {"kernels", "hardware", "numerics_error_vs_k", "validation"};
  }

  void validate(const StudyPoint& pt) const override { load_all(pt); }

  PointResult evaluate(const StudyPoint& pt) const override {
    const int64_t call = m_calls.fetch_add(1);
    if (m_options.kill_after >= 0 && call >= m_options.kill_after) {
      std::raise(SIGKILL);
    }
    if (m_options.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(m_options.delay_ms));
    if (std::find(m_options.fail_indices.begin(), m_options.fail_indices.end(), pt.index) !=
        m_options.fail_indices.end()) {
      throw ConfigError(SourceLoc{pt.deploy_file, 0}, "", "a point the fake evaluator accepts",
                        fmt::format("point {}, listed in fail=", pt.index));
    }
    const exec::StepInputs l = load_all(pt);
    if (l.deploy.gpus_per_node != l.cluster.gpus_per_node) {
      throw ConfigError(SourceLoc{pt.deploy_file, 0}, "gpus_per_node",
                        fmt::format("the cluster's {} GPUs per node", l.cluster.gpus_per_node),
                        std::to_string(l.deploy.gpus_per_node));
    }
    if (l.deploy.gpus > l.cluster.gpus()) {
      throw ConfigError(SourceLoc{pt.deploy_file, 0}, "gpus",
                        fmt::format("at most the cluster's {} GPUs", l.cluster.gpus()), std::to_string(l.deploy.gpus));
    }
    uint64_t h = 0;
    const std::string digest =
        fingerprint_hex({pt.model.to_yaml(), pt.deploy.to_yaml(), pt.hw.to_yaml(), pt.cluster.to_yaml()});
    std::from_chars(digest.data(), digest.data() + digest.size(), h, 16);

    const double scale = pt.phase == Phase::Train ? 20.0 : pt.phase == Phase::Prefill ? 1.0 : 0.02;
    const double compute = scale * (0.5 + 0.5 * unit(h, 1));
    const double comm = scale * 0.2 * 44.0 / std::max(1.0, l.cluster.nic_bandwidth.gb_per_s());
    const double exposed = comm * (l.cluster.coprocessor ? 0.1 : 0.3);
    const double bubble = pt.phase == Phase::Train ? scale * 0.05 * unit(h, 2) : 0.0;
    const double step = compute + exposed + bubble;
    const double gpus = static_cast<double>(l.deploy.gpus);
    double tokens = 0;
    switch (pt.phase) {
      case Phase::Train:
        tokens = static_cast<double>(l.deploy.global_batch_sequences * l.deploy.seq_len);
        break;
      case Phase::Prefill:
        tokens = static_cast<double>(l.deploy.tokens_per_gpu) * gpus;
        break;
      case Phase::Decode:
        tokens = static_cast<double>(l.deploy.requests_per_gpu) * gpus;
        break;
    }
    const double hbm = static_cast<double>(l.hw.hbm.capacity.count());
    const double weights = hbm * (0.2 + 0.1 * unit(h, 3));
    const double activations = hbm * (0.1 + 0.1 * unit(h, 4));
    PointResult r;
    auto add = [&](const std::string& n, double v) { r.metrics.emplace_back(n, v); };
    add("step_time_s", step);
    add("numerics_rel_error", std::ldexp(1.0, -l.hw.fp8.fraction_bits));  // fewer bits kept, more error
    add("tokens_per_s_per_gpu", tokens / step / gpus);
    add("tokens_per_s_per_node", tokens / step / gpus * static_cast<double>(l.deploy.gpus_per_node));
    add("bubble_s", bubble);
    add("exposed_comm_s", exposed);
    add("memory_capacity_bytes", hbm);
    add("breakdown_s.gemm", compute * 0.6);
    add("breakdown_s.attention", compute * 0.25);
    add("breakdown_s.elementwise", compute * 0.15);
    add("breakdown_s.all_to_all_dispatch", comm);
    add("stream_busy_s.compute", compute);
    add("stream_busy_s.comm", comm);
    // Which cost model priced the time (model_s.<model>, all streams): the compute split over the GEMM, roofline
    // (attention), streaming and cast models in proportions that vary with the point's configs, so proposals that
    // change the chip move different models; communication over the all-to-all and the alpha-beta models.
    const double gemm_share = 0.45 + 0.2 * unit(h, 7), cast_share = 0.05 + 0.05 * unit(h, 8);
    add("model_s.cycle-gemm", compute * gemm_share);
    add("model_s.cycle-cast", compute * cast_share);
    add("model_s.roofline", compute * 0.25);
    add("model_s.streaming", compute * (0.75 - gemm_share - cast_share));
    add("model_s.cycle-alltoall", comm * 0.8);
    add("model_s.analytical", comm * 0.2);
    add("model_s.dropped", 0.0);
    add("memory_per_gpu_bytes.weights", weights);
    add("memory_per_gpu_bytes.activations", activations);
    double total = weights + activations;
    switch (pt.phase) {
      case Phase::Train: {
        add("mfu", 0.2 + 0.2 * unit(h, 5));
        add("gpu_hours_per_trillion_tokens", 1e12 / (tokens / step / gpus) / 3600.0);
        const double grads = weights * 0.5, opt = weights * 0.25;
        add("memory_per_gpu_bytes.gradients", grads);
        add("memory_per_gpu_bytes.optimizer", opt);
        total += grads + opt;
        break;
      }
      case Phase::Prefill:
        add("ttft_ms", step * 1e3);
        break;
      case Phase::Decode: {
        add("tpot_ms", step * 1e3);
        add("tokens_per_s_per_request", 1.0 / step);
        add("accepted_tokens_per_step", 1.0);
        const double kv = hbm * 0.1 * unit(h, 6);
        add("memory_per_gpu_bytes.kv_cache", kv);
        total += kv;
        break;
      }
    }
    add("memory_per_gpu_bytes.total", total);
    // Made-up values, but only of metrics the registry declares for the phase (as the step evaluator's).
    const std::vector<std::string> known = metric_names(pt.phase);
    for (const auto& [name, v] : r.metrics) {
      V3SIM_ASSERT_MSG(std::binary_search(known.begin(), known.end(), name),
                       "the fake evaluator returns " + name + ", which the metric registry does not declare");
    }
    return r;
  }

  report::Table table(const std::string& name, const std::vector<StudyPoint>& points) const override {
    report::Table t;
    t.name = name;
    t.source = "fake evaluator (test data, not a simulation)";
    t.columns.reserve(11);  // the column references below stay valid while columns are added
    // The columns scripts/report.py reads (as the step evaluator writes them), made-up values.
    if (name == "numerics_error_vs_k") {
      t.title = "FP8 GEMM relative error against K (fake)";
      auto& acc = t.add_text("accumulator");
      auto& k = t.add_number("k");
      auto& max_err = t.add_number("max_rel_error");
      auto& mean_err = t.add_number("mean_rel_error");
      auto& norm_err = t.add_number("normwise_error");
      const std::pair<const char*, double> accs[] = {
          {"fp22 tensor core", 0.9}, {"promoted every 128", 0.15}, {"fp32", 0.5}};
      for (const auto& [a, growth] : accs) {
        for (int64_t kk = 256; kk <= 16384; kk *= 2) {
          const double mean = 1e-5 * std::pow(static_cast<double>(kk) / 256.0, growth);
          acc.texts.emplace_back(a);
          k.numbers.push_back(static_cast<double>(kk));
          max_err.numbers.push_back(9.5 * mean);
          mean_err.numbers.push_back(mean);
          norm_err.numbers.push_back(0.8 * mean);
        }
      }
    } else if (name == "kernels") {
      t = report::Table::from_spec(report::kernels_table_spec());
      t.source = "fake evaluator (test data, not a simulation)";
      t.title = "Kernels of the baseline step (fake)";
      for (size_t i = 0; i < std::min<size_t>(points.size(), 4); ++i) {
        t.column("phase").texts.emplace_back(to_string(points[i].phase));
        t.column("name").texts.push_back(fmt::format("kernel_{}", i));
        t.column("kind").texts.emplace_back(i % 2 ? "attention" : "gemm");
        t.column("model").texts.emplace_back(i % 2 ? "roofline" : "cycle-gemm");
        t.column("bound").texts.emplace_back(i % 2 ? "hbm" : "tensor");
        t.column("flops").numbers.push_back(1e12 * static_cast<double>(i + 1));
        t.column("bytes").numbers.push_back(1e9 * static_cast<double>(i + 1));
        t.column("time_s").numbers.push_back(1e-3 * static_cast<double>(i + 1));
        t.column("calls").numbers.push_back(61);
        t.column("kernel").texts.push_back(fmt::format("fake kernel {}", i));
      }
    } else if (name == "hardware") {
      t = report::Table::from_spec(report::hardware_table_spec());
      t.source = "fake evaluator (test data, not a simulation)";
      t.title = "The chips of the study (fake)";
      for (const auto& pt : points) {
        const HardwareConfig hw = load_hardware(pt.hw);
        auto& names = t.column("name").texts;
        if (std::find(names.begin(), names.end(), hw.name) != names.end()) continue;
        add_hardware_row(t, hw, pt.hw_file);
      }
    } else if (name == "validation") {
      t.title = "Projected against measured (fake)";
      t.attrs["cross_validation"] = "leave-one-out over the fitted rows of each model (fake)";
      auto& suite = t.add_text("suite");
      auto& what = t.add_text("case");
      auto& measured = t.add_number("measured");
      auto& projected = t.add_number("projected");
      auto& unit_col = t.add_text("unit");
      auto& err = t.add_number("error_pct", "%");
      auto& source = t.add_text("source");
      auto& model = t.add_text("model");
      auto& role = t.add_text("role");
      auto& fit_projected = t.add_number("fit_projected");
      auto& fit_err = t.add_number("fit_error_pct", "%");
      // A fitted row (its in-sample projection, and the cross-validated one as `projected`) and a predicted one.
      const double nan = std::nan("");
      suite.texts = {"deepgemm_h800_dense", "deepep_h800_normal"};
      what.texts = {"m=4096 n=7168 k=2048", "internode dispatch EP64 (rdma GB/s)"};
      measured.numbers = {1168, 51};  // DeepGEMM's published figure of the shape (traces/published repeats it)
      projected.numbers = {1240, 48};
      unit_col.texts = {"TFLOPS", "GB/s"};
      model.texts = {"cycle-gemm", "cycle-alltoall"};
      role.texts = {"fitted", "predicted"};
      fit_projected.numbers = {1205, nan};
      for (size_t i = 0; i < 2; ++i) {
        err.numbers.push_back(100 * (projected.numbers[i] - measured.numbers[i]) / measured.numbers[i]);
        fit_err.numbers.push_back(100 * (fit_projected.numbers[i] - measured.numbers[i]) / measured.numbers[i]);
      }
      source.texts = {"fake", "fake"};
    } else {
      return PointEvaluator::table(name, points);
    }
    return t;
  }

 private:
  FakeEvaluatorOptions m_options;
  mutable std::atomic<int64_t> m_calls{0};
};

}  // namespace

FakeEvaluatorOptions fake_evaluator_options_from_env() {
  FakeEvaluatorOptions o;
  const char* env = std::getenv("V3SIM_FAKE_EVALUATOR");
  if (!env || !*env) return o;
  const std::string text = env;
  auto bad = [&](const std::string& found) {
    return ConfigError(SourceLoc{"$V3SIM_FAKE_EVALUATOR", 0}, "",
                       "comma-separated kill_after=N, fail=I:J:..., delay_ms=N", found);
  };
  auto number = [&](const std::string& s) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) throw bad(fmt::format("'{}'", s));
    return v;
  };
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw bad(fmt::format("'{}'", item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "kill_after") {
      o.kill_after = number(value);
    } else if (key == "delay_ms") {
      o.delay_ms = static_cast<int>(number(value));
    } else if (key == "fail") {
      size_t s = 0;
      while (s <= value.size()) {
        const size_t colon = std::min(value.find(':', s), value.size());
        o.fail_indices.push_back(number(value.substr(s, colon - s)));
        s = colon + 1;
      }
    } else {
      throw bad(fmt::format("'{}'", item));
    }
  }
  return o;
}

std::unique_ptr<PointEvaluator> make_fake_evaluator(const FakeEvaluatorOptions& options) {
  return std::make_unique<FakeEvaluator>(options);
}

}  // namespace v3sim::study
