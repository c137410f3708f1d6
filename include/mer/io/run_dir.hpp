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

}  // namespace mer
