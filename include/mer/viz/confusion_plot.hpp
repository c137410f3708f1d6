#pragma once
/// Pictures of results that people look at instead of reading JSON.
#include <mer/eval/metrics.hpp>

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

/// A confusion matrix as an image: rows = true class, columns = predicted, cells shaded by the row-
/// normalised rate and labelled with count and percentage; `title` above (e.g. "UF1 0.71 UAR 0.70").
cv::Mat render_confusion(const ConfusionMatrix& cm, const std::vector<std::string>& classes, const std::string& title);
/// Renders and writes a PNG atomically (IoError on failure).
void write_confusion_png(const std::filesystem::path& file, const ConfusionMatrix& cm,
                         const std::vector<std::string>& classes, const std::string& title);

}  // namespace mer
