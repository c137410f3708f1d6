#pragma once
/// A dataset's class-by-subject counts as a heat map, so that class imbalance and subjects with one class
/// only (whole LOSO folds without a class) are seen at a glance. Written by `mer data stats`.
#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mer {

/// Rows = subjects, columns = classes, then a "total" column and row (unshaded). Cells are shaded by their
/// count relative to the largest cell (white = 0) and labelled with the count; `title` above.
/// ValueError when `counts` is not subjects.size() rows of classes.size() values.
cv::Mat render_class_subject(const std::vector<std::string>& subjects, const std::vector<std::string>& classes,
                             const std::vector<std::vector<std::int64_t>>& counts, const std::string& title);
/// Renders and writes a PNG atomically (IoError on failure).
void write_class_subject_png(const std::filesystem::path& file, const std::vector<std::string>& subjects,
                             const std::vector<std::string>& classes,
                             const std::vector<std::vector<std::int64_t>>& counts, const std::string& title);

}  // namespace mer
