#pragma once
/// FeatureCache: preprocessed features on disk, content-addressed.
///
/// Layout: <root>/<pipeline fingerprint>/<sample key>.mfc — a small header (magic, C, H, W) followed by
/// C*H*W little-endian floats. The sample key combines the sample id with the size and modification time
/// of its source files, so regenerated data is never served stale features. Entries are written
/// atomically; a truncated or foreign file is treated as a miss and rewritten.
///
/// Beside the entries: pipeline.txt (the stage fingerprints the folder's name hashes; its modification
/// time is the folder's last use) and channels.txt (written by Pipeline). list_cache_folders and
/// verify_cache serve `mer cache ls|verify|prune`.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <map>
#include <string>
#include <vector>

namespace mer {

struct CachedFeatures {
  int channels = 0, height = 0, width = 0;
  std::vector<float> data;
  /// The sample's Item::notes, stored beside the entry (<key>.notes, written before the entry, so a whole
  /// entry always has its notes).
  std::map<std::string, std::string> notes;
};

class FeatureCache {
 public:
  FeatureCache(std::filesystem::path root, std::string pipeline_fingerprint);

  std::optional<CachedFeatures> load(const std::string& key) const;
  /// Throws IoError naming the file on failure.
  void store(const std::string& key, const CachedFeatures& features) const;
  std::filesystem::path path_of(const std::string& key) const;
  const std::filesystem::path& folder() const { return folder_; }
  /// Writes pipeline.txt with `description` when the folder has none, and stamps now as the folder's last
  /// use (pipeline.txt's modification time). Throws IoError naming the file on failure.
  void mark_used(const std::string& description) const;

  /// Why the entry file at `path` would not load ("truncated: ...", "not a libmer cache entry", ...), or ""
  /// when it is whole.
  static std::string check_entry(const std::filesystem::path& path);

  /// A cache key from a sample id and its source files (missing files contribute "missing").
  static std::string make_key(const std::string& sample_id, const std::vector<std::filesystem::path>& sources);

 private:
  std::filesystem::path folder_;
};

/// One fingerprint folder under a cache root.
struct CacheFolderInfo {
  std::string fingerprint;
  std::filesystem::path path;
  std::size_t entries = 0;        ///< .mfc files
  std::uintmax_t bytes = 0;       ///< all files in the folder
  /// pipeline.txt's modification time (stamped by every run that uses the folder); for folders from
  /// before pipeline.txt existed, the newest file's; file_time_type{} for an empty folder.
  std::filesystem::file_time_type last_used{};
  std::string description;        ///< pipeline.txt's text; empty when absent
};

/// Every fingerprint folder directly under `root`, sorted by fingerprint; empty when `root` does not exist.
/// Throws IoError when `root` exists but cannot be listed.
std::vector<CacheFolderInfo> list_cache_folders(const std::filesystem::path& root);

/// A file under a cache root that would not load.
struct CacheProblem {
  std::filesystem::path path;
  std::string problem;
};

/// Reads every entry of every folder under `root` and returns those that would not load, and temporary
/// files left by interrupted writes; `checked` receives the number of files read.
std::vector<CacheProblem> verify_cache(const std::filesystem::path& root, std::size_t* checked = nullptr);

}  // namespace mer
