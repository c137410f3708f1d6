// Regions of interest on the face (survey §4.1, Fig. 4) and landmark-derived inputs (§4.2): the region
// geometry of <mer/preprocess/regions.hpp> and the stages roi and landmark_map.
#include <mer/core/error.hpp>
#include <mer/preprocess/regions.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

namespace mer {

namespace {

using detail::fingerprint_value;
using detail::stage_fingerprint;

void check_68(const std::vector<cv::Point2f>& landmarks, const char* what) {
  MER_CHECK(landmarks.size() == 68, ValueError, what, ": expected 68 landmarks (dlib order), got ", landmarks.size());
}

// The bounding box of some landmarks grown by `margin` pixels on every side (negative shrinks), rounded
// outwards so that the landmarks themselves are always inside.
cv::Rect grown_box(const std::vector<cv::Point2f>& lm, const std::vector<int>& indices, double margin) {
  float x0 = lm[indices[0]].x, y0 = lm[indices[0]].y, x1 = x0, y1 = y0;
  for (int i : indices) {
    x0 = std::min(x0, lm[i].x), y0 = std::min(y0, lm[i].y);
    x1 = std::max(x1, lm[i].x), y1 = std::max(y1, lm[i].y);
  }
  const int left = static_cast<int>(std::floor(x0 - margin)), top = static_cast<int>(std::floor(y0 - margin));
  const int right = static_cast<int>(std::ceil(x1 + margin)), bottom = static_cast<int>(std::ceil(y1 + margin));
  return cv::Rect(left, top, std::max(right - left, 1), std::max(bottom - top, 1));
}

std::vector<int> range(int first, int last) {
  std::vector<int> v(static_cast<std::size_t>(last - first + 1));
  std::iota(v.begin(), v.end(), first);
  return v;
}

// FACS-inspired regions. Micro-expressions are local: each action unit moves a small, known patch of
// skin, so features pooled per region keep "where" apart from "how much" (Liu et al. 2016's MDMO uses 36
// such regions; Davison et al. 2018 group the face's regions by the action units behind their Objective
// Classes). This is a compact set of 13 that keeps AUs that micro-expressions actually show
// (Yan et al. 2014, CASME II) apart: inner and outer brow separately (AU1 vs AU2), the glabella (AU4),
// eyelids (AU6/7), nose (AU9), the cheek apples (AU6), the mouth corners (AU12/14/15) and the chin
// (AU17). Each box is the bounding box of the landmarks grown by `margin` inter-ocular distances; a
// single landmark gives a square. "left"/"right" are image sides (the subject's right is image left).
struct FacsRegionDef {
  const char* name;
  std::vector<int> landmarks;
  double margin;  // in inter-ocular distances (IOD); negative shrinks
  const char* action_units;
};

const std::vector<FacsRegionDef>& facs_table() {
  static const std::vector<FacsRegionDef> table = {
      // name                 landmarks                     margin  AUs
      {"brow_left_outer",    {17, 18, 19},                  0.06, "AU2"},
      {"brow_left_inner",    {19, 20, 21},                  0.06, "AU1, AU4"},
      {"brow_right_inner",   {22, 23, 24},                  0.06, "AU1, AU4"},
      {"brow_right_outer",   {24, 25, 26},                  0.06, "AU2"},
      {"glabella",           {21, 22, 27},                  0.04, "AU4"},
      {"eye_left",           {36, 37, 38, 39, 40, 41},      0.08, "AU6, AU7, AU43"},
      {"eye_right",          {42, 43, 44, 45, 46, 47},      0.08, "AU6, AU7, AU43"},
      {"nose",               range(27, 35),                 0.04, "AU9"},
      // Between the lower lid, the jaw line and the nose wing: the skin AU6 lifts. Shrunk so that it
      // stays off the eye box above, the nose box beside it and the background past the jaw.
      {"cheek_left",         {2, 31, 40, 41},              -0.12, "AU6"},
      {"cheek_right",        {14, 35, 46, 47},             -0.12, "AU6"},
      {"mouth_corner_left",  {48},                          0.15, "AU12, AU14, AU15"},
      {"mouth_corner_right", {54},                          0.15, "AU12, AU14, AU15"},
      {"chin",               {7, 8, 9, 57},                 0.06, "AU17"},
  };
  return table;
}

// The region methods of the roi stage that need landmarks.
bool uses_landmarks(const std::string& method) {
  return method == "facs" || method == "eye_cheek_mask" || method == "eyes_mouth" || method == "landmark_patches";
}

std::string lower_extension(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool is_file_storage(const std::string& ext) {
  return ext == ".yml" || ext == ".yaml" || ext == ".xml" || ext == ".json";
}

std::vector<cv::Point2f> landmark_points(const Item& item, const SampleMeta& sample, const char* stage) {
  const auto& lm = item.at("landmarks");
  if (lm.type() != CV_32FC2 || lm.total() != 68) {
    throw InternalError(detail::concat(stage, ": item entry 'landmarks' of sample ", sample.id,
                                       " must be CV_32FC2 68x1, got type ", lm.type(), " with ", lm.total(), " points"));
  }
  return std::vector<cv::Point2f>(lm.begin<cv::Point2f>(), lm.end<cv::Point2f>());
}

// FNV-1a over the heat map's values: the fingerprint follows the file's content, not its name.
std::string content_hash(const cv::Mat& m) {
  std::uint64_t h = 1469598103934665603ull;
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  const auto* p = c.ptr<unsigned char>();
  for (std::size_t i = 0; i < c.total() * c.elemSize(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return detail::concat(std::hex, h, "/", m.cols, "x", m.rows);
}

// ---------------------------------------------------------------- roi

class RoiStage final : public Stage {
 public:
  explicit RoiStage(RoiOptions o) : o_(std::move(o)) {
    if (o_.method == "heatmap") {
      const cv::Mat heat = read_heatmap(o_.heatmap);
      MER_CHECK(heat.rows >= o_.rows && heat.cols >= o_.cols, ConfigError, "roi: heat map ", o_.heatmap.string(),
                " (", heat.cols, "x", heat.rows, ") is smaller than the ", o_.rows, "x", o_.cols, " grid");
      MER_CHECK(o_.top_k <= o_.rows * o_.cols, ConfigError, "roi: top_k = ", o_.top_k, " but the grid has only ",
                o_.rows * o_.cols, " blocks");
      // Chosen once: every sample gets the same blocks, as the heat map describes the data set.
      hot_blocks_ = hottest_blocks(heat, o_.rows, o_.cols, o_.top_k);
      heatmap_hash_ = content_hash(heat);
    }
  }
  std::string type() const override { return "roi"; }
  std::vector<std::string> reads() const override {
    auto r = o_.keys;
    if (uses_landmarks(o_.method)) r.insert(r.begin(), "landmarks");
    return r;
  }
  std::vector<std::string> writes() const override {
    auto w = o_.keys;
    w.push_back("rois");
    return w;
  }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {
        {"method", o_.method}, {"apply", o_.apply}, {"keys", fingerprint_value(o_.keys)}};
    if (o_.apply == "crop") opts.push_back({"size", std::to_string(o_.size)});
    if (o_.method == "grid" || o_.method == "heatmap") {
      opts.push_back({"rows", std::to_string(o_.rows)});
      opts.push_back({"cols", std::to_string(o_.cols)});
    }
    if (o_.method == "eye_cheek_mask" || o_.method == "eyes_mouth") opts.push_back({"margin", fingerprint_value(o_.margin)});
    if (o_.method == "heatmap") {
      opts.push_back({"top_k", std::to_string(o_.top_k)});
      opts.push_back({"heatmap", heatmap_hash_});
    }
    if (o_.method == "landmark_patches") {
      std::string ids;
      for (int i : o_.landmarks) ids += (ids.empty() ? "" : ",") + std::to_string(i);
      opts.push_back({"landmarks", ids});
      opts.push_back({"patch_size", std::to_string(o_.patch_size)});
    }
    return stage_fingerprint(type(), "v1", opts);
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    const cv::Size size = entry_size(item, sample);
    std::vector<cv::Point2f> lm;
    if (uses_landmarks(o_.method)) {
      lm = landmark_points(item, sample, "roi");
      // Landmarks live in the frame they were found in (or the aligned crop); a roi placed after a resize
      // would cut regions from the wrong place. Most landmarks outside the entry means just that.
      int outside = 0;
      for (const auto& p : lm) outside += (p.x < 0 || p.y < 0 || p.x >= size.width || p.y >= size.height) ? 1 : 0;
      if (outside > 34) {
        throw SampleError(detail::concat("roi: ", outside, " of 68 landmarks of sample ", sample.id, " lie outside the ",
                                         size.width, "x", size.height, " entries; landmarks must be in these entries' "
                                         "pixels (place roi after align and before resize)"));
      }
    }
    std::vector<cv::Rect> boxes;
    cv::Mat keep;  // CV_8UC1 of `size`, 255 where the regions are
    try {
      regions(lm, size, boxes, keep);
    } catch (const ValueError& e) {
      // Degenerate landmarks (both eye corners on one point) are a failed fit of this sample.
      throw SampleError(detail::concat("roi: sample ", sample.id, ": ", e.message()));
    }
    cv::Mat rois(static_cast<int>(boxes.size()), 4, CV_32SC1);
    for (int i = 0; i < rois.rows; ++i) {
      const auto& b = boxes[static_cast<std::size_t>(i)];
      rois.at<int>(i, 0) = b.x, rois.at<int>(i, 1) = b.y, rois.at<int>(i, 2) = b.width, rois.at<int>(i, 3) = b.height;
    }
    if (o_.apply == "crop" && o_.size == 0) {
      for (const auto& b : boxes) {
        if (b.size() != boxes.front().size()) {
          throw SampleError(detail::concat("roi: regions of sample ", sample.id, " differ in size (", b.width, "x",
                                           b.height, " vs ", boxes.front().width, "x", boxes.front().height,
                                           "); give `size` to resize the crops to one size"));
        }
      }
    }
    // Only the eye-and-cheek mask is not a union of boxes, so only its crops must be masked first.
    const bool mask_before_crop = o_.method == "eye_cheek_mask";
    for (const auto& key : o_.keys) {
      auto frames = item.frames(key);
      if (o_.apply == "mask" || mask_before_crop) {
        for (auto& f : frames) {
          f = f.clone();
          f.setTo(cv::Scalar::all(0), ~keep);
        }
      }
      if (o_.apply == "mask") {
        item.set_frames(key, std::move(frames));
        continue;
      }
      // Region-major: all frames of region 0, then of region 1, ...
      std::vector<cv::Mat> crops;
      crops.reserve(boxes.size() * frames.size());
      for (std::size_t r = 0; r < boxes.size(); ++r) {
        for (const auto& f : frames) crops.push_back(crop(f, boxes[r], key, sample));
      }
      item.set_sequence(key, std::move(crops));
    }
    item.set("rois", rois);
  }

 private:
  cv::Size entry_size(const Item& item, const SampleMeta& sample) const {
    cv::Size size;
    for (const auto& key : o_.keys) {
      const auto frames = item.frames(key);
      if (frames.empty() || frames.front().empty()) {
        throw SampleError(detail::concat("roi: item entry '", key, "' of sample ", sample.id, " is empty"));
      }
      const cv::Mat& m = frames.front();
      if (size.area() == 0) size = m.size();
      if (m.size() != size) {
        throw SampleError(detail::concat("roi: entries of sample ", sample.id, " differ in size: '", key, "' is ", m.cols,
                                         "x", m.rows, ", '", o_.keys.front(), "' is ", size.width, "x", size.height));
      }
      for (const auto& f : frames) {
        if (f.size() != size) {
          throw SampleError(detail::concat("roi: frames of '", key, "' of sample ", sample.id, " differ in size"));
        }
      }
    }
    return size;
  }

  void regions(const std::vector<cv::Point2f>& lm, cv::Size size, std::vector<cv::Rect>& boxes, cv::Mat& keep) const {
    keep = cv::Mat(size, CV_8UC1, cv::Scalar(0));
    if (o_.method == "grid") {
      boxes = grid_blocks(size, o_.rows, o_.cols);
    } else if (o_.method == "heatmap") {
      const auto all = grid_blocks(size, o_.rows, o_.cols);
      for (int i : hot_blocks_) boxes.push_back(all[static_cast<std::size_t>(i)]);
    } else if (o_.method == "facs") {
      for (const auto& r : facs_regions(lm)) boxes.push_back(r.box);
    } else if (o_.method == "eyes_mouth") {
      for (const auto& r : eyes_mouth_regions(lm, o_.margin)) boxes.push_back(r.box);
    } else if (o_.method == "landmark_patches") {
      for (const auto& r : landmark_patches(lm, o_.landmarks, o_.patch_size)) boxes.push_back(r.box);
    } else {  // eye_cheek_mask
      keep = eye_cheek_mask(lm, size, o_.margin);
      std::vector<cv::Point> nonzero;
      cv::findNonZero(keep, nonzero);
      boxes.push_back(nonzero.empty() ? cv::Rect(0, 0, size.width, size.height) : cv::boundingRect(nonzero));
      return;
    }
    const cv::Rect image(0, 0, size.width, size.height);
    for (const auto& b : boxes) keep(b & image).setTo(255);
  }

  cv::Mat crop(const cv::Mat& f, const cv::Rect& box, const std::string& key, const SampleMeta& sample) const {
    const cv::Rect inside = box & cv::Rect(0, 0, f.cols, f.rows);
    if (inside.area() == 0) {
      throw SampleError(detail::concat("roi: region (", box.x, ", ", box.y, ", ", box.width, "x", box.height,
                                       ") lies outside the ", f.cols, "x", f.rows, " entry '", key, "' of sample ",
                                       sample.id));
    }
    // Regions that reach past the image (a mouth corner near the crop's edge) are padded by replicating
    // the border, so every crop has its box's size and its centre where the region's centre is.
    cv::Mat out;
    cv::copyMakeBorder(f(inside), out, inside.y - box.y, box.br().y - inside.br().y, inside.x - box.x,
                       box.br().x - inside.br().x, cv::BORDER_REPLICATE);
    if (o_.size == 0 || (out.cols == o_.size && out.rows == o_.size)) return out;
    cv::Mat resized;
    const bool shrink = out.cols > o_.size || out.rows > o_.size;
    cv::resize(out, resized, cv::Size(o_.size, o_.size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    // A 2-channel float entry is a displacement field: its vectors follow the grid (as in resize).
    if (resized.channels() == 2 && resized.depth() == CV_32F) {
      cv::multiply(resized, cv::Scalar(static_cast<double>(o_.size) / out.cols, static_cast<double>(o_.size) / out.rows),
                   resized);
    }
    return resized;
  }

  RoiOptions o_;
  std::vector<int> hot_blocks_;
  std::string heatmap_hash_;
};

// ---------------------------------------------------------------- landmark_map

// Landmark heat maps as an input channel: the shape of the face (and, from onset to apex, its change) as
// a dense image a network can stack with flow, encoded as pose estimation encodes keypoints (Tompson et
// al. 2014): a Gaussian per point, so a small landmark error is a small change of the input.
class LandmarkMapStage final : public Stage {
 public:
  explicit LandmarkMapStage(LandmarkMapOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "landmark_map"; }
  std::vector<std::string> reads() const override { return {"landmarks", o_.frame}; }
  std::vector<std::string> writes() const override {
    std::vector<std::string> w = {o_.output};
    if (o_.groups) w.push_back(o_.output + "_groups");
    return w;
  }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"frame", o_.frame},
                              {"size", std::to_string(o_.size)},
                              {"sigma", fingerprint_value(o_.sigma)},
                              {"combine", o_.combine},
                              {"groups", o_.groups ? "true" : "false"},
                              {"output", o_.output}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    auto lm = landmark_points(item, sample, "landmark_map");
    const auto frames = item.frames(o_.frame);
    const cv::Mat frame = frames.empty() ? cv::Mat() : frames.front();
    if (frame.empty()) {
      throw SampleError(detail::concat("landmark_map: item entry '", o_.frame, "' of sample ", sample.id, " is empty"));
    }
    const cv::Size out(o_.size > 0 ? o_.size : frame.cols, o_.size > 0 ? o_.size : frame.rows);
    // Landmarks are in the frame's pixels; pixel centres map to pixel centres.
    const float sx = static_cast<float>(out.width) / frame.cols, sy = static_cast<float>(out.height) / frame.rows;
    for (auto& p : lm) p = cv::Point2f((p.x + 0.5f) * sx - 0.5f, (p.y + 0.5f) * sy - 0.5f);
    item.set(o_.output, landmark_heatmap(lm, out, o_.sigma, o_.combine));
    if (o_.groups) {
      // The five parts of dlib's 68-point scheme, each its own channel so a network can weigh them.
      static const std::vector<std::vector<int>> parts = {range(17, 26), range(36, 47), range(27, 35), range(48, 67),
                                                          range(0, 16)};
      std::vector<cv::Mat> maps;
      for (const auto& part : parts) {
        std::vector<cv::Point2f> pts;
        for (int i : part) pts.push_back(lm[static_cast<std::size_t>(i)]);
        maps.push_back(landmark_heatmap(pts, out, o_.sigma, o_.combine));
      }
      item.set_sequence(o_.output + "_groups", std::move(maps));
    }
  }

 private:
  LandmarkMapOptions o_;
};

}  // namespace

// ---------------------------------------------------------------- geometry (regions.hpp)

std::vector<cv::Rect> grid_blocks(cv::Size size, int rows, int cols) {
  MER_CHECK(rows >= 1 && rows <= size.height && cols >= 1 && cols <= size.width, ValueError,
            "grid_blocks: a ", rows, "x", cols, " grid needs 1 <= rows <= height and 1 <= cols <= width of a ",
            size.width, "x", size.height, " image");
  auto edge = [](int i, int n, int length) {
    return static_cast<int>(std::lround(static_cast<double>(i) * length / n));
  };
  std::vector<cv::Rect> blocks;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int x0 = edge(c, cols, size.width), x1 = edge(c + 1, cols, size.width);
      const int y0 = edge(r, rows, size.height), y1 = edge(r + 1, rows, size.height);
      blocks.emplace_back(x0, y0, x1 - x0, y1 - y0);
    }
  }
  return blocks;
}

double interocular_distance(const std::vector<cv::Point2f>& landmarks) {
  check_68(landmarks, "interocular_distance");
  const double d = cv::norm(landmarks[45] - landmarks[36]);
  MER_CHECK(d > 1e-3 && std::isfinite(d), ValueError, "interocular_distance: the outer eye corners (36, 45) are ", d,
            " px apart");
  return d;
}

const std::vector<std::string>& facs_region_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& r : facs_table()) n.emplace_back(r.name);
    return n;
  }();
  return names;
}

std::vector<FaceRegion> facs_regions(const std::vector<cv::Point2f>& landmarks) {
  const double iod = interocular_distance(landmarks);
  std::vector<FaceRegion> out;
  for (const auto& r : facs_table()) out.push_back({r.name, grown_box(landmarks, r.landmarks, r.margin * iod)});
  return out;
}

std::vector<std::vector<cv::Point>> eye_polygons(const std::vector<cv::Point2f>& landmarks, double margin) {
  const double push = margin * interocular_distance(landmarks);
  std::vector<std::vector<cv::Point>> polygons;
  for (int first : {36, 42}) {
    cv::Point2f c(0, 0);
    for (int i = first; i < first + 6; ++i) c += landmarks[static_cast<std::size_t>(i)] / 6.f;
    std::vector<cv::Point> poly;
    for (int i = first; i < first + 6; ++i) {
      const cv::Point2f p = landmarks[static_cast<std::size_t>(i)];
      const cv::Point2f d = p - c;
      const double n = cv::norm(d);
      const cv::Point2f q = n > 1e-6 ? p + d * static_cast<float>(push / n) : p;
      poly.emplace_back(static_cast<int>(std::lround(q.x)), static_cast<int>(std::lround(q.y)));
    }
    polygons.push_back(std::move(poly));
  }
  return polygons;
}

// Liong et al. (2018, Bi-WOOF) mask the eyes before pooling flow: a blink moves the lids by several pixels,
// far more than a micro-expression moves any skin, and it carries no emotion. Outside the face (hull of
// the landmarks) is background, zeroed too, so that only skin motion remains.
cv::Mat eye_cheek_mask(const std::vector<cv::Point2f>& landmarks, cv::Size size, double margin) {
  MER_CHECK(margin >= 0 && std::isfinite(margin), ValueError, "eye_cheek_mask: margin must be >= 0, got ", margin);
  const auto eyes = eye_polygons(landmarks, margin);
  cv::Mat mask(size, CV_8UC1, cv::Scalar(0));
  std::vector<cv::Point> points, hull;
  for (const auto& p : landmarks) points.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  cv::convexHull(points, hull);
  cv::fillConvexPoly(mask, hull, cv::Scalar(255));
  // fillPoly covers the outline too, so every eye landmark itself is masked.
  cv::fillPoly(mask, eyes, cv::Scalar(0));
  return mask;
}

// Most micro-expression AUs act around the eyes and brows (AU1, 2, 4, 6, 7) or the mouth (AU10-17), so
// Liong et al. (2018, hybrid facial regions) keep only those parts and drop the rest of the face's noise.
std::vector<FaceRegion> eyes_mouth_regions(const std::vector<cv::Point2f>& landmarks, double margin) {
  const double m = margin * interocular_distance(landmarks);
  auto join = [](std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  return {{"eye_brow_left", grown_box(landmarks, join(range(17, 21), range(36, 41)), m)},
          {"eye_brow_right", grown_box(landmarks, join(range(22, 26), range(42, 47)), m)},
          {"mouth", grown_box(landmarks, range(48, 67), m)}};
}

std::vector<FaceRegion> landmark_patches(const std::vector<cv::Point2f>& landmarks, const std::vector<int>& indices,
                                         int patch_size) {
  check_68(landmarks, "landmark_patches");
  MER_CHECK(patch_size >= 1, ValueError, "landmark_patches: patch_size must be >= 1, got ", patch_size);
  std::vector<FaceRegion> out;
  for (int i : indices) {
    MER_CHECK(i >= 0 && i < 68, ValueError, "landmark_patches: landmark index must be in 0..67, got ", i);
    const auto& p = landmarks[static_cast<std::size_t>(i)];
    const int x = static_cast<int>(std::lround(p.x)) - patch_size / 2, y = static_cast<int>(std::lround(p.y)) - patch_size / 2;
    out.push_back({"landmark_" + std::to_string(i), cv::Rect(x, y, patch_size, patch_size)});
  }
  return out;
}

const std::vector<int>& default_patch_landmarks() {
  static const std::vector<int> ids = {17, 19, 21, 22, 24, 26, 36, 39, 42, 45, 30, 48, 51, 54, 57};
  return ids;
}

cv::Mat motion_heatmap(const std::vector<cv::Mat>& magnitudes) {
  MER_CHECK(!magnitudes.empty(), ValueError, "motion_heatmap: no magnitude maps given");
  const cv::Size size = magnitudes.front().size();
  cv::Mat sum(size, CV_64FC1, cv::Scalar(0));
  for (std::size_t i = 0; i < magnitudes.size(); ++i) {
    const cv::Mat& m = magnitudes[i];
    MER_CHECK(m.size() == size, ValueError, "motion_heatmap: map ", i, " is ", m.cols, "x", m.rows, ", map 0 is ",
              size.width, "x", size.height);
    MER_CHECK(m.type() == CV_32FC1 || m.type() == CV_32FC2, ValueError, "motion_heatmap: map ", i,
              " must be CV_32FC1 (magnitude) or CV_32FC2 (flow), got type ", m.type());
    cv::Mat mag = m;
    if (m.channels() == 2) {
      cv::Mat uv[2];
      cv::split(m, uv);
      cv::magnitude(uv[0], uv[1], mag);
    }
    cv::accumulate(mag, sum);
  }
  cv::Mat mean;
  sum.convertTo(mean, CV_32F, 1.0 / static_cast<double>(magnitudes.size()));
  return mean;
}

void write_heatmap(const std::filesystem::path& file, const cv::Mat& heatmap) {
  MER_CHECK(heatmap.type() == CV_32FC1 && !heatmap.empty(), ValueError, "write_heatmap: expected a non-empty CV_32FC1 map, got type ",
            heatmap.type());
  const std::string ext = lower_extension(file);
  bool ok = false;
  try {
    if (is_file_storage(ext)) {
      cv::FileStorage fs(file.string(), cv::FileStorage::WRITE);
      ok = fs.isOpened();
      if (ok) fs << "heatmap" << heatmap;
    } else if (ext == ".png") {
      double hi = 0;
      cv::minMaxLoc(heatmap, nullptr, &hi);
      cv::Mat img;
      heatmap.convertTo(img, CV_16U, hi > 0 ? 65535.0 / hi : 0.0);
      ok = cv::imwrite(file.string(), img);
    } else if (ext == ".exr") {
      ok = cv::imwrite(file.string(), heatmap);
    } else {
      throw IoError(detail::concat("write_heatmap: ", file.string(), ": unknown extension '", ext,
                                   "' (expected .yml, .yaml, .xml, .json, .png or .exr)"));
    }
  } catch (const cv::Exception& e) {
    throw IoError(detail::concat("write_heatmap: cannot write ", file.string(), ": ", e.what()));
  }
  if (!ok) throw IoError(detail::concat("write_heatmap: cannot write ", file.string()));
}

cv::Mat read_heatmap(const std::filesystem::path& file) {
  const std::string ext = lower_extension(file);
  cv::Mat m;
  try {
    if (is_file_storage(ext)) {
      cv::FileStorage fs(file.string(), cv::FileStorage::READ);
      if (!fs.isOpened()) throw IoError(detail::concat("read_heatmap: cannot open ", file.string()));
      fs["heatmap"] >> m;
      if (m.empty()) throw IoError(detail::concat("read_heatmap: ", file.string(), " has no matrix node 'heatmap'"));
    } else {
      m = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
      if (m.empty()) throw IoError(detail::concat("read_heatmap: cannot read image ", file.string()));
    }
  } catch (const cv::Exception& e) {
    throw IoError(detail::concat("read_heatmap: cannot read ", file.string(), ": ", e.what()));
  }
  if (m.channels() != 1) {
    throw IoError(detail::concat("read_heatmap: ", file.string(), " has ", m.channels(), " channels, expected 1"));
  }
  cv::Mat out;
  m.convertTo(out, CV_32F);
  return out;
}

std::vector<int> hottest_blocks(const cv::Mat& heatmap, int rows, int cols, int top_k) {
  MER_CHECK(heatmap.type() == CV_32FC1, ValueError, "hottest_blocks: expected a CV_32FC1 heat map, got type ",
            heatmap.type());
  MER_CHECK(top_k >= 1 && top_k <= rows * cols, ValueError, "hottest_blocks: top_k must be in 1..", rows * cols,
            ", got ", top_k);
  const auto blocks = grid_blocks(heatmap.size(), rows, cols);
  std::vector<double> heat;
  for (const auto& b : blocks) heat.push_back(cv::mean(heatmap(b))[0]);
  std::vector<int> order(blocks.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return heat[static_cast<std::size_t>(a)] > heat[static_cast<std::size_t>(b)]; });
  order.resize(static_cast<std::size_t>(top_k));
  return order;
}

cv::Mat landmark_heatmap(const std::vector<cv::Point2f>& points, cv::Size size, double sigma, const std::string& combine) {
  MER_CHECK(sigma > 0 && std::isfinite(sigma), ValueError, "landmark_heatmap: sigma must be > 0, got ", sigma);
  MER_CHECK(combine == "sum" || combine == "max", ValueError, "landmark_heatmap: combine must be sum or max, got '",
            combine, "'");
  cv::Mat map(size, CV_32FC1, cv::Scalar(0));
  // Beyond 4 sigma a bump is below 3.4e-4 of its peak: not worth the work on a 68-point map.
  const int reach = static_cast<int>(std::ceil(4 * sigma));
  const double inv = 1.0 / (2 * sigma * sigma);
  for (const auto& p : points) {
    const int cx = static_cast<int>(std::lround(p.x)), cy = static_cast<int>(std::lround(p.y));
    for (int y = std::max(cy - reach, 0); y <= std::min(cy + reach, size.height - 1); ++y) {
      float* row = map.ptr<float>(y);
      for (int x = std::max(cx - reach, 0); x <= std::min(cx + reach, size.width - 1); ++x) {
        const double dx = x - p.x, dy = y - p.y;
        const float v = static_cast<float>(std::exp(-(dx * dx + dy * dy) * inv));
        row[x] = combine == "sum" ? row[x] + v : std::max(row[x], v);
      }
    }
  }
  return map;
}

// ---------------------------------------------------------------- options

RoiOptions RoiOptions::from_config(const ConfigNode& node) {
  RoiOptions o;
  o.method = node.get("method", o.method);
  node.check_choice("method", o.method, {"grid", "facs", "eye_cheek_mask", "eyes_mouth", "heatmap", "landmark_patches"});
  o.apply = node.get("apply", o.apply);
  node.check_choice("apply", o.apply, {"mask", "crop"});
  o.keys = node.get("keys", o.keys);
  MER_CHECK(!o.keys.empty(), ConfigError, node.where("keys"), ": '", node.key_path("keys"),
            "' must list at least one entry");
  for (const auto& k : o.keys) {
    MER_CHECK(k != "landmarks" && k != "rois", ConfigError, node.where("keys"), ": '", node.key_path("keys"),
              "' lists '", k, "', which is not an image");
  }
  // Only the chosen method's parameters are read (as in flow): a stray `rows:` under facs fails as an
  // unknown key instead of silently doing nothing.
  if (o.apply == "crop") {
    o.size = node.get("size", o.size);
    MER_CHECK(o.size >= 0 && o.size <= 4096, ConfigError, node.where("size"), ": '", node.key_path("size"),
              "' must be in [0, 4096] (0 = keep each region's size), got ", o.size);
    MER_CHECK(o.size > 0 || o.method == "grid" || o.method == "heatmap" || o.method == "landmark_patches" ||
                  o.method == "eye_cheek_mask",
              ConfigError, node.where("size"), ": method '", o.method,
              "' gives regions of different sizes, so apply: crop needs `size` (the side crops are resized to)");
  }
  if (o.method == "grid" || o.method == "heatmap") {
    o.rows = node.get("rows", o.rows);
    o.cols = node.get("cols", o.cols);
    MER_CHECK(o.rows >= 1 && o.rows <= 256, ConfigError, node.where("rows"), ": '", node.key_path("rows"),
              "' must be in [1, 256], got ", o.rows);
    MER_CHECK(o.cols >= 1 && o.cols <= 256, ConfigError, node.where("cols"), ": '", node.key_path("cols"),
              "' must be in [1, 256], got ", o.cols);
  }
  if (o.method == "eye_cheek_mask" || o.method == "eyes_mouth") {
    o.margin = node.get("margin", o.margin);
    MER_CHECK(o.margin >= 0 && o.margin <= 1, ConfigError, node.where("margin"), ": '", node.key_path("margin"),
              "' must be in [0, 1] inter-ocular distances, got ", o.margin);
  }
  if (o.method == "heatmap") {
    o.heatmap = node.required_path("heatmap");
    MER_CHECK(std::filesystem::is_regular_file(o.heatmap), ConfigError, node.where("heatmap"), ": '",
              node.key_path("heatmap"), "' names ", o.heatmap.string(), ", which is not a file");
    o.top_k = node.get("top_k", o.top_k);
    MER_CHECK(o.top_k >= 1 && o.top_k <= o.rows * o.cols, ConfigError, node.where("top_k"), ": '",
              node.key_path("top_k"), "' must be in [1, rows * cols = ", o.rows * o.cols, "], got ", o.top_k);
  }
  if (o.method == "landmark_patches") {
    o.landmarks = node.get("landmarks", o.landmarks);
    MER_CHECK(!o.landmarks.empty(), ConfigError, node.where("landmarks"), ": '", node.key_path("landmarks"),
              "' must list at least one landmark index");
    for (int i : o.landmarks) {
      MER_CHECK(i >= 0 && i < 68, ConfigError, node.where("landmarks"), ": '", node.key_path("landmarks"),
                "' holds ", i, "; indices are 0..67 (dlib's 68 points)");
    }
    o.patch_size = node.get("patch_size", o.patch_size);
    MER_CHECK(o.patch_size >= 2 && o.patch_size <= 1024, ConfigError, node.where("patch_size"), ": '",
              node.key_path("patch_size"), "' must be in [2, 1024], got ", o.patch_size);
  }
  return o;
}

LandmarkMapOptions LandmarkMapOptions::from_config(const ConfigNode& node) {
  LandmarkMapOptions o;
  o.frame = node.get("frame", o.frame);
  o.size = node.get("size", o.size);
  MER_CHECK(o.size >= 0 && o.size <= 4096, ConfigError, node.where("size"), ": '", node.key_path("size"),
            "' must be in [0, 4096] (0 = the frame's size), got ", o.size);
  o.sigma = node.get("sigma", o.sigma);
  MER_CHECK(o.sigma > 0 && o.sigma <= 100, ConfigError, node.where("sigma"), ": '", node.key_path("sigma"),
            "' must be in (0, 100] pixels, got ", o.sigma);
  o.combine = node.get("combine", o.combine);
  node.check_choice("combine", o.combine, {"max", "sum"});
  o.groups = node.get("groups", o.groups);
  o.output = node.get("output", o.output);
  MER_CHECK(!o.output.empty() && o.output != "landmarks" && o.output != o.frame, ConfigError, node.where("output"),
            ": '", node.key_path("output"), "' must name a new entry, got '", o.output, "'");
  return o;
}

std::unique_ptr<Stage> make_roi_stage(RoiOptions options) {
  try {
    return std::make_unique<RoiStage>(std::move(options));
  } catch (const IoError& e) {
    // A heat map that cannot be read is a mistake in the config, found before any frame is decoded.
    throw ConfigError(detail::concat("roi: ", e.message()));
  }
}
std::unique_ptr<Stage> make_landmark_map_stage(LandmarkMapOptions options) {
  return std::make_unique<LandmarkMapStage>(std::move(options));
}

}  // namespace mer
