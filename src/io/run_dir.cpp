#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/io/run_dir.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace mer {
namespace fs = std::filesystem;

RunDir RunDir::create_timestamped(const fs::path& base, const std::string& name) {
  MER_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos, ValueError,
            "run name '", name, "' must be a plain name: the run folder goes inside '", base.string(), "'");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  fs::path p = base / (name + "-" + stamp);
  for (int i = 2; fs::exists(p); ++i) p = base / (name + "-" + stamp + "-" + std::to_string(i));
  return at(p);
}

RunDir RunDir::at(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw IoError("cannot create run folder '" + path.string() + "': " + ec.message());
  return RunDir(path);
}

bool RunDir::has(const std::string& name) const { return fs::exists(path_ / name); }

void RunDir::write(const std::string& name, const std::string& content) const {
  write_file_atomic(path_ / name, content);
}

RunLock::RunLock(const RunDir& dir, const std::string& file, const std::string& what) {
  const auto path = dir.file(file);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create lock file '" + path.string() + "': " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw IoError(what + " is in use by another process (" + path.string() + " is locked); wait for it or choose another run folder");
    throw IoError("cannot lock '" + path.string() + "': " + std::strerror(err));
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace mer
