#pragma once
/// Predictions of a run: one row per test sample, as written to predictions.csv and folds/<fold>.csv.
///
/// CSV columns: sample_id, subject, fold, true_label, pred_label, p_<class>... (labels are class names).
#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct Prediction {
  std::string sample_id;
  std::string subject;  ///< group key (dataset-qualified)
  std::string fold;
  int true_label = -1;
  int pred_label = -1;
  std::vector<float> probs;
};

std::string predictions_to_csv(const std::vector<Prediction>& preds, const std::vector<std::string>& classes);
/// Parses predictions CSV; class names in the file must be in `classes`. DataError naming file:line.
std::vector<Prediction> predictions_from_csv(const std::string& text, const std::string& name,
                                             const std::vector<std::string>& classes);
/// The class names of a predictions CSV, from its p_<class> columns (in order).
std::vector<std::string> predictions_classes(const std::filesystem::path& file);
std::vector<Prediction> read_predictions(const std::filesystem::path& file, const std::vector<std::string>& classes);

}  // namespace mer
