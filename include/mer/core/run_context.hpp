#pragma once
/// RunContext: what travels with a run instead of global state — threads, seed, output folders,
/// progress display. The library reads it; only the CLI (or the embedding program) fills it.
#include <mer/core/progress.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mer {

struct RunContext {
  /// Worker threads for preprocessing and LibTorch intra-op work (>= 1 once resolved).
  int threads = 1;
  /// Base seed; folds, samples and subjects derive their own with derive_seed.
  std::uint64_t seed = 0;
  /// Where a run writes its files; empty when nothing is written.
  std::filesystem::path run_dir;
  /// Root of the on-disk feature cache; empty disables caching.
  std::filesystem::path cache_dir;
  /// "cpu" or "cuda"; models and tensors go there.
  std::string device = "cpu";
  ProgressStyle progress = ProgressStyle::None;

  /// 0 or negative → all hardware threads (at least 1).
  static int resolve_threads(int requested);
};

}  // namespace mer
