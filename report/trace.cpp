#include "report/trace.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace v3sim {

std::string chrome_trace_json(const std::vector<const Timeline*>& timelines,
                              const std::vector<std::string>& stream_names) {
  nlohmann::json events = nlohmann::json::array();
  for (size_t t = 0; t < timelines.size(); ++t) {
    const Timeline& tl = *timelines[t];
    const int pid_base = static_cast<int>(t) * 1000;
    std::set<std::pair<int, int>> threads;
    for (const TimelineEvent& e : tl.events) {
      const int pid = pid_base + e.device;
      threads.insert({pid, e.stream});
      events.push_back({{"name", e.name},
                        {"cat", e.kind},
                        {"ph", "X"},
                        {"ts", static_cast<double>(e.start.picoseconds()) * 1e-6},
                        {"dur", static_cast<double>(e.duration().picoseconds()) * 1e-6},
                        {"pid", pid},
                        {"tid", e.stream},
                        {"args", {{"op", e.op}, {"flops", e.flops}, {"bytes", e.bytes}}}});
    }
    std::set<int> pids;
    for (const auto& [pid, tid] : threads) {
      if (pids.insert(pid).second) {
        events.push_back({{"name", "process_name"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"args", {{"name", fmt::format("{} GPU {}", tl.source, pid - pid_base)}}}});
      }
      const std::string tname = tid >= 0 && static_cast<size_t>(tid) < stream_names.size()
                                    ? stream_names[static_cast<size_t>(tid)]
                                    : fmt::format("stream {}", tid);
      events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", tname}}}});
    }
  }
  nlohmann::json doc = {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
  return doc.dump();
}

void write_chrome_trace(const std::string& path, const std::vector<const Timeline*>& timelines,
                        const std::vector<std::string>& stream_names) {
  if (!path.ends_with(".json")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "a trace file name ending in .json (or .h5 for results)",
                      fmt::format("'{}'", path));
  }
  write_file_atomic(path, chrome_trace_json(timelines, stream_names), "-o");
}

}  // namespace v3sim
