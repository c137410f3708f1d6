#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

namespace mer {
namespace fs = std::filesystem;

namespace {
fs::path temp_beside(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  // Keep the extension last: some writers (cv::imwrite) pick the format from it.
  return path.parent_path() /
         (".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + path.filename().string());
}
}  // namespace

void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (ec) throw IoError("cannot create folder '" + path.parent_path().string() + "': " + ec.message());
  const auto tmp = temp_beside(path);
  try {
    write(tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError("cannot write '" + path.string() + "': " + ec.message());
  }
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  write_atomic_with(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << content;
    out.flush();
    if (!out) throw IoError("cannot write '" + path.string() + "' (disk full or not writable?)");
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mer
