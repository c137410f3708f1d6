#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/progress.hpp>

#include <unistd.h>

#include <cstdio>

namespace mer {

ProgressStyle parse_progress_style(const std::string& name) {
  if (name == "auto") return ProgressStyle::Auto;
  if (name == "bar") return ProgressStyle::Bar;
  if (name == "lines") return ProgressStyle::Lines;
  if (name == "none") return ProgressStyle::None;
  throw ValueError("unknown progress style '" + name + "'; expected auto, bar, lines or none");
}

Progress::Progress(std::string label, std::size_t total, ProgressStyle style)
    : label_(std::move(label)), total_(total), style_(style) {
  if (style_ == ProgressStyle::Auto) style_ = isatty(STDERR_FILENO) ? ProgressStyle::Bar : ProgressStyle::Lines;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (style_ == ProgressStyle::Lines) logger()->info("{}: 0/{}", label_, total_);
}

Progress::~Progress() { finish(); }

void Progress::tick(std::size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  draw(false, "");
}

void Progress::finish(const std::string& note) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(true, note);
}

void Progress::draw(bool final, const std::string& note) {
  if (style_ == ProgressStyle::None) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0.0;
  if (style_ == ProgressStyle::Bar) {
    if (!final && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f/s ETA %.0fs %s", label_.c_str(), bar.c_str(), done_, total_, rate,
                 eta, note.c_str());
    if (final) std::fputc('\n', stderr);
    std::fflush(stderr);
    return;
  }
  // Lines: every 10% of the work or every 10 s, whichever comes first.
  const bool step = total_ && (done_ - last_logged_) * 10 >= total_;
  if (final || step || now - last_draw_ > std::chrono::seconds(10)) {
    last_draw_ = now;
    last_logged_ = done_;
    if (final)
      logger()->info("{}: {}/{} done in {:.1f} s ({:.1f}/s){}", label_, done_, total_, elapsed, rate,
                     note.empty() ? "" : "; " + note);
    else
      logger()->info("{}: {}/{} ({:.1f}/s, about {:.0f} s left)", label_, done_, total_, rate, eta);
  }
}

}  // namespace mer
