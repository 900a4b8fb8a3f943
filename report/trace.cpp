#include "report/trace.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "report/compare.h"

namespace v3sim::report {

namespace {

// The text gzip-compressed in memory (zlib's deflate with a gzip header), so the file is written whole or not at all.
std::string gzip_bytes(const std::string& text, const std::string& path) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw ConfigError(SourceLoc{path, 0}, "", "zlib to compress the trace", "an error from deflateInit2");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    throw ConfigError(SourceLoc{path, 0}, "", "a trace zlib can compress in one pass", "an error from deflate");
  }
  return out;
}

// Picoseconds to whole nanoseconds, rounded to nearest (monotonic: nesting is kept).
int64_t to_ns(Time t) {
  const int64_t ps = t.picoseconds();
  return ps >= 0 ? (ps + 500) / 1000 : -((-ps + 500) / 1000);
}

double ns_to_us(int64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

// Assigns every event of one thread to a lane so that each lane's events nest: lane k holds a stack of open
// intervals; an event goes on the first lane whose innermost open interval contains it, or on which nothing is open
// at its start.
std::vector<int> assign_lanes(const std::vector<std::pair<int64_t, int64_t>>& spans) {
  std::vector<size_t> order(spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // By start, the longer first (an enclosing event before what it encloses).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (spans[a].first != spans[b].first) return spans[a].first < spans[b].first;
    return spans[a].second > spans[b].second;
  });
  std::vector<std::vector<int64_t>> open;  // per lane, the ends of its open intervals, innermost last
  std::vector<int> lane(spans.size(), 0);
  for (size_t i : order) {
    const auto [start, end] = spans[i];
    size_t l = 0;
    for (; l < open.size(); ++l) {
      auto& stack = open[l];
      while (!stack.empty() && stack.back() <= start) stack.pop_back();
      if (stack.empty() || end <= stack.back()) break;
    }
    if (l == open.size()) open.emplace_back();
    open[l].push_back(end);
    lane[i] = static_cast<int>(l);
  }
  return lane;
}

}  // namespace

std::string chrome_trace_json(const std::vector<const Timeline*>& timelines,
                              const std::vector<std::string>& stream_names, MemoryCounter memory) {
  nlohmann::json events = nlohmann::json::array();
  if (memory.samples != nullptr) {
    for (const auto& [t, bytes] : *memory.samples) {
      events.push_back({{"name", "memory GiB"},
                        {"ph", "C"},
                        {"ts", ns_to_us(static_cast<int64_t>(std::llround((memory.origin_s + t) * 1e9)))},
                        {"pid", memory.device},
                        {"args", {{"GiB", bytes / static_cast<double>(int64_t{1} << 30)}}}});
    }
  }
  for (size_t t = 0; t < timelines.size(); ++t) {
    const Timeline& tl = *timelines[t];
    const int pid_base = static_cast<int>(t) * 1000;
    // Per (GPU, stream): the events' spans in ns, then their lanes.
    std::map<std::pair<int, int>, std::vector<size_t>> by_thread;
    for (size_t i = 0; i < tl.events.size(); ++i) by_thread[{tl.events[i].device, tl.events[i].stream}].push_back(i);
    std::set<int> pids;
    for (const auto& [key, idx] : by_thread) {
      const auto [device, stream] = key;
      const int pid = pid_base + device;
      std::vector<std::pair<int64_t, int64_t>> spans;
      for (size_t i : idx) {
        const TimelineEvent& e = tl.events[i];
        const int64_t s = to_ns(e.start);
        spans.emplace_back(s, std::max(s, to_ns(e.end)));
      }
      const std::vector<int> lanes = assign_lanes(spans);
      int max_lane = 0;
      for (size_t k = 0; k < idx.size(); ++k) {
        const TimelineEvent& e = tl.events[idx[k]];
        max_lane = std::max(max_lane, lanes[k]);
        nlohmann::json args = {{"op", e.op},
                               {"kind", e.kind},
                               {"category", to_string(event_category(e))},
                               {"flops", e.flops},
                               {"bytes", e.bytes}};
        if (e.layer >= 0) args["layer"] = e.layer;
        if (!e.pass.empty()) args["pass"] = e.pass;
        if (e.micro_batch >= 0) args["micro_batch"] = e.micro_batch;
        if (!e.kernel.empty()) args["kernel"] = e.kernel;
        if (!e.annotation.empty()) args["annotation"] = e.annotation;
        events.push_back({{"name", e.name},
                          {"cat", e.kind},
                          {"ph", "X"},
                          {"ts", ns_to_us(spans[k].first)},
                          {"dur", ns_to_us(spans[k].second - spans[k].first)},
                          {"pid", pid},
                          {"tid", lanes[k] * 1000 + stream},
                          {"args", std::move(args)}});
      }
      if (pids.insert(pid).second) {
        events.push_back({{"name", "process_name"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"args", {{"name", fmt::format("{} GPU {}", tl.source, device)}}}});
        events.push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", pid}, {"args", {{"sort_index", pid}}}});
      }
      const std::string sname = stream >= 0 && static_cast<size_t>(stream) < stream_names.size()
                                    ? stream_names[static_cast<size_t>(stream)]
                                    : fmt::format("stream {}", stream);
      for (int l = 0; l <= max_lane; ++l) {
        const int tid = l * 1000 + stream;
        events.push_back({{"name", "thread_name"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"tid", tid},
                          {"args", {{"name", l == 0 ? sname : fmt::format("{} ({})", sname, l + 1)}}}});
        events.push_back({{"name", "thread_sort_index"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"tid", tid},
                          {"args", {{"sort_index", stream * 1000 + l}}}});
      }
    }
  }
  nlohmann::json doc = {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
  return doc.dump();
}

std::vector<std::string> check_chrome_trace(const std::string& text) {
  std::vector<std::string> problems;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return {fmt::format("not JSON ({})", e.what())};
  }
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array()) {
    return {"no traceEvents list"};
  }
  struct Slice {
    int64_t start, end;
    std::string name;
  };
  std::map<std::pair<int64_t, int64_t>, std::vector<Slice>> threads;
  size_t index = 0;
  for (const auto& e : doc["traceEvents"]) {
    ++index;
    if (!e.is_object() || e.value("ph", "") != "X") continue;
    const auto ts = e.find("ts");
    const auto dur = e.find("dur");
    if (ts == e.end() || dur == e.end() || !ts->is_number() || !dur->is_number() || dur->get<double>() < 0) {
      problems.push_back(fmt::format("event {}: an X event without a numeric ts and a dur >= 0", index));
      continue;
    }
    const auto start = static_cast<int64_t>(std::llround(ts->get<double>() * 1000));
    const auto end = start + static_cast<int64_t>(std::llround(dur->get<double>() * 1000));
    const int64_t pid = e.value("pid", int64_t{0}), tid = e.value("tid", int64_t{0});
    threads[{pid, tid}].push_back({start, end, e.value("name", std::string())});
  }
  for (auto& [key, slices] : threads) {
    std::stable_sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<const Slice*> open;
    for (const Slice& s : slices) {
      while (!open.empty() && open.back()->end <= s.start) open.pop_back();
      if (!open.empty() && s.end > open.back()->end) {
        const Slice& o = *open.back();
        problems.push_back(fmt::format("pid {} tid {}: '{}' [{}, {}) ns and '{}' [{}, {}) ns overlap without nesting",
                                       key.first, key.second, o.name, o.start, o.end, s.name, s.start, s.end));
        continue;
      }
      open.push_back(&s);
    }
  }
  return problems;
}

namespace {

// A trace's text to `path` (.json, or .json.gz compressed), complete or absent.
void write_trace_text(const std::string& path, std::string text) {
  const bool gz = path.ends_with(".json.gz");
  if (!path.ends_with(".json") && !gz) {
    throw ConfigError(SourceLoc{path, 0}, "", "a trace file name ending in .json or .json.gz (or .h5 for results)",
                      fmt::format("'{}'", path));
  }
  if (gz) text = gzip_bytes(text, path);
  write_file_atomic(path, text);
}

}  // namespace

void write_chrome_trace(const std::string& path, const std::vector<const Timeline*>& timelines,
                        const std::vector<std::string>& stream_names, MemoryCounter memory) {
  write_trace_text(path, chrome_trace_json(timelines, stream_names, memory));
}

void write_link_trace(const std::string& path, const std::vector<net::TracedLink>& links,
                      const std::string& metadata_json) {
  constexpr int kFabricPid = 1 << 20;
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "{{\"displayTimeUnit\":\"ns\",\"metadata\":{},\"traceEvents\":[\n",
                 metadata_json);
  bool first = true;
  auto event = [&](const std::string& json) {
    fmt::format_to(std::back_inserter(out), "{}{}", first ? "" : ",\n", json);
    first = false;
  };
  std::map<int, bool> processes;
  for (size_t tid = 0; tid < links.size(); ++tid) {
    const net::TracedLink& l = links[tid];
    const int pid = l.gpu >= 0 ? l.gpu : kFabricPid;
    if (!processes[pid]) {
      processes[pid] = true;
      const std::string pname = l.gpu >= 0 ? fmt::format("GPU {}", l.gpu) : std::string("switches");
      event(fmt::format(R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"{}"}}}})", pid, pname));
    }
    event(fmt::format(R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":{}}}}})", pid, tid,
                      nlohmann::json(l.name).dump()));
    const std::string_view cls = net::link_class_name(l.cls);
    for (const auto& [start, end] : l.busy) {
      event(fmt::format(R"({{"name":"{}","cat":"link","ph":"X","pid":{},"tid":{},"ts":{:.6f},"dur":{:.6f}}})", cls, pid,
                        tid, start.microseconds(), (end - start).microseconds()));
    }
  }
  fmt::format_to(std::back_inserter(out), "\n]}}\n");
  write_trace_text(path, std::string(out.data(), out.size()));
}

}  // namespace v3sim::report
