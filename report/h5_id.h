// What the two HDF5 writers of report/ (h5_file.cpp, h5_study.cpp) share; included by them alone, after <hdf5.h>.
#pragma once

#include <hdf5.h>

namespace v3sim::h5 {

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

}  // namespace v3sim::h5
