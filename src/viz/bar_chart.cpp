#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/bar_chart.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mer {

namespace {
const auto kFont = cv::FONT_HERSHEY_SIMPLEX;
// A colour-blind-safe palette (Okabe-Ito), BGR.
const cv::Scalar kPalette[] = {{178, 114, 0}, {0, 159, 230}, {115, 158, 0}, {167, 121, 204},
                               {66, 228, 240}, {0, 94, 213}, {233, 180, 86}, {0, 0, 0}};
}  // namespace

cv::Mat render_bar_chart(const std::vector<std::string>& groups, const std::vector<BarSeries>& series, const std::string& title) {
  MER_CHECK(!groups.empty() && !series.empty(), ValueError, "bar chart: needs at least one group and one series");
  for (const auto& s : series)
    MER_CHECK(s.values.size() == groups.size() && (s.errors.empty() || s.errors.size() == groups.size()), ValueError,
              "bar chart: series '", s.name, "' has ", s.values.size(), " values for ", groups.size(), " groups");
  const int bar_w = std::clamp(220 / static_cast<int>(series.size()), 10, 48);
  const int group_w = bar_w * static_cast<int>(series.size()) + 30;
  const int left = 60, top = 60 + 20 * static_cast<int>(series.size()), plot_h = 320, bottom = 50;
  const int width = std::max(640, left + group_w * static_cast<int>(groups.size()) + 20);
  cv::Mat img(top + plot_h + bottom, width, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(img, title, {10, 26}, kFont, 0.55, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  const auto py = [&](double v) { return top + plot_h - static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * plot_h)); };
  char buf[64];
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    std::snprintf(buf, sizeof buf, "%.1f", v);
    cv::putText(img, buf, {20, py(v) + 4}, kFont, 0.4, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
    cv::line(img, {left, py(v)}, {width - 10, py(v)}, cv::Scalar(230, 230, 230), 1);
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    const auto colour = kPalette[s % std::size(kPalette)];
    const int y = 44 + 20 * static_cast<int>(s);
    cv::rectangle(img, {left, y - 10, 16, 12}, colour, cv::FILLED);
    cv::putText(img, series[s].name, {left + 22, y}, kFont, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const int x0 = left + 15 + static_cast<int>(g) * group_w;
    for (std::size_t s = 0; s < series.size(); ++s) {
      const int x = x0 + static_cast<int>(s) * bar_w;
      const auto& v = series[s].values[g];
      if (!v) {
        cv::putText(img, "n/a", {x, py(0) - 4}, kFont, 0.3, cv::Scalar(90, 90, 90), 1, cv::LINE_AA);
        continue;
      }
      cv::rectangle(img, cv::Point(x, py(*v)), cv::Point(x + bar_w - 3, py(0)), kPalette[s % std::size(kPalette)], cv::FILLED);
      const double e = series[s].errors.empty() ? 0.0 : series[s].errors[g];
      if (e > 0) {
        const int cx = x + (bar_w - 3) / 2;
        cv::line(img, {cx, py(*v - e)}, {cx, py(*v + e)}, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
        cv::line(img, {cx - 3, py(*v + e)}, {cx + 3, py(*v + e)}, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
        cv::line(img, {cx - 3, py(*v - e)}, {cx + 3, py(*v - e)}, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
      }
      std::snprintf(buf, sizeof buf, "%.2f", *v);
      cv::putText(img, buf, {x, py(*v + e) - 4}, kFont, 0.3, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    cv::putText(img, groups[g], {x0, top + plot_h + 22}, kFont, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  return img;
}

void write_bar_chart_png(const std::filesystem::path& file, const std::vector<std::string>& groups,
                         const std::vector<BarSeries>& series, const std::string& title) {
  std::vector<uchar> png;
  cv::imencode(".png", render_bar_chart(groups, series, title), png);
  write_file_atomic(file, std::string(png.begin(), png.end()));
}

}  // namespace mer
