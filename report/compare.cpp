#include "report/compare.h"

#include <cmath>
#include <map>

namespace v3sim {

Comparison compare_timelines(const Timeline& measured, const Timeline& projected) {
  // The k-th projected op of each name pairs with the k-th measured op of that name.
  std::map<std::string, std::vector<const TimelineEvent*>> by_name;
  for (const auto& e : projected.events) by_name[e.name].push_back(&e);
  std::map<std::string, size_t> seen;
  Comparison c;
  double sum = 0;
  int64_t paired = 0;
  for (const auto& m : measured.events) {
    OpComparison o;
    o.name = m.name;
    o.kind = m.kind;
    o.measured = m.duration();
    const size_t k = seen[m.name]++;
    auto it = by_name.find(m.name);
    if (it != by_name.end() && k < it->second.size()) {
      o.projected = it->second[k]->duration();
      const double meas = static_cast<double>(o.measured.picoseconds());
      o.error = meas > 0 ? (static_cast<double>(o.projected->picoseconds()) - meas) / meas : 0;
      sum += std::fabs(o.error);
      c.worst = std::max(c.worst, std::fabs(o.error));
      ++paired;
    } else {
      ++c.unmatched;
    }
    c.ops.push_back(std::move(o));
  }
  c.mape = paired > 0 ? sum / static_cast<double>(paired) : 0;
  return c;
}

}  // namespace v3sim
