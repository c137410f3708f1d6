#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/class_subject_plot.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace mer {

namespace {
constexpr int kCellW = 96;
constexpr int kCellH = 24;
constexpr int kTop = 80;  // title and column labels
const auto kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kScale = 0.45;

int text_width(const std::string& text) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, kScale, 1, &baseline).width;
}

void put_centered(cv::Mat& img, const std::string& text, cv::Point center, cv::Scalar color, double scale = kScale) {
  int baseline = 0;
  const auto size = cv::getTextSize(text, kFont, scale, 1, &baseline);
  cv::putText(img, text, {center.x - size.width / 2, center.y + size.height / 2}, kFont, scale, color, 1, cv::LINE_AA);
}

// The same white → dark blue ramp as the confusion plot, so the two read alike.
cv::Scalar shade(double rate) {
  rate = std::clamp(rate, 0.0, 1.0);
  const cv::Vec3d white(255, 255, 255), blue(120, 48, 8);  // BGR
  const cv::Vec3d c = white * (1 - rate) + blue * rate;
  return cv::Scalar(c[0], c[1], c[2]);
}
}  // namespace

cv::Mat render_class_subject(const std::vector<std::string>& subjects, const std::vector<std::string>& classes,
                             const std::vector<std::vector<std::int64_t>>& counts, const std::string& title) {
  MER_CHECK(counts.size() == subjects.size(), ValueError, "render_class_subject: ", counts.size(),
            " rows of counts for ", subjects.size(), " subjects");
  for (std::size_t r = 0; r < counts.size(); ++r)
    MER_CHECK(counts[r].size() == classes.size(), ValueError, "render_class_subject: subject ", subjects[r], " has ",
              counts[r].size(), " counts for ", classes.size(), " classes");
  std::int64_t max = 0;
  for (const auto& row : counts)
    for (auto v : row) max = std::max(max, v);

  int label_w = text_width("total");
  for (const auto& s : subjects) label_w = std::max(label_w, text_width(s));
  const int left = label_w + 24;
  const int cols = static_cast<int>(classes.size()) + 1;  // + total
  const int rows = static_cast<int>(subjects.size()) + 1;
  const int width = std::max(left + cols * kCellW + 20, text_width(title) + 40);
  cv::Mat img(kTop + rows * kCellH + 40, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar black(0, 0, 0), grey(200, 200, 200);
  put_centered(img, title, {width / 2, 24}, black, 0.55);

  for (int c = 0; c < cols; ++c)
    put_centered(img, c + 1 < cols ? classes[c] : "total", {left + c * kCellW + kCellW / 2, kTop - 16}, black);
  std::vector<std::int64_t> column_total(classes.size(), 0);
  auto row_label = [&](const std::string& text, int r) {
    cv::putText(img, text, {left - 12 - text_width(text), kTop + r * kCellH + kCellH / 2 + 5}, kFont, kScale, black, 1,
                cv::LINE_AA);
  };
  for (int r = 0; r < rows - 1; ++r) {
    row_label(subjects[r], r);
    std::int64_t row_total = 0;
    for (int c = 0; c < cols - 1; ++c) {
      const auto v = counts[r][c];
      row_total += v;
      column_total[c] += v;
      const double rate = max > 0 ? double(v) / double(max) : 0.0;
      const cv::Rect cell(left + c * kCellW, kTop + r * kCellH, kCellW, kCellH);
      cv::rectangle(img, cell, shade(rate), cv::FILLED);
      cv::rectangle(img, cell, grey, 1);
      put_centered(img, std::to_string(v), {cell.x + kCellW / 2, cell.y + kCellH / 2},
                   rate > 0.5 ? cv::Scalar(255, 255, 255) : black);
    }
    const cv::Rect cell(left + (cols - 1) * kCellW, kTop + r * kCellH, kCellW, kCellH);
    cv::rectangle(img, cell, grey, 1);
    put_centered(img, std::to_string(row_total), {cell.x + kCellW / 2, cell.y + kCellH / 2}, black);
  }
  row_label("total", rows - 1);
  std::int64_t all = 0;
  for (auto v : column_total) all += v;
  for (int c = 0; c < cols; ++c) {
    const auto v = c + 1 < cols ? column_total[c] : all;
    const cv::Rect cell(left + c * kCellW, kTop + (rows - 1) * kCellH, kCellW, kCellH);
    cv::rectangle(img, cell, grey, 1);
    put_centered(img, std::to_string(v), {cell.x + kCellW / 2, cell.y + kCellH / 2}, black);
  }
  put_centered(img, "rows: subjects, columns: classes; shade: count relative to the largest cell",
               {width / 2, kTop + rows * kCellH + 22}, cv::Scalar(100, 100, 100), 0.4);
  return img;
}

void write_class_subject_png(const std::filesystem::path& file, const std::vector<std::string>& subjects,
                             const std::vector<std::string>& classes,
                             const std::vector<std::vector<std::int64_t>>& counts, const std::string& title) {
  const cv::Mat img = render_class_subject(subjects, classes, counts, title);
  std::vector<uchar> bytes;
  try {
    if (!cv::imencode(".png", img, bytes)) throw IoError("cannot encode '" + file.string() + "' as PNG");
  } catch (const cv::Exception& e) {
    throw IoError("cannot encode '" + file.string() + "' as PNG: " + e.what());
  }
  write_file_atomic(file, std::string(bytes.begin(), bytes.end()));
}

}  // namespace mer
