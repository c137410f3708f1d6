// Stages that read frames and find, describe and register the face: frames, detect_face, landmarks, align.
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/frames.hpp>
#include <mer/preprocess/face.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace mer {

namespace {

using detail::fingerprint_value;
using detail::stage_fingerprint;

const std::vector<std::string> kAnnotatedFrames = {"onset", "apex", "offset"};

int frame_number(const SampleMeta& sample, const std::string& which) {
  if (which == "onset") return sample.onset;
  if (which == "apex") return sample.apex;
  return sample.offset;
}

// ---------------------------------------------------------------- frames

class FramesStage final : public Stage {
 public:
  explicit FramesStage(FramesOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "frames"; }
  std::vector<std::string> reads() const override { return {}; }
  std::vector<std::string> writes() const override {
    auto w = o_.frames;
    if (o_.clip) w.insert(w.end(), {"clip", "clip_frames"});
    return w;
  }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {{"frames", fingerprint_value(o_.frames)}, {"color", o_.color}};
    if (o_.clip) {
      opts.insert(opts.end(), {{"clip_from", o_.clip_from}, {"clip_to", o_.clip_to},
                               {"max_clip_frames", std::to_string(o_.max_clip_frames)}});
    }
    return stage_fingerprint(type(), "v1", opts);
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto mode = o_.color == "color" ? ColorMode::Color : ColorMode::Gray;
    cv::Size size;
    std::string size_of;
    // Every frame of a sample must have one size: registration and flow compare them pixel by pixel.
    auto load = [&](int n, const std::string& what) {
      cv::Mat m;
      try {
        m = load_frame(sample, n, mode);
      } catch (const SampleError&) {
        throw;
      } catch (const DataError& e) {
        // A missing or corrupt frame is a property of this sample, not of the run: let on_error decide.
        throw SampleError(e.what());
      }
      if (size_of.empty()) {
        size = m.size(), size_of = what;
      } else if (m.size() != size) {
        throw SampleError(detail::concat("sample ", sample.id, ": ", what, " is ", m.cols, "x", m.rows, " but the ",
                                         size_of, " is ", size.width, "x", size.height,
                                         " (every frame of a clip must have one size)"));
      }
      return m;
    };
    for (const auto& name : o_.frames) {
      const int n = known_frame(sample, name);
      item.set(name, load(n, detail::concat(name, " frame (", n, ")")));
    }
    if (o_.clip) {
      const int from = known_frame(sample, o_.clip_from), to = known_frame(sample, o_.clip_to);
      if (to < from) {
        throw SampleError(detail::concat("sample ", sample.id, ": empty clip, ", o_.clip_from, " ", from, " is after ",
                                         o_.clip_to, " ", to));
      }
      const int count = to - from + 1;
      if (o_.max_clip_frames > 0 && count > o_.max_clip_frames) {
        throw SampleError(detail::concat("sample ", sample.id, ": clip ", from, "..", to, " has ", count,
                                         " frames, more than max_clip_frames = ", o_.max_clip_frames));
      }
      std::vector<cv::Mat> frames;
      frames.reserve(static_cast<std::size_t>(count));
      cv::Mat numbers(1, count, CV_32SC1);
      for (int n = from; n <= to; ++n) {
        frames.push_back(load(n, detail::concat("frame ", n)));
        numbers.at<int>(0, n - from) = n;
      }
      item.set_sequence("clip", std::move(frames));
      item.set("clip_frames", numbers);
    }
  }

 private:
  int known_frame(const SampleMeta& sample, const std::string& name) const {
    const int n = frame_number(sample, name);
    if (n < 0) {
      // CASME II and SAMM mark some apexes "/"; such clips cannot give an onset-apex pair.
      throw SampleError(detail::concat("sample ", sample.id, ": ", name, " unknown (the annotation",
                                       sample.source.empty() ? std::string() : " at " + sample.source, " gives no ",
                                       name, " frame",
                                       name == "apex" ? "; read only the onset here and add an apex_spot stage after detect_face" : "",
                                       ")"));
    }
    return n;
  }

  FramesOptions o_;
};

// ---------------------------------------------------------------- detect_face

cv::Rect2f face_box(const cv::Mat& m) {
  const auto* p = m.ptr<float>(0);
  return {p[0], p[1], p[2], p[3]};
}

// The size of a model file stands in for its content in fingerprints: a different model gives different
// output. 0 when unreadable (the loader reports that).
std::string file_bytes(const std::filesystem::path& file) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(file, ec);
  return std::to_string(ec ? 0 : n);
}

std::unique_ptr<FaceDetector> make_detector(const DetectFaceOptions& o) {
  if (o.detector == "hog") return std::make_unique<HogFaceDetector>(o.upsample_below, o.min_confidence, o.downscale_above);
  if (o.detector == "mmod") return make_mmod_face_detector(o.model, o.upsample_below, o.min_confidence, o.downscale_above);
  CascadeDetectorParams p;
  p.scale_factor = o.scale_factor;
  p.min_neighbors = o.min_neighbors;
  p.min_size = o.min_size;
  p.box_scale = o.box_scale;
  p.box_shift = o.box_shift;
  return std::make_unique<CascadeFaceDetector>(o.cascade, p);
}

// A fallback detector by name, with its stock settings.
std::unique_ptr<FaceDetector> make_fallback(const std::string& name, const DetectFaceOptions& primary) {
  if (name == "hog_upsampled") return std::make_unique<HogFaceDetector>(1 << 30, primary.min_confidence);  // every frame
  DetectFaceOptions o;
  o.detector = name;
  o.cascade = name == "haar" ? kHaarFrontalFace : kLbpFrontalFace;
  const auto measured = name == "haar" ? haar_frontal_params() : lbp_frontal_params();
  o.box_scale = measured.box_scale;
  o.box_shift = measured.box_shift;
  return make_detector(o);
}

class DetectFaceStage final : public Stage {
 public:
  // The detector (and its model) is loaded when the stage is built, so a bad file fails before any frame.
  explicit DetectFaceStage(DetectFaceOptions o) : o_(std::move(o)), detector_(make_detector(o_)) {
    for (const auto& f : o_.fallback) fallbacks_.emplace_back(f, make_fallback(f, o_));
  }
  std::string type() const override { return "detect_face"; }
  std::vector<std::string> reads() const override { return {o_.frame}; }
  std::vector<std::string> writes() const override { return {"face"}; }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {{"frame", o_.frame}, {"detector", o_.detector}};
    if (o_.detector == "hog" || o_.detector == "mmod") {
      opts.insert(opts.end(), {{"upsample_below", std::to_string(o_.upsample_below)},
                               {"downscale_above", std::to_string(o_.downscale_above)},
                               {"min_confidence", fingerprint_value(o_.min_confidence)}});
    }
    if (o_.detector == "mmod") {
      opts.insert(opts.end(), {{"model", o_.model.string()}, {"model_bytes", file_bytes(o_.model)}});
    }
    if (o_.detector == "haar" || o_.detector == "lbp") {
      opts.insert(opts.end(), {{"cascade", o_.cascade.string()},
                               {"cascade_bytes", file_bytes(o_.cascade)},
                               {"scale_factor", fingerprint_value(o_.scale_factor)},
                               {"min_neighbors", std::to_string(o_.min_neighbors)},
                               {"min_size", fingerprint_value(o_.min_size)},
                               {"box_scale", fingerprint_value(o_.box_scale)},
                               {"box_shift", fingerprint_value(o_.box_shift)}});
    }
    std::string chain;
    for (const auto& f : o_.fallback) chain += f + ",";
    std::string policies;
    for (const auto& p : o_.no_face) policies += p + ",";
    opts.insert(opts.end(), {{"fallback", chain}, {"no_face", policies}});
    if (uses("nearest_frame")) opts.push_back({"search_frames", std::to_string(o_.search_frames)});
    // v2: samples record which detector served them (Item::notes), so v1 cache entries, which lack it, are
    // computed again.
    return stage_fingerprint(type(), "v2", opts);
  }
  // The detector, then its fallbacks; `served_by` names the one that found the face (or the last tried).
  std::optional<FaceDetection> detect_with_chain(const cv::Mat& frame, const SampleMeta& sample, std::string& served_by) const {
    served_by = o_.detector;
    auto face = detector_->detect_largest(frame);
    for (std::size_t k = 0; !face && k < fallbacks_.size(); ++k) {
      face = fallbacks_[k].second->detect_largest(frame);
      served_by = fallbacks_[k].first;
      if (face) logger()->debug("{}: no face by {}; {} found one", sample.id, o_.detector, fallbacks_[k].first);
    }
    return face;
  }

  bool uses(const std::string& policy) const {
    return std::find(o_.no_face.begin(), o_.no_face.end(), policy) != o_.no_face.end();
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    // Micro-expression clips show one subject filling the frame, so the largest face is the subject's.
    const cv::Mat& frame = item.at(o_.frame);
    std::string served_by;
    auto face = detect_with_chain(frame, sample, served_by);
    if (face && served_by != o_.detector) logger()->info("{}: no face by {}; {} found one", sample.id, o_.detector, served_by);
    for (const auto& policy : o_.no_face) {
      if (face) break;
      if (policy == "nearest_frame") nearest_frame(sample, frame, face, served_by);
      if (policy == "whole_frame") {
        logger()->warn("{}: no detector found a face; the whole {} frame is taken as the face box", sample.id, o_.frame);
        face = FaceDetection{cv::Rect2f(0, 0, static_cast<float>(frame.cols), static_cast<float>(frame.rows)), 0.0};
        served_by = "whole_frame";
      }
      if (policy == "skip") {
        item.notes["face_detector"] = "none";
        throw SkipSample(no_face_message(sample) + "; no_face: skip leaves it out");
      }
    }
    item.notes["face_detector"] = face ? served_by : "none";
    if (!face) throw SampleError(no_face_message(sample));
    item.set("face", (cv::Mat_<float>(1, 4) << face->box.x, face->box.y, face->box.width, face->box.height));
  }

 private:
  std::string no_face_message(const SampleMeta& sample) const {
    const bool cascade = o_.detector == "haar" || o_.detector == "lbp";
    return detail::concat("no face found in the ", o_.frame, " frame of sample ", sample.id, " (", o_.detector,
                          " detector", o_.fallback.empty() ? "" : " and fallbacks", ", ",
                          cascade ? detail::concat("min_neighbors ", o_.min_neighbors)
                                  : detail::concat("min_confidence ", o_.min_confidence),
                          ")");
  }

  void nearest_frame(const SampleMeta& sample, const cv::Mat& frame, std::optional<FaceDetection>& face,
                     std::string& served_by) const {
    // The clip's neighbouring frames, nearest first, alternately after and before.
    const int at = o_.frame == "onset" ? sample.onset : o_.frame == "apex" ? sample.apex : sample.offset;
    for (int d = 1; !face && at >= 0 && d <= o_.search_frames; ++d)
      for (const int f : {at + d, at - d}) {
        const int last = sample.offset >= 0 ? sample.offset : std::numeric_limits<int>::max();
        if (face || f < std::max(0, sample.onset) || f > last) continue;
        cv::Mat other;
        try {
          other = load_frame(sample, f, frame.channels() == 1 ? ColorMode::Gray : ColorMode::Color);
        } catch (const DataError&) {
          continue;  // a missing neighbour is no reason to fail: the next one may do
        }
        if (other.size() != frame.size()) continue;
        face = detect_with_chain(other, sample, served_by);
        if (face) {
          logger()->info("{}: no face in the {} frame; {} found one in frame {}", sample.id, o_.frame, served_by, f);
          served_by += "@frame" + std::to_string(f);
        }
      }
  }

  DetectFaceOptions o_;
  std::unique_ptr<FaceDetector> detector_;
  std::vector<std::pair<std::string, std::unique_ptr<FaceDetector>>> fallbacks_;
};

// ---------------------------------------------------------------- landmarks

class LandmarksStage final : public Stage {
 public:
  // The model is loaded when the stage is built so that a wrong path fails before any frame is read.
  explicit LandmarksStage(LandmarksOptions o) : o_(std::move(o)), detector_(shared_landmark_detector(o_.model)) {
    std::error_code ec;
    model_size_ = std::filesystem::file_size(o_.model, ec);
  }
  std::string type() const override { return "landmarks"; }
  std::vector<std::string> reads() const override { return {o_.frame, "face"}; }
  std::vector<std::string> writes() const override { return {"landmarks"}; }
  std::string fingerprint() const override {
    // The file size stands in for the model's content: a different predictor gives different points.
    return stage_fingerprint(type(), "v1",
                             {{"frame", o_.frame}, {"model", o_.model.string()}, {"model_bytes", std::to_string(model_size_)}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& f = item.at("face");
    if (f.type() != CV_32FC1 || f.total() != 4) {
      throw InternalError(detail::concat("item entry 'face' must be CV_32FC1 1x4, got type ", f.type(), " with ",
                                         f.total(), " elements"));
    }
    const auto points = detector_->detect(item.at(o_.frame), face_box(f));
    cv::Mat m(static_cast<int>(points.size()), 1, CV_32FC2);
    for (int i = 0; i < m.rows; ++i) m.at<cv::Vec2f>(i) = cv::Vec2f(points[i].x, points[i].y);
    item.set("landmarks", m);
  }

 private:
  LandmarksOptions o_;
  std::shared_ptr<const LandmarkDetector> detector_;
  std::uintmax_t model_size_ = 0;
};

// ---------------------------------------------------------------- align

FaceTransform transform_kind(const std::string& name) {
  return name == "affine" ? FaceTransform::Affine : FaceTransform::Similarity;
}

int border_mode(const std::string& padding) {
  if (padding == "constant") return cv::BORDER_CONSTANT;
  // REFLECT_101 mirrors about the edge pixel without repeating it (numpy's "reflect"): no flat seam.
  if (padding == "reflect") return cv::BORDER_REFLECT_101;
  return cv::BORDER_REPLICATE;
}

class AlignStage final : public Stage {
 public:
  explicit AlignStage(AlignOptions o) : o_(std::move(o)) {
    // Loaded when built, like the landmarks stage: a wrong model path fails before any frame is read.
    if (per_frame()) detector_ = shared_landmark_detector(o_.model);
  }
  std::string type() const override { return "align"; }
  std::vector<std::string> reads() const override {
    auto r = o_.frames;
    r.insert(r.begin(), "landmarks");
    if (per_frame()) r.insert(r.begin() + 1, "face");
    return r;
  }
  std::vector<std::string> writes() const override {
    auto w = o_.frames;
    w.push_back("landmarks");
    return w;
  }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {{"frames", fingerprint_value(o_.frames)},
                                                             {"size", std::to_string(o_.size)},
                                                             {"transform", o_.transform},
                                                             {"reference", o_.reference},
                                                             {"padding", o_.padding},
                                                             {"margin", fingerprint_value(o_.margin)}};
    if (per_frame()) {
      opts.insert(opts.end(), {{"smoothing", o_.smoothing},
                               {"smoothing_window", std::to_string(o_.smoothing_window)},
                               {"model", o_.model.string()},
                               {"model_bytes", file_bytes(o_.model)}});
    }
    return stage_fingerprint(type(), "v1", opts);
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& lm = item.at("landmarks");
    if (lm.type() != CV_32FC2 || lm.total() != 68) {
      throw InternalError(detail::concat("item entry 'landmarks' must be CV_32FC2 68x1, got type ", lm.type(), " with ",
                                         lm.total(), " points"));
    }
    std::vector<cv::Point2f> points(lm.begin<cv::Point2f>(), lm.end<cv::Point2f>());
    // With reference: onset, one transform for every frame: registering each frame on its own landmarks
    // would turn landmark jitter into fake motion larger than the micro-expression itself. per_frame
    // registers sequences frame by frame, but on smoothed landmark tracks (see per_frame_transforms).
    const cv::Mat m = fit(sample, points, "the landmarks entry");
    auto warp = [&](const cv::Mat& in, const cv::Mat& t) {
      cv::Mat out;
      // Replicated borders (the default): a face near the image edge gets smeared edge pixels, not black
      // wedges that the flow would read as strong edges moving.
      cv::warpAffine(in, out, t, cv::Size(o_.size, o_.size), cv::INTER_LINEAR, border_mode(o_.padding));
      return out;
    };
    for (const auto& name : o_.frames) {
      if (item.has_sequence(name)) {
        auto& frames = item.seq(name);
        if (per_frame()) {
          const auto ts = per_frame_transforms(sample, name, frames, face_box(checked_face(item)));
          for (std::size_t t = 0; t < frames.size(); ++t) frames[t] = warp(frames[t], ts[t]);
        } else {
          for (auto& frame : frames) frame = warp(frame, m);
        }
      } else {
        item.set(name, warp(item.at(name), m));
      }
    }
    cv::Mat moved;
    cv::transform(lm, moved, m);
    item.set("landmarks", moved);
    if (item.has("face")) {
      // Keep the face box meaningful in the new coordinates: the bounding box of its warped corners.
      const auto b = face_box(item.at("face"));
      std::vector<cv::Point2f> corners = {{b.x, b.y}, {b.x + b.width, b.y}, {b.x, b.y + b.height},
                                          {b.x + b.width, b.y + b.height}};
      cv::transform(corners, corners, m);
      float x0 = corners[0].x, y0 = corners[0].y, x1 = x0, y1 = y0;
      for (const auto& c : corners) {
        x0 = std::min(x0, c.x), y0 = std::min(y0, c.y), x1 = std::max(x1, c.x), y1 = std::max(y1, c.y);
      }
      item.set("face", (cv::Mat_<float>(1, 4) << x0, y0, x1 - x0, y1 - y0));
    }
  }

 private:
  bool per_frame() const { return o_.reference == "per_frame"; }

  const cv::Mat& checked_face(const Item& item) const {
    const auto& f = item.at("face");
    if (f.type() != CV_32FC1 || f.total() != 4) {
      throw InternalError(detail::concat("item entry 'face' must be CV_32FC1 1x4, got type ", f.type(), " with ",
                                         f.total(), " elements"));
    }
    return f;
  }

  cv::Mat fit(const SampleMeta& sample, const std::vector<cv::Point2f>& points, const std::string& what) const {
    try {
      return fit_to_canonical(points, o_.size, transform_kind(o_.transform), o_.margin);
    } catch (const ValueError& e) {
      // Degenerate landmarks come from a bad detection in this sample's frames, not from the config.
      throw SampleError(detail::concat("sample ", sample.id, ": cannot register ", what, ": ", e.what()));
    }
  }

  // Landmarks are found in every frame inside the one face box (a micro-expression clip's head moves a
  // few pixels, well within the box), each landmark's track is smoothed over time, and each frame gets
  // the transform of its smoothed landmarks. Smoothing keeps the slow head drift, which registration
  // should remove, and drops the frame-to-frame jitter of the predictor, which registration would
  // otherwise paint onto the whole face as motion (the reason reference: onset is the default).
  std::vector<cv::Mat> per_frame_transforms(const SampleMeta& sample, const std::string& name,
                                            const std::vector<cv::Mat>& frames, const cv::Rect2f& box) const {
    std::vector<std::vector<cv::Point2f>> tracks;
    tracks.reserve(frames.size());
    for (std::size_t t = 0; t < frames.size(); ++t) {
      if (frames[t].depth() != CV_8U) {
        throw SampleError(detail::concat("sample ", sample.id, ": align with reference: per_frame needs 8-bit frames",
                                         " in '", name, "' (landmarks are found on them), frame ", t, " has depth ",
                                         frames[t].depth(), "; put to_float after align"));
      }
      tracks.push_back(detector_->detect(frames[t], box));
    }
    const auto kind = o_.smoothing == "gaussian"         ? TrackSmoothing::Gaussian
                      : o_.smoothing == "moving_average" ? TrackSmoothing::MovingAverage
                                                         : TrackSmoothing::None;
    const auto smoothed = smooth_tracks(tracks, kind, o_.smoothing_window);
    std::vector<cv::Mat> out;
    out.reserve(frames.size());
    for (std::size_t t = 0; t < frames.size(); ++t) {
      out.push_back(fit(sample, smoothed[t], detail::concat("frame ", t, " of '", name, "'")));
    }
    return out;
  }

  AlignOptions o_;
  std::shared_ptr<const LandmarkDetector> detector_;
};

void check_frame_names(const ConfigNode& node, const std::string& key, const std::vector<std::string>& names,
                       bool annotated_only) {
  if (names.empty()) throw ConfigError(node.where(key) + ": '" + node.key_path(key) + "' must list at least one frame");
  std::set<std::string> seen;
  for (const auto& n : names) {
    if (annotated_only) node.check_choice(key, n, kAnnotatedFrames);
    if (!seen.insert(n).second) {
      throw ConfigError(node.where(key) + ": '" + node.key_path(key) + "' lists '" + n + "' twice");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- options

FramesOptions FramesOptions::from_config(const ConfigNode& node) {
  FramesOptions o;
  o.frames = node.get("frames", o.frames);
  o.clip = node.get("clip", o.clip);
  if (!o.clip || !o.frames.empty()) check_frame_names(node, "frames", o.frames, true);
  o.color = node.get("color", o.color);
  node.check_choice("color", o.color, {"gray", "color"});
  o.clip_from = node.get("clip_from", o.clip_from);
  node.check_choice("clip_from", o.clip_from, kAnnotatedFrames);
  o.clip_to = node.get("clip_to", o.clip_to);
  node.check_choice("clip_to", o.clip_to, kAnnotatedFrames);
  o.max_clip_frames = node.get("max_clip_frames", o.max_clip_frames);
  MER_CHECK(o.max_clip_frames >= 0, ConfigError, node.where("max_clip_frames"), ": '", node.key_path("max_clip_frames"),
            "' must be >= 0 (0 = no limit), got ", o.max_clip_frames);
  return o;
}

DetectFaceOptions DetectFaceOptions::from_config(const ConfigNode& node) {
  DetectFaceOptions o;
  o.frame = node.get("frame", o.frame);
  o.detector = node.get_choice("detector", o.detector, {"hog", "haar", "lbp", "mmod"});
  // Only the chosen detector's keys are read, so a key of another detector is reported as unused.
  if (o.detector == "hog" || o.detector == "mmod") {
    o.upsample_below = node.get("upsample_below", o.upsample_below);
    MER_CHECK(o.upsample_below >= 0, ConfigError, node.where("upsample_below"), ": '",
              node.key_path("upsample_below"), "' must be >= 0, got ", o.upsample_below);
    o.downscale_above = node.get("downscale_above", o.downscale_above);
    MER_CHECK(o.downscale_above >= 0, ConfigError, node.where("downscale_above"), ": '",
              node.key_path("downscale_above"), "' must be >= 0 (0: never), got ", o.downscale_above);
    // MMOD's scores are margins around 0 (dlib's own threshold), HOG's are calibrated so 0.3 is sound.
    o.min_confidence = node.get("min_confidence", o.detector == "mmod" ? 0.0 : o.min_confidence);
    MER_CHECK(std::isfinite(o.min_confidence), ConfigError, node.where("min_confidence"), ": '",
              node.key_path("min_confidence"), "' must be finite");
  }
  if (o.detector == "haar" || o.detector == "lbp") {
    o.cascade = node.get_path("cascade", o.detector == "haar" ? kHaarFrontalFace : kLbpFrontalFace);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(o.cascade, ec)) {
      throw ConfigError(detail::concat(node.where("cascade"), ": '", node.key_path("cascade"), "': the ", o.detector,
                                       " cascade '", o.cascade.string(), "' does not exist",
                                       " (OpenCV's cascades come with Debian's opencv-data package:",
                                       " apt-get install opencv-data; or set `cascade:` to an OpenCV cascade XML)"));
    }
    o.scale_factor = node.get("scale_factor", o.scale_factor);
    MER_CHECK(o.scale_factor > 1.0 && o.scale_factor < 2.0, ConfigError, node.where("scale_factor"), ": '",
              node.key_path("scale_factor"), "' must be in (1, 2), got ", o.scale_factor);
    o.min_neighbors = node.get("min_neighbors", o.min_neighbors);
    MER_CHECK(o.min_neighbors >= 0, ConfigError, node.where("min_neighbors"), ": '", node.key_path("min_neighbors"),
              "' must be >= 0, got ", o.min_neighbors);
    o.min_size = node.get("min_size", o.min_size);
    MER_CHECK(o.min_size >= 0 && o.min_size < 1, ConfigError, node.where("min_size"), ": '", node.key_path("min_size"),
              "' must be in [0, 1) (a fraction of the frame's short side), got ", o.min_size);
    // The measured conventions belong to OpenCV's own frontal cascades; another file starts from (1, 0).
    const auto measured = o.detector == "haar" ? haar_frontal_params() : lbp_frontal_params();
    const bool stock = o.cascade == (o.detector == "haar" ? kHaarFrontalFace : kLbpFrontalFace);
    o.box_scale = node.get("box_scale", stock ? measured.box_scale : o.box_scale);
    MER_CHECK(o.box_scale > 0.2 && o.box_scale < 5, ConfigError, node.where("box_scale"), ": '",
              node.key_path("box_scale"), "' must be in (0.2, 5), got ", o.box_scale);
    o.box_shift = node.get("box_shift", stock ? measured.box_shift : o.box_shift);
    MER_CHECK(std::abs(o.box_shift) < 1, ConfigError, node.where("box_shift"), ": '", node.key_path("box_shift"),
              "' must be in (-1, 1), got ", o.box_shift);
  }
  o.fallback = node.get<std::vector<std::string>>("fallback", o.fallback);
  for (const auto& f : o.fallback) node.check_choice("fallback", f, {"hog_upsampled", "haar", "lbp"});
  const bool numbered = o.frame == "onset" || o.frame == "apex" || o.frame == "offset";
  if (!node.has("no_face")) {
    // Recorded into the resolved config, so a run says which policies it used.
    o.no_face = node.get<std::vector<std::string>>(
        "no_face", numbered ? std::vector<std::string>{"nearest_frame", "whole_frame"} : std::vector<std::string>{"whole_frame"});
  } else {
    // One policy or a list of them.
    try {
      o.no_face = {node.required<std::string>("no_face")};
    } catch (const ConfigError&) {
      o.no_face = node.required<std::vector<std::string>>("no_face");
    }
  }
  MER_CHECK(!o.no_face.empty(), ConfigError, node.where("no_face"), ": '", node.key_path("no_face"), "' needs at least one policy");
  for (std::size_t i = 0; i < o.no_face.size(); ++i) {
    const auto& p = o.no_face[i];
    node.check_choice("no_face", p, {"nearest_frame", "whole_frame", "skip", "fail"});
    MER_CHECK(i + 1 == o.no_face.size() || (p != "skip" && p != "fail" && p != "whole_frame"), ConfigError,
              node.where("no_face"), ": '", node.key_path("no_face"), "': ", p, " ends the list (nothing after it is tried)");
  }
  if (std::find(o.no_face.begin(), o.no_face.end(), "nearest_frame") != o.no_face.end()) {
    o.search_frames = node.get("search_frames", o.search_frames);
    MER_CHECK(o.search_frames >= 1 && o.search_frames <= 1000, ConfigError, node.where("search_frames"), ": '",
              node.key_path("search_frames"), "' must be in 1..1000, got ", o.search_frames);
    MER_CHECK(numbered, ConfigError, node.where("no_face"), ": ",
              "no_face: nearest_frame needs frame: onset, apex or offset (a frame with a number in the clip), got '", o.frame, "'");
  }
  if (o.detector == "mmod") {
    if (!node.has("model")) {
      throw ConfigError(detail::concat(node.where("detector"), ": 'detector: mmod' needs '", node.key_path("model"),
                                       "', the path of dlib's mmod_human_face_detector.dat (not packaged by Debian;",
                                       " download it from dlib.net/files)"));
    }
    o.model = node.required_path("model");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(o.model, ec)) {
      throw ConfigError(detail::concat(node.where("model"), ": '", node.key_path("model"), "': the MMOD model '",
                                       o.model.string(), "' does not exist (mmod_human_face_detector.dat from",
                                       " dlib.net/files)"));
    }
  }
  return o;
}

LandmarksOptions LandmarksOptions::from_config(const ConfigNode& node) {
  LandmarksOptions o;
  o.frame = node.get("frame", o.frame);
  o.model = node.get_path("model", o.model.string());
  return o;
}

AlignOptions AlignOptions::from_config(const ConfigNode& node) {
  AlignOptions o;
  o.frames = node.get("frames", o.frames);
  check_frame_names(node, "frames", o.frames, false);
  o.size = node.get("size", o.size);
  MER_CHECK(o.size >= 8 && o.size <= 4096, ConfigError, node.where("size"), ": '", node.key_path("size"),
            "' must be in [8, 4096], got ", o.size);
  o.transform = node.get_choice("transform", o.transform, {"similarity", "affine"});
  o.reference = node.get_choice("reference", o.reference, {"onset", "per_frame"});
  // The tracking keys mean nothing with one reference transform; left unread, check_all_used flags them.
  if (o.reference == "per_frame") {
    o.smoothing = node.get_choice("smoothing", o.smoothing, {"none", "moving_average", "gaussian"});
    if (o.smoothing != "none") {
      o.smoothing_window = node.get("smoothing_window", o.smoothing_window);
      MER_CHECK(o.smoothing_window >= 1 && o.smoothing_window % 2 == 1, ConfigError, node.where("smoothing_window"),
                ": '", node.key_path("smoothing_window"), "' must be odd and >= 1 (a window centred on the frame), got ",
                o.smoothing_window);
    } else {
      o.smoothing_window = 1;
    }
    o.model = node.get_path("model", o.model.string());
  }
  o.padding = node.get_choice("padding", o.padding, {"replicate", "constant", "reflect"});
  o.margin = node.get("margin", o.margin);
  MER_CHECK(o.margin >= 0 && o.margin <= 2, ConfigError, node.where("margin"), ": '", node.key_path("margin"),
            "' must be in [0, 2] (a fraction of the face's side on each side), got ", o.margin);
  return o;
}

std::unique_ptr<Stage> make_frames_stage(FramesOptions options) { return std::make_unique<FramesStage>(std::move(options)); }
std::unique_ptr<Stage> make_detect_face_stage(DetectFaceOptions options) {
  return std::make_unique<DetectFaceStage>(std::move(options));
}
std::unique_ptr<Stage> make_landmarks_stage(LandmarksOptions options) {
  return std::make_unique<LandmarksStage>(std::move(options));
}
std::unique_ptr<Stage> make_align_stage(AlignOptions options) { return std::make_unique<AlignStage>(std::move(options)); }

}  // namespace mer
