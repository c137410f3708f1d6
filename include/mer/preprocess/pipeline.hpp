#pragma once
/// Pipeline: a list of stages run over every sample, in parallel, with an on-disk cache.
///
///   preprocess:
///     on_error: fail            # fail | skip  (per-sample failures: no face, unreadable frame)
///     outputs: [flow, strain]   # item entries stacked as channels (a 2-channel entry gives 2)
///     stages:
///       - {type: frames, frames: [onset, apex]}
///       - {type: detect_face}
///       - {type: landmarks}
///       - {type: align, size: 128}
///       - {type: flow, algorithm: tvl1, from: onset, to: apex}
///       - {type: strain}
///       - {type: resize, size: 28}
///
/// The chain is checked when built: each stage's reads must be written by an earlier stage, and the
/// outputs must exist at the end. Every output entry must then have the same size and be CV_32F.
/// Caching: the features of a sample are stored under <cache_dir>/<fingerprint>/, keyed also by the
/// sample's id and the size and modification time of its source frames, and written atomically; a second
/// run with the same preprocessing does no work. The folder also holds pipeline.txt (description()),
/// whose modification time records the folder's last use (`mer cache ls|prune`).
#include <mer/core/config.hpp>
#include <mer/core/run_context.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/preprocess/stage.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mer {

struct PipelineOptions {
  /// "fail" stops at the first per-sample error; "skip" records it and goes on.
  std::string on_error = "fail";
  /// Item entries stacked, in order, as the network's input channels.
  std::vector<std::string> outputs = {"flow", "strain"};
};

/// What one Pipeline::run did and where its time went (for `mer bench preprocess` and logs).
struct PipelineStats {
  /// Stage types, in pipeline order.
  std::vector<std::string> stages;
  /// Per stage: seconds spent in apply(), summed over worker threads and the samples that ran it (a skipped
  /// sample counts up to its failing stage; cache hits run nothing).
  std::vector<double> stage_seconds;
  std::size_t computed = 0, cached = 0, skipped = 0;
  /// Wall-clock seconds of the whole run (cache look-ups and stacking included).
  double wall_seconds = 0;
  /// Mean milliseconds per computed sample spent in stage `i` (0 when nothing was computed).
  double stage_ms_per_sample(std::size_t i) const {
    return computed ? 1000.0 * stage_seconds.at(i) / static_cast<double>(computed) : 0.0;
  }
};

class Pipeline {
 public:
  /// Builds the stages through `registry` and checks the chain. ConfigError naming the stage's line
  /// when a stage reads something nobody wrote.
  static Pipeline from_config(const ConfigNode& node, const StageRegistry& registry = builtin_stages());
  Pipeline(PipelineOptions options, std::vector<std::unique_ptr<Stage>> stages);

  /// Hash of all stages' fingerprints and the outputs.
  std::string fingerprint() const;
  const std::vector<std::unique_ptr<Stage>>& stages() const { return stages_; }
  const PipelineOptions& options() const { return options_; }

  /// Runs one sample through all stages (no cache); returns the final item.
  Item run_one(const SampleMeta& sample) const;
  /// As run_one, calling `after_stage` with each stage and the item it left, so tools can show the
  /// intermediate entries (the detected face on the original frame, landmarks before alignment, ...).
  Item run_one(const SampleMeta& sample, const std::function<void(const Stage&, const Item&)>& after_stage) const;
  /// Runs all samples with ctx.threads workers, using the cache under ctx.cache_dir when set, with
  /// progress. Under on_error=fail the first per-sample error is rethrown with the sample named.
  /// `stats`, when given, receives the counts and per-stage times of this run.
  FeatureSet run(const std::vector<SampleMeta>& samples, const RunContext& ctx, PipelineStats* stats = nullptr) const;
  /// One line per stage fingerprint plus the outputs: what the fingerprint hashes, stored as
  /// pipeline.txt in the cache folder so `mer cache ls` can say what a folder holds.
  std::string description() const;

 private:
  PipelineOptions options_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace mer
