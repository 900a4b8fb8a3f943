#include "report/study_step.h"

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

namespace v3sim {

namespace {

exec::StepInputs load_inputs(const StudyPoint& pt) {
  exec::StepInputs in;
  in.model = load_model_config(pt.model);
  in.deploy = load_deployment(pt.deploy, in.model);
  in.hw = load_hardware(pt.hw);
  in.cluster = net::load_cluster(pt.cluster);
  in.hw_yaml = pt.hw.to_yaml();
  in.cluster_yaml = pt.cluster.to_yaml();
  return in;
}

// FP8 dense tensor-core peak at the boost clock (H800: 8192 x 132 x 1.83 GHz = 1979 TFLOP/s, the datasheet figure).
double fp8_peak_flops(const HardwareConfig& hw) {
  return static_cast<double>(hw.tensor.fp8_flops_per_clk) * static_cast<double>(hw.sms) *
         static_cast<double>(hw.boost_clock.hertz());
}

double bf16_peak_flops(const HardwareConfig& hw) {
  return static_cast<double>(hw.tensor.bf16_flops_per_clk) * static_cast<double>(hw.sms) *
         static_cast<double>(hw.boost_clock.hertz());
}

class StepEvaluator final : public PointEvaluator {
 public:
  explicit StepEvaluator(StepEvaluatorOptions o)
      : m_options(std::move(o)),
        m_cache(m_options.cache_path.empty() ? std::make_unique<exec::KernelCache>()
                                             : std::make_unique<exec::KernelCache>(m_options.cache_path)) {}

  std::string name() const override { return "step"; }

  std::vector<std::string> metric_names(Phase phase) const override { return exec::metric_names(phase); }

  std::vector<std::string> table_names() const override {
    std::vector<std::string> names = {"kernels", "hardware"};
    for (auto& n : study_table_names()) names.push_back(n);
    return names;
  }

  void validate(const StudyPoint& pt) const override { load_inputs(pt); }

  PointResult evaluate(const StudyPoint& pt) const override {
    exec::StepResult r = simulate(pt);
    PointResult out;
    out.metrics = r.metrics();
    std::lock_guard<std::mutex> lock(m_mutex);
    m_kernels.emplace(pt.index, std::move(r.kernels));
    return out;
  }

  Table table(const std::string& name, const std::vector<StudyPoint>& points) const override {
    if (name == "kernels") return kernels_table(points);
    if (name == "hardware") return hardware_table(points);
    const std::vector<std::string> shared = study_table_names();
    if (std::find(shared.begin(), shared.end(), name) != shared.end()) {
      StudyTableInputs in;
      in.configs_dir = m_options.configs_dir;
      in.reference_yaml = m_options.reference_yaml;
      return make_study_table(name, in);
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
    return exec::simulate_step(in, so);
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

  Table kernels_table(const std::vector<StudyPoint>& points) const {
    Table t;
    t.name = "kernels";
    std::vector<std::string> used;
    t.add_text("phase");
    t.add_text("name");
    t.add_text("kind");
    t.add_text("model");
    t.add_text("bound");
    t.add_number("flops", "FLOP");
    t.add_number("bytes", "B");
    t.add_number("time_s", "s");
    t.add_number("calls");
    t.add_text("kernel");
    std::vector<TableColumn>& c = t.columns;
    for (const StudyPoint* pt : baseline_points(points)) {
      const auto rows = kernels_of(*pt);
      if (!rows) continue;
      used.push_back(fmt::format("{} '{}'", to_string(pt->phase), pt->label));
      for (const exec::KernelRow& k : *rows) {
        c[0].texts.emplace_back(to_string(pt->phase));
        c[1].texts.push_back(k.name);
        c[2].texts.push_back(k.kind);
        c[3].texts.emplace_back(exec::to_string(k.model));
        c[4].texts.push_back(k.bound);
        c[5].numbers.push_back(k.flops);
        c[6].numbers.push_back(k.bytes);
        c[7].numbers.push_back(k.time_s);
        c[8].numbers.push_back(static_cast<double>(k.calls));
        c[9].texts.push_back(k.kernel);
      }
    }
    std::string phases;
    for (const auto& u : used) phases += (phases.empty() ? "" : ", ") + u;
    t.title = fmt::format(
        "The distinct kernels of each phase's baseline step, per call, calls on the representative "
        "GPU of each pipeline rank ({})",
        phases.empty() ? "no feasible baseline point" : phases);
    t.source = "v3sim study: sim/exec simulate_step, StepResult::kernels";
    return t;
  }

  static Table hardware_table(const std::vector<StudyPoint>& points) {
    Table t;
    t.name = "hardware";
    t.title = "The chips of the study's points (roofs of the roofline: FP8 dense peak and HBM bandwidth)";
    t.source = "configs/hardware, as each point resolves them (proposals and overrides applied)";
    t.add_text("name");
    t.add_text("file");
    t.add_number("sms");
    t.add_number("peak_flops", "FLOP/s");
    t.add_number("bf16_peak_flops", "FLOP/s");
    t.add_number("hbm_Bps", "B/s");
    t.add_number("hbm_bytes", "B");
    std::set<std::string> seen;
    for (const auto& pt : points) {
      if (!seen.insert(pt.hw.to_yaml()).second) continue;
      const HardwareConfig hw = load_hardware(pt.hw);
      t.columns[0].texts.push_back(hw.name);
      t.columns[1].texts.push_back(pt.hw_file);
      t.columns[2].numbers.push_back(static_cast<double>(hw.sms));
      t.columns[3].numbers.push_back(fp8_peak_flops(hw));
      t.columns[4].numbers.push_back(bf16_peak_flops(hw));
      t.columns[5].numbers.push_back(static_cast<double>(hw.hbm.bandwidth.bytes_per_second()));
      t.columns[6].numbers.push_back(static_cast<double>(hw.hbm.capacity.count()));
    }
    return t;
  }

  StepEvaluatorOptions m_options;
  std::unique_ptr<exec::KernelCache> m_cache;
  mutable std::mutex m_mutex;
  mutable std::map<int64_t, std::vector<exec::KernelRow>> m_kernels;  // by point index, of the points run here
};

}  // namespace

std::unique_ptr<PointEvaluator> make_step_evaluator(const StepEvaluatorOptions& options) {
  return std::make_unique<StepEvaluator>(options);
}

}  // namespace v3sim
