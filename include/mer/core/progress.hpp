#pragma once
/// Progress for long loops: a bar on an interactive terminal, periodic log lines otherwise (CI, files).
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace mer {

enum class ProgressStyle {
  Auto,   ///< Bar if stderr is a terminal, else Lines.
  Bar,    ///< Redrawn in place on stderr.
  Lines,  ///< An info log line every ~10% or 10 s.
  None    ///< Silent (tests).
};

/// Parses "auto|bar|lines|none"; anything else throws ValueError.
ProgressStyle parse_progress_style(const std::string& name);

/// Thread-safe counter with display; `tick` may be called from worker threads.
class Progress {
 public:
  Progress(std::string label, std::size_t total, ProgressStyle style);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void tick(std::size_t n = 1);
  /// Ends the display (also done by the destructor); `note` is appended to the final line.
  void finish(const std::string& note = "");

 private:
  void draw(bool final, const std::string& note);
  std::string label_;
  std::size_t total_;
  std::size_t done_ = 0;
  ProgressStyle style_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::size_t last_logged_ = 0;
  std::mutex mutex_;
};

}  // namespace mer
