#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace mer::test {
namespace fs = std::filesystem;

namespace {
fs::path from_env(const char* var, const std::string& how) {
  const char* v = std::getenv(var);
  if (!v || !*v) throw std::runtime_error(std::string(var) + " is not set; " + how);
  return v;
}
fs::path must_exist(const fs::path& p, const std::string& how) {
  if (!fs::exists(p)) throw std::runtime_error(p.string() + " does not exist; " + how);
  return p;
}
}  // namespace

fs::path shared_dir() { return must_exist(from_env("MER_SHARED_DIR", "run the tests through ctest"), "shared/ must sit beside the checkout"); }
fs::path annotations_dir() { return must_exist(shared_dir() / "data" / "annotations", "shared/data/annotations is missing"); }
fs::path media_dir() {
  return must_exist(from_env("MER_MEDIA_DIR", "run the tests through ctest"), "run scripts/fetch_media.sh first");
}
fs::path media_file(const std::string& relative) {
  return must_exist(media_dir() / relative, "run scripts/fetch_media.sh first");
}
fs::path landmark_model() {
  return must_exist(from_env("MER_LANDMARK_MODEL", "run the tests through ctest"), "install libdlib-data");
}
fs::path source_dir() { return must_exist(from_env("MER_SOURCE_DIR", "run the tests through ctest"), "source tree"); }

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
