// `v3sim study FILE`: a what-if study (configs/studies/*.yaml) on threads, or over MPI ranks under mpirun; writes
// DIR/results.h5 and DIR/summary.json from one file per finished point (a killed study resumes with --resume), then
// the chip proposal report (scripts/report.py).
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/compare_step.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "sim/exec/op_cost.h"
#include "study/comm.h"
#include "study/fake.h"
#include "study/run.h"
#include "study/spec.h"
#include "study/step_evaluator.h"

namespace v3sim::cli {

using namespace v3sim::study;  // the study library this command drives

namespace {

struct StudyArgs {
  std::string file = "deepseek-v3-proposals";
  int threads = 0;  // 0: the cores of this machine shared by its ranks
  bool resume = false;
  std::string output;
  std::vector<std::string> sets;
  bool json = false;
  bool dry_run = false;
  std::string evaluator = "step";
  std::string kernel_cache;  // "": exec::default_cache_path(); "none": in memory only
  bool no_report = false;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The comparisons of the report's section "Against measured traces": every measured trace of traces/measured/*.h5
// whose /meta names the deployment it was measured on, against the step projection of that deployment (the
// shipped hardware and cluster, as `v3sim compare` does), per category. Written to DIR/comparisons.json (format
// v3sim-comparisons-1); a trace that cannot be compared is listed with its error. Returns the file's path ("" when
// there is no traces/measured folder).
std::string write_comparisons(const std::string& out_dir, const std::string& kernel_cache) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(configs_dir()).parent_path();
  const fs::path folder = root / "traces" / "measured";
  if (!fs::is_directory(folder)) return "";
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".h5") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  nlohmann::json list = nlohmann::json::array();
  std::unique_ptr<exec::KernelCache> cache;
  for (const fs::path& p : paths) {
    const std::string name = p.lexically_relative(root).string();
    nlohmann::json j = {{"trace", name}};
    try {
      const report::ResultFile measured = report::read_result_h5(p.string());
      const std::string deploy = measured_deployment(measured);
      if (measured.timeline.source != "measured" || deploy.empty()) continue;
      if (!cache) cache = open_kernel_cache(kernel_cache == "none" ? "" : kernel_cache, kernel_cache == "none");
      StepConfigArgs config;
      config.deploy = deploy;
      std::fprintf(stderr, "comparing %s with the projection of %s\n", name.c_str(), deploy.c_str());
      const StepComparison s = compare_with_step(measured, config, *cache, 0);
      j["gpu"] = measured.meta.count("gpu") ? measured.meta.at("gpu") : "";
      j["deployment"] = s.setup.in.deploy.name;
      j["hardware"] = s.setup.in.hw.name;
      j["cluster"] = s.setup.in.cluster.name;
      j["command"] = "v3sim compare " + name;
      j["measured_layers"] = s.comparison.measured_layers;
      j["projected_layers"] = s.comparison.projected_layers;
      j["categories"] = report::category_json(s.comparison);
      j["notes"] = s.notes;
    } catch (const ConfigError& e) {
      j["error"] = e.what();
    }
    list.push_back(j);
  }
  const fs::path out = fs::path(out_dir) / "comparisons.json";
  const nlohmann::json doc = {{"format", "v3sim-comparisons-1"},
                              {"units", "ms per layer; error = (projected - measured) / measured"},
                              {"comparisons", list}};
  write_file_atomic(out.string(), doc.dump(2) + "\n");
  return out.string();
}

// The chip-proposal report of a finished study: scripts/report.py (next to the shipped configs) on DIR/results.h5,
// with the measured traces of traces/ when that folder exists and the comparisons of write_comparisons() when there
// are some. Returns its exit status (0 written).
int write_report(const std::string& results, const std::string& out_dir, bool quiet, const std::string& comparisons) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(configs_dir()).parent_path();
  const fs::path script = root / "scripts" / "report.py";
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::string cmd =
      python + " " + shell_quote(script.string()) + " " + shell_quote(results) + " -o " + shell_quote(out_dir);
  if (fs::is_directory(root / "traces")) cmd += " --traces " + shell_quote((root / "traces").string());
  if (!comparisons.empty()) cmd += " --comparisons " + shell_quote(comparisons);
  if (!fs::exists(script)) {
    std::fprintf(stderr,
                 "error: no report script at %s ($V3SIM_CONFIGS points away from the source tree?); the "
                 "results are in %s\n",
                 script.string().c_str(), results.c_str());
    return 2;
  }
  std::fflush(stdout);
  const int status = std::system((cmd + (quiet ? " 1>&2" : "")).c_str());
  const int code = status == -1 ? 3 : WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  if (code != 0) {
    std::fprintf(stderr, "error: the report was not written (exit %d); the results are in %s; rerun: %s\n", code,
                 results.c_str(), cmd.c_str());
  }
  return code;
}

std::string default_reference() {
  return (std::filesystem::path(configs_dir()) / ".." / "tests" / "data" / "reference" / "deepseek-v3.yaml").string();
}

// The evaluators `--evaluator` can name. "step" is the whole-step simulator (study/step_evaluator.h) with one kernel
// cache for the whole study, kept in the --kernel-cache file (none when `persist` is false: a dry run writes
// nothing); "fake" is the test-only stand-in of study/fake.h (options from $V3SIM_FAKE_EVALUATOR).
std::unique_ptr<PointEvaluator> make_evaluator(const StudyArgs& a, bool persist) {
  if (a.evaluator == "fake") return make_fake_evaluator(fake_evaluator_options_from_env());
  if (a.evaluator == "step") {
    StepEvaluatorOptions o;
    o.configs_dir = configs_dir();
    o.reference_yaml = default_reference();
    if (persist && a.kernel_cache != "none") {
      o.cache_path = a.kernel_cache.empty() ? exec::default_cache_path() : a.kernel_cache;
    }
    try {
      return make_step_evaluator(o);
    } catch (const ConfigError& e) {
      if (!a.kernel_cache.empty()) throw;
      // The default file is a convenience: when it is unusable the study still runs, without it.
      std::fprintf(stderr, "v3sim: warning: kernel cache not used (%s); kernels are kept in memory for this run\n",
                   e.what());
      o.cache_path.clear();
      return make_step_evaluator(o);
    }
  }
  throw ConfigError(SourceLoc{"--evaluator", 0}, "", "step or fake", fmt::format("'{}'", a.evaluator));
}

nlohmann::json points_json(const std::vector<StudyPoint>& points) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : points) {
    out.push_back({{"index", p.index},
                   {"label", p.label},
                   {"group", p.group},
                   {"phase", to_string(p.phase)},
                   {"value", p.value},
                   {"model", p.model_file},
                   {"deploy", p.deploy_file},
                   {"hw", p.hw_file},
                   {"cluster", p.cluster_file},
                   {"overrides", p.overrides}});
  }
  return out;
}

int run_study_command(const StudyArgs& a, StudyComm& comm, const RunOptions& opts) {
  const std::string path = resolve_config(a.file, "studies", "FILE");
  StudyLoadOptions lo;
  lo.configs_dir = configs_dir();
  lo.sets = a.sets;
  lo.set_origin = "--set";
  const StudySpec spec = load_study(path, lo);
  const std::vector<StudyPoint> points = enumerate_points(spec);
  const std::unique_ptr<PointEvaluator> evaluator = make_evaluator(a, !a.dry_run && !opts.validate_only);
  if (a.dry_run || opts.validate_only) {
    validate_study(spec, points, *evaluator);
    if (comm.rank() != 0 || opts.validate_only) return 0;
    if (a.json) {
      nlohmann::json j{{"study", spec.name},
                       {"points", points.size()},
                       {"fingerprint", study_fingerprint(spec, points, *evaluator)},
                       {"point_list", points_json(points)}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("study %s: %zu points (valid)\n", spec.name.c_str(), points.size());
      int width = 0;
      for (const auto& p : points) width = std::max(width, static_cast<int>(p.group.size()));
      for (const auto& p : points) {
        std::printf("%5lld  %-*s  %-7s  %s\n", static_cast<long long>(p.index), width, p.group.c_str(),
                    to_string(p.phase), p.label.c_str());
      }
    }
    return 0;
  }
  StudyRunOptions o;
  o.out_dir = a.output.empty() ? "out/" + spec.name : a.output;
  o.resume = a.resume;
  o.out_dir_name = "-o";
  o.resume_name = "--resume";
  o.threads = a.threads;
  if (o.threads <= 0) {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    o.threads = std::max(1, std::max(1, cores) / std::max(1, comm.local_size()));
  }
  o.log = stderr;
  o.log_tty = ::isatty(::fileno(stderr)) != 0;
  const StudyRunSummary s = run_study(spec, points, *evaluator, o, comm);
  if (comm.rank() != 0) return 0;
  if (a.json) {
    nlohmann::json j{{"study", spec.name},           {"points", s.points},
                     {"resumed", s.resumed},         {"ran", s.ran},
                     {"failed", s.failed},           {"infeasible", s.infeasible},
                     {"results", s.results_path},    {"summary", s.summary_path},
                     {"fingerprint", s.fingerprint}, {"threads", o.threads},
                     {"ranks", comm.size()},         {"wall_s", s.wall_s}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "study %s: %lld points (%lld resumed, %lld run, %lld failed, %lld infeasible) in %.1f s on %d thread%s x %d "
        "rank%s\n",
        spec.name.c_str(), static_cast<long long>(s.points), static_cast<long long>(s.resumed),
        static_cast<long long>(s.ran), static_cast<long long>(s.failed), static_cast<long long>(s.infeasible), s.wall_s,
        o.threads, o.threads == 1 ? "" : "s", comm.size(), comm.size() == 1 ? "" : "s");
    std::printf("results: %s\nsummary: %s\n", s.results_path.c_str(), s.summary_path.c_str());
  }
  if (a.no_report) return 0;
  // The comparisons are the step model's against measured traces: not the test-only fake evaluator's business.
  const std::string comparisons = a.evaluator == "step" ? write_comparisons(o.out_dir, a.kernel_cache) : "";
  return write_report(s.results_path, o.out_dir, a.json, comparisons);
}

int run_study(const StudyArgs& a, const RunOptions& opts) {
  // MPI_Init happens here, and only when mpirun started this process (never to check the inputs alone).
  const std::unique_ptr<StudyComm> comm = opts.validate_only ? make_local_comm() : make_study_comm();
  try {
    return run_study_command(a, *comm, opts);
  } catch (const ConfigError&) {
    if (comm->rank() != 0) return 2;  // the root prints the one error line
    throw;
  } catch (const InternalError& e) {
    if (comm->rank() != 0) return 3;
    throw;
  }
}

}  // namespace

CommandRunner add_study_command(CLI::App& app) {
  auto a = std::make_shared<StudyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "study", "Run a what-if study (proposals x phases, sweeps) on threads, or over MPI ranks under mpirun");
  cmd->footer(
      "Examples:\n"
      "  v3sim study                                    # configs/studies/deepseek-v3-proposals.yaml -> out/<name>\n"
      "  v3sim study my-study.yaml -j 2 -o out/mine     # two threads\n"
      "  v3sim study my-study.yaml -o out/mine --resume # continue a study that was stopped\n"
      "  mpirun -np 4 v3sim study my-study.yaml         # points split over 4 ranks, one results.h5\n"
      "  v3sim study --dry-run                          # check the study and list its points\n"
      "Writes DIR/points/NNNNN.json per finished point, then DIR/results.h5 and DIR/summary.json (the same\n"
      "datasets whatever the number of threads or ranks), then DIR/comparisons.json (every measured trace of\n"
      "traces/measured/ that names its deployment, against that deployment's step projection, per category) and\n"
      "the chip proposal report DIR/report.html and DIR/report.md (scripts/report.py, which needs python3-h5py\n"
      "and python3-matplotlib; --no-report skips both).");
  cmd->add_option("file", a->file, "study YAML file or name in configs/studies")->capture_default_str();
  cmd->add_option("-j,--threads", a->threads, "worker threads per rank (default: the cores, shared by the ranks)")
      ->check(positive_integer(1024));
  cmd->add_flag("--resume", a->resume, "skip the points DIR already holds (they must belong to this study)");
  cmd->add_option("-o,--output", a->output, "output folder (default: out/<study name>)");
  cmd->add_flag("--dry-run", a->dry_run, "check the study and list its points without running them");
  cmd->add_flag("--no-report", a->no_report, "write results.h5 and summary.json only, not the report");
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  // --cache as `step` and `compare` name it; --kernel-cache, the older name, still works.
  cmd->add_option("--cache,--kernel-cache", a->kernel_cache,
                  "kernel-result cache shared by the points and with later runs (default: $V3SIM_CACHE, else "
                  "~/.cache/v3sim/kernels.txt; 'none': in memory only)");
  // Test-only: `--evaluator fake` runs study/fake.h's stand-in instead of the step simulator.
  cmd->add_option("--evaluator", a->evaluator, "point evaluator: step, or fake (test-only)")->group("");
  add_set_option(*cmd, a->sets);
  return [a](const RunOptions& opts) { return run_study(*a, opts); };
}

}  // namespace v3sim::cli
