// What the two HDF5 writers of report/ (h5_file.cpp, h5_study.cpp) share; included by them alone, after <hdf5.h>.
#pragma once

#include <hdf5.h>

#include <string>

#include "core/atomic_file.h"
#include "core/error.h"

namespace v3sim::report::h5 {

// Owns an HDF5 identifier and closes it with the matching call (H5Fclose, H5Gclose, ...).
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : m_id(id), m_close(close) {}
  ~Id() {
    if (m_id >= 0) m_close(m_id);
  }
  Id(Id&& o) noexcept : m_id(o.m_id), m_close(o.m_close) { o.m_id = -1; }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id& operator=(Id&&) = delete;
  hid_t get() const { return m_id; }
  bool ok() const { return m_id >= 0; }

 private:
  hid_t m_id;
  herr_t (*m_close)(hid_t);
};

// Turns off HDF5's own error printing: v3sim reports its errors itself, naming the file.
inline void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

// A new HDF5 file held in memory (the core driver without a backing store): HDF5 never touches the disk, so a full
// disk cannot leave HDF5 with a half-closed file (which crashed at exit); write_image() puts the bytes on the disk.
inline hid_t create_memory_file(const std::string& name, hid_t fcpl = H5P_DEFAULT) {
  Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), size_t{1} << 20, 0);
  return H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl, fapl.get());
}

// The bytes of a file made by create_memory_file(), written to `path` atomically (core/atomic_file.h). Throws
// ConfigError naming `path` when HDF5 cannot produce the image or the disk cannot take it.
inline void write_image(hid_t file, const std::string& path) {
  const auto fail = [&] {
    return ConfigError(SourceLoc{path, 0}, "", "an HDF5 file v3sim can build", "an HDF5 error building its image");
  };
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw fail();
  const ssize_t n = H5Fget_file_image(file, nullptr, 0);
  if (n <= 0) throw fail();
  std::string bytes(static_cast<size_t>(n), '\0');
  if (H5Fget_file_image(file, bytes.data(), bytes.size()) != n) throw fail();
  write_file_atomic(path, bytes);
}

}  // namespace v3sim::report::h5
