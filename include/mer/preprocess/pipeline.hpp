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
/// run with the same preprocessing does no work.
#include <mer/core/config.hpp>
#include <mer/core/run_context.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/preprocess/stage.hpp>

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
  /// Runs all samples with ctx.threads workers, using the cache under ctx.cache_dir when set, with
  /// progress. Under on_error=fail the first per-sample error is rethrown with the sample named.
  FeatureSet run(const std::vector<SampleMeta>& samples, const RunContext& ctx) const;

 private:
  PipelineOptions options_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace mer
