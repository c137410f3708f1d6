#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace mer::test {
namespace fs = std::filesystem;

namespace {
// The environment wins over the paths CMake compiled in, so a test binary can be pointed elsewhere.
fs::path from_env(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  return v && *v ? fs::path(v) : fs::path(fallback);
}
fs::path must_exist(const fs::path& p, const std::string& how) {
  if (!fs::exists(p)) throw std::runtime_error(p.string() + " does not exist; " + how);
  return p;
}
}  // namespace

fs::path annotations_dir() {
  return must_exist(source_dir() / "tests" / "data" / "annotations", "tests/data/annotations is part of the repository");
}
fs::path media_dir() {
  return must_exist(from_env("MER_MEDIA_DIR", MER_MEDIA_DIR_DEFAULT), "run scripts/fetch_media.sh first");
}
fs::path media_file(const std::string& relative) {
  return must_exist(media_dir() / relative, "run scripts/fetch_media.sh first");
}
fs::path landmark_model() {
  return must_exist(from_env("MER_LANDMARK_MODEL", MER_LANDMARK_MODEL_DEFAULT), "install libdlib-data");
}
fs::path source_dir() { return must_exist(from_env("MER_SOURCE_DIR", MER_SOURCE_DIR_DEFAULT), "source tree"); }

TempDir::TempDir() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("mer-test-" + std::to_string(rd()) + "-" + std::to_string(counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace mer::test
