#include "study/step_evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "report/study_tables.h"
#include "sim/exec/op_cost.h"
#include "sim/exec/step.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"
#include "sim/numerics/error_study.h"

namespace v3sim::study {

namespace {

exec::StepInputs load_inputs(const StudyPoint& pt) {
  return exec::load_step_inputs(pt.model, pt.deploy, pt.hw, pt.cluster);
}

class StepEvaluator final : public PointEvaluator {
 public:
  explicit StepEvaluator(StepEvaluatorOptions o)
      : m_options(std::move(o)),
        m_cache(m_options.cache_path.empty() ? std::make_unique<exec::KernelCache>()
                                             : std::make_unique<exec::KernelCache>(m_options.cache_path)) {}

  std::string name() const override { return "step"; }

  std::vector<std::string> metric_names(Phase phase) const override { return exec::metric_names(phase, true); }

  std::vector<std::string> table_names() const override {
    std::vector<std::string> names = {"kernels", "hardware"};
    for (auto& n : report::study_table_names()) names.push_back(n);
    return names;
  }

  void validate(const StudyPoint& pt) const override { load_inputs(pt); }

  PointResult evaluate(const StudyPoint& pt) const override {
    exec::StepResult r = simulate(pt);
    PointResult out;
    out.metrics = r.metrics();
    // A point whose peak memory exceeds the GPU's keeps its figures (the report plots it against the capacity).
    if (!r.fits) out.status = "infeasible: " + r.capacity_problem;
    out.metrics.emplace_back("numerics_rel_error", numerics_rel_error(pt));
    std::sort(out.metrics.begin(), out.metrics.end());
    std::lock_guard<std::mutex> lock(m_mutex);
    m_kernels.emplace(pt.index, std::move(r.kernels));
    return out;
  }

  report::Table table(const std::string& name, const std::vector<StudyPoint>& points) const override {
    if (name == "kernels") return kernels_table(points);
    if (name == "hardware") return hardware_table(points);
    const std::vector<std::string> shared = report::study_table_names();
    if (std::find(shared.begin(), shared.end(), name) != shared.end()) {
      report::StudyTableInputs in;
      in.configs_dir = m_options.configs_dir;
      in.reference_yaml = m_options.reference_yaml;
      return report::make_study_table(name, in);
    }
    return PointEvaluator::table(name, points);
  }

 private:
  exec::StepResult simulate(const StudyPoint& pt) const {
    const exec::StepInputs in = load_inputs(pt);
    exec::StepOptions so;
    so.keep_timeline = false;
    so.cache = m_cache.get();
    so.seed = m_options.seed;
    so.allow_over_capacity = true;
    return exec::simulate_step(in, so);
  }

  // The FP8 GEMM error of the point's chip as its GEMM kernels accumulate: DeepSeek's quantization (1x128 and
  // 128x128 blocks) of N(0,1) inputs, K = 7168 (V3's hidden size, the K of most of its GEMMs), the scales applied
  // every 128 K (on the CUDA cores at promotion, or by a block-scaled tensor core, emulated the same way), partial
  // sums at the chip's FP8 accumulator precision; the mean relative error against FP64 of the same quantized
  // inputs. One emulation per distinct accumulator (64 x 64 outputs, a few tenths of a second).
  double numerics_rel_error(const StudyPoint& pt) const {
    const HardwareConfig hw = load_hardware(pt.hw);
    const std::string key =
        fmt::format("{} {} {} {} {}", hw.fp8.products_per_group, hw.fp8.fraction_bits, hw.fp8.output_fraction_bits,
                    static_cast<int>(hw.fp8.align_rounding), static_cast<int>(hw.fp8.output_rounding));
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      auto it = m_numerics.find(key);
      if (it != m_numerics.end()) return it->second;
    }
    numerics::ErrorStudy s;
    s.m = 64;
    s.n = 64;
    s.k = 7168;
    s.emulation.model = hw.fp8;
    s.emulation.promote_every = 128;
    const double e = numerics::run_error_study(s).mean_rel_error;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_numerics.emplace(key, e);
    return e;
  }

  // The point whose kernels stand for each phase: the "baseline" proposal, else the first proposal's point, else
  // the phase's first point; phases in the order they first appear.
  static std::vector<const StudyPoint*> baseline_points(const std::vector<StudyPoint>& points) {
    std::vector<Phase> phases;
    for (const auto& p : points)
      if (std::find(phases.begin(), phases.end(), p.phase) == phases.end()) phases.push_back(p.phase);
    std::vector<const StudyPoint*> out;
    for (Phase ph : phases) {
      const StudyPoint *named = nullptr, *proposal = nullptr, *first = nullptr;
      for (const auto& p : points) {
        if (p.phase != ph) continue;
        if (!first) first = &p;
        if (p.group == "proposals" && !proposal) proposal = &p;
        if (p.group == "proposals" && p.label == "baseline" && !named) named = &p;
      }
      out.push_back(named ? named : proposal ? proposal : first);
    }
    return out;
  }

  // The kernels of a point: kept from evaluate() when it ran in this process, else simulated again (the kernel
  // cache makes that cheap, and the result is the same). Empty when the point is infeasible.
  std::optional<std::vector<exec::KernelRow>> kernels_of(const StudyPoint& pt) const {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      auto it = m_kernels.find(pt.index);
      if (it != m_kernels.end()) return it->second;
    }
    try {
      return simulate(pt).kernels;
    } catch (const ConfigError&) {
      return std::nullopt;
    }
  }

  report::Table kernels_table(const std::vector<StudyPoint>& points) const {
    report::Table t = report::Table::from_spec(report::kernels_table_spec());
    std::vector<std::string> used;
    for (const StudyPoint* pt : baseline_points(points)) {
      const auto rows = kernels_of(*pt);
      if (!rows) continue;
      used.push_back(fmt::format("{} '{}'", to_string(pt->phase), pt->label));
      for (const exec::KernelRow& k : *rows) {
        t.column("phase").texts.emplace_back(to_string(pt->phase));
        t.column("name").texts.push_back(k.name);
        t.column("kind").texts.push_back(k.kind);
        t.column("model").texts.emplace_back(exec::to_string(k.model));
        t.column("bound").texts.push_back(k.bound);
        t.column("flops").numbers.push_back(k.flops);
        t.column("bytes").numbers.push_back(k.bytes);
        t.column("time_s").numbers.push_back(k.time_s);
        t.column("calls").numbers.push_back(static_cast<double>(k.calls));
        t.column("kernel").texts.push_back(k.kernel);
      }
    }
    std::string phases;
    for (const auto& u : used) phases += (phases.empty() ? "" : ", ") + u;
    t.title = fmt::format(
        "The distinct kernels of each phase's baseline step, per call, calls on the representative "
        "GPU of each pipeline rank ({})",
        phases.empty() ? "no feasible baseline point" : phases);
    return t;
  }

  static report::Table hardware_table(const std::vector<StudyPoint>& points) {
    report::Table t = report::Table::from_spec(report::hardware_table_spec());
    t.title = "The chips of the study's points (roofs of the roofline: FP8 dense peak and HBM bandwidth)";
    std::set<std::string> seen;
    for (const auto& pt : points) {
      if (!seen.insert(pt.hw.to_yaml()).second) continue;
      const HardwareConfig hw = load_hardware(pt.hw);
      add_hardware_row(t, hw, pt.hw_file);
    }
    return t;
  }

  StepEvaluatorOptions m_options;
  std::unique_ptr<exec::KernelCache> m_cache;
  mutable std::mutex m_mutex;
  mutable std::map<int64_t, std::vector<exec::KernelRow>> m_kernels;  // by point index, of the points run here
  mutable std::map<std::string, double> m_numerics;                   // numerics_rel_error by accumulator
};

}  // namespace

std::unique_ptr<PointEvaluator> make_step_evaluator(const StepEvaluatorOptions& options) {
  return std::make_unique<StepEvaluator>(options);
}

}  // namespace v3sim::study
