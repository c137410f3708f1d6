#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/contact_sheet.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mer {

namespace {

const auto kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kFontScale = 0.4;
constexpr int kLine = 14;      // label line height
constexpr int kLabelLines = 3;  // stage, entry, note
constexpr int kGap = 6;
constexpr int kTitle = 22;
// Entries this small are metadata (frame numbers, scores, a face box), not pictures.
constexpr int kMinSide = 4;
const cv::Scalar kBackground(40, 40, 40), kText(235, 235, 235), kDim(170, 170, 170);

enum class Kind { Image, Field, Map, FloatImage, Meta };

Kind kind_of(const cv::Mat& m) {
  if (m.empty() || m.rows < kMinSide || m.cols < kMinSide) return Kind::Meta;
  if (m.depth() == CV_8U && (m.channels() == 1 || m.channels() == 3)) return Kind::Image;
  if (m.depth() == CV_32F && m.channels() == 2) return Kind::Field;
  if (m.depth() == CV_32F && m.channels() == 1) return Kind::Map;
  if (m.depth() == CV_32F && m.channels() == 3) return Kind::FloatImage;
  return Kind::Meta;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

cv::Mat to_bgr(const cv::Mat& m) {
  cv::Mat out;
  if (m.channels() == 1) cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  else out = m.clone();
  return out;
}

// Scales to `height` rows keeping the aspect ratio; small maps (28×28 features) are enlarged with
// nearest neighbours so their pixels stay honest.
cv::Mat fit(const cv::Mat& bgr, int height) {
  const double s = static_cast<double>(height) / bgr.rows;
  const int width = std::max(1, static_cast<int>(std::lround(bgr.cols * s)));
  cv::Mat out;
  cv::resize(bgr, out, cv::Size(width, height), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_NEAREST);
  return out;
}

cv::Mat stretch_float_image(const cv::Mat& m, double& lo, double& hi) {
  cv::Mat clean = m.clone();
  cv::patchNaNs(clean, 0);
  cv::minMaxLoc(clean.reshape(1), &lo, &hi);
  cv::Mat out;
  const double range = hi > lo ? hi - lo : 1.0;
  clean.convertTo(out, CV_8U, 255.0 / range, -lo * 255.0 / range);
  return out;
}

// One mat drawn by its kind at `height` rows; `note` receives what the colours mean.
cv::Mat draw_mat(const cv::Mat& m, int height, std::string& note, double flow_max = 0) {
  switch (kind_of(m)) {
    case Kind::Image:
      return fit(to_bgr(m), height);
    case Kind::Field: {
      double max_mag = flow_max;
      if (max_mag <= 0) {
        cv::Mat planes[2], mag;
        cv::split(m, planes);
        cv::magnitude(planes[0], planes[1], mag);
        cv::patchNaNs(mag, 0);
        cv::minMaxLoc(mag, nullptr, &max_mag);
      }
      note = "max |v| " + fmt(max_mag) + " px";
      return fit(flow_to_color(m, max_mag), height);
    }
    case Kind::Map: {
      double lo = 0, hi = 0;
      const cv::Mat c = colorize_map(m, lo, hi);
      note = "min " + fmt(lo) + " max " + fmt(hi);
      return fit(c, height);
    }
    case Kind::FloatImage: {
      double lo = 0, hi = 0;
      const cv::Mat c = stretch_float_image(m, lo, hi);
      note = "min " + fmt(lo) + " max " + fmt(hi);
      return fit(c, height);
    }
    case Kind::Meta:
      break;
  }
  return cv::Mat();
}

cv::Mat hconcat_gap(const std::vector<cv::Mat>& pictures, int gap) {
  int width = 0, height = 0;
  for (const auto& p : pictures) width += p.cols + gap, height = std::max(height, p.rows);
  cv::Mat out(height, std::max(1, width - gap), CV_8UC3, kBackground);
  int x = 0;
  for (const auto& p : pictures) {
    p.copyTo(out(cv::Rect(x, 0, p.cols, p.rows)));
    x += p.cols + gap;
  }
  return out;
}

// Evenly spaced frame indices, first and last included.
std::vector<std::size_t> pick(std::size_t n, int k) {
  std::vector<std::size_t> idx;
  if (n == 0) return idx;
  const std::size_t m = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(k, 1)));
  for (std::size_t i = 0; i < m; ++i) idx.push_back(m == 1 ? 0 : i * (n - 1) / (m - 1));
  return idx;
}

// The frame a stage's overlay belongs to: an 8-bit frame it read, else onset, apex, the first of "clip".
cv::Mat overlay_base(const Item& item, const std::vector<std::string>& candidates) {
  for (const auto& name : candidates) {
    if (item.mats.count(name) && kind_of(item.at(name)) == Kind::Image) return to_bgr(item.at(name));
    if (item.has_sequence(name) && !item.seq(name).empty() && kind_of(item.seq(name).front()) == Kind::Image) {
      return to_bgr(item.seq(name).front());
    }
  }
  return cv::Mat();
}

// Index into "clip" of the apex frame (by "clip_frames"), else the middle one.
std::size_t apex_index(const Item& item, const SampleMeta& sample, std::size_t n) {
  if (item.mats.count("clip_frames") && sample.apex >= 0) {
    const cv::Mat& f = item.at("clip_frames");
    if (f.type() == CV_32SC1 && f.total() == n) {
      for (std::size_t i = 0; i < n; ++i) {
        if (f.at<int>(static_cast<int>(i)) == sample.apex) return i;
      }
    }
  }
  return n / 2;
}

}  // namespace

// ---------------------------------------------------------------- colour codings

cv::Mat flow_to_color(const cv::Mat& flow, double max_magnitude) {
  MER_CHECK(flow.type() == CV_32FC2, ValueError, "flow_to_color: expected a CV_32FC2 field, got type ", flow.type());
  cv::Mat planes[2], mag, angle;
  cv::split(flow, planes);
  cv::cartToPolar(planes[0], planes[1], mag, angle, true);  // degrees, 0..360
  cv::patchNaNs(mag, 0);
  cv::patchNaNs(angle, 0);
  if (max_magnitude <= 0) cv::minMaxLoc(mag, nullptr, &max_magnitude);
  const double scale = max_magnitude > 0 ? 255.0 / max_magnitude : 0.0;
  cv::Mat h, s(flow.size(), CV_8U, cv::Scalar(255)), v;
  angle.convertTo(h, CV_8U, 0.5);  // OpenCV's 8-bit hue runs 0..180
  mag.convertTo(v, CV_8U, scale);  // saturates above max_magnitude
  cv::Mat hsv, bgr;
  cv::merge(std::vector<cv::Mat>{h, s, v}, hsv);
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  return bgr;
}

cv::Mat flow_color_wheel(int size) {
  MER_CHECK(size >= 8, ValueError, "flow_color_wheel: size must be at least 8, got ", size);
  cv::Mat field(size, size, CV_32FC2);
  const float c = 0.5f * static_cast<float>(size - 1), r = 0.5f * static_cast<float>(size);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) field.at<cv::Vec2f>(y, x) = cv::Vec2f((x - c) / r, (y - c) / r);
  }
  cv::Mat wheel = flow_to_color(field, 1.0);
  cv::Mat outside(size, size, CV_8U, cv::Scalar(255));
  cv::circle(outside, {size / 2, size / 2}, size / 2, cv::Scalar(0), cv::FILLED);
  wheel.setTo(kBackground, outside);
  return wheel;
}

cv::Mat colorize_map(const cv::Mat& map, double& lo, double& hi) {
  MER_CHECK(map.type() == CV_32FC1, ValueError, "colorize_map: expected a CV_32FC1 map, got type ", map.type());
  cv::Mat clean = map.clone();
  cv::patchNaNs(clean, 0);
  cv::minMaxLoc(clean, &lo, &hi);
  const double range = hi > lo ? hi - lo : 1.0;
  cv::Mat gray, out;
  clean.convertTo(gray, CV_8U, 255.0 / range, -lo * 255.0 / range);
  // Viridis: perceptually uniform and readable by colour-blind viewers, unlike jet.
  cv::applyColorMap(gray, out, cv::COLORMAP_VIRIDIS);
  return out;
}

// ---------------------------------------------------------------- the sheet

ContactSheet::ContactSheet(ContactSheetOptions options) : options_(options) {
  MER_CHECK(options_.tile_size >= 16, ValueError, "contact sheet: tile_size must be at least 16, got ",
            options_.tile_size);
  MER_CHECK(options_.sequence_frames >= 1, ValueError, "contact sheet: sequence_frames must be at least 1, got ",
            options_.sequence_frames);
}

SheetRow& ContactSheet::row() {
  if (rows_.empty()) rows_.push_back(SheetRow{});
  return rows_.back();
}

void ContactSheet::begin_row(const SampleMeta& sample) {
  sample_ = sample;
  previous_ = Item{};
  legend_drawn_ = false;
  std::string title = sample.id;
  if (!sample.emotion.empty()) title += "  (" + sample.emotion + ")";
  rows_.push_back(SheetRow{title, {}});
}

void ContactSheet::add_note(const std::string& stage, const std::string& text) {
  // Wrapped at ~40 characters a line so a long error stays inside the sheet.
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < text.size(); i += 40) lines.push_back(text.substr(i, 40));
  if (lines.size() > 8) lines.resize(8);
  cv::Mat pic(options_.tile_size, 40 * 7 + 8, CV_8UC3, kBackground);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    cv::putText(pic, lines[i], {4, 14 + static_cast<int>(i) * kLine}, kFont, kFontScale, cv::Scalar(90, 90, 255), 1,
                cv::LINE_AA);
  }
  row().tiles.push_back(SheetTile{stage, "note", "", pic});
}

std::function<void(const Stage&, const Item&)> ContactSheet::observer() {
  return [this](const Stage& stage, const Item& item) { add_stage(stage.type(), stage.writes(), item); };
}

void ContactSheet::add_stage(const std::string& stage, const std::vector<std::string>& writes, const Item& item) {
  auto& r = row();
  const int ts = options_.tile_size;
  bool overlay_done = false;
  for (const auto& name : writes) {
    if (!item.has(name)) continue;
    if (name == "face" || name == "landmarks" || name == "rois") {
      if (overlay_done) continue;
      overlay_done = true;
      // The frame the geometry lives on: the stage's own frame option is not visible here, so the usual
      // key frames in order; align keeps them and the geometry in one coordinate system.
      cv::Mat base = overlay_base(item, {"onset", "apex", "clip", "frames"});
      if (base.empty()) continue;
      std::string what = item.mats.count("onset") ? "onset" : "frame";
      const double thick = std::max(1.0, base.rows / 200.0);
      if (item.mats.count("face") && item.at("face").total() == 4 && item.at("face").depth() == CV_32F) {
        const cv::Mat& f = item.at("face");
        const cv::Rect box(cvRound(f.at<float>(0)), cvRound(f.at<float>(1)), cvRound(f.at<float>(2)),
                           cvRound(f.at<float>(3)));
        cv::rectangle(base, box, cv::Scalar(0, 200, 255), static_cast<int>(thick), cv::LINE_AA);
        what += " + face";
      }
      if (item.mats.count("landmarks") && item.at("landmarks").type() == CV_32FC2) {
        const cv::Mat& l = item.at("landmarks");
        for (std::size_t i = 0; i < l.total(); ++i) {
          const auto p = l.at<cv::Vec2f>(static_cast<int>(i));
          cv::circle(base, {cvRound(p[0]), cvRound(p[1])}, static_cast<int>(thick + 1), cv::Scalar(0, 255, 0),
                     cv::FILLED, cv::LINE_AA);
        }
        what += " + landmarks";
      }
      if (item.mats.count("rois") && item.at("rois").cols == 4 && item.at("rois").channels() == 1) {
        cv::Mat rois;
        item.at("rois").convertTo(rois, CV_32S);
        for (int i = 0; i < rois.rows; ++i) {
          const cv::Rect box(rois.at<int>(i, 0), rois.at<int>(i, 1), rois.at<int>(i, 2), rois.at<int>(i, 3));
          cv::rectangle(base, box, cv::Scalar(255, 120, 0), 1, cv::LINE_AA);
          cv::putText(base, std::to_string(i), box.tl() + cv::Point(1, 9), kFont, 0.3, cv::Scalar(255, 200, 0), 1,
                      cv::LINE_AA);
        }
        what += " + " + std::to_string(rois.rows) + " rois";
      }
      r.tiles.push_back(SheetTile{stage, what, "", fit(base, ts)});
      continue;
    }
    if (item.mats.count(name)) {
      const cv::Mat& m = item.at(name);
      const Kind kind = kind_of(m);
      if (kind == Kind::Meta) continue;
      // A frame rewritten at its own size (magnification, denoising): show what it was, too.
      if ((kind == Kind::Image || kind == Kind::FloatImage) && previous_.mats.count(name)) {
        const cv::Mat& before = previous_.at(name);
        if (before.size() == m.size() && kind_of(before) == kind) {
          std::string note;
          r.tiles.push_back(SheetTile{stage, name + " before", "", draw_mat(before, ts, note)});
        }
      }
      std::string note;
      r.tiles.push_back(SheetTile{stage, name + " " + std::to_string(m.cols) + "x" + std::to_string(m.rows), "",
                                  draw_mat(m, ts, note)});
      r.tiles.back().note = note;
      if (kind == Kind::Field && !legend_drawn_) {
        r.tiles.push_back(SheetTile{"legend", "flow direction", "rim = max |v|", flow_color_wheel(ts)});
        legend_drawn_ = true;
      }
      continue;
    }
    // A sequence: a strip of evenly spaced frames; flows share one magnitude scale so they compare.
    const auto& frames = item.seq(name);
    if (frames.empty()) continue;
    const Kind kind = kind_of(frames.front());
    if (kind == Kind::Meta) continue;
    double shared_max = 0;
    if (kind == Kind::Field) {
      for (const auto& f : frames) {
        cv::Mat planes[2], mag;
        cv::split(f, planes);
        cv::magnitude(planes[0], planes[1], mag);
        cv::patchNaNs(mag, 0);
        double mx = 0;
        cv::minMaxLoc(mag, nullptr, &mx);
        shared_max = std::max(shared_max, mx);
      }
    }
    const auto idx = pick(frames.size(), options_.sequence_frames);
    std::vector<cv::Mat> pics;
    std::string note;
    for (auto i : idx) pics.push_back(draw_mat(frames[i], ts, note, shared_max));
    r.tiles.push_back(SheetTile{stage, name + " (" + std::to_string(frames.size()) + " frames)",
                                kind == Kind::Field ? note : "frames " + std::to_string(idx.front()) + ".." +
                                                                 std::to_string(idx.back()),
                                hconcat_gap(pics, 2)});
    if (kind == Kind::Field && !legend_drawn_) {
      r.tiles.push_back(SheetTile{"legend", "flow direction", "rim = max |v|", flow_color_wheel(ts)});
      legend_drawn_ = true;
    }
    // A clip rewritten at its own size (magnification): its apex frame before and after, side by side.
    if ((kind == Kind::Image || kind == Kind::FloatImage) && previous_.has_sequence(name)) {
      const auto& before = previous_.seq(name);
      if (before.size() == frames.size() && before.front().size() == frames.front().size()) {
        const auto a = apex_index(item, sample_, frames.size());
        std::string unused;
        r.tiles.push_back(SheetTile{stage, name + "[" + std::to_string(a) + "] before | after", "",
                                    hconcat_gap({draw_mat(before[a], ts, unused), draw_mat(frames[a], ts, unused)}, 2)});
      }
    }
  }
  // Shallow copies: stages assign new mats rather than writing into their inputs.
  previous_ = item;
}

cv::Mat ContactSheet::render() const {
  MER_CHECK(!rows_.empty(), ValueError, "contact sheet: nothing to render (no row was started)");
  const int ts = options_.tile_size;
  const int tile_h = kLabelLines * kLine + 4 + ts;
  std::vector<int> widths;
  int sheet_w = 400;
  for (const auto& r : rows_) {
    int w = kGap;
    for (const auto& t : r.tiles) {
      int label_w = 0;
      for (const auto* s : {&t.stage, &t.entry, &t.note}) {
        int base = 0;
        label_w = std::max(label_w, cv::getTextSize(*s, kFont, kFontScale, 1, &base).width);
      }
      w += std::max(t.image.cols, label_w + 4) + kGap;
    }
    sheet_w = std::max(sheet_w, w);
  }
  const int row_h = kTitle + tile_h + kGap;
  cv::Mat sheet(static_cast<int>(rows_.size()) * row_h + kGap, sheet_w, CV_8UC3, kBackground);
  int y = kGap;
  for (const auto& r : rows_) {
    cv::putText(sheet, r.title, {kGap, y + 15}, kFont, 0.5, kText, 1, cv::LINE_AA);
    int x = kGap;
    const int top = y + kTitle;
    for (const auto& t : r.tiles) {
      int label_w = 0;
      for (const auto* s : {&t.stage, &t.entry, &t.note}) {
        int base = 0;
        label_w = std::max(label_w, cv::getTextSize(*s, kFont, kFontScale, 1, &base).width);
      }
      cv::putText(sheet, t.stage, {x, top + 11}, kFont, kFontScale, kDim, 1, cv::LINE_AA);
      cv::putText(sheet, t.entry, {x, top + 11 + kLine}, kFont, kFontScale, kText, 1, cv::LINE_AA);
      if (!t.note.empty()) cv::putText(sheet, t.note, {x, top + 11 + 2 * kLine}, kFont, kFontScale, kDim, 1, cv::LINE_AA);
      const int h = std::min(t.image.rows, ts);
      t.image(cv::Rect(0, 0, t.image.cols, h)).copyTo(sheet(cv::Rect(x, top + kLabelLines * kLine + 4, t.image.cols, h)));
      x += std::max(t.image.cols, label_w + 4) + kGap;
    }
    y += row_h;
  }
  return sheet;
}

void ContactSheet::write_png(const std::filesystem::path& file) const {
  const cv::Mat sheet = render();
  write_atomic_with(file, [&](const std::filesystem::path& tmp) {
    if (!cv::imwrite(tmp.string(), sheet)) throw IoError("cannot write '" + file.string() + "' (PNG encoder failed)");
  });
}

}  // namespace mer
