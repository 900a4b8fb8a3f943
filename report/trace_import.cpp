// The only file of v3sim that includes zlib.
#include "report/trace_import.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"

namespace v3sim::report {

namespace {

// Kineto writes absolute microsecond timestamps (1.7e15) with fractional nanoseconds in newer versions: a double
// keeps only a quarter of a microsecond there, a long double (64-bit mantissa) keeps them exactly enough.
using Json = nlohmann::basic_json<std::map, std::vector, std::string, bool, std::int64_t, std::uint64_t, long double>;

ConfigError trace_error(const std::string& path, const std::string& expected, const std::string& found, int line = 0) {
  return ConfigError(SourceLoc{path, line}, "", expected, found);
}

std::string gunzip(const std::string& path, const std::string& data) {
  z_stream z{};
  // 16 + MAX_WBITS: a gzip header and trailer (with its CRC) around the deflate stream.
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw InternalError("zlib inflateInit2 failed");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // a multi-member gzip (files concatenated): go on with the next member
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended inside a member
    const std::string msg = z.msg ? z.msg : fmt::format("zlib error {}", rc);
    inflateEnd(&z);
    throw trace_error(path, "a gzip-compressed trace", fmt::format("corrupt gzip data ({})", msg));
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    throw trace_error(
        path, "a complete gzip-compressed trace",
        fmt::format("a gzip stream that ends early after {} bytes of JSON (truncated file?)", out.size()));
  }
  return out;
}

int line_of(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n'));
}

Json parse_json(const std::string& path, const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string msg = e.what();
    if (const size_t close = msg.find("] "); msg.starts_with("[json.exception") && close != std::string::npos) {
      msg = msg.substr(close + 2);
    }
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    // Trailing whitespace does not count: an error at the last non-blank byte means the text stopped early.
    const size_t last = text.find_last_not_of(" \t\r\n");
    const bool truncated = !text.empty() && last != std::string::npos && at >= last;
    throw trace_error(path, "a Chrome/Kineto trace in JSON",
                      truncated ? "JSON that ends early (a truncated file?): " + msg : "not JSON: " + msg,
                      line_of(text, at));
  }
}

std::string describe(const Json& v) {
  if (v.is_null()) return "nothing";
  if (v.is_string()) return "'" + v.get<std::string>() + "'";
  if (v.is_object()) return "an object";
  if (v.is_array()) return fmt::format("a list of {} items", v.size());
  return v.dump();
}

// The fields of one trace event, each checked, errors naming the event by its index.
class EventReader {
 public:
  EventReader(const std::string& path, const Json& ev, size_t index) : m_path(path), m_ev(ev), m_index(index) {}

  ConfigError error(const std::string& key, const std::string& expected, const Json* found) const {
    std::string where = fmt::format("traceEvents[{}]", m_index);
    if (m_ev.is_object() && m_ev.contains("name") && m_ev["name"].is_string()) {
      std::string name = m_ev["name"].get<std::string>();
      if (name.size() > 60) name = name.substr(0, 57) + "...";
      where += fmt::format(" ('{}')", name);
    }
    return ConfigError(SourceLoc{m_path, 0}, where + "." + key, expected, found ? describe(*found) : "nothing");
  }
  const Json* find(const Json& obj, const std::string& key) const {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  long double number(const std::string& key) const {
    const Json* v = find(m_ev, key);
    if (!v || !v->is_number()) throw error(key, "a number", v);
    return v->get<long double>();
  }
  const Json* arg(const std::string& key) const {
    const Json* args = find(m_ev, "args");
    return args && args->is_object() ? find(*args, key) : nullptr;
  }
  int64_t int_arg(const std::string& key) const {
    const Json* v = arg(key);
    if (!v || !v->is_number_integer()) throw error("args." + key, "an integer", v);
    return v->get<int64_t>();
  }
  std::array<int32_t, 3> dims_arg(const std::string& key) const {
    std::array<int32_t, 3> out{};
    const Json* v = arg(key);
    if (!v) return out;
    if (!v->is_array() || v->size() != 3) throw error("args." + key, "a list of 3 integers", v);
    for (size_t i = 0; i < 3; ++i) {
      if (!(*v)[i].is_number_integer()) throw error("args." + key, "a list of 3 integers", v);
      out[i] = (*v)[i].get<int32_t>();
    }
    return out;
  }
  std::string string(const std::string& key) const {
    const Json* v = find(m_ev, key);
    return v && v->is_string() ? v->get<std::string>() : std::string();
  }
  // The CPU process, as the trace writes its pid (a number or a string).
  std::string process() const {
    const Json* pid = find(m_ev, "pid");
    return pid ? pid->dump() : "";
  }

 private:
  const std::string& m_path;
  const Json& m_ev;
  size_t m_index;
};

struct GpuEvent {
  std::string kernel;
  std::string cat;
  long double ts = 0, dur = 0;
  int64_t stream_id = 0;
  int32_t device = 0;
  std::optional<int64_t> correlation;
  std::array<int32_t, 3> grid{}, block{};
  double bytes = 0;
  long double launch_ts = 0;
  int instance = -1;  // the annotation occurrence that launched it
};

struct Annotation {
  const AnnotationRule* rule;
  std::string process;
  long double start, end;
  int occurrence = 0;
  int32_t layer = -1;
};

struct Launch {
  std::string process;
  long double ts;
};

// Finds, for a launch, the innermost annotation of the rules containing it in the same process. Not the same
// thread: PyTorch's autograd engine launches the backward's kernels from a thread of its own while the thread that
// opened the annotation waits in backward() (in DeepSeek's trace, attn(B) is on thread 1166 and its kernels are
// launched from thread 2571).
class AnnotationIndex {
 public:
  explicit AnnotationIndex(const std::vector<Annotation>& anns) : m_anns(anns) {
    for (size_t i = 0; i < anns.size(); ++i) m_by_process[anns[i].process].push_back(i);
    for (auto& [process, ids] : m_by_process) {
      std::stable_sort(ids.begin(), ids.end(), [&](size_t a, size_t b) { return anns[a].start < anns[b].start; });
      auto& ends = m_max_end[process];
      long double hi = -INFINITY;
      for (size_t id : ids) ends.push_back(hi = std::max(hi, anns[id].end));
    }
  }

  // The index of the annotation (latest start among those with start <= t < end), or -1.
  int find(const std::string& process, long double t) const {
    auto it = m_by_process.find(process);
    if (it == m_by_process.end()) return -1;
    const auto& ids = it->second;
    const auto& ends = m_max_end.at(process);
    auto first_after =
        std::upper_bound(ids.begin(), ids.end(), t, [&](long double x, size_t id) { return x < m_anns[id].start; });
    for (auto i = static_cast<std::ptrdiff_t>(first_after - ids.begin()) - 1; i >= 0; --i) {
      if (ends[static_cast<size_t>(i)] <= t) break;  // nothing at or before i reaches t
      const Annotation& a = m_anns[ids[static_cast<size_t>(i)]];
      if (t < a.end) return static_cast<int>(ids[static_cast<size_t>(i)]);
    }
    return -1;
  }

 private:
  const std::vector<Annotation>& m_anns;
  std::map<std::string, std::vector<size_t>> m_by_process;
  std::map<std::string, std::vector<long double>> m_max_end;
};

int64_t to_ps(long double us) {
  return static_cast<int64_t>(std::llround(us * 1e6L));
}

void read_provenance(const Json& doc, int32_t device, std::map<std::string, std::string>& meta) {
  if (auto it = doc.find("deviceProperties"); it != doc.end() && it->is_array()) {
    for (const Json& d : *it) {
      if (!d.is_object() || !d.contains("id") || !d["id"].is_number_integer() || d["id"].get<int64_t>() != device) {
        continue;
      }
      if (d.contains("name") && d["name"].is_string()) meta["gpu"] = d["name"].get<std::string>();
      if (d.contains("numSms") && d["numSms"].is_number_integer()) meta["sm_count"] = d["numSms"].dump();
      if (d.contains("computeMajor") && d.contains("computeMinor")) {
        meta["gpu_compute_capability"] = d["computeMajor"].dump() + "." + d["computeMinor"].dump();
      }
      if (d.contains("totalGlobalMem")) meta["gpu_memory_bytes"] = d["totalGlobalMem"].dump();
    }
  }
  if (auto it = doc.find("distributedInfo"); it != doc.end() && it->is_object()) {
    for (const char* key : {"rank", "world_size", "backend"}) {
      if (!it->contains(key)) continue;
      const Json& v = (*it)[key];
      meta[std::string("distributed_") + key] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (auto it = doc.find("traceName"); it != doc.end() && it->is_string()) meta["trace_name"] = it->get<std::string>();
  if (auto it = doc.find("schemaVersion"); it != doc.end()) meta["trace_schema_version"] = it->dump();
}

// Names the kernels of one annotation occurrence by the rules' op lists, counting matches in launch order.
// `counts` collects, per op list, how many kernels matched in each occurrence (for the notes).
void name_ops(const AnnotationRule& rule, std::vector<GpuEvent*>& events, std::vector<const OpName*>& names,
              std::map<size_t, std::set<size_t>>& counts) {
  std::stable_sort(events.begin(), events.end(), [](const GpuEvent* a, const GpuEvent* b) {
    return a->launch_ts != b->launch_ts ? a->launch_ts < b->launch_ts : a->ts < b->ts;
  });
  std::vector<size_t> seen(rule.ops.size(), 0);
  names.assign(events.size(), nullptr);
  for (size_t e = 0; e < events.size(); ++e) {
    for (size_t l = 0; l < rule.ops.size(); ++l) {
      const OpList& list = rule.ops[l];
      if (!list.pattern.matches(events[e]->kernel)) continue;
      const size_t k = seen[l]++;
      if (k < list.names.size()) names[e] = &list.names[k];
      break;
    }
  }
  for (size_t l = 0; l < rule.ops.size(); ++l) counts[l].insert(seen[l]);
}

}  // namespace

std::string short_kernel_name(const std::string& kernel) {
  std::string s = kernel;
  if (s.starts_with("void ")) s = s.substr(5);
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' && depth == 0) {
      // "(anonymous namespace)::" is part of the name; any other '(' starts the parameters.
      if (s.compare(i, 21, "(anonymous namespace)") == 0) {
        out += "(anonymous namespace)";
        i += 20;
        continue;
      }
      break;
    }
    if (c == '<') {
      ++depth;
    } else if (c == '>' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  constexpr size_t kMax = 96;
  if (out.size() > kMax) out = out.substr(0, kMax);
  return out.empty() ? kernel.substr(0, kMax) : out;
}

std::string read_trace_file(const std::string& path, std::string* raw_sha256) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw trace_error(path, "a trace file (Chrome/Kineto JSON)", "no such file");
  if (std::filesystem::is_directory(path, ec))
    throw trace_error(path, "a trace file (Chrome/Kineto JSON)", "a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw trace_error(path, "a readable trace file", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (raw_sha256) *raw_sha256 = sha256_hex(data);
  const bool gz =
      data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
  return gz ? gunzip(path, data) : data;
}

namespace {

// Phase 1: the trace's `traceEvents` list, or an error saying what the document is instead.
const Json& trace_events(const std::string& path, const Json& doc) {
  if (!doc.is_object()) {
    throw trace_error(path, "a JSON object with a `traceEvents` list (the PyTorch profiler's trace)", describe(doc));
  }
  auto events_it = doc.find("traceEvents");
  if (events_it == doc.end() || !events_it->is_array()) {
    throw trace_error(path, "a `traceEvents` list (the PyTorch profiler's trace)",
                      events_it == doc.end() ? "no traceEvents" : "traceEvents as " + describe(*events_it));
  }
  return *events_it;
}

// The events the import reads: GPU events, CPU launches by correlation id, annotations of the rules.
struct TraceEvents {
  std::vector<GpuEvent> gpu;
  std::map<int64_t, Launch> launches;
  std::vector<Annotation> anns;
};

// Phase 2: one pass over the events: GPU events, CPU launches by correlation id, annotations of the rules.
TraceEvents collect_events(const std::string& path, const Json& events, const TraceRules& rules) {
  TraceEvents t;
  for (size_t i = 0; i < events.size(); ++i) {
    const Json& ev = events[i];
    if (!ev.is_object()) continue;
    const EventReader r(path, ev, i);
    const std::string cat = r.string("cat");
    if (cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset") {
      GpuEvent g;
      g.kernel = r.string("name");
      g.cat = cat;
      g.ts = r.number("ts");
      g.dur = r.number("dur");
      if (g.dur < 0) throw r.error("dur", "a duration >= 0", &ev["dur"]);
      g.stream_id = r.int_arg("stream");
      if (r.arg("device")) g.device = static_cast<int32_t>(r.int_arg("device"));
      if (r.arg("correlation")) g.correlation = r.int_arg("correlation");
      g.grid = r.dims_arg("grid");
      g.block = r.dims_arg("block");
      if (const Json* b = r.arg("bytes"); b && b->is_number()) g.bytes = b->get<double>();
      t.gpu.push_back(std::move(g));
    } else if (cat == "cuda_runtime" || cat == "cuda_driver") {
      if (r.arg("correlation")) t.launches[r.int_arg("correlation")] = Launch{r.process(), r.number("ts")};
    } else if (cat == "user_annotation") {
      if (const AnnotationRule* rule = rules.annotation(r.string("name"))) {
        const long double ts = r.number("ts");
        t.anns.push_back(Annotation{rule, r.process(), ts, ts + r.number("dur")});
      }
    }
  }
  if (t.gpu.empty()) {
    throw trace_error(path, "GPU events (cat kernel, gpu_memcpy or gpu_memset) in traceEvents",
                      fmt::format("none among {} events (a profile without ProfilerActivity.CUDA?)", events.size()));
  }
  return t;
}

// Phase 3: every GPU event's stream needs a role.
void check_stream_roles(const std::string& path, const std::vector<GpuEvent>& gpu, const TraceRules& rules) {
  std::map<int64_t, int64_t> on_stream;
  for (const GpuEvent& g : gpu) ++on_stream[g.stream_id];
  for (const auto& [id, n] : on_stream) {
    if (rules.stream_code(id)) continue;
    std::string known;
    for (const StreamRole& s : rules.streams) known += (known.empty() ? "" : ", ") + std::to_string(s.id);
    throw trace_error(path,
                      fmt::format("GPU events on streams that the rules ({}) give a role: {} (add this one under "
                                  "streams:)",
                                  rules.file.empty() ? "given" : rules.file, known),
                      fmt::format("{} GPU event{} on stream {}", n, n == 1 ? "" : "s", id));
  }
}

// Phase 4: annotation occurrences, counted per name in time order, and the layer each stands for; returns the
// occurrences per name.
std::map<std::string, int> number_annotations(std::vector<Annotation>& anns) {
  std::stable_sort(anns.begin(), anns.end(), [](const Annotation& a, const Annotation& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::map<std::string, int> occurrences;
  for (Annotation& a : anns) a.occurrence = occurrences[a.rule->name]++;
  for (Annotation& a : anns) {
    const int n = occurrences[a.rule->name];
    switch (a.rule->layers) {
      case LayerOrder::None:
        a.layer = -1;
        break;
      case LayerOrder::Ascending:
        a.layer = a.occurrence;
        break;
      case LayerOrder::Descending:
        a.layer = n - 1 - a.occurrence;
        break;
    }
  }
  return occurrences;
}

// Phase 5: attribution, launch -> annotation occurrence; fills `by_instance` and returns the GPU events without a
// launch event.
int64_t attribute_launches(TraceEvents& t, std::vector<std::vector<GpuEvent*>>& by_instance) {
  const AnnotationIndex index(t.anns);
  int64_t without_launch = 0;
  by_instance.assign(t.anns.size(), {});
  for (GpuEvent& g : t.gpu) {
    auto it = g.correlation ? t.launches.find(*g.correlation) : t.launches.end();
    if (it == t.launches.end()) {
      ++without_launch;
      g.launch_ts = g.ts;
      continue;
    }
    g.launch_ts = it->second.ts;
    g.instance = index.find(it->second.process, it->second.ts);
    if (g.instance >= 0) by_instance[static_cast<size_t>(g.instance)].push_back(&g);
  }
  return without_launch;
}

// Phase 6: op names by launch order within each occurrence, by index in `gpu`; notes where the kernels an
// occurrence launches do not match the names the rules list.
std::vector<const OpName*> name_gpu_ops(const TraceEvents& t, std::vector<std::vector<GpuEvent*>>& by_instance,
                                        std::vector<std::string>& notes) {
  const std::vector<GpuEvent>& gpu = t.gpu;
  const std::vector<Annotation>& anns = t.anns;
  std::vector<const OpName*> op_of(gpu.size(), nullptr);
  std::map<std::pair<const AnnotationRule*, size_t>, std::set<size_t>> list_counts;
  for (size_t i = 0; i < anns.size(); ++i) {
    std::vector<const OpName*> names;
    std::map<size_t, std::set<size_t>> counts;
    name_ops(*anns[i].rule, by_instance[i], names, counts);
    for (size_t e = 0; e < names.size(); ++e) op_of[static_cast<size_t>(by_instance[i][e] - gpu.data())] = names[e];
    for (const auto& [l, c] : counts) list_counts[{anns[i].rule, l}].insert(c.begin(), c.end());
  }
  for (const auto& [key, counts] : list_counts) {
    const auto& [rule, l] = key;
    const size_t named = rule->ops[l].names.size();
    if (counts.size() == 1 && *counts.begin() == named) continue;
    std::string seen;
    for (size_t c : counts) seen += (seen.empty() ? "" : " or ") + std::to_string(c);
    notes.push_back(fmt::format("{}: {} kernels match {} in an occurrence, the rules name {}", rule->name, seen,
                                rule->ops[l].pattern.describe(), named));
  }
  return op_of;
}

// What building the timeline counts: events by category and those no rule maps.
struct TimelineCounts {
  int64_t by_cat[3] = {0, 0, 0};  // kernel, gpu_memcpy, gpu_memset
  int64_t unmapped_events = 0;
};

// Phase 7: one timeline event per GPU event (`order`: by start time), named and classified by the rules; kernels
// no rule maps are collected in out.unmapped, longest first.
TimelineCounts build_timeline(const TraceEvents& t, const std::vector<size_t>& order,
                              const std::vector<const OpName*>& op_of, const TraceRules& rules, ImportedTrace& out) {
  const std::vector<GpuEvent>& gpu = t.gpu;
  const long double origin = gpu[order.front()].ts;
  Timeline& tl = out.result.timeline;
  tl.source = "measured";
  std::map<std::string, UnmappedKernel> unmapped;
  TimelineCounts n;
  for (size_t i = 0; i < order.size(); ++i) {
    const GpuEvent& g = gpu[order[i]];
    TimelineEvent e;
    e.op = static_cast<uint32_t>(i);
    e.kernel = g.kernel;
    e.device = g.device;
    e.stream = *rules.stream_code(g.stream_id);
    e.stream_id = g.stream_id;
    e.start = Time::ps(to_ps(g.ts - origin));
    e.end = e.start + Time::ps(to_ps(g.dur));
    e.bytes = g.bytes;
    e.grid = g.grid;
    e.block = g.block;
    const Annotation* ann = g.instance >= 0 ? &t.anns[static_cast<size_t>(g.instance)] : nullptr;
    const OpName* opn = op_of[order[i]];
    const KernelRule* rule = rules.match_kernel(g.kernel);
    if (ann) {
      e.layer = ann->layer;
      e.micro_batch = ann->rule->micro_batch;
      e.annotation = fmt::format("{}#{}", ann->rule->name, ann->occurrence);
      e.pass = ann->rule->pass;
    }
    if (rule && !rule->pass.empty()) e.pass = rule->pass;
    if (opn && !opn->pass.empty()) e.pass = opn->pass;
    e.kind = opn && !opn->kind.empty() ? opn->kind : rule ? rule->kind : "unmapped";
    if (opn && !opn->op.empty()) {
      e.name = e.layer >= 0 ? fmt::format("L{}.{}", e.layer, opn->op) : opn->op;
    } else {
      e.name = rule && !rule->name.empty() ? rule->name : short_kernel_name(g.kernel);
    }
    if (e.kind == "unmapped") {
      UnmappedKernel& u = unmapped[g.kernel];
      u.kernel = g.kernel;
      ++u.count;
      u.time = u.time + e.duration();
      ++n.unmapped_events;
    }
    ++n.by_cat[g.cat == "kernel" ? 0 : g.cat == "gpu_memcpy" ? 1 : 2];
    tl.events.push_back(std::move(e));
  }
  for (auto& [name, u] : unmapped) out.unmapped.push_back(std::move(u));
  std::stable_sort(out.unmapped.begin(), out.unmapped.end(),
                   [](const UnmappedKernel& a, const UnmappedKernel& b) { return a.time > b.time; });
  return n;
}

// Phase 8: provenance (source, rules, the trace's own metadata) and the summary counts.
void fill_meta_and_summary(const std::string& path, const std::string& sha, const Json& doc, const GpuEvent& first,
                           const TraceRules& rules, const TimelineCounts& n, ImportedTrace& out) {
  const Timeline& tl = out.result.timeline;
  auto& meta = out.result.meta;
  meta = standard_meta();
  meta["source_file"] = path;
  meta["source_sha256"] = sha;
  meta["source_format"] = "chrome-trace-json (PyTorch profiler / Kineto)";
  meta["trace_time_origin_us"] = fmt::format("{:.3f}", first.ts);
  read_provenance(doc, first.device, meta);
  meta["rules_file"] = rules.file;
  meta["rules_sha256"] = rules.sha256;
  meta["config_yaml"] = rules.yaml;

  std::set<int32_t> layers;
  for (const TimelineEvent& e : tl.events)
    if (e.layer >= 0) layers.insert(e.layer);
  out.result.summary = {{"gpu_events", static_cast<double>(tl.events.size())},
                        {"kernel_events", static_cast<double>(n.by_cat[0])},
                        {"memcpy_events", static_cast<double>(n.by_cat[1])},
                        {"memset_events", static_cast<double>(n.by_cat[2])},
                        {"unmapped_events", static_cast<double>(n.unmapped_events)},
                        {"layers", static_cast<double>(layers.size())},
                        {"span_us", tl.span().microseconds()}};
}

}  // namespace

ImportedTrace import_profiler_trace(const std::string& path, const TraceRules& rules) {
  std::string sha;
  const std::string text = read_trace_file(path, &sha);
  const Json doc = parse_json(path, text);
  const Json& events = trace_events(path, doc);

  TraceEvents t = collect_events(path, events, rules);
  check_stream_roles(path, t.gpu, rules);
  const std::map<std::string, int> occurrences = number_annotations(t.anns);

  ImportedTrace out;
  std::vector<std::vector<GpuEvent*>> by_instance;
  const int64_t without_launch = attribute_launches(t, by_instance);
  const std::vector<const OpName*> op_of = name_gpu_ops(t, by_instance, out.notes);
  if (without_launch > 0) {
    out.notes.push_back(
        fmt::format("{} GPU event{} no launch event in the trace (so no annotation, layer or "
                    "micro-batch)",
                    without_launch, without_launch == 1 ? " has" : "s have"));
  }
  for (const AnnotationRule& a : rules.annotations) {
    if (!occurrences.count(a.name))
      out.notes.push_back(fmt::format("annotation '{}' of the rules is not in the trace", a.name));
  }

  // Timeline events, ordered by start time.
  const std::vector<GpuEvent>& gpu = t.gpu;
  std::vector<size_t> order(gpu.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return gpu[a].ts != gpu[b].ts ? gpu[a].ts < gpu[b].ts : gpu[a].stream_id < gpu[b].stream_id;
  });
  const TimelineCounts n = build_timeline(t, order, op_of, rules, out);
  fill_meta_and_summary(path, sha, doc, gpu[order.front()], rules, n, out);
  return out;
}

}  // namespace v3sim::report
