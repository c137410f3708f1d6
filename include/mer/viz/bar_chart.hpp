#pragma once
/// Grouped bar charts: runs side by side per metric (compare.png of `mer report compare`).
#include <opencv2/core.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

/// One bar per group: a run's value of each metric, with an optional error half-width (e.g. the standard
/// deviation over repeats, drawn as a whisker).
struct BarSeries {
  std::string name;
  std::vector<std::optional<double>> values;  ///< one per group; none draws no bar ("n/a" under it)
  std::vector<double> errors;                 ///< empty, or one per group (0: no whisker)
};

/// Values in [0, 1] (scores): groups along x, one coloured bar per series in each, value printed above each
/// bar, legend and `title` on top. ValueError when a series' sizes do not match the groups.
cv::Mat render_bar_chart(const std::vector<std::string>& groups, const std::vector<BarSeries>& series, const std::string& title);
/// Renders and writes a PNG atomically (IoError on failure).
void write_bar_chart_png(const std::filesystem::path& file, const std::vector<std::string>& groups,
                         const std::vector<BarSeries>& series, const std::string& title);

}  // namespace mer
