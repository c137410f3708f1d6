#pragma once
// Private: the one way preprocessing code runs per-sample work on several threads.
#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace mer::detail {

// OpenCV's own thread pool would fight the per-sample workers for the same cores; restored on exit.
class OpenCvThreadsGuard {
 public:
  OpenCvThreadsGuard() : saved_(cv::getNumThreads()) { cv::setNumThreads(1); }
  ~OpenCvThreadsGuard() { cv::setNumThreads(saved_); }
  OpenCvThreadsGuard(const OpenCvThreadsGuard&) = delete;
  OpenCvThreadsGuard& operator=(const OpenCvThreadsGuard&) = delete;

 private:
  int saved_;
};

/// Runs `worker` (a loop that takes sample indices from a shared counter until none are left) on
/// min(threads, items) threads, or inline for one, with OpenCV's pool off. `worker` must not throw.
template <class Worker>
void run_workers(int threads, std::size_t items, Worker&& worker) {
  OpenCvThreadsGuard guard;
  const auto n = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, std::max<std::size_t>(items, 1));
  if (n == 1) {
    worker();
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(n);
  for (std::size_t t = 0; t < n; ++t) pool.emplace_back([&worker] { worker(); });
  for (auto& t : pool) t.join();
}

}  // namespace mer::detail
