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

namespace v3sim {

namespace {

constexpr size_t kNameLen = 128;
constexpr size_t kKindLen = 32;

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
};

using h5::Id;
using h5::silence_hdf5;

hid_t string_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

hid_t row_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  Id name(string_type(kNameLen), H5Tclose), kind(string_type(kKindLen), H5Tclose);
  H5Tinsert(t, "op", HOFFSET(Row, op), H5T_NATIVE_UINT32);
  H5Tinsert(t, "name", HOFFSET(Row, name), name.get());
  H5Tinsert(t, "kind", HOFFSET(Row, kind), kind.get());
  H5Tinsert(t, "device", HOFFSET(Row, device), H5T_NATIVE_INT32);
  H5Tinsert(t, "stream", HOFFSET(Row, stream), H5T_NATIVE_INT32);
  H5Tinsert(t, "start_ps", HOFFSET(Row, start_ps), H5T_NATIVE_INT64);
  H5Tinsert(t, "end_ps", HOFFSET(Row, end_ps), H5T_NATIVE_INT64);
  H5Tinsert(t, "duration_ps", HOFFSET(Row, duration_ps), H5T_NATIVE_INT64);
  H5Tinsert(t, "flops", HOFFSET(Row, flops), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "bytes", HOFFSET(Row, bytes), H5T_NATIVE_DOUBLE);
  return t;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.get(), type.get(), value.empty() ? "" : value.data());
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
  const std::string tmp = path + ".tmp";
  {
    Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) throw ConfigError(SourceLoc{path, 0}, "", "a writable output file", "HDF5 could not create it");
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
      }
      Id type(row_type(), H5Tclose);
      const hsize_t dims[1] = {rows.size()};
      Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
      Id ds(H5Dcreate2(file.get(), "timeline", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
      if (!rows.empty()) H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data());
    }
    for (const auto& [group, values] : {std::pair{"summary", &f.summary}, std::pair{"stats", &f.stats}}) {
      Id g(H5Gcreate2(file.get(), group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      for (const auto& [k, v] : *values) write_double_attr(g.get(), k, v);
    }
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
      throw ConfigError(SourceLoc{path, 0}, "", "room to write the output file", "an HDF5 write error");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw ConfigError(SourceLoc{path, 0}, "", "a writable output path", ec.message());
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
    std::vector<Row> rows(dims[0]);
    Id type(row_type(), H5Tclose);
    if (!rows.empty() && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0) {
      throw bad_file(path, "a /timeline that cannot be read");
    }
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
      f.timeline.events.push_back(std::move(e));
    }
  }
  for (const auto& [group, out] : {std::pair{"summary", &f.summary}, std::pair{"stats", &f.stats}}) {
    if (H5Lexists(file.get(), group, H5P_DEFAULT) <= 0) continue;
    Id g(H5Gopen2(file.get(), group, H5P_DEFAULT), H5Gclose);
    AttrVisit v;
    v.doubles = out;
    hsize_t idx = 0;
    H5Aiterate2(g.get(), H5_INDEX_NAME, H5_ITER_NATIVE, &idx, visit_attr, &v);
  }
  return f;
}

}  // namespace v3sim
