#pragma once
/// FeatureCache: preprocessed features on disk, content-addressed.
///
/// Layout: <root>/<pipeline fingerprint>/<sample key>.mfc — a small header (magic, C, H, W) followed by
/// C*H*W little-endian floats. The sample key combines the sample id with the size and modification time
/// of its source files, so regenerated data is never served stale features. Entries are written
/// atomically; a truncated or foreign file is treated as a miss and rewritten.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct CachedFeatures {
  int channels = 0, height = 0, width = 0;
  std::vector<float> data;
};

class FeatureCache {
 public:
  FeatureCache(std::filesystem::path root, std::string pipeline_fingerprint);

  std::optional<CachedFeatures> load(const std::string& key) const;
  /// Throws IoError naming the file on failure.
  void store(const std::string& key, const CachedFeatures& features) const;
  std::filesystem::path path_of(const std::string& key) const;
  const std::filesystem::path& folder() const { return folder_; }

  /// A cache key from a sample id and its source files (missing files contribute "missing").
  static std::string make_key(const std::string& sample_id, const std::vector<std::filesystem::path>& sources);

 private:
  std::filesystem::path folder_;
};

}  // namespace mer
