#pragma once
/// Experiment: the one fold loop. dataset → preprocess → protocol folds → per fold: fresh model (seed
/// derived from the base seed and the fold name), fit for the fixed budget, predict the test subject,
/// write folds/<fold>.csv → pooled metrics and the report.
///
/// Torch-free on purpose: the CLI includes this header only.
///
/// A config has these sections (see configs/): dataset, preprocess, model, train, protocol, runtime.
///   runtime:
///     seed: 1
///     threads: 0          # 0: all cores (LibTorch and preprocessing)
///     device: cpu
///     runs_dir: runs      # runs go to <runs_dir>/<name>-<timestamp>/ unless --run-dir is given
///     cache_dir: ${HOME}/.cache/mer/features
///     progress: auto      # auto | bar | lines | none
///     checkpoints: auto   # folds/<fold>.pt with each fold's model: all | none | auto (models of at most
///                         # 20 M parameters, so that a 68-fold run of a 139 M model does not fill the disk)
///     workers: 0          # `mer train`: folds trained by this many worker processes at once, each with
///                         # threads / workers LibTorch threads (0: one per core; 1: in this process). Small
///                         # networks cannot keep two cores busy with one model; two folds at once can. Each
///                         # fold's result equals a one-process run at the worker's thread count.
///
/// Optimistic protocol (to reproduce papers that pick each fold's epoch on its test subject, and measure
/// their inflation): `protocol.select_on_test: true`. The honest predictions are made exactly as without it;
/// in addition the test subject's predictions are kept for every epoch, the epoch with the best test
/// accuracy is taken per fold, and those predictions are reported beside the honest ones. Every output
/// (console, summary.md, metrics.json, confusion plots, MEGC2019 logs) then carries the stamp
/// "optimistic: epochs chosen on the test subject".
///
/// Pipeline variants as augmentation (e.g. several magnification ratios, TIM lengths): each variant
/// re-runs the preprocessing with some stage options overridden, and every fold's training set gets the
/// variant copies of its training samples.
///   preprocess:
///     stages: [...]
///     variants:
///       - {name: mag5, set: {magnify.alpha: 5}}          # <stage type>.<option>: value
///       - {name: tim8, set: {interpolate.length: 8}}
/// An override applies to the first stage of that type. A variant naming no stage, an unknown option or a
/// bad value, one that changes nothing (same fingerprint as the base or another variant), or one whose
/// features differ in shape from the base's is a ConfigError naming the variant's line. Variants are
/// cached like the base pipeline (their own fingerprint). Honesty: copies of training samples only; the
/// validation and test samples of a fold, and their variant copies, never enter its training set, and
/// evaluation always uses the base pipeline's features. Training batches may further be augmented
/// (train.augment, see <mer/train/augment.hpp>), never validation or test batches.
#include <mer/core/config.hpp>
#include <mer/core/run_context.hpp>
#include <mer/eval/report.hpp>
#include <mer/io/run_dir.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct RuntimeOptions {
  std::uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
  std::filesystem::path runs_dir = "runs";
  std::filesystem::path cache_dir;
  std::string progress = "auto";
  std::string checkpoints = "auto";
  int workers = 0;
  /// Worker processes for `folds` folds on this machine: 1 for cuda, for a single fold, or when asked.
  int resolved_workers(int folds) const;
  static RuntimeOptions from_config(const ConfigNode& node);
  /// A RunContext with threads resolved (0 → all cores).
  RunContext context() const;
};

/// Which part of the protocol a call to Experiment::run does.
struct RunOptions {
  /// Shard `index` (1-based) of `count`: only folds k (0-based, in protocol order) with k % count ==
  /// index - 1 are trained; other folds found finished in the run folder are read, the rest left to other
  /// shards. A shard writes its folds only; `merge` writes the pooled report once every fold is there.
  struct Shard {
    int index = 1, count = 1;
    /// "i/n" with 1 <= i <= n; ValueError naming what was expected otherwise.
    static Shard parse(const std::string& spec);
  };
  std::optional<Shard> shard;
  /// Train nothing: report from the folds the run folder holds; DataError naming the missing folds.
  bool merge = false;
  /// After the protocol, train one model on every sample (same schedule; validation subjects, when
  /// configured, split off the whole set the same way) and save it as fit_all.pt with fit_all.json.
  bool fit_all = false;
  /// Preprocess (filling the feature cache), write config.resolved.yaml and env.json, count the folds
  /// (ExperimentResult::folds_total), train nothing: what `mer train` does before starting its workers.
  bool prepare_only = false;
  /// > 0: train only the first this many folds (of this shard) and write no pooled report: for `mer bench
  /// train`, which reads ExperimentResult::fold_seconds.
  int max_folds = 0;
};

struct ExperimentResult {
  RunScores scores;
  /// protocol.select_on_test only: the optimistic scores, stamped.
  std::optional<RunScores> optimistic;
  std::filesystem::path run_dir;
  std::vector<SkipRecord> skipped;
  int folds_run = 0, folds_resumed = 0;
  /// False for a shard that left folds to others: no pooled report was written.
  bool complete = true;
  int folds_total = 0, folds_missing = 0;
  /// Wall seconds of each fold trained by this call (fit and prediction; not preprocessing), and the
  /// training samples, optimiser steps and epochs each ran.
  struct FoldTiming {
    std::string fold;
    double seconds = 0;
    std::size_t train_samples = 0;
    std::int64_t steps = 0;
    int epochs = 0;
  };
  std::vector<FoldTiming> fold_timings;
  std::int64_t parameters = 0;
  std::string model_type;
  double preprocess_seconds = 0;
  /// RunOptions::max_folds only: forward FLOPs of one sample (Trainer::forward_flops).
  double forward_flops_per_sample = 0;
};

class Experiment {
 public:
  /// Reads the whole config, builds every component once to validate it, fills in defaults and
  /// rejects unknown keys — all before any frame is read. The run's name is `name:` or else the config
  /// file's stem. (To change the protocol, override `protocol.type` when loading the config.)
  static Experiment from_config(const Config& config);
  ~Experiment();
  Experiment(Experiment&&) noexcept;

  const std::string& name() const;
  const RuntimeOptions& runtime() const;
  /// The fully resolved config (defaults included) as YAML.
  std::string resolved_config() const;

  /// Runs into `run_dir`: writes config.resolved.yaml and env.json first, resumes folds whose
  /// folds/<fold>.csv exists, then predictions.csv, metrics.json, summary.md, confusion.png, skipped.csv,
  /// and for a composite (predictions from several sources) megc2019_log.txt (<mer/eval/megc_log.hpp>).
  /// A run folder is locked (run.lock, or shard-<i>-of-<n>.lock for a shard) while a process writes it:
  /// a second process on the same folder (or shard) is an IoError; the lock dies with its process.
  ExperimentResult run(const RunDir& run_dir, const RunContext& ctx, const RunOptions& options = {}) const;

 private:
  struct State;
  explicit Experiment(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Whether two resolved configs (config.resolved.yaml texts) describe the same experiment: compared as parsed
/// YAML re-emitted (a default filled in by a reader and the same value read back from the file can be emitted
/// in different styles), without runtime.threads, workers and progress, i.e. how much of the machine a process
/// uses: the workers and shards of one run, or a run resumed on another machine, are one experiment.
bool same_experiment(const std::string& a, const std::string& b);

/// Re-scores a run from its predictions.csv — or, for an interrupted run, from the folds/*.csv it
/// finished — and rewrites metrics.json, summary.md, confusion.png. DataError if there is nothing to score.
RunScores rescore_run(const std::filesystem::path& run_dir);

/// Writes the human-facing outputs of a scored run (metrics.json, summary.md, confusion.png, skipped.csv).
void write_report(const RunDir& run_dir, const RunScores& scores, const SummaryInfo& info);

}  // namespace mer
