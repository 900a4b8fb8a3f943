// A study's results.h5 (report/h5_study.h). With h5_file.cpp (and report/h5_id.h), the only files of v3sim that
// include HDF5.
#include "report/h5_study.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "report/h5_id.h"

namespace v3sim::report {

namespace {

using h5::Id;
using h5::silence_hdf5;

hid_t vlen_string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// Object creation without modification times, so two writes of the same results differ only in created_utc.
hid_t untimed(hid_t plist_class) {
  hid_t p = H5Pcreate(plist_class);
  H5Pset_obj_track_times(p, false);
  return p;
}

class Writer {
 public:
  explicit Writer(std::string path) : m_path(std::move(path)) {}

  void check(herr_t status, const std::string& what) const {
    if (status < 0)
      throw ConfigError(SourceLoc{m_path, 0}, "", "a writable results file", "an HDF5 error writing " + what);
  }
  void check_id(const Id& id, const std::string& what) const {
    if (!id.ok())
      throw ConfigError(SourceLoc{m_path, 0}, "", "a writable results file", "an HDF5 error creating " + what);
  }

  hid_t group(hid_t parent, const std::string& name) const {
    Id gcpl(untimed(H5P_GROUP_CREATE), H5Pclose);
    hid_t g = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
    if (g < 0) throw ConfigError(SourceLoc{m_path, 0}, "", "a writable results file", "an HDF5 error creating " + name);
    return g;
  }

  void string_attr(hid_t obj, const std::string& name, const std::string& value) const {
    Id type(vlen_string_type(), H5Tclose);
    Id space(H5Screate(H5S_SCALAR), H5Sclose);
    Id attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check_id(attr, "attribute " + name);
    const char* p = value.c_str();
    check(H5Awrite(attr.get(), type.get(), &p), "attribute " + name);
  }

  void dataset(hid_t parent, const std::string& name, hid_t mem_type, hid_t file_type, size_t n,
               const void* data) const {
    const hsize_t dims[1] = {n};
    Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    Id dcpl(untimed(H5P_DATASET_CREATE), H5Pclose);
    Id ds(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    check_id(ds, "dataset " + name);
    if (n > 0) check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "dataset " + name);
  }

  void strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) const {
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& s : values) ptrs.push_back(s.c_str());
    Id type(vlen_string_type(), H5Tclose);
    dataset(parent, name, type.get(), type.get(), ptrs.size(), ptrs.data());
  }
  void doubles(hid_t parent, const std::string& name, const std::vector<double>& values) const {
    dataset(parent, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, values.size(), values.data());
  }
  void int64s(hid_t parent, const std::string& name, const std::vector<int64_t>& values) const {
    dataset(parent, name, H5T_NATIVE_INT64, H5T_STD_I64LE, values.size(), values.data());
  }

 private:
  std::string m_path;
};

ConfigError bad_file(const std::string& path, const std::string& found) {
  return ConfigError(SourceLoc{path, 0}, "", "a v3sim study result (HDF5, format v3sim-study-1)", found);
}

// A string attribute or dataset element type, fixed or variable length.
std::string read_string_attr(hid_t obj, const char* name) {
  Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return {};
  Id type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return {};
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem(vlen_string_type(), H5Tclose);
    char* p = nullptr;
    if (H5Aread(attr.get(), mem.get(), &p) < 0 || !p) return {};
    std::string s(p);
    H5free_memory(p);
    return s;
  }
  const size_t n = H5Tget_size(type.get());
  std::string s(n, '\0');
  Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), n);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  if (H5Aread(attr.get(), mem.get(), s.data()) < 0) return {};
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

herr_t collect_attr(hid_t obj, const char* name, const H5A_info_t*, void* data) {
  auto* out = static_cast<std::map<std::string, std::string>*>(data);
  (*out)[name] = read_string_attr(obj, name);
  return 0;
}

herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

class Reader {
 public:
  explicit Reader(std::string path) : m_path(std::move(path)) {}

  size_t length(hid_t ds, const std::string& name) const {
    Id space(H5Dget_space(ds), H5Sclose);
    if (H5Sget_simple_extent_ndims(space.get()) != 1) throw bad_file(m_path, fmt::format("{} not 1-D", name));
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    return dims[0];
  }

  Id open(hid_t parent, const std::string& name, const std::string& shown) const {
    if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) <= 0) {
      throw bad_file(m_path, fmt::format("an HDF5 file without {}", shown));
    }
    Id ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) throw bad_file(m_path, fmt::format("{} that cannot be opened", shown));
    return ds;
  }

  bool is_string(hid_t ds) const {
    Id type(H5Dget_type(ds), H5Tclose);
    return H5Tget_class(type.get()) == H5T_STRING;
  }

  std::vector<std::string> strings(hid_t parent, const std::string& name, const std::string& shown) const {
    Id ds = open(parent, name, shown);
    const size_t n = length(ds.get(), shown);
    Id type(H5Dget_type(ds.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) throw bad_file(m_path, fmt::format("{} that is not text", shown));
    std::vector<std::string> out(n);
    if (n == 0) return out;
    if (H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(n, nullptr);
      Id mem(vlen_string_type(), H5Tclose);
      if (H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
        throw bad_file(m_path, fmt::format("{} that cannot be read", shown));
      }
      for (size_t i = 0; i < n; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
      Id space(H5Dget_space(ds.get()), H5Sclose);
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
    } else {
      const size_t len = H5Tget_size(type.get());
      std::vector<char> buf(len * n);
      Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), len);
      H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
      if (H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
        throw bad_file(m_path, fmt::format("{} that cannot be read", shown));
      }
      for (size_t i = 0; i < n; ++i) out[i] = std::string(buf.data() + i * len, strnlen(buf.data() + i * len, len));
    }
    return out;
  }

  template <typename T>
  std::vector<T> numbers(hid_t parent, const std::string& name, const std::string& shown, hid_t mem_type) const {
    Id ds = open(parent, name, shown);
    const size_t n = length(ds.get(), shown);
    Id type(H5Dget_type(ds.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw bad_file(m_path, fmt::format("{} that is not numbers", shown));
    std::vector<T> out(n);
    if (n > 0 && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
      throw bad_file(m_path, fmt::format("{} that cannot be read", shown));
    }
    return out;
  }

  std::vector<std::string> links(hid_t group) const {
    std::vector<std::string> names;
    hsize_t idx = 0;
    H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &names);
    return names;
  }

  Id group(hid_t parent, const std::string& name, const std::string& shown) const {
    if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) <= 0) {
      throw bad_file(m_path, fmt::format("an HDF5 file without {}", shown));
    }
    Id g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) throw bad_file(m_path, fmt::format("{} that is not a group", shown));
    return g;
  }

 private:
  std::string m_path;
};

}  // namespace

const std::vector<double>* StudyResults::metric(const std::string& name) const {
  for (const auto& [k, v] : metrics)
    if (k == name) return &v;
  return nullptr;
}

const Table* StudyResults::table(const std::string& name) const {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

void write_study_results(const std::string& path, const StudyResults& r) {
  silence_hdf5();
  const size_t n = r.index.size();
  for (size_t len :
       {r.label.size(), r.group.size(), r.phase.size(), r.value.size(), r.status.size(), r.value_num.size()}) {
    V3SIM_ASSERT_MSG(len == n, "every /points column has one entry per point");
  }
  for (const auto& [name, col] : r.metrics) V3SIM_ASSERT_MSG(col.size() == n, "metric " + name + " has n entries");
  const Writer w(path);
  {
    Id fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    Id file(h5::create_memory_file(path, fcpl.get()), H5Fclose);
    if (!file.ok()) throw ConfigError(SourceLoc{path, 0}, "", "a writable results file", "HDF5 could not create it");
    {
      Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
      std::map<std::string, std::string> attrs = r.attrs;
      attrs["format"] = kStudyFormat;
      for (const auto& [k, v] : attrs) w.string_attr(root.get(), k, v);
    }
    {
      Id points(w.group(file.get(), "points"), H5Gclose);
      w.int64s(points.get(), "index", r.index);
      w.strings(points.get(), "label", r.label);
      w.strings(points.get(), "group", r.group);
      w.strings(points.get(), "phase", r.phase);
      w.strings(points.get(), "value", r.value);
      w.doubles(points.get(), "value_num", r.value_num);
      w.strings(points.get(), "status", r.status);
    }
    {
      Id metrics(w.group(file.get(), "metrics"), H5Gclose);
      for (const auto& [name, col] : r.metrics) {
        w.doubles(metrics.get(), name, col);
        const auto attrs = r.metric_attrs.find(name);
        if (attrs == r.metric_attrs.end() || attrs->second.empty()) continue;
        Id ds(H5Dopen2(metrics.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
        for (const auto& [k, v] : attrs->second) w.string_attr(ds.get(), k, v);
      }
    }
    {
      Id tables(w.group(file.get(), "tables"), H5Gclose);
      for (const Table& t : r.tables) {
        std::set<std::string> seen;
        Id g(w.group(tables.get(), t.name), H5Gclose);
        w.string_attr(g.get(), "title", t.title);
        w.string_attr(g.get(), "source", t.source);
        std::string columns;
        for (const auto& c : t.columns) {
          V3SIM_ASSERT_MSG(c.size() == t.rows(), "table " + t.name + " column " + c.name + " has every row");
          V3SIM_ASSERT_MSG(
              !c.name.empty() && c.name.find_first_of("/,") == std::string::npos && seen.insert(c.name).second,
              "table " + t.name + " column name '" + c.name + "' is distinct and has no '/' or ','");
          columns += (columns.empty() ? "" : ",") + c.name;
          if (c.text) {
            w.strings(g.get(), c.name, c.texts);
          } else {
            w.doubles(g.get(), c.name, c.numbers);
          }
          Id ds(H5Dopen2(g.get(), c.name.c_str(), H5P_DEFAULT), H5Dclose);
          w.string_attr(ds.get(), "unit", c.unit);
          if (!c.description.empty()) w.string_attr(ds.get(), "description", c.description);
        }
        w.string_attr(g.get(), "columns", columns);
        for (const auto& [k, v] : t.attrs) {
          V3SIM_ASSERT_MSG(k != "title" && k != "source" && k != "columns",
                           "table " + t.name + " attribute '" + k + "' is not one results.h5 sets itself");
          w.string_attr(g.get(), k, v);
        }
      }
    }
    h5::write_image(file.get(), path);
  }
}

StudyResults read_study_results(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw bad_file(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw bad_file(path, "a file that is not HDF5 (corrupt, or another format)");
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw bad_file(path, "an HDF5 file that cannot be opened (corrupt or truncated)");
  StudyResults r;
  {
    Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
    if (!root.ok()) throw bad_file(path, "an HDF5 file whose root group cannot be opened (corrupt)");
    hsize_t idx = 0;
    H5Aiterate2(root.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &r.attrs);
  }
  auto fmt_it = r.attrs.find("format");
  if (fmt_it == r.attrs.end() || fmt_it->second != kStudyFormat) {
    throw bad_file(path, fmt::format("an HDF5 file whose format attribute is {} (another tool's file?)",
                                     fmt_it == r.attrs.end() ? "missing" : "'" + fmt_it->second + "'"));
  }
  const Reader rd(path);
  {
    Id points = rd.group(file.get(), "points", "/points");
    r.index = rd.numbers<int64_t>(points.get(), "index", "/points/index", H5T_NATIVE_INT64);
    r.label = rd.strings(points.get(), "label", "/points/label");
    r.group = rd.strings(points.get(), "group", "/points/group");
    r.phase = rd.strings(points.get(), "phase", "/points/phase");
    r.value = rd.strings(points.get(), "value", "/points/value");
    r.value_num = rd.numbers<double>(points.get(), "value_num", "/points/value_num", H5T_NATIVE_DOUBLE);
    r.status = rd.strings(points.get(), "status", "/points/status");
    const size_t n = r.index.size();
    for (size_t len :
         {r.label.size(), r.group.size(), r.phase.size(), r.value.size(), r.value_num.size(), r.status.size()}) {
      if (len != n) throw bad_file(path, "/points columns of different lengths");
    }
  }
  {
    Id metrics = rd.group(file.get(), "metrics", "/metrics");
    for (const auto& name : rd.links(metrics.get())) {
      auto col = rd.numbers<double>(metrics.get(), name, "/metrics/" + name, H5T_NATIVE_DOUBLE);
      if (col.size() != r.index.size()) throw bad_file(path, fmt::format("/metrics/{} of another length", name));
      r.metrics.emplace_back(name, std::move(col));
      Id ds(H5Dopen2(metrics.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
      std::map<std::string, std::string> attrs;
      hsize_t idx = 0;
      if (ds.ok()) H5Aiterate2(ds.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &attrs);
      if (!attrs.empty()) r.metric_attrs[name] = std::move(attrs);
    }
  }
  if (H5Lexists(file.get(), "tables", H5P_DEFAULT) > 0) {
    Id tables = rd.group(file.get(), "tables", "/tables");
    for (const auto& name : rd.links(tables.get())) {
      Id g = rd.group(tables.get(), name, "/tables/" + name);
      Table t;
      t.name = name;
      t.title = read_string_attr(g.get(), "title");
      t.source = read_string_attr(g.get(), "source");
      const std::string columns = read_string_attr(g.get(), "columns");
      std::map<std::string, std::string> attrs;
      hsize_t attr_idx = 0;
      H5Aiterate2(g.get(), H5_INDEX_NAME, H5_ITER_INC, &attr_idx, collect_attr, &attrs);
      for (auto& [k, v] : attrs)
        if (k != "title" && k != "source" && k != "columns") t.attrs[k] = std::move(v);
      size_t start = 0;
      while (!columns.empty() && start <= columns.size()) {
        const size_t comma = std::min(columns.find(',', start), columns.size());
        const std::string c = columns.substr(start, comma - start);
        start = comma + 1;
        const std::string shown = "/tables/" + name + "/" + c;
        Id ds = rd.open(g.get(), c, shown);
        TableColumn col;
        col.name = c;
        col.unit = read_string_attr(ds.get(), "unit");
        col.description = read_string_attr(ds.get(), "description");
        col.text = rd.is_string(ds.get());
        if (col.text) {
          col.texts = rd.strings(g.get(), c, shown);
        } else {
          col.numbers = rd.numbers<double>(g.get(), c, shown, H5T_NATIVE_DOUBLE);
        }
        t.columns.push_back(std::move(col));
      }
      r.tables.push_back(std::move(t));
    }
  }
  return r;
}

}  // namespace v3sim::report
