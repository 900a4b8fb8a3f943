#include "study/run.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "v3sim/version.h"

namespace v3sim::study {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kPointFormat = "v3sim-study-point-2";  // 2: with "sha256"
constexpr const char* kDirFormat = "v3sim-study-dir-1";
constexpr const char* kTableFormat = "v3sim-study-table-1";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Finite numbers as JSON numbers (they round-trip exactly); NaN and infinities as strings.
json encode_number(double x) {
  if (std::isfinite(x)) return x;
  if (std::isnan(x)) return "nan";
  return x > 0 ? "inf" : "-inf";
}

double decode_number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return kNaN;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Written to a temporary name and renamed: a reader (or a resume after SIGKILL) sees the whole file or none.
void write_atomic(const fs::path& path, const std::string& text) {
  write_file_atomic(path.string(), text);
}

// A point file whose checksum does not match its content (edited, or damaged on the disk).
struct ChecksumMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The checksum of a record: SHA-256 of its compact JSON without the "sha256" member.
std::string record_checksum(json j) {
  j.erase("sha256");
  return sha256_hex(j.dump());
}

// A finished point as stored in DIR/points and sent between ranks.
struct PointRecord {
  std::string study_fingerprint;
  std::string point_fingerprint;
  int64_t index = -1;
  std::string label, group, phase, value, status;
  double value_num = kNaN;
  double wall_s = 0;
  std::vector<std::pair<std::string, double>> metrics;
};

json record_json(const std::string& study, const std::string& fingerprint, const StudyPoint& pt, const PointResult& r,
                 double wall_s) {
  json metrics = json::object();
  for (const auto& [name, v] : r.metrics) metrics[name] = encode_number(v);
  json j{{"format", kPointFormat},
         {"study", study},
         {"study_fingerprint", fingerprint},
         {"point_fingerprint", pt.fingerprint},
         {"index", pt.index},
         {"label", pt.label},
         {"group", pt.group},
         {"phase", to_string(pt.phase)},
         {"value", pt.value},
         {"value_num", encode_number(pt.value_num)},
         {"status", r.status},
         {"metrics", metrics},
         {"wall_s", wall_s}};
  j["sha256"] = record_checksum(j);
  return j;
}

// Throws std::exception (json) for text that is not a record, ChecksumMismatch for a record whose "sha256" is not
// that of its content.
PointRecord parse_record(const std::string& text) {
  const json j = json::parse(text);
  if (!j.is_object() || j.value("format", "") != kPointFormat) throw std::runtime_error("not a v3sim point record");
  if (!j.contains("sha256") || !j.at("sha256").is_string() || j.at("sha256").get<std::string>() != record_checksum(j)) {
    throw ChecksumMismatch("a point record whose sha256 does not match its content (edited or damaged)");
  }
  PointRecord r;
  r.study_fingerprint = j.at("study_fingerprint").get<std::string>();
  r.point_fingerprint = j.at("point_fingerprint").get<std::string>();
  r.index = j.at("index").get<int64_t>();
  r.label = j.at("label").get<std::string>();
  r.group = j.at("group").get<std::string>();
  r.phase = j.at("phase").get<std::string>();
  r.value = j.at("value").get<std::string>();
  r.value_num = decode_number(j.at("value_num"));
  r.status = j.at("status").get<std::string>();
  r.wall_s = j.value("wall_s", 0.0);
  for (const auto& [name, v] : j.at("metrics").items()) r.metrics.emplace_back(name, decode_number(v));
  return r;
}

// Why a record does not belong to `pt` of this study; "" when it does.
std::string record_mismatch(const PointRecord& r, const std::string& fingerprint, const StudyPoint& pt) {
  if (r.study_fingerprint != fingerprint) {
    return fmt::format("study fingerprint {} (this study: {})", r.study_fingerprint, fingerprint);
  }
  if (r.point_fingerprint != pt.fingerprint || r.label != pt.label || r.group != pt.group ||
      r.phase != to_string(pt.phase) || r.value != pt.value) {
    return fmt::format("point '{}' ({}) computed from other documents than this study's point {}", r.label, r.phase,
                       pt.describe());
  }
  return {};
}

// Creates DIR when needed and locks it: two runs never write one folder side by side (a second --resume refuses).
std::unique_ptr<FolderLock> lock_dir(const std::string& out, const std::string& name) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    throw ConfigError(SourceLoc{name, 0}, "", "a folder v3sim can create", fmt::format("'{}' ({})", out, ec.message()));
  }
  return std::make_unique<FolderLock>(out, name);
}

fs::path points_dir(const std::string& out) {
  return fs::path(out) / "points";
}

json table_json(const report::Table& t, const std::string& fingerprint) {
  json cols = json::array();
  for (const auto& c : t.columns) {
    json values = json::array();
    if (c.text) {
      for (const auto& s : c.texts) values.push_back(s);
    } else {
      for (double x : c.numbers) values.push_back(encode_number(x));
    }
    cols.push_back(json{{"name", c.name}, {"unit", c.unit}, {"text", c.text}, {"values", values}});
  }
  return json{{"format", kTableFormat}, {"study_fingerprint", fingerprint},
              {"name", t.name},         {"title", t.title},
              {"source", t.source},     {"columns", cols}};
}

report::Table parse_table(const json& j) {
  report::Table t;
  t.name = j.at("name").get<std::string>();
  t.title = j.at("title").get<std::string>();
  t.source = j.at("source").get<std::string>();
  for (const auto& c : j.at("columns")) {
    report::TableColumn col;
    col.name = c.at("name").get<std::string>();
    col.unit = c.at("unit").get<std::string>();
    col.text = c.at("text").get<bool>();
    for (const auto& v : c.at("values")) {
      if (col.text) {
        col.texts.push_back(v.get<std::string>());
      } else {
        col.numbers.push_back(decode_number(v));
      }
    }
    t.columns.push_back(std::move(col));
  }
  return t;
}

// A member of a metric family (breakdown_s.<kind>, ...): kept whatever `metrics:` lists, as the report's breakdowns
// need them all.
bool is_per_kind_metric(const PointEvaluator& evaluator, const std::string& name) {
  const std::optional<exec::MetricInfo> info = evaluator.metric_info(name);
  return info && !info->family.empty();
}

// Checks DIR before anything runs and returns the indices of the points it already holds (root only).
std::set<int64_t> prepare_dir(const StudySpec& spec, const std::vector<StudyPoint>& points,
                              const std::string& fingerprint, const PointEvaluator& evaluator,
                              const StudyRunOptions& o) {
  const fs::path out(o.out_dir);
  const fs::path results = out / "results.h5";
  std::error_code ec;
  const std::string refuse = "; it is left untouched: move it away or write to another folder";
  if (fs::exists(results, ec)) {
    report::StudyResults existing;
    try {
      existing = report::read_study_results(results.string());
    } catch (const ConfigError& e) {
      throw ConfigError(std::string(e.what()) + refuse);
    }
    const auto at = [&](const char* k) {
      auto it = existing.attrs.find(k);
      return it == existing.attrs.end() ? std::string("?") : it->second;
    };
    if (at("study") != spec.name || at("study_fingerprint") != fingerprint) {
      throw ConfigError(
          SourceLoc{results.string(), 0}, "",
          fmt::format("the results of this study ('{}', fingerprint {})", spec.name, fingerprint),
          fmt::format("the results of study '{}' (fingerprint {}: another study, or this one before its file or a "
                      "config it reads changed){}",
                      at("study"), at("study_fingerprint"), refuse));
    }
  }
  std::vector<fs::path> files;
  if (fs::is_directory(points_dir(o.out_dir), ec)) {
    for (const auto& e : fs::directory_iterator(points_dir(o.out_dir), ec)) {
      const std::string name = e.path().filename().string();
      if (name.find(".json.tmp") != std::string::npos) {
        if (o.resume) fs::remove(e.path(), ec);  // a point in flight when the study was killed
        continue;
      }
      if (name.ends_with(".json")) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  const fs::path manifest = out / "study.json";
  if (!o.resume) {
    const bool has =
        !files.empty() || fs::exists(results, ec) || fs::exists(manifest, ec) || fs::exists(out / "summary.json", ec);
    if (has) {
      throw ConfigError(
          SourceLoc{o.out_dir_name, 0}, "",
          fmt::format("an output folder without results ({} to continue that study, or another {})", o.resume_name,
                      o.out_dir_name),
          fmt::format("'{}' holding the results of a study ({} finished points)", o.out_dir, files.size()));
    }
  }
  if (o.resume && fs::exists(manifest, ec)) {
    std::string found;
    try {
      const json m = json::parse(slurp(manifest));
      if (m.value("format", "") != kDirFormat) throw std::runtime_error("format");
      if (m.at("study_fingerprint").get<std::string>() != fingerprint) {
        found = fmt::format(
            "study '{}' with fingerprint {} (this one: {}): another study, or this one before its "
            "file or a config it reads changed",
            m.at("study").get<std::string>(), m.at("study_fingerprint").get<std::string>(), fingerprint);
      }
    } catch (const std::exception&) {
      found = "a study.json that is not a v3sim study folder's";
    }
    if (!found.empty()) {
      throw ConfigError(
          SourceLoc{manifest.string(), 0}, "",
          fmt::format("the folder of this study to resume ({}) or a fresh {}", o.resume_name, o.out_dir_name), found);
    }
  }
  std::set<int64_t> done;
  for (const auto& f : files) {
    std::string why;
    try {
      try {
        parse_record(slurp(f));
      } catch (const ChecksumMismatch& e) {
        // Its metrics cannot be trusted and the point is cheap to trust again: computed anew (a resume only).
        if (!o.resume) throw;
        log_warn("{}: {}; the point is computed again", f.string(), e.what());
        fs::remove(f, ec);
        continue;
      }
      const PointRecord r = parse_record(slurp(f));
      if (r.index < 0 || r.index >= static_cast<int64_t>(points.size())) {
        why = fmt::format("point index {} (this study has {} points)", r.index, points.size());
      } else if (f.filename().string() != point_file_name(r.index)) {
        why = fmt::format("point index {} under another file name", r.index);
      } else {
        why = record_mismatch(r, fingerprint, points[static_cast<size_t>(r.index)]);
      }
      if (why.empty() && !done.insert(r.index).second) why = fmt::format("a second record of point {}", r.index);
    } catch (const std::exception& e) {
      why = fmt::format("a file that is not a v3sim point record ({})", one_line(e.what()));
    }
    if (!why.empty()) {
      throw ConfigError(SourceLoc{f.string(), 0}, "",
                        "a finished point of this study (resume only continues the same study with the same configs; "
                        "write to another folder)",
                        why);
    }
  }
  fs::create_directories(points_dir(o.out_dir), ec);
  if (ec)
    throw ConfigError(SourceLoc{o.out_dir_name, 0}, "", "a folder v3sim can create",
                      fmt::format("'{}' ({})", o.out_dir, ec.message()));
  const json m{{"format", kDirFormat},          {"study", spec.name},      {"study_fingerprint", fingerprint},
               {"evaluator", evaluator.name()}, {"points", points.size()}, {"study_yaml", spec.yaml}};
  write_atomic(manifest, m.dump(2) + "\n");
  return done;
}

// Progress on the root: a bar redrawn in place on a terminal, one line per point otherwise.
class Progress {
 public:
  Progress(FILE* out, bool tty, int64_t total, int64_t resumed, int64_t to_run)
      : m_out(out), m_tty(tty), m_total(total), m_resumed(resumed), m_to_run(to_run), m_t0(Clock::now()) {
    if (!m_out) return;
    if (!m_tty) {
      std::fprintf(m_out, "study: %lld points, %lld already done, %lld to run\n", static_cast<long long>(total),
                   static_cast<long long>(resumed), static_cast<long long>(to_run));
      std::fflush(m_out);
    } else {
      draw(true);
    }
  }

  void point(const std::string& what, const std::string& status, double wall_s) {
    std::lock_guard<std::mutex> lock(m_mu);
    ++m_done;
    if (!m_out) return;
    // An infeasible point ran (its memory does not fit: status "infeasible: ..."); a failed one did not.
    const bool infeasible = status.starts_with("infeasible");
    const std::string reason = infeasible && status.starts_with("infeasible: ") ? status.substr(12) : status;
    if (m_tty) {
      if (status != "ok") {
        std::fprintf(m_out, "\r\033[Kstudy: %s %s\n", what.c_str(),
                     infeasible ? status.c_str() : ("failed: " + status).c_str());
      }
      draw(m_done == m_to_run || status != "ok");
    } else {
      std::fprintf(m_out, "study: [%lld/%lld] %s %s (%.2fs)%s%s\n", static_cast<long long>(m_resumed + m_done),
                   static_cast<long long>(m_total),
                   status == "ok" ? "ok"
                   : infeasible   ? "infeasible"
                                  : "FAILED",
                   what.c_str(), wall_s, status == "ok" ? "" : ": ", status == "ok" ? "" : reason.c_str());
      std::fflush(m_out);
    }
  }

  void finish() {
    std::lock_guard<std::mutex> lock(m_mu);
    if (m_out && m_tty) {
      draw(true);
      std::fprintf(m_out, "\n");
      std::fflush(m_out);
    }
  }

 private:
  void draw(bool force) {
    const auto now = Clock::now();
    if (!force && now - m_last < std::chrono::milliseconds(100)) return;
    m_last = now;
    const double elapsed = std::chrono::duration<double>(now - m_t0).count();
    const double rate = elapsed > 0 ? static_cast<double>(m_done) / elapsed : 0;
    const int64_t done = m_resumed + m_done;
    constexpr int kWidth = 30;
    const int filled = m_total > 0 ? static_cast<int>(kWidth * done / m_total) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string eta = "--:--";
    if (m_done > 0 && rate > 0) {
      const auto left = static_cast<int64_t>(static_cast<double>(m_to_run - m_done) / rate + 0.5);
      eta = fmt::format("{}:{:02d}", left / 60, left % 60);
    }
    std::fprintf(m_out, "\r\033[Kstudy [%s] %lld/%lld points  %.2f/s  ETA %s", bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(m_total), rate, eta.c_str());
    std::fflush(m_out);
  }

  FILE* m_out;
  bool m_tty;
  int64_t m_total, m_resumed, m_to_run, m_done = 0;
  Clock::time_point m_t0, m_last{};
  std::mutex m_mu;
};

// What the worker threads of one rank share.
struct Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> outbox;  // non-root: records for the root
  int workers_left = 0;
  std::exception_ptr fatal;
  std::atomic<bool> stop{false};
  std::atomic<size_t> next{0};
};

// Messages between ranks about failures: "C:" a user's mistake (ConfigError), "I:" anything else.
std::string fatal_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const ConfigError& c) {
    return std::string("C:") + c.what();
  } catch (const std::exception& x) {
    return std::string("I:") + x.what();
  }
  return "I:unknown exception";
}

[[noreturn]] void throw_fatal_text(const std::string& text, int rank) {
  const std::string msg = text.size() > 2 ? text.substr(2) : text;
  if (text.starts_with("C:")) throw ConfigError(fmt::format("{} (on MPI rank {})", msg, rank));
  throw InternalError(fmt::format("internal error on MPI rank {}: {}", rank, msg));
}

}  // namespace

std::string point_file_name(int64_t index) {
  return fmt::format("{:05d}.json", index);
}

std::string study_fingerprint(const StudySpec& spec, const std::vector<StudyPoint>& points,
                              const PointEvaluator& evaluator) {
  // The build too: a resume never mixes points of two versions of the simulator.
  std::vector<std::string> parts = {report::kStudyFormat, spec.yaml, evaluator.name(), kVersion, kGitRevision};
  for (const auto& p : points) parts.push_back(p.fingerprint);
  return fingerprint_hex(parts);
}

report::StudyResults assemble_study_results(const StudySpec& spec, const std::vector<StudyPoint>& points,
                                            const PointEvaluator& evaluator, const std::string& out_dir, FILE* log) {
  const std::string fingerprint = study_fingerprint(spec, points, evaluator);
  report::StudyResults r;
  r.attrs = {{"format", report::kStudyFormat},   {"study", spec.name},           {"study_yaml", spec.yaml},
             {"tool_version", kVersion},         {"git_revision", kGitRevision}, {"created_utc", utc_now()},
             {"study_fingerprint", fingerprint}, {"evaluator", evaluator.name()}};
  std::vector<PointRecord> records;
  records.reserve(points.size());
  for (const auto& pt : points) {
    const fs::path f = points_dir(out_dir) / point_file_name(pt.index);
    std::string why;
    PointRecord rec;
    try {
      rec = parse_record(slurp(f));
      why = record_mismatch(rec, fingerprint, pt);
    } catch (const std::exception& e) {
      why = fmt::format("a missing or unreadable point record ({})", one_line(e.what()));
    }
    if (!why.empty()) {
      throw ConfigError(SourceLoc{f.string(), 0}, "", "a finished point of this study", why);
    }
    records.push_back(std::move(rec));
  }
  std::set<std::string> names(spec.metrics.begin(), spec.metrics.end());
  for (const auto& rec : records) {
    for (const auto& [name, v] : rec.metrics) {
      if (spec.metrics.empty() || is_per_kind_metric(evaluator, name)) names.insert(name);
    }
  }
  const size_t n = records.size();
  std::map<std::string, std::vector<double>> columns;
  for (const auto& name : names) columns[name].assign(n, kNaN);
  for (size_t i = 0; i < n; ++i) {
    const PointRecord& rec = records[i];
    r.index.push_back(rec.index);
    r.label.push_back(rec.label);
    r.group.push_back(rec.group);
    r.phase.push_back(rec.phase);
    r.value.push_back(rec.value);
    r.value_num.push_back(rec.value_num);
    r.status.push_back(rec.status);
    // An infeasible point (its memory does not fit) keeps its metrics; a failed one has none.
    if (rec.status != "ok" && !rec.status.starts_with("infeasible")) continue;
    for (const auto& [name, v] : rec.metrics) {
      auto it = columns.find(name);
      if (it != columns.end()) it->second[i] = v;
    }
  }
  for (auto& [name, col] : columns) {
    // The registry's entry of the metric, as the dataset's attributes (report.py reads labels, units and roles there).
    if (const std::optional<exec::MetricInfo> info = evaluator.metric_info(name))
      r.metric_attrs[name] = info->attributes();
    r.metrics.emplace_back(name, std::move(col));
  }
  std::vector<std::string> tables = spec.tables;
  std::sort(tables.begin(), tables.end());
  for (const auto& name : tables) {
    const fs::path f = fs::path(out_dir) / "tables" / (name + ".json");
    std::error_code ec;
    bool loaded = false;
    if (fs::exists(f, ec)) {
      try {
        const json j = json::parse(slurp(f));
        if (j.value("format", "") == kTableFormat && j.value("study_fingerprint", "") == fingerprint) {
          r.tables.push_back(parse_table(j));
          loaded = true;
        }
      } catch (const std::exception&) {
        loaded = false;  // computed again below
      }
    }
    if (!loaded) {
      const auto t0 = Clock::now();
      if (log) {
        std::fprintf(log, "study: table %s ...\n", name.c_str());
        std::fflush(log);
      }
      report::Table t = evaluator.table(name, points);
      t.name = name;
      if (log) {
        std::fprintf(log, "study: table %s: %zu rows (%.1fs)\n", name.c_str(), t.rows(), seconds_since(t0));
        std::fflush(log);
      }
      fs::create_directories(f.parent_path(), ec);
      write_atomic(f, table_json(t, fingerprint).dump() + "\n");
      r.tables.push_back(std::move(t));
    }
  }
  return r;
}

namespace {

void write_summary_json(const std::string& path, const report::StudyResults& r) {
  json points{{"index", r.index}, {"label", r.label}, {"group", r.group}, {"phase", r.phase}, {"value", r.value}};
  json nums = json::array();
  for (double x : r.value_num) nums.push_back(std::isfinite(x) ? json(x) : json(nullptr));
  points["value_num"] = nums;
  points["status"] = r.status;
  json metrics = json::object();
  for (const auto& [name, col] : r.metrics) {
    json c = json::array();
    for (double x : col) c.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    metrics[name] = c;
  }
  json tables = json::array();
  for (const auto& t : r.tables) tables.push_back(t.name);
  json attrs = json::object();
  for (const auto& [k, v] : r.attrs)
    if (k != "study_yaml") attrs[k] = v;
  const json j{{"format", report::kStudyFormat},
               {"attrs", attrs},
               {"n", r.size()},
               {"points", points},
               {"metrics", metrics},
               {"tables", tables}};
  write_atomic(path, j.dump(1) + "\n");
}

}  // namespace

StudyRunSummary run_study(const StudySpec& spec, const std::vector<StudyPoint>& points, const PointEvaluator& evaluator,
                          const StudyRunOptions& o, StudyComm& comm) {
  const auto t0 = Clock::now();
  const bool root = comm.rank() == 0;
  const int ranks = comm.size();
  StudyRunSummary summary;
  summary.points = static_cast<int64_t>(points.size());

  // 1. Everything is checked before any point runs; every rank checks (the same inputs give the same verdict), and
  //    the root alone checks the output folder and tells the others what is left to run.
  std::exception_ptr local_error;
  try {
    validate_study(spec, points, evaluator);
  } catch (const ConfigError&) {
    if (ranks == 1) throw;
    local_error = std::current_exception();
  }
  const std::string fingerprint = study_fingerprint(spec, points, evaluator);
  summary.fingerprint = fingerprint;
  std::vector<int64_t> pending;
  std::string plan;
  std::exception_ptr root_error;
  std::unique_ptr<FolderLock> dir_lock;  // the root's, held until results.h5 and summary.json are written
  if (root) {
    try {
      if (local_error) std::rethrow_exception(local_error);
      dir_lock = lock_dir(o.out_dir, o.out_dir_name);
      const std::set<int64_t> done = prepare_dir(spec, points, fingerprint, evaluator, o);
      summary.resumed = static_cast<int64_t>(done.size());
      plan = "OK";
      for (const auto& pt : points) {
        if (!done.count(pt.index)) {
          pending.push_back(pt.index);
          plan += "," + std::to_string(pt.index);
        }
      }
    } catch (const ConfigError& e) {
      if (ranks == 1) throw;
      root_error = std::current_exception();
      plan = std::string("ERR") + e.what();
    }
  }
  if (ranks > 1) comm.broadcast(plan);
  if (root_error) std::rethrow_exception(root_error);
  if (plan.starts_with("ERR")) throw ConfigError(plan.substr(3));
  if (!root) {
    size_t start = 3;
    while (start < plan.size()) {
      const size_t comma = std::min(plan.find(',', start), plan.size());
      if (comma > start) pending.push_back(std::stoll(plan.substr(start, comma - start)));
      start = comma + 1;
    }
    if (local_error) {
      comm.send_to_root(fatal_text(local_error), true);
      std::rethrow_exception(local_error);
    }
  }

  // 2. This rank's share: static round-robin over the points left to run.
  std::vector<int64_t> mine;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(ranks)) == comm.rank()) mine.push_back(pending[i]);
  }
  std::unique_ptr<Progress> progress;
  if (root) {
    progress = std::make_unique<Progress>(o.log, o.log_tty, summary.points, summary.resumed,
                                          static_cast<int64_t>(pending.size()));
  }
  Pool pool;
  const int threads = std::max(1, std::min<int>(o.threads, static_cast<int>(mine.size())));
  pool.workers_left = mine.empty() ? 0 : threads;
  auto worker = [&]() {
    while (!pool.stop) {
      const size_t k = pool.next.fetch_add(1);
      if (k >= mine.size()) break;
      const StudyPoint& pt = points[static_cast<size_t>(mine[k])];
      try {
        const auto p0 = Clock::now();
        PointResult r;
        try {
          r = evaluator.evaluate(pt);
        } catch (const ConfigError& e) {
          r.metrics.clear();
          r.status = one_line(e.what());
        }
        if (r.status.empty()) r.status = "failed (no status)";
        r.status = one_line(r.status);
        std::set<std::string> seen;
        for (const auto& [name, v] : r.metrics) {
          V3SIM_ASSERT_MSG(!name.empty() && seen.insert(name).second,
                           fmt::format("evaluator '{}' returned the metric '{}' twice for {}", evaluator.name(), name,
                                       pt.describe()));
        }
        const double wall = seconds_since(p0);
        const std::string text = record_json(spec.name, fingerprint, pt, r, wall).dump();
        if (root) {
          write_atomic(points_dir(o.out_dir) / point_file_name(pt.index), text + "\n");
          progress->point(pt.describe(), r.status, wall);
        } else {
          std::lock_guard<std::mutex> lock(pool.mu);
          pool.outbox.push_back(text);
          pool.cv.notify_all();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(pool.mu);
        if (!pool.fatal) pool.fatal = std::current_exception();
        pool.stop = true;
      }
    }
    std::lock_guard<std::mutex> lock(pool.mu);
    --pool.workers_left;
    pool.cv.notify_all();
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < pool.workers_left; ++i) workers.emplace_back(worker);

  // 3. The main thread: the root receives the other ranks' points and writes them; the others send theirs.
  std::string remote_fatal;
  int remote_fatal_rank = 0;
  if (root) {
    std::set<int64_t> expected;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (i % static_cast<size_t>(ranks) != 0) expected.insert(pending[i]);
    }
    int ranks_done = 1;
    while (ranks_done < ranks) {
      std::optional<StudyComm::Message> msg = comm.poll();
      if (!msg) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      if (msg->done) {
        ++ranks_done;
        if (!msg->text.empty() && remote_fatal.empty()) {
          remote_fatal = msg->text;
          remote_fatal_rank = msg->source;
        }
        continue;
      }
      std::string why;
      PointRecord rec;
      try {
        rec = parse_record(msg->text);
        if (!expected.count(rec.index)) {
          why = fmt::format("point {}, not one of rank {}'s points left to run", rec.index, msg->source);
        } else {
          why = record_mismatch(rec, fingerprint, points[static_cast<size_t>(rec.index)]);
        }
      } catch (const std::exception& e) {
        why = fmt::format("a message that is not a point record ({})", one_line(e.what()));
      }
      if (!why.empty()) {
        if (remote_fatal.empty()) {
          remote_fatal =
              "C:the point records of every rank computed from the same study and configs (are the files "
              "the same on every machine?), found " +
              why;
          remote_fatal_rank = msg->source;
        }
        continue;
      }
      expected.erase(rec.index);
      try {
        write_atomic(points_dir(o.out_dir) / point_file_name(rec.index), msg->text + "\n");
      } catch (...) {
        std::lock_guard<std::mutex> lock(pool.mu);
        if (!pool.fatal) pool.fatal = std::current_exception();
        pool.stop = true;
      }
      progress->point(points[static_cast<size_t>(rec.index)].describe(), rec.status, rec.wall_s);
    }
  } else {
    while (true) {
      std::deque<std::string> batch;
      bool finished = false;
      {
        std::unique_lock<std::mutex> lock(pool.mu);
        pool.cv.wait(lock, [&] { return !pool.outbox.empty() || pool.workers_left == 0; });
        batch.swap(pool.outbox);
        finished = pool.workers_left == 0;
      }
      for (const auto& text : batch) comm.send_to_root(text, false);
      if (finished) {
        std::lock_guard<std::mutex> lock(pool.mu);
        if (pool.outbox.empty()) break;
      }
    }
  }
  for (auto& t : workers) t.join();
  if (!root) {
    comm.send_to_root(pool.fatal ? fatal_text(pool.fatal) : std::string(), true);
    if (pool.fatal) std::rethrow_exception(pool.fatal);
    summary.wall_s = seconds_since(t0);
    return summary;
  }
  if (progress) progress->finish();
  if (pool.fatal) std::rethrow_exception(pool.fatal);
  if (!remote_fatal.empty()) throw_fatal_text(remote_fatal, remote_fatal_rank);

  // 4. results.h5 and summary.json from the point files, in point order.
  const report::StudyResults results = assemble_study_results(spec, points, evaluator, o.out_dir, o.log);
  summary.ran = static_cast<int64_t>(pending.size());
  for (const auto& s : results.status) {
    if (s.starts_with("infeasible")) {
      summary.infeasible += 1;
    } else if (s != "ok") {
      summary.failed += 1;
    }
  }
  summary.results_path = (fs::path(o.out_dir) / "results.h5").string();
  summary.summary_path = (fs::path(o.out_dir) / "summary.json").string();
  report::write_study_results(summary.results_path, results);
  write_summary_json(summary.summary_path, results);
  summary.wall_s = seconds_since(t0);
  return summary;
}

namespace {

class LocalComm final : public StudyComm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(std::string&) override {}
  void send_to_root(const std::string&, bool) override {
    V3SIM_ASSERT_MSG(false, "a single process has no root to send to");
  }
  std::optional<Message> poll() override { return std::nullopt; }
};

}  // namespace

std::unique_ptr<StudyComm> make_local_comm() {
  return std::make_unique<LocalComm>();
}

bool launched_under_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* e = std::getenv(v); e && *e) return true;
  }
  return false;
}

}  // namespace v3sim::study
