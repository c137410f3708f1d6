// Stages that read frames and find, describe and register the face: frames, detect_face, landmarks, align.
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>
#include <mer/preprocess/face.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
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

class DetectFaceStage final : public Stage {
 public:
  explicit DetectFaceStage(DetectFaceOptions o)
      : o_(std::move(o)), detector_(o_.upsample_below, o_.min_confidence) {}
  std::string type() const override { return "detect_face"; }
  std::vector<std::string> reads() const override { return {o_.frame}; }
  std::vector<std::string> writes() const override { return {"face"}; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"frame", o_.frame},
                              {"upsample_below", std::to_string(o_.upsample_below)},
                              {"min_confidence", fingerprint_value(o_.min_confidence)}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    // Micro-expression clips show one subject filling the frame, so the largest face is the subject's.
    const auto face = detector_.detect_largest(item.at(o_.frame));
    if (!face) {
      throw SampleError(detail::concat("no face found in the ", o_.frame, " frame of sample ", sample.id,
                                       " (HOG detector, min_confidence ", o_.min_confidence, ")"));
    }
    item.set("face", (cv::Mat_<float>(1, 4) << face->box.x, face->box.y, face->box.width, face->box.height));
  }

 private:
  DetectFaceOptions o_;
  HogFaceDetector detector_;
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

class AlignStage final : public Stage {
 public:
  explicit AlignStage(AlignOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "align"; }
  std::vector<std::string> reads() const override {
    auto r = o_.frames;
    r.insert(r.begin(), "landmarks");
    return r;
  }
  std::vector<std::string> writes() const override {
    auto w = o_.frames;
    w.push_back("landmarks");
    return w;
  }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1", {{"frames", fingerprint_value(o_.frames)}, {"size", std::to_string(o_.size)}});
  }
  void apply(const SampleMeta& /*sample*/, Item& item) const override {
    const auto& lm = item.at("landmarks");
    if (lm.type() != CV_32FC2 || lm.total() != 68) {
      throw InternalError(detail::concat("item entry 'landmarks' must be CV_32FC2 68x1, got type ", lm.type(), " with ",
                                         lm.total(), " points"));
    }
    std::vector<cv::Point2f> points(lm.begin<cv::Point2f>(), lm.end<cv::Point2f>());
    // One transform for every frame: registering each frame on its own would turn landmark jitter into
    // fake motion larger than the micro-expression itself.
    const cv::Mat m = similarity_to_canonical(points, o_.size);
    // Replicated borders: a face near the image edge gets smeared edge pixels, not black wedges that
    // the flow would read as strong edges moving.
    auto warp = [&](const cv::Mat& in) {
      cv::Mat out;
      cv::warpAffine(in, out, m, cv::Size(o_.size, o_.size), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      return out;
    };
    for (const auto& name : o_.frames) {
      if (item.has_sequence(name)) {
        for (auto& frame : item.seq(name)) frame = warp(frame);
      } else {
        item.set(name, warp(item.at(name)));
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
  AlignOptions o_;
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
  o.upsample_below = node.get("upsample_below", o.upsample_below);
  MER_CHECK(o.upsample_below >= 0, ConfigError, node.where("upsample_below"), ": '", node.key_path("upsample_below"),
            "' must be >= 0, got ", o.upsample_below);
  o.min_confidence = node.get("min_confidence", o.min_confidence);
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
