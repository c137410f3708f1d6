#pragma once
/// RunDir: the folder a run writes into. Every file in it is written atomically.
///
/// Layout: config.resolved.yaml, env.json, folds/<fold>.csv (one per finished fold, so an interrupted
/// run resumes at the next fold), predictions.csv, metrics.json, summary.md, confusion.png, skipped.csv.
#include <filesystem>
#include <string>

namespace mer {

class RunDir {
 public:
  /// `base/<name>-<YYYYmmdd-HHMMSS>` (a numeric suffix is added if that exists).
  static RunDir create_timestamped(const std::filesystem::path& base, const std::string& name);
  /// Uses `path` as given, creating it if needed.
  static RunDir at(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }
  bool has(const std::string& name) const;
  void write(const std::string& name, const std::string& content) const;

 private:
  explicit RunDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

/// An exclusive lock on a file of a run folder (flock), held for the lifetime of the object. The kernel
/// drops it when the process ends, however it ends, so a killed run never leaves a stale lock behind.
class RunLock {
 public:
  /// IoError when another process holds it: "<what> is in use by another process (<file>)".
  RunLock(const RunDir& dir, const std::string& file, const std::string& what);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mer
