// A fresh temporary folder for one test, removed with everything in it when the test ends.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace v3sim::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "v3sim-test") {
    static int n = 0;
    m_path = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  // The path of `name` in the folder; writes `text` there first when it is not empty.
  std::string file(const std::string& name, const std::string& text = {}) const {
    if (!text.empty()) std::ofstream(m_path / name) << text;
    return (m_path / name).string();
  }

 private:
  std::filesystem::path m_path;
};

}  // namespace v3sim::test
