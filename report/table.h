// A small column table: what a study stores besides its points (numerics error against K, the roofline of the
// kernels, validation rows) and what the report reads back. Each column holds numbers or text, all columns the
// same length. Written to and read from results.h5 as /tables/<name> (report/h5_study.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace v3sim::report {

struct TableColumn {
  std::string name;
  std::string unit;  // "s", "B", "FLOP", "" ...
  bool text = false;
  std::vector<double> numbers;     // when !text
  std::vector<std::string> texts;  // when text

  size_t size() const { return text ? texts.size() : numbers.size(); }
};

struct Table {
  std::string name;    // HDF5 group name: [a-z0-9_]+
  std::string title;   // one line for the report
  std::string source;  // where the rows come from (a command, a reference file)
  std::vector<TableColumn> columns;

  size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  // Adds a column and returns it (a reference valid until the next add).
  TableColumn& add_number(std::string column, std::string unit = "") {
    columns.push_back(TableColumn{std::move(column), std::move(unit), false, {}, {}});
    return columns.back();
  }
  TableColumn& add_text(std::string column) {
    columns.push_back(TableColumn{std::move(column), "", true, {}, {}});
    return columns.back();
  }
  const TableColumn* find(const std::string& column) const {
    for (const auto& c : columns)
      if (c.name == column) return &c;
    return nullptr;
  }
};

// The table as aligned text: the title, a header (names with units), one line per row. Numbers by unit: "%" signed
// with one decimal, "ms" three decimals, "us" one decimal, others as integers when whole (else three significant
// decimals); NaN as "-". Text columns left-aligned, numbers right-aligned.
std::string table_text(const Table& t);

}  // namespace v3sim::report
