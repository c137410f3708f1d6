#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/curves_plot.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace mer {

namespace {

constexpr int kPanelW = 560, kPanelH = 300, kLeft = 70, kRight = 20, kTop = 50, kBottom = 50;
const auto kFont = cv::FONT_HERSHEY_SIMPLEX;

struct Series {
  std::string name;
  cv::Scalar colour;
};

// Mean, min and max over the folds that have epoch e.
struct Stat {
  std::vector<double> mean, lo, hi;
  std::vector<int> n;
};

Stat stats(const std::vector<FoldCurves>& folds, const std::string& name) {
  Stat s;
  std::size_t epochs = 0;
  for (const auto& f : folds)
    if (const auto it = f.find(name); it != f.end()) epochs = std::max(epochs, it->second.size());
  for (std::size_t e = 0; e < epochs; ++e) {
    double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    int n = 0;
    for (const auto& f : folds) {
      const auto it = f.find(name);
      if (it == f.end() || e >= it->second.size() || !std::isfinite(it->second[e])) continue;
      sum += it->second[e];
      lo = std::min(lo, it->second[e]);
      hi = std::max(hi, it->second[e]);
      ++n;
    }
    s.mean.push_back(n ? sum / n : std::nan(""));
    s.lo.push_back(lo);
    s.hi.push_back(hi);
    s.n.push_back(n);
  }
  return s;
}

void panel(cv::Mat& img, int y0, const std::vector<FoldCurves>& folds, const std::vector<Series>& series,
           const std::string& ylabel, bool unit_range, bool per_fold) {
  std::vector<Stat> st;
  std::size_t epochs = 1;
  double lo = unit_range ? 0.0 : std::numeric_limits<double>::infinity(), hi = unit_range ? 1.0 : -lo;
  for (const auto& s : series) {
    st.push_back(stats(folds, s.name));
    epochs = std::max(epochs, st.back().mean.size());
    if (!unit_range)
      for (std::size_t e = 0; e < st.back().mean.size(); ++e)
        if (st.back().n[e] > 0) lo = std::min(lo, st.back().lo[e]), hi = std::max(hi, st.back().hi[e]);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) hi = lo + 1;
  const cv::Rect area(kLeft, y0 + kTop, kPanelW - kLeft - kRight, kPanelH - kTop - kBottom);
  cv::rectangle(img, area, cv::Scalar(180, 180, 180), 1);
  const auto px = [&](double e) { return area.x + static_cast<int>(std::lround((e - 1) / std::max<double>(1, epochs - 1) * area.width)); };
  const auto py = [&](double v) { return area.y + area.height - static_cast<int>(std::lround((v - lo) / (hi - lo) * area.height)); };
  char buf[64];
  for (int k = 0; k <= 4; ++k) {
    const double v = lo + (hi - lo) * k / 4.0;
    std::snprintf(buf, sizeof buf, "%.2f", v);
    cv::putText(img, buf, {8, py(v) + 4}, kFont, 0.4, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
    cv::line(img, {area.x, py(v)}, {area.x + area.width, py(v)}, cv::Scalar(235, 235, 235), 1);
  }
  std::snprintf(buf, sizeof buf, "epoch 1..%zu", epochs);
  cv::putText(img, buf, {area.x + area.width / 2 - 40, area.y + area.height + 30}, kFont, 0.45, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
  cv::putText(img, ylabel, {8, y0 + 16}, kFont, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  int legend_x = kLeft;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = st[k];
    if (s.mean.empty()) continue;
    // The band: min..max over folds, in a light tint of the series' colour.
    std::vector<cv::Point> band;
    for (std::size_t e = 0; e < s.mean.size(); ++e)
      if (s.n[e] > 0) band.push_back({px(e + 1.0), py(s.hi[e])});
    for (std::size_t e = s.mean.size(); e-- > 0;)
      if (s.n[e] > 0) band.push_back({px(e + 1.0), py(s.lo[e])});
    if (per_fold) {
      // Each fold's own curve, thin and translucent, so a fold that diverges stands out.
      cv::Mat overlay = img.clone();
      for (const auto& f : folds) {
        const auto it = f.find(series[k].name);
        if (it == f.end()) continue;
        for (std::size_t e = 1; e < it->second.size(); ++e)
          if (std::isfinite(it->second[e - 1]) && std::isfinite(it->second[e]))
            cv::line(overlay, {px(static_cast<double>(e)), py(it->second[e - 1])}, {px(e + 1.0), py(it->second[e])},
                     series[k].colour, 1, cv::LINE_AA);
      }
      cv::addWeighted(overlay, 0.35, img, 0.65, 0, img);
    } else if (band.size() >= 3) {
      cv::Mat overlay = img.clone();
      cv::fillPoly(overlay, std::vector<std::vector<cv::Point>>{band}, series[k].colour);
      cv::addWeighted(overlay, 0.18, img, 0.82, 0, img);
    }
    for (std::size_t e = 1; e < s.mean.size(); ++e)
      if (s.n[e - 1] > 0 && s.n[e] > 0)
        cv::line(img, {px(static_cast<double>(e)), py(s.mean[e - 1])}, {px(e + 1.0), py(s.mean[e])}, series[k].colour, 2, cv::LINE_AA);
    std::snprintf(buf, sizeof buf, "%s (%d folds)", series[k].name.c_str(), s.n.front());
    cv::line(img, {legend_x, y0 + 36}, {legend_x + 20, y0 + 36}, series[k].colour, 3);
    cv::putText(img, buf, {legend_x + 25, y0 + 40}, kFont, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    legend_x += 210;
  }
}

}  // namespace

cv::Mat render_learning_curves(const std::vector<FoldCurves>& folds, const std::string& title, bool per_fold) {
  cv::Mat img(40 + 2 * kPanelH, std::max(kPanelW, 560), CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(img, title, {10, 26}, kFont, 0.55, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  const cv::Scalar blue(180, 90, 20), orange(20, 120, 230);  // BGR
  panel(img, 40, folds, {{"train_loss", blue}, {"val_loss", orange}},
        per_fold ? "loss (mean over folds, thin: each fold)" : "loss (mean over folds, band: min-max)", false, per_fold);
  panel(img, 40 + kPanelH, folds, {{"train_accuracy", blue}, {"val_accuracy", orange}}, "accuracy", true, per_fold);
  return img;
}

std::vector<FoldCurves> read_fold_curves(const std::filesystem::path& run_dir) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(run_dir / "folds"))
    for (const auto& e : std::filesystem::directory_iterator(run_dir / "folds"))
      if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<FoldCurves> curves;
  for (const auto& file : files) {
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(read_file(file));
    } catch (const nlohmann::json::exception& e) {
      throw DataError("fold history '" + file.string() + "' is not valid JSON: " + e.what());
    }
    FoldCurves c;
    for (const auto& row : h.value("history", nlohmann::json::array()))
      for (const char* key : {"train_loss", "val_loss", "train_accuracy", "val_accuracy"})
        if (row.contains(key)) c[key].push_back(row[key].get<double>());
    curves.push_back(std::move(c));
  }
  return curves;
}

void write_learning_curves_png(const std::filesystem::path& file, const std::vector<FoldCurves>& folds,
                               const std::string& title, bool per_fold) {
  bool any = false;
  for (const auto& f : folds)
    for (const auto& kv : f) any = any || !kv.second.empty();
  MER_CHECK(any, ValueError, "learning curves: no fold has a recorded epoch");
  std::vector<uchar> png;
  cv::imencode(".png", render_learning_curves(folds, title, per_fold), png);
  write_file_atomic(file, std::string(png.begin(), png.end()));
}

}  // namespace mer
