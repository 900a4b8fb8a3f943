#include "core/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/text.h"

namespace v3sim {

namespace fs = std::filesystem;

namespace {

fs::path folder_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

SourceLoc where(const std::string& flag, const std::string& path) {
  return SourceLoc{flag.empty() ? path : flag, 0};
}

// The temporaries of `path` that writers killed before they finished left behind (NAME.tmp.PID whose process is
// gone: kill(PID, 0) fails with ESRCH). A live writer's temporary stays, as does one whose process this one may not
// signal (EPERM: it exists).
void remove_stale_temporaries(const std::string& path) {
  const std::string prefix = fs::path(path).filename().string() + ".tmp.";
  std::error_code ec;
  for (auto it = fs::directory_iterator(folder_of(path), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    fs::remove(it->path(), rm);
  }
}

}  // namespace

void check_output_path(const std::string& path, const std::string& flag) {
  const fs::path dir = folder_of(path);
  std::error_code ec;
  const auto bad = [&](const std::string& why) {
    return ConfigError(where(flag, path), "", "an output file in a folder v3sim can write", quote(path) + ": " + why);
  };
  if (path.empty()) throw bad("an empty file name");
  if (fs::is_directory(path, ec)) throw bad("a folder, not a file");
  if (!fs::is_directory(dir, ec)) throw bad(fmt::format("the folder {} does not exist", quote(dir.string())));
  // A file is created and removed, as the real output will be: permissions, a read-only mount, no free inode.
  const std::string probe = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    throw bad(fmt::format("the folder {} cannot be written ({})", quote(dir.string()), std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

AtomicFile::AtomicFile(std::string path, std::string flag) : m_path(std::move(path)), m_flag(std::move(flag)) {
  // NAME.tmp.PID: two processes writing one name never share a temporary; study's resume removes stale ones.
  m_tmp = fmt::format("{}.tmp.{}", m_path, ::getpid());
  remove_stale_temporaries(m_path);
  m_fd = ::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (m_fd < 0) {
    const int err = errno;
    throw ConfigError(where(m_flag, m_path), "", "an output file in a folder v3sim can write",
                      fmt::format("{} ({})", quote(m_path), std::strerror(err)));
  }
}

AtomicFile::~AtomicFile() {
  if (!m_committed) discard();
}

void AtomicFile::discard() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (!m_tmp.empty()) ::unlink(m_tmp.c_str());
  m_tmp.clear();
}

void AtomicFile::fail(const std::string& expected, int err) {
  discard();
  const std::string why = fmt::format("({}; nothing was written)", std::strerror(err));
  throw ConfigError(where(m_flag, m_path), "", expected,
                    (m_flag.empty() ? "a failed write " : quote(m_path) + " ") + why);
}

void AtomicFile::write(std::string_view data) {
  V3SIM_ASSERT_MSG(m_fd >= 0 && !m_committed, "AtomicFile::write after commit() or a failure");
  while (!data.empty()) {
    const ssize_t n = ::write(m_fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("room on the disk for the output file", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFile::commit() {
  V3SIM_ASSERT_MSG(m_fd >= 0 && !m_committed, "AtomicFile::commit twice or after a failure");
  if (::fsync(m_fd) != 0) fail("room on the disk for the output file", errno);
  const int fd = m_fd;
  m_fd = -1;
  if (::close(fd) != 0) fail("room on the disk for the output file", errno);
  if (::rename(m_tmp.c_str(), m_path.c_str()) != 0) fail("an output path v3sim can write", errno);
  m_committed = true;
  // The rename itself reaches the disk with the folder: a crash after commit() keeps the new file.
  const int dir = ::open(folder_of(m_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

bool AtomicFile::commit_if_absent() {
  V3SIM_ASSERT_MSG(m_fd >= 0 && !m_committed, "AtomicFile::commit twice or after a failure");
  if (::fsync(m_fd) != 0) fail("room on the disk for the output file", errno);
  const int fd = m_fd;
  m_fd = -1;
  if (::close(fd) != 0) fail("room on the disk for the output file", errno);
  if (::link(m_tmp.c_str(), m_path.c_str()) != 0) {
    const int err = errno;
    if (err != EEXIST) fail("an output path v3sim can write", err);
    discard();
    return false;
  }
  ::unlink(m_tmp.c_str());
  m_tmp.clear();
  m_committed = true;
  const int dir = ::open(folder_of(m_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

void write_file_atomic(const std::string& path, std::string_view text, const std::string& flag) {
  AtomicFile f(path, flag);
  f.write(text);
  f.commit();
}

bool create_file_atomic(const std::string& path, std::string_view text, const std::string& flag) {
  AtomicFile f(path, flag);
  f.write(text);
  return f.commit_if_absent();
}

FolderLock::FolderLock(const std::string& dir, const std::string& flag) {
  const std::string path = (fs::path(dir) / kFileName).string();
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (m_fd < 0) {
    const int err = errno;
    throw ConfigError(where(flag, dir), "", "an output folder v3sim can write",
                      fmt::format("{} ({})", quote(dir), std::strerror(err)));
  }
  if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(m_fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(m_fd);
    m_fd = -1;
    if (err == EWOULDBLOCK) {
      throw ConfigError(
          where(flag, dir), "", "an output folder no other v3sim run is writing",
          fmt::format("{} in use by process {} (its lock {}); wait for it to finish or write to another folder",
                      quote(dir), quote(holder), quote(path)));
    }
    throw ConfigError(where(flag, dir), "", "an output folder v3sim can lock",
                      fmt::format("{} ({})", quote(dir), std::strerror(err)));
  }
  // Who holds it, for the message of the next one; the lock itself is the flock, not the text.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(m_fd, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(m_fd, pid.data(), pid.size(), 0);
  }
}

FolderLock::~FolderLock() {
  if (m_fd >= 0) ::close(m_fd);  // releases the flock
}

}  // namespace v3sim
