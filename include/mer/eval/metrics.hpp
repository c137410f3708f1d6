#pragma once
/// Metrics as pure functions of labels and predictions.
///
/// MEGC2019 rule (pooled): TP, FP and FN of each class are summed over all folds — equivalently the
/// metrics are computed from the concatenated predictions of every fold — then
///   F1_c  = 2 TP_c / (2 TP_c + FP_c + FN_c),   UF1 = mean_c F1_c
///   Rec_c = TP_c / N_c,                        UAR = mean_c Rec_c
/// Classes with no ground-truth sample (N_c = 0) have no recall and are left out of UF1 and UAR rather
/// than counted as 0 or 1; they are reported as such. Per-fold means (`*_fold_mean`) average per-fold
/// scores computed the same way over the classes present in that fold; they are reported for
/// comparison only and are NOT the MEGC2019 numbers.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mer {

/// counts[t][p]: samples of true class t predicted as p.
struct ConfusionMatrix {
  int num_classes = 0;
  std::vector<std::vector<std::int64_t>> counts;
  std::int64_t total() const;
};

/// Throws ValueError if sizes differ or a label is outside [0, num_classes).
ConfusionMatrix confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes);

struct ClassScores {
  std::int64_t tp = 0, fp = 0, fn = 0, support = 0;
  std::optional<double> precision;  ///< none when the class was never predicted
  std::optional<double> recall;     ///< none when the class has no ground-truth sample
  std::optional<double> f1;         ///< none when the class has no sample and was never predicted
};

std::vector<ClassScores> per_class_scores(const ConfusionMatrix& cm);
/// Fraction correct; none for an empty matrix.
std::optional<double> accuracy(const ConfusionMatrix& cm);
/// Mean F1 over classes with support > 0; none if no class has support.
std::optional<double> uf1(const ConfusionMatrix& cm);
/// Mean recall over classes with support > 0; none if no class has support.
std::optional<double> uar(const ConfusionMatrix& cm);

}  // namespace mer
