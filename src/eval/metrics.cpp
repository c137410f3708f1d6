#include <mer/core/error.hpp>
#include <mer/eval/metrics.hpp>

namespace mer {

std::int64_t ConfusionMatrix::total() const {
  std::int64_t n = 0;
  for (const auto& row : counts)
    for (auto c : row) n += c;
  return n;
}

ConfusionMatrix confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes) {
  MER_CHECK(num_classes > 0, ValueError, "confusion_matrix: num_classes must be > 0, got ", num_classes);
  MER_CHECK(y_true.size() == y_pred.size(), ValueError, "confusion_matrix: ", y_true.size(), " labels but ",
            y_pred.size(), " predictions");
  ConfusionMatrix cm;
  cm.num_classes = num_classes;
  cm.counts.assign(num_classes, std::vector<std::int64_t>(num_classes, 0));
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    MER_CHECK(y_true[i] >= 0 && y_true[i] < num_classes, ValueError, "confusion_matrix: label ", y_true[i],
              " at position ", i, " is outside [0, ", num_classes, ")");
    MER_CHECK(y_pred[i] >= 0 && y_pred[i] < num_classes, ValueError, "confusion_matrix: prediction ", y_pred[i],
              " at position ", i, " is outside [0, ", num_classes, ")");
    ++cm.counts[y_true[i]][y_pred[i]];
  }
  return cm;
}

std::vector<ClassScores> per_class_scores(const ConfusionMatrix& cm) {
  std::vector<ClassScores> out(cm.num_classes);
  for (int c = 0; c < cm.num_classes; ++c) {
    auto& s = out[c];
    s.tp = cm.counts[c][c];
    for (int k = 0; k < cm.num_classes; ++k) {
      s.support += cm.counts[c][k];
      if (k != c) {
        s.fn += cm.counts[c][k];
        s.fp += cm.counts[k][c];
      }
    }
    if (s.tp + s.fp > 0) s.precision = double(s.tp) / double(s.tp + s.fp);
    if (s.support > 0) s.recall = double(s.tp) / double(s.support);
    // F1 = 2TP / (2TP + FP + FN): defined whenever the class occurs or is predicted.
    if (2 * s.tp + s.fp + s.fn > 0) s.f1 = 2.0 * s.tp / double(2 * s.tp + s.fp + s.fn);
  }
  return out;
}

std::optional<double> accuracy(const ConfusionMatrix& cm) {
  const auto n = cm.total();
  if (n == 0) return std::nullopt;
  std::int64_t correct = 0;
  for (int c = 0; c < cm.num_classes; ++c) correct += cm.counts[c][c];
  return double(correct) / double(n);
}

namespace {
// Mean of a per-class score over the classes that have ground-truth samples. A class without support
// cannot be recognised or missed, so counting it (as 0 or 1) would only bias the average.
template <class Get>
std::optional<double> mean_over_supported(const ConfusionMatrix& cm, Get get) {
  const auto scores = per_class_scores(cm);
  double sum = 0;
  int n = 0;
  for (const auto& s : scores) {
    if (s.support == 0) continue;
    sum += get(s);
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}
}  // namespace

std::optional<double> uf1(const ConfusionMatrix& cm) {
  return mean_over_supported(cm, [](const ClassScores& s) { return *s.f1; });
}

std::optional<double> uar(const ConfusionMatrix& cm) {
  return mean_over_supported(cm, [](const ClassScores& s) { return *s.recall; });
}

}  // namespace mer
