#include "report/trace_analysis.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace v3sim::report {

namespace {

// Nearest-rank percentile of sorted values: the smallest value with at least p of them at or below it.
Time percentile(const std::vector<Time>& sorted, double p) {
  if (sorted.empty()) return Time();
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

StreamStats stream_stats(std::vector<const TimelineEvent*> events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const TimelineEvent* a, const TimelineEvent* b) { return a->start < b->start; });
  StreamStats s;
  s.device = events.front()->device;
  s.stream = events.front()->stream;
  std::set<int64_t> ids;
  std::vector<Time> gaps;
  Time end = events.front()->start;
  for (const TimelineEvent* e : events) {
    ++s.events;
    s.time += e->duration();
    if (e->stream_id >= 0) ids.insert(e->stream_id);
    if (e != events.front()) gaps.push_back(std::max(Time(), e->start - end));
    s.busy += std::max(Time(), e->end - std::max(e->start, end));
    end = std::max(end, e->end);
  }
  s.stream_ids.assign(ids.begin(), ids.end());
  s.span = end - events.front()->start;
  s.idle = s.span - s.busy;
  s.gaps.count = static_cast<int64_t>(gaps.size());
  for (Time g : gaps) s.gaps.total += g;
  std::sort(gaps.begin(), gaps.end());
  s.gaps.median = percentile(gaps, 0.5);
  s.gaps.p90 = percentile(gaps, 0.9);
  return s;
}

void add(Total& t, const TimelineEvent& e) {
  ++t.events;
  t.time += e.duration();
}

double ms(Time t) {
  return static_cast<double>(t.picoseconds()) * 1e-9;
}

nlohmann::json total_json(const Total& t, const TimelineAnalysis& a) {
  return {{"events", t.events}, {"time_ms", ms(t.time)}, {"per_layer_ms", a.per_layer_ms(t.time)}};
}

}  // namespace

double TimelineAnalysis::per_layer_ms(Time t) const {
  return ms(t) / static_cast<double>(std::max<int64_t>(layers, 1));
}

TimelineAnalysis analyze_timeline(const Timeline& timeline) {
  TimelineAnalysis a;
  std::map<std::pair<int32_t, int32_t>, std::vector<const TimelineEvent*>> by_stream;
  std::set<int32_t> layers;
  for (const TimelineEvent& e : timeline.events) {
    by_stream[{e.device, e.stream}].push_back(&e);
    add(a.by_kind[e.kind], e);
    add(a.by_kind_pass[{e.kind, e.pass}], e);
    add(a.by_layer[e.layer], e);
    add(a.by_annotation[e.annotation], e);
    if (e.layer >= 0) layers.insert(e.layer);
  }
  a.layers = static_cast<int64_t>(layers.size());
  for (auto& [key, events] : by_stream) a.streams.push_back(stream_stats(std::move(events)));
  return a;
}

nlohmann::json analysis_json(const TimelineAnalysis& a) {
  nlohmann::json j;
  j["layers"] = a.layers;
  j["streams"] = nlohmann::json::array();
  for (const StreamStats& s : a.streams) {
    j["streams"].push_back({{"device", s.device},
                            {"stream", s.stream},
                            {"name", timeline_stream_name(s.stream)},
                            {"stream_ids", s.stream_ids},
                            {"events", s.events},
                            {"time_ms", ms(s.time)},
                            {"per_layer_ms", a.per_layer_ms(s.time)},
                            {"busy_ms", ms(s.busy)},
                            {"span_ms", ms(s.span)},
                            {"idle_ms", ms(s.idle)},
                            {"gaps",
                             {{"count", s.gaps.count},
                              {"total_ms", ms(s.gaps.total)},
                              {"median_us", s.gaps.median.microseconds()},
                              {"p90_us", s.gaps.p90.microseconds()}}}});
  }
  j["kinds"] = nlohmann::json::object();
  for (const auto& [kind, t] : a.by_kind) j["kinds"][kind] = total_json(t, a);
  j["kind_pass"] = nlohmann::json::array();
  for (const auto& [key, t] : a.by_kind_pass) {
    nlohmann::json row = total_json(t, a);
    row["kind"] = key.first;
    row["pass"] = key.second;
    j["kind_pass"].push_back(row);
  }
  j["layer_totals"] = nlohmann::json::array();
  for (const auto& [layer, t] : a.by_layer) {
    nlohmann::json row = {{"layer", layer}, {"events", t.events}, {"time_ms", ms(t.time)}};
    j["layer_totals"].push_back(row);
  }
  j["annotations"] = nlohmann::json::array();
  for (const auto& [name, t] : a.by_annotation) {
    j["annotations"].push_back({{"annotation", name}, {"events", t.events}, {"time_ms", ms(t.time)}});
  }
  return j;
}

}  // namespace v3sim::report
