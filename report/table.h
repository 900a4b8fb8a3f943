// A small column table: what a study stores besides its points (numerics error against K, the roofline of the
// kernels, validation rows) and what the report reads back. Each column holds numbers or text, all columns the
// same length. Written to and read from results.h5 as /tables/<name> (report/h5_study.h).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace v3sim::report {

struct TableColumn {
  std::string name;
  std::string unit;  // "s", "B", "FLOP", "" ...
  bool text = false;
  std::vector<double> numbers;     // when !text
  std::vector<std::string> texts;  // when text
  std::string description;         // one line: what the column holds (results.h5: the dataset's attribute)

  size_t size() const { return text ? texts.size() : numbers.size(); }
};

// A table's schema, declared once: its name, where its rows come from and its columns (name, unit, text or
// number, description). Every writer of the table starts from it (Table::from_spec), `v3sim describe tables`
// prints it, results.h5 carries it as attributes, and scripts/report.py reads the columns from the file.
struct TableColumnSpec {
  const char* name;
  const char* unit;
  bool text;
  const char* description;
};
struct TableSpec {
  const char* name;
  const char* source;
  std::vector<TableColumnSpec> columns;
  std::map<std::string, std::string> attrs;  // table-level attributes every writer sets (results.h5 /tables/<name>)
};

struct Table {
  std::string name;    // HDF5 group name: [a-z0-9_]+
  std::string title;   // one line for the report
  std::string source;  // where the rows come from (a command, a reference file)
  std::vector<TableColumn> columns;
  std::map<std::string, std::string> attrs;  // further table attributes (results.h5), e.g. from its TableSpec

  // An empty table with the spec's name, source, attributes and columns.
  static Table from_spec(const TableSpec& spec);

  size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  // Adds a column and returns it (a reference valid until the next add).
  TableColumn& add_number(std::string column, std::string unit = "") {
    columns.push_back(TableColumn{std::move(column), std::move(unit), false, {}, {}, {}});
    return columns.back();
  }
  TableColumn& add_text(std::string column) {
    columns.push_back(TableColumn{std::move(column), "", true, {}, {}, {}});
    return columns.back();
  }
  const TableColumn* find(const std::string& column) const {
    for (const auto& c : columns)
      if (c.name == column) return &c;
    return nullptr;
  }
  // The column named `column`; a missing one is a bug (asserted).
  TableColumn& column(std::string_view column);
};

// The table as aligned text: the title, a header (names with units), one line per row. Numbers by unit: "%" signed
// with one decimal, "ms" three decimals, "us" one decimal, others as integers when whole (else three significant
// decimals); NaN as "-". Text columns left-aligned, numbers right-aligned.
std::string table_text(const Table& t);

}  // namespace v3sim::report
