#include "report/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace v3sim::report {

namespace {

std::string number_text(double v, const std::string& unit) {
  if (!std::isfinite(v)) return "-";
  if (unit == "%") return fmt::format("{:+.1f}%", v);
  if (unit == "ms") return fmt::format("{:.3f}", v);
  if (unit == "us") return fmt::format("{:.1f}", v);
  if (v == std::round(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

}  // namespace

Table Table::from_spec(const TableSpec& spec) {
  Table t;
  t.name = spec.name;
  t.source = spec.source;
  t.attrs = spec.attrs;
  for (const TableColumnSpec& c : spec.columns) {
    t.columns.push_back(TableColumn{c.name, c.unit, c.text, {}, {}, c.description});
  }
  return t;
}

TableColumn& Table::column(std::string_view column) {
  for (auto& c : columns)
    if (c.name == column) return c;
  V3SIM_ASSERT_MSG(false, fmt::format("table {} has a column {}", name, column));
  return columns.front();
}

std::string table_text(const Table& t) {
  std::vector<std::vector<std::string>> cells(t.columns.size());
  std::vector<size_t> width(t.columns.size(), 0);
  for (size_t c = 0; c < t.columns.size(); ++c) {
    const TableColumn& col = t.columns[c];
    const std::string head = col.unit.empty() || col.unit == "%" ? col.name : fmt::format("{} {}", col.name, col.unit);
    cells[c].push_back(head);
    for (size_t r = 0; r < col.size(); ++r) {
      cells[c].push_back(col.text ? col.texts[r] : number_text(col.numbers[r], col.unit));
    }
    for (const std::string& s : cells[c]) width[c] = std::max(width[c], s.size());
  }
  std::string out = t.title.empty() ? "" : t.title + "\n";
  for (size_t r = 0; r < t.rows() + 1; ++r) {
    std::string line;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const std::string& s = r < cells[c].size() ? cells[c][r] : std::string();
      if (c > 0) line += "  ";
      line += t.columns[c].text ? fmt::format("{:<{}}", s, width[c]) : fmt::format("{:>{}}", s, width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace v3sim::report
