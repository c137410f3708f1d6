#pragma once
/// Scoring a finished (or partly finished) run and writing what people read: metrics.json, summary.md.
#include <mer/eval/metrics.hpp>
#include <mer/eval/predictions.hpp>
#include <mer/meta/sample.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct FoldScores {
  std::string fold;
  std::int64_t n = 0;
  std::optional<double> accuracy, uf1, uar;
};

/// Pooled scores of the predictions of one source database of a composite (e.g. the SMIC part of
/// MEGC2019), computed by filtering the pooled predictions, as MEGC2019 and MEB report them.
struct SourceScores {
  std::int64_t n = 0;
  ConfusionMatrix confusion;
  std::vector<ClassScores> per_class;
  std::optional<double> accuracy, uf1, uar;
};

struct RunScores {
  std::vector<std::string> classes;
  ConfusionMatrix confusion;             ///< pooled over all folds
  std::vector<ClassScores> per_class;    ///< pooled
  std::optional<double> accuracy, uf1, uar;  ///< pooled (MEGC2019)
  std::vector<FoldScores> folds;
  /// Per subject (Prediction::subject, sorted): support, accuracy, UF1 over the classes that subject shows.
  /// The unit of paired comparisons between runs (<mer/eval/compare.hpp>), whatever the protocol's folds.
  std::vector<FoldScores> subjects;
  std::optional<double> accuracy_fold_mean, uf1_fold_mean, uar_fold_mean;
  std::int64_t n_samples = 0;
  /// Source database (the sample ID up to its first '/': "smic", "casme2", "samm") → its scores; filled
  /// only when the predictions come from more than one source.
  std::map<std::string, SourceScores> per_source;
  /// Free-text flags stamped on every output, e.g. the optimistic protocol warning.
  std::vector<std::string> notes;
};

/// The source database of a sample ID: everything before the first '/' (the whole ID if it has none).
std::string source_of(const std::string& sample_id);

/// Scores predictions: pooled metrics, per-fold ones (in first-appearance fold order) and, for predictions
/// from several sources, per-source ones.
RunScores score_predictions(const std::vector<Prediction>& preds, const std::vector<std::string>& classes);

/// metrics.json: top-level "accuracy", "uf1", "uar" (pooled), "f1_per_class" (class → F1 or null),
/// "precision_per_class", "recall_per_class", "support_per_class", "confusion" (rows = true),
/// "fold_mean" {"accuracy","uf1","uar"}, "folds" [...], "n_samples", "n_folds", "classes", "notes",
/// "per_subject" [{"subject","n","accuracy","uf1","uar"}], and
/// "per_source" {source: {"uf1","uar","accuracy","n_samples","f1_per_class"}} ({} for a single source).
std::string metrics_to_json(const RunScores& s);

struct SummaryInfo {
  std::string title;            ///< e.g. the config name
  std::string protocol;         ///< "loso"
  std::vector<SkipRecord> skipped;
  std::vector<std::string> facts;  ///< extra "key: value" lines (model, params, epochs, seed, ...)
  /// Further images of the run folder to show (file name, caption), e.g. learning_curves.png.
  std::vector<std::pair<std::string, std::string>> images;
};
/// summary.md: headline table, per-source table (composites), per-class table, confusion matrix (image and
/// text), further images, per-fold and per-subject tables, skipped list.
std::string summary_markdown(const RunScores& s, const SummaryInfo& info);
/// skipped.csv: sample_id, stage, reason.
std::string skipped_to_csv(const std::vector<SkipRecord>& skipped);

}  // namespace mer
