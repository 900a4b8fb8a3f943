// With h5_study.cpp (and their shared report/h5_id.h), the only files of v3sim that include HDF5.
#include "report/h5_file.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/error.h"
#include "report/h5_id.h"
#include "v3sim/version.h"

namespace v3sim::report {

namespace {

constexpr size_t kNameLen = 128;
constexpr size_t kKindLen = 32;
constexpr size_t kPassLen = 16;

// One /timeline row. The columns after `bytes` came with imported traces; files written before them lack those
// columns and read with their defaults (layer, micro_batch and stream_id -1, the rest empty or zero).
struct Row {
  uint32_t op;
  char name[kNameLen];
  char kind[kKindLen];
  int32_t device;
  int32_t stream;
  int64_t start_ps;
  int64_t end_ps;
  int64_t duration_ps;
  double flops;
  double bytes;
  const char* kernel;  // variable-length: kernel names reach 1000+ characters
  int32_t layer;
  char pass[kPassLen];
  int32_t micro_batch;
  const char* annotation;  // variable-length
  int64_t stream_id;
  int32_t grid[3];
  int32_t block[3];
};

using h5::Id;
using h5::silence_hdf5;

hid_t string_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

// One column of the row: its name, offset and HDF5 type (a new type the caller closes).
struct Column {
  const char* name;
  size_t offset;
  hid_t (*type)();
};

hid_t copy_type(hid_t t) {
  return H5Tcopy(t);
}
hid_t vlen_string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  return t;
}
hid_t int3_type() {
  const hsize_t three[1] = {3};
  return H5Tarray_create2(H5T_NATIVE_INT32, 1, three);
}

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = {
      {"op", HOFFSET(Row, op), [] { return copy_type(H5T_NATIVE_UINT32); }},
      {"name", HOFFSET(Row, name), [] { return string_type(kNameLen); }},
      {"kind", HOFFSET(Row, kind), [] { return string_type(kKindLen); }},
      {"device", HOFFSET(Row, device), [] { return copy_type(H5T_NATIVE_INT32); }},
      {"stream", HOFFSET(Row, stream), [] { return copy_type(H5T_NATIVE_INT32); }},
      {"start_ps", HOFFSET(Row, start_ps), [] { return copy_type(H5T_NATIVE_INT64); }},
      {"end_ps", HOFFSET(Row, end_ps), [] { return copy_type(H5T_NATIVE_INT64); }},
      {"duration_ps", HOFFSET(Row, duration_ps), [] { return copy_type(H5T_NATIVE_INT64); }},
      {"flops", HOFFSET(Row, flops), [] { return copy_type(H5T_NATIVE_DOUBLE); }},
      {"bytes", HOFFSET(Row, bytes), [] { return copy_type(H5T_NATIVE_DOUBLE); }},
      {"kernel", HOFFSET(Row, kernel), vlen_string_type},
      {"layer", HOFFSET(Row, layer), [] { return copy_type(H5T_NATIVE_INT32); }},
      {"pass", HOFFSET(Row, pass), [] { return string_type(kPassLen); }},
      {"micro_batch", HOFFSET(Row, micro_batch), [] { return copy_type(H5T_NATIVE_INT32); }},
      {"annotation", HOFFSET(Row, annotation), vlen_string_type},
      {"stream_id", HOFFSET(Row, stream_id), [] { return copy_type(H5T_NATIVE_INT64); }},
      {"grid", HOFFSET(Row, grid), int3_type},
      {"block", HOFFSET(Row, block), int3_type},
  };
  return cols;
}

// The row type with every column, or (given a file's type) only the columns that file has.
hid_t row_type(hid_t file_type = -1) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  for (const Column& c : columns()) {
    if (file_type >= 0 && H5Tget_member_index(file_type, c.name) < 0) continue;
    Id member(c.type(), H5Tclose);
    H5Tinsert(t, c.name, c.offset, member.get());
  }
  return t;
}

// The units of the /timeline columns that carry one, written as `<column>.unit` attributes.
const std::vector<std::pair<const char*, const char*>> kColumnUnits = {
    {"start_ps", "ps"}, {"end_ps", "ps"}, {"duration_ps", "ps"}, {"flops", "FLOP"}, {"bytes", "byte"}};

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.get(), type.get(), value.empty() ? "" : value.data());
}

void write_string_list_attr(hid_t obj, const std::string& name, const std::vector<const char*>& values) {
  Id type(vlen_string_type(), H5Tclose);
  const hsize_t dims[1] = {values.size()};
  Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Id attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.get(), type.get(), values.data());
}

void write_double_attr(hid_t obj, const std::string& name, double value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attr(H5Acreate2(obj, name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value);
}

struct AttrVisit {
  std::vector<std::pair<std::string, double>>* doubles = nullptr;
  std::map<std::string, std::string>* strings = nullptr;
};

herr_t visit_attr(hid_t obj, const char* name, const H5A_info_t*, void* data) {
  auto* v = static_cast<AttrVisit*>(data);
  Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  Id type(H5Aget_type(attr.get()), H5Tclose);
  if (v->doubles && H5Tget_class(type.get()) == H5T_FLOAT) {
    double x = 0;
    H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &x);
    v->doubles->emplace_back(name, x);
  } else if (v->strings && H5Tget_class(type.get()) == H5T_STRING) {
    const size_t n = H5Tget_size(type.get());
    std::string s(n, '\0');
    Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), n);
    H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
    H5Aread(attr.get(), mem.get(), s.data());
    while (!s.empty() && s.back() == '\0') s.pop_back();
    (*v->strings)[name] = s;
  }
  return 0;
}

ConfigError bad_file(const std::string& path, const std::string& found) {
  return ConfigError(SourceLoc{path, 0}, "", "a v3sim result file (HDF5 with /meta, /timeline, /summary)", found);
}

}  // namespace

const double* ResultFile::summary_value(const std::string& name) const {
  for (const auto& [k, v] : summary)
    if (k == name) return &v;
  return nullptr;
}

std::map<std::string, std::string> standard_meta() {
  std::map<std::string, std::string> m;
  m["format"] = kResultFormat;
  m["tool_version"] = kVersion;
  m["git_revision"] = kGitRevision;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m["created_utc"] = buf;
  return m;
}

void write_result_h5(const std::string& path, const ResultFile& f) {
  silence_hdf5();
  {
    Id file(h5::create_memory_file(path), H5Fclose);
    if (!file.ok())
      throw ConfigError(SourceLoc{path, 0}, "", "an HDF5 file v3sim can build", "HDF5 could not create it");
    {
      Id meta(H5Gcreate2(file.get(), "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      std::map<std::string, std::string> m = f.meta;
      m["format"] = kResultFormat;
      m.emplace("timeline_source", f.timeline.source);
      for (const auto& [k, v] : m) write_string_attr(meta.get(), k, v);
    }
    {
      std::vector<Row> rows(f.timeline.events.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        const TimelineEvent& e = f.timeline.events[i];
        Row& r = rows[i];
        std::memset(&r, 0, sizeof r);
        r.op = e.op;
        std::snprintf(r.name, kNameLen, "%s", e.name.c_str());
        std::snprintf(r.kind, kKindLen, "%s", e.kind.c_str());
        r.device = e.device;
        r.stream = e.stream;
        r.start_ps = e.start.picoseconds();
        r.end_ps = e.end.picoseconds();
        r.duration_ps = e.duration().picoseconds();
        r.flops = e.flops;
        r.bytes = e.bytes;
        r.kernel = e.kernel.c_str();
        r.layer = e.layer;
        std::snprintf(r.pass, kPassLen, "%s", e.pass.c_str());
        r.micro_batch = e.micro_batch;
        r.annotation = e.annotation.c_str();
        r.stream_id = e.stream_id;
        std::copy(e.grid.begin(), e.grid.end(), r.grid);
        std::copy(e.block.begin(), e.block.end(), r.block);
      }
      Id type(row_type(), H5Tclose);
      const hsize_t dims[1] = {rows.size()};
      Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
      Id ds(H5Dcreate2(file.get(), "timeline", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
      if (!rows.empty()) H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data());
      write_string_list_attr(ds.get(), "stream_names",
                             std::vector<const char*>(kTimelineStreams.begin(), kTimelineStreams.end()));
      for (const auto& [column, unit] : kColumnUnits) write_string_attr(ds.get(), std::string(column) + ".unit", unit);
    }
    if (!f.memory.empty()) {
      std::vector<double> flat;
      flat.reserve(2 * f.memory.size());
      for (const auto& [t, b] : f.memory) flat.insert(flat.end(), {t, b});
      const hsize_t dims[2] = {f.memory.size(), 2};
      Id space(H5Screate_simple(2, dims, nullptr), H5Sclose);
      Id ds(H5Dcreate2(file.get(), "memory", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
      H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data());
      write_string_attr(ds.get(), "columns", "time_s, bytes");
      write_string_attr(ds.get(), "description", "memory in use on the GPU of the peak, from the step's start");
    }
    for (const auto& [group, values] : {std::pair{"summary", &f.summary}, std::pair{"stats", &f.stats}}) {
      Id g(H5Gcreate2(file.get(), group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      for (const auto& [k, v] : *values) write_double_attr(g.get(), k, v);
    }
    h5::write_image(file.get(), path);
  }
}

ResultFile read_result_h5(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw ConfigError(SourceLoc{path, 0}, "", "an existing v3sim result file", "no such file");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) throw bad_file(path, "a file that is not HDF5");
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw bad_file(path, "an HDF5 file that cannot be opened");
  ResultFile f;
  for (const char* required : {"meta", "timeline", "summary"}) {
    if (H5Lexists(file.get(), required, H5P_DEFAULT) <= 0) {
      throw bad_file(path, fmt::format("an HDF5 file without /{} (another tool's file?)", required));
    }
  }
  {
    Id meta(H5Gopen2(file.get(), "meta", H5P_DEFAULT), H5Gclose);
    AttrVisit v;
    v.strings = &f.meta;
    hsize_t idx = 0;
    H5Aiterate2(meta.get(), H5_INDEX_NAME, H5_ITER_NATIVE, &idx, visit_attr, &v);
    auto it = f.meta.find("format");
    if (it == f.meta.end() || it->second != kResultFormat) {
      throw bad_file(path, fmt::format("/meta format '{}'", it == f.meta.end() ? "missing" : it->second));
    }
    f.timeline.source = f.meta.count("timeline_source") ? f.meta["timeline_source"] : "";
  }
  {
    Id ds(H5Dopen2(file.get(), "timeline", H5P_DEFAULT), H5Dclose);
    Id space(H5Dget_space(ds.get()), H5Sclose);
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(space.get()) != 1) throw bad_file(path, "a /timeline that is not a table");
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    Id file_type(H5Dget_type(ds.get()), H5Tclose);
    for (const char* field : {"name", "kind", "start_ps", "end_ps"}) {
      if (H5Tget_class(file_type.get()) != H5T_COMPOUND || H5Tget_member_index(file_type.get(), field) < 0) {
        throw bad_file(path, fmt::format("a /timeline without the field '{}'", field));
      }
    }
    Row defaults;
    std::memset(&defaults, 0, sizeof defaults);
    defaults.layer = -1;
    defaults.micro_batch = -1;
    defaults.stream_id = -1;
    std::vector<Row> rows(dims[0], defaults);
    Id type(row_type(file_type.get()), H5Tclose);
    if (!rows.empty() && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0) {
      throw bad_file(path, "a /timeline that cannot be read");
    }
    auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
    for (const Row& r : rows) {
      TimelineEvent e;
      e.op = r.op;
      e.name = std::string(r.name, strnlen(r.name, kNameLen));
      e.kind = std::string(r.kind, strnlen(r.kind, kKindLen));
      e.device = r.device;
      e.stream = r.stream;
      e.start = Time::ps(r.start_ps);
      e.end = Time::ps(r.end_ps);
      e.flops = r.flops;
      e.bytes = r.bytes;
      e.kernel = text(r.kernel);
      e.layer = r.layer;
      e.pass = std::string(r.pass, strnlen(r.pass, kPassLen));
      e.micro_batch = r.micro_batch;
      e.annotation = text(r.annotation);
      e.stream_id = r.stream_id;
      std::copy(std::begin(r.grid), std::end(r.grid), e.grid.begin());
      std::copy(std::begin(r.block), std::end(r.block), e.block.begin());
      f.timeline.events.push_back(std::move(e));
    }
    if (!rows.empty()) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, rows.data());
  }
  for (const auto& [group, out] : {std::pair{"summary", &f.summary}, std::pair{"stats", &f.stats}}) {
    if (H5Lexists(file.get(), group, H5P_DEFAULT) <= 0) continue;
    Id g(H5Gopen2(file.get(), group, H5P_DEFAULT), H5Gclose);
    AttrVisit v;
    v.doubles = out;
    hsize_t idx = 0;
    H5Aiterate2(g.get(), H5_INDEX_NAME, H5_ITER_NATIVE, &idx, visit_attr, &v);
  }
  if (H5Lexists(file.get(), "memory", H5P_DEFAULT) > 0) {
    Id ds(H5Dopen2(file.get(), "memory", H5P_DEFAULT), H5Dclose);
    Id space(H5Dget_space(ds.get()), H5Sclose);
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(space.get()) != 2 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) != 2 ||
        dims[1] != 2) {
      throw bad_file(path, "a /memory dataset of n rows of (time_s, bytes)");
    }
    std::vector<double> flat(2 * dims[0]);
    if (!flat.empty() && H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data()) < 0) {
      throw bad_file(path, "a readable /memory dataset");
    }
    for (size_t i = 0; i < dims[0]; ++i) f.memory.emplace_back(flat[2 * i], flat[2 * i + 1]);
  }
  return f;
}

}  // namespace v3sim::report
