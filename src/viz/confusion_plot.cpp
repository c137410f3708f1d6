#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/confusion_plot.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>

namespace mer {

namespace {
constexpr int kCell = 110;
constexpr int kMargin = 150;  // room for row labels
constexpr int kTop = 110;     // room for the title and column labels
const auto kFont = cv::FONT_HERSHEY_SIMPLEX;

void put_centered(cv::Mat& img, const std::string& text, cv::Point center, double scale, cv::Scalar color,
                  int thickness = 1) {
  int baseline = 0;
  const auto size = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  cv::putText(img, text, {center.x - size.width / 2, center.y + size.height / 2}, kFont, scale, color, thickness,
              cv::LINE_AA);
}

// A white → dark blue ramp: readable in print and for colour-blind readers.
cv::Scalar shade(double rate) {
  rate = std::clamp(rate, 0.0, 1.0);
  const cv::Vec3d white(255, 255, 255), blue(120, 48, 8);  // BGR
  const cv::Vec3d c = white * (1 - rate) + blue * rate;
  return cv::Scalar(c[0], c[1], c[2]);
}
}  // namespace

cv::Mat render_confusion(const ConfusionMatrix& cm, const std::vector<std::string>& classes, const std::string& title) {
  MER_CHECK(cm.num_classes == static_cast<int>(classes.size()), ValueError, "render_confusion: ", cm.num_classes,
            " classes in the matrix but ", classes.size(), " names");
  const int k = cm.num_classes;
  const int width = std::max(kMargin + k * kCell + 30, 520);
  cv::Mat img(kTop + k * kCell + 60, width, CV_8UC3, cv::Scalar(255, 255, 255));
  put_centered(img, title, {width / 2, 28}, 0.6, cv::Scalar(0, 0, 0), 1);
  put_centered(img, "predicted", {kMargin + k * kCell / 2, 62}, 0.5, cv::Scalar(80, 80, 80));
  for (int c = 0; c < k; ++c) {
    put_centered(img, classes[c], {kMargin + c * kCell + kCell / 2, kTop - 18}, 0.5, cv::Scalar(0, 0, 0));
    int baseline = 0;
    const auto size = cv::getTextSize(classes[c], kFont, 0.5, 1, &baseline);
    cv::putText(img, classes[c], {kMargin - 12 - size.width, kTop + c * kCell + kCell / 2 + 5}, kFont, 0.5,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  put_centered(img, "true", {30, kTop + k * kCell / 2}, 0.5, cv::Scalar(80, 80, 80));
  for (int r = 0; r < k; ++r) {
    std::int64_t row_total = 0;
    for (auto v : cm.counts[r]) row_total += v;
    for (int c = 0; c < k; ++c) {
      const double rate = row_total ? double(cm.counts[r][c]) / row_total : 0.0;
      const cv::Rect cell(kMargin + c * kCell, kTop + r * kCell, kCell, kCell);
      cv::rectangle(img, cell, shade(rate), cv::FILLED);
      cv::rectangle(img, cell, cv::Scalar(200, 200, 200), 1);
      const cv::Scalar ink = rate > 0.5 ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0);
      put_centered(img, std::to_string(cm.counts[r][c]), {cell.x + kCell / 2, cell.y + kCell / 2 - 12}, 0.8, ink, 2);
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.0f%%", 100 * rate);
      put_centered(img, row_total ? pct : "-", {cell.x + kCell / 2, cell.y + kCell / 2 + 20}, 0.5, ink);
    }
  }
  put_centered(img, "cells: count and share of the true class", {width / 2, kTop + k * kCell + 30}, 0.45,
               cv::Scalar(100, 100, 100));
  return img;
}

void write_confusion_png(const std::filesystem::path& file, const ConfusionMatrix& cm,
                         const std::vector<std::string>& classes, const std::string& title) {
  const cv::Mat img = render_confusion(cm, classes, title);
  write_atomic_with(file, [&](const std::filesystem::path& tmp) {
    bool ok = false;
    try {
      ok = cv::imwrite(tmp.string(), img);
    } catch (const cv::Exception& e) {
      throw IoError("cannot write '" + file.string() + "': " + e.what());
    }
    if (!ok) throw IoError("cannot write '" + file.string() + "'");
  });
}

}  // namespace mer
