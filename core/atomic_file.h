// Output files that are complete or absent: every file v3sim writes goes to a temporary name in the folder of its
// final name, is flushed to the disk (fsync) and renamed over the final name; on any failure (a full disk, an
// exception on the way, an early return) the temporary is removed, so an interrupted run leaves nothing behind
// and never a half-written file under the final name.
//
// Example:
//   check_output_path(out, "-o");          // before any work: the folder exists and can be written
//   ... simulate ...
//   write_file_atomic(out, text, "-o");    // or: AtomicFile f(out, "-o"); f.write(a); f.write(b); f.commit();
#pragma once

#include <string>
#include <string_view>

namespace v3sim {

// Throws ConfigError (naming `flag` and the path) unless `path` can be written: not a folder, its folder exists and
// this process may create files in it. Called before any simulation work so a bad -o costs nothing.
void check_output_path(const std::string& path, const std::string& flag);

// A file being written under a temporary name beside its final name ("NAME.tmp.PID"); commit() makes it the final
// file. Destroyed without commit() (an exception, an early return), it removes the temporary. A process killed while
// writing (SIGKILL) cannot remove its temporary: the next AtomicFile of the same NAME removes every NAME.tmp.PID whose
// process is gone (a live writer's stays).
class AtomicFile {
 public:
  // Creates the temporary. Throws ConfigError (naming `flag`, or the path when `flag` is empty) when it cannot.
  explicit AtomicFile(std::string path, std::string flag = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `data`. Throws ConfigError on a write error (a full disk: "no space left on device"); the temporary is
  // removed at once.
  void write(std::string_view data);
  // fsync, close, rename over the final name, fsync the folder. Throws ConfigError on failure (temporary removed).
  void commit();
  // As commit(), but never replaces a file already at the final name (hard link, then the temporary removed): returns
  // false, leaving that file alone, when one is there. Two processes creating one name: exactly one returns true.
  bool commit_if_absent();

  const std::string& path() const { return m_path; }
  const std::string& temp_path() const { return m_tmp; }

 private:
  [[noreturn]] void fail(const std::string& expected, int err);
  void discard() noexcept;

  std::string m_path, m_tmp, m_flag;
  int m_fd = -1;
  bool m_committed = false;
};

// The whole of `text` as the file `path`, atomically (AtomicFile).
void write_file_atomic(const std::string& path, std::string_view text, const std::string& flag = {});
// The whole of `text` as the file `path` unless a file of that name exists (left alone: returns false), atomically
// (AtomicFile::commit_if_absent): no reader ever sees `path` without all of `text`.
bool create_file_atomic(const std::string& path, std::string_view text, const std::string& flag = {});

// An exclusive lock on a folder (flock on DIR/.v3sim.lock, released when the object dies or the process does, even
// killed): two runs writing one folder (two `study --resume`) never work side by side. Throws ConfigError when
// another process holds it ("... is in use by process N; wait for it to finish or write to another folder") or when the
// lock file cannot be created in DIR (a read-only folder).
class FolderLock {
 public:
  FolderLock(const std::string& dir, const std::string& flag);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  static constexpr const char* kFileName = ".v3sim.lock";

 private:
  int m_fd = -1;
};

}  // namespace v3sim
