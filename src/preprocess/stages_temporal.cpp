// Stages over whole clips: length normalisation (interpolate), one-image summaries (dynamic_image,
// active_image) and key frames (key_frames); and the library functions behind them (temporal.hpp).
#include <mer/core/error.hpp>
#include <mer/preprocess/temporal.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace mer {

namespace {

using detail::fingerprint_value;
using detail::stage_fingerprint;

void check_clip(const std::vector<cv::Mat>& frames, const char* what) {
  MER_CHECK(!frames.empty(), ValueError, what, ": the clip has no frames");
  const cv::Mat& first = frames.front();
  MER_CHECK(!first.empty(), ValueError, what, ": frame 0 is empty");
  for (std::size_t t = 1; t < frames.size(); ++t) {
    MER_CHECK(frames[t].size() == first.size() && frames[t].type() == first.type(), ValueError, what, ": frame ", t,
              " is ", frames[t].cols, "x", frames[t].rows, " of type ", frames[t].type(), ", expected ", first.cols, "x",
              first.rows, " of type ", first.type(), " like frame 0");
  }
}

// Output position j of `length`, in input frame units (0 .. n-1): first and last frames are kept and the
// others are spaced evenly between them, as Pfister et al. sample the TIM curve.
double position(int j, int n, int length) { return double(j) * double(n - 1) / double(length - 1); }

// Output j = sum_i w(i, j) * frame_i, computed in double and returned in the input's depth (8-bit rounded
// and saturated) so that later stages which need 8-bit frames (align, flow) still take the result.
std::vector<cv::Mat> apply_weights(const std::vector<cv::Mat>& frames, const cv::Mat& w) {
  const int depth = frames.front().depth(), channels = frames.front().channels();
  std::vector<cv::Mat> f64(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i].convertTo(f64[i], CV_MAKETYPE(CV_64F, channels));
  std::vector<cv::Mat> out;
  out.reserve(static_cast<std::size_t>(w.cols));
  for (int j = 0; j < w.cols; ++j) {
    cv::Mat acc(frames.front().size(), CV_MAKETYPE(CV_64F, channels), cv::Scalar::all(0));
    for (int i = 0; i < w.rows; ++i) {
      const double wij = w.at<double>(i, j);
      if (wij != 0) cv::scaleAdd(f64[static_cast<std::size_t>(i)], wij, acc, acc);
    }
    cv::Mat o;
    acc.convertTo(o, CV_MAKETYPE(depth, channels));
    out.push_back(o);
  }
  return out;
}

cv::Mat linear_weights(int n, int length) {
  cv::Mat w(n, length, CV_64F, cv::Scalar(0));
  for (int j = 0; j < length; ++j) {
    const double s = n == 1 ? 0.0 : position(j, n, length);
    const int i0 = std::min(static_cast<int>(std::floor(s)), n - 1);
    const double a = s - i0;
    w.at<double>(i0, j) += 1 - a;
    if (a > 0) w.at<double>(i0 + 1, j) += a;
  }
  return w;
}

// A multi-channel mat as one channel per element, for statistics over all channels.
cv::Mat flat(const cv::Mat& m) { return m.isContinuous() ? m.reshape(1) : m.clone().reshape(1); }

void minmax_in_place(cv::Mat& m) {
  double lo = 0, hi = 0;
  cv::minMaxLoc(flat(m), &lo, &hi);
  if (hi - lo > 1e-12) {
    m.convertTo(m, m.type(), 1.0 / (hi - lo), -lo / (hi - lo));
  } else {
    m.setTo(cv::Scalar::all(0));
  }
}

}  // namespace

// ---------------------------------------------------------------- library functions

cv::Mat tim_weights(int n, int length) {
  MER_CHECK(n >= 1, ValueError, "tim_weights: need at least 1 frame, got ", n);
  MER_CHECK(length >= 2, ValueError, "tim_weights: length must be >= 2, got ", length);
  cv::Mat w(n, length, CV_64F, cv::Scalar(0));
  if (n == 1) {
    w.setTo(cv::Scalar(1));
    return w;
  }
  // Zhou et al. 2011: the Laplacian of the path graph P_n has the eigenvectors
  // y_k(i) = sin(pi k (i+1) / n + pi (n - k) / (2n)) = cos(pi k (i + 1/2) / n), k = 1..n-1 (k = 0 is the
  // constant vector), i.e. the DCT-II basis; read as functions of a continuous i they are the curve the
  // frames are embedded on. TIM fits a linear map M with M Y = X - mean (frames as columns, after PCA) and
  // maps curve points back: x(s) = mean + M y(s). With Y's rows orthonormal, M = (X - mean) Y^T, so
  // x(s) = sum_i x_i (1/n + y(i)^T y(s)): each output frame is a fixed combination of the input frames.
  // This is what the PCA-then-inverse formulation computes when the centred frames are independent, and
  // its minimum-norm solution when they are not (repeated frames), without forming any pixel x pixel
  // matrix; tests check it against the literal eigen-decomposition and least-squares fit.
  const double pi = std::acos(-1.0);
  for (int j = 0; j < length; ++j) {
    const double s = position(j, n, length);
    for (int i = 0; i < n; ++i) {
      double v = 1.0 / n;
      for (int k = 1; k < n; ++k) v += 2.0 / n * std::cos(pi * k * (i + 0.5) / n) * std::cos(pi * k * (s + 0.5) / n);
      w.at<double>(i, j) = v;
    }
  }
  return w;
}

std::vector<cv::Mat> tim_interpolate(const std::vector<cv::Mat>& frames, int length) {
  check_clip(frames, "tim_interpolate");
  MER_CHECK(length >= 2, ValueError, "tim_interpolate: length must be >= 2, got ", length);
  return apply_weights(frames, tim_weights(static_cast<int>(frames.size()), length));
}

std::vector<cv::Mat> linear_interpolate(const std::vector<cv::Mat>& frames, int length) {
  check_clip(frames, "linear_interpolate");
  MER_CHECK(length >= 2, ValueError, "linear_interpolate: length must be >= 2, got ", length);
  return apply_weights(frames, linear_weights(static_cast<int>(frames.size()), length));
}

std::vector<double> rank_pooling_weights(std::size_t T) {
  // Bilen et al. 2016, eq. (5) (approximate rank pooling): one gradient step of the RankSVM objective
  // from zero, in closed form.
  std::vector<double> harmonic(T + 1, 0.0);
  for (std::size_t k = 1; k <= T; ++k) harmonic[k] = harmonic[k - 1] + 1.0 / double(k);
  std::vector<double> alpha(T);
  for (std::size_t t = 1; t <= T; ++t)
    alpha[t - 1] = 2.0 * double(T - t + 1) - double(T + 1) * (harmonic[T] - harmonic[t - 1]);
  return alpha;
}

cv::Mat dynamic_image(const std::vector<cv::Mat>& frames, bool minmax) {
  check_clip(frames, "dynamic_image");
  const auto alpha = rank_pooling_weights(frames.size());
  const int channels = frames.front().channels();
  cv::Mat acc(frames.front().size(), CV_MAKETYPE(CV_64F, channels), cv::Scalar::all(0));
  cv::Mat f;
  for (std::size_t t = 0; t < frames.size(); ++t) {
    frames[t].convertTo(f, CV_MAKETYPE(CV_64F, channels));
    cv::scaleAdd(f, alpha[t], acc, acc);
  }
  cv::Mat out;
  acc.convertTo(out, CV_MAKETYPE(CV_32F, channels));
  if (minmax) minmax_in_place(out);
  return out;
}

cv::Mat active_image(const std::vector<cv::Mat>& frames, int window, bool minmax) {
  check_clip(frames, "active_image");
  MER_CHECK(frames.size() >= 2, ValueError, "active_image: needs at least 2 frames, got ", frames.size());
  MER_CHECK(window >= 1 && window % 2 == 1, ValueError, "active_image: window must be odd and >= 1, got ", window);
  const int channels = frames.front().channels();
  cv::Mat energy(frames.front().size(), CV_32F, cv::Scalar(0));
  cv::Mat a, b, d;
  frames.front().convertTo(a, CV_MAKETYPE(CV_32F, channels));
  for (std::size_t t = 1; t < frames.size(); ++t) {
    frames[t].convertTo(b, CV_MAKETYPE(CV_32F, channels));
    cv::absdiff(b, a, d);
    if (channels > 1) {
      // Sum over channels: colour change anywhere counts as activity.
      std::vector<cv::Mat> parts;
      cv::split(d, parts);
      for (const auto& p : parts) energy += p;
    } else {
      energy += d;
    }
    std::swap(a, b);
  }
  // Activity is measured over local neighbourhoods, not single pixels (Verma et al. 2019, 2020 look for
  // active regions): a muscle movement shows as a patch of change, sensor noise as isolated pixels.
  cv::Mat out;
  cv::boxFilter(energy, out, CV_32F, cv::Size(window, window), cv::Point(-1, -1), false, cv::BORDER_REFLECT);
  if (minmax) minmax_in_place(out);
  return out;
}

std::vector<std::size_t> select_key_frames(const std::vector<cv::Mat>& frames, int count) {
  check_clip(frames, "select_key_frames");
  const std::size_t T = frames.size();
  MER_CHECK(count >= 1 && static_cast<std::size_t>(count) <= T, ValueError, "select_key_frames: count must be in [1, ",
            T, "] (the clip's frames), got ", count);
  std::vector<double> d(T, 0.0);
  const double elements = double(frames.front().total() * frames.front().channels());
  for (std::size_t t = 1; t < T; ++t) d[t] = cv::norm(frames[t], frames.front(), cv::NORM_L1) / elements;
  std::vector<std::size_t> order(T);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return d[x] > d[y]; });
  // The most different frames of a clip sit next to each other around the apex; the spacing spreads the
  // choice over the expression instead of picking k near-copies of the apex.
  const std::size_t gap = std::max<std::size_t>(1, T / (2 * static_cast<std::size_t>(count)));
  std::vector<std::size_t> chosen;
  std::vector<bool> taken(T, false);
  for (const auto t : order) {
    if (chosen.size() == static_cast<std::size_t>(count)) break;
    const bool far = std::all_of(chosen.begin(), chosen.end(),
                                 [&](std::size_t s) { return (t > s ? t - s : s - t) >= gap; });
    if (far) chosen.push_back(t), taken[t] = true;
  }
  for (const auto t : order) {
    if (chosen.size() == static_cast<std::size_t>(count)) break;
    if (!taken[t]) chosen.push_back(t), taken[t] = true;
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// ---------------------------------------------------------------- stages

namespace {

const std::vector<cv::Mat>& input_clip(const Item& item, const std::string& key, const std::string& stage,
                                       const SampleMeta& sample) {
  if (!item.has_sequence(key)) {
    throw ValueError(detail::concat(stage, ": item entry '", key, "' of sample ", sample.id,
                                    " is a single frame, expected a sequence (a clip: {type: frames, clip: true})"));
  }
  const auto& frames = item.seq(key);
  if (frames.empty()) throw SampleError(detail::concat(stage, ": sample ", sample.id, " has an empty '", key, "'"));
  return frames;
}

class InterpolateStage final : public Stage {
 public:
  explicit InterpolateStage(InterpolateOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "interpolate"; }
  std::vector<std::string> reads() const override { return {o_.input}; }
  std::vector<std::string> writes() const override { return {o_.output}; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"method", o_.method},
                              {"length", std::to_string(o_.length)},
                              {"input", o_.input},
                              {"output", o_.output}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& frames = input_clip(item, o_.input, type(), sample);
    auto out = o_.method == "tim" ? tim_interpolate(frames, o_.length) : linear_interpolate(frames, o_.length);
    item.set_sequence(o_.output, std::move(out));
  }

 private:
  InterpolateOptions o_;
};

class DynamicImageStage final : public Stage {
 public:
  explicit DynamicImageStage(DynamicImageOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "dynamic_image"; }
  std::vector<std::string> reads() const override { return {o_.input}; }
  std::vector<std::string> writes() const override { return {o_.output}; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1", {{"input", o_.input}, {"output", o_.output}, {"normalize", o_.normalize}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    item.set(o_.output, dynamic_image(input_clip(item, o_.input, type(), sample), o_.normalize == "minmax"));
  }

 private:
  DynamicImageOptions o_;
};

class ActiveImageStage final : public Stage {
 public:
  explicit ActiveImageStage(ActiveImageOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "active_image"; }
  std::vector<std::string> reads() const override { return {o_.input}; }
  std::vector<std::string> writes() const override { return {o_.output}; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"input", o_.input},
                              {"output", o_.output},
                              {"window", std::to_string(o_.window)},
                              {"normalize", o_.normalize}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& frames = input_clip(item, o_.input, type(), sample);
    if (frames.size() < 2) {
      throw SampleError(detail::concat("active_image: sample ", sample.id, " has 1 frame in '", o_.input,
                                       "', at least 2 are needed to see change"));
    }
    item.set(o_.output, active_image(frames, o_.window, o_.normalize == "minmax"));
  }

 private:
  ActiveImageOptions o_;
};

class KeyFramesStage final : public Stage {
 public:
  explicit KeyFramesStage(KeyFramesOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "key_frames"; }
  std::vector<std::string> reads() const override {
    if (o_.method == "auto") return {o_.input};
    return {o_.input, "clip_frames"};
  }
  std::vector<std::string> writes() const override { return {o_.output}; }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {
        {"method", o_.method}, {"input", o_.input}, {"output", o_.output}};
    if (o_.method == "auto") {
      opts.push_back({"count", std::to_string(o_.count)});
    } else {
      opts.push_back({"frames", fingerprint_value(o_.frames)});
    }
    return stage_fingerprint(type(), "v1", opts);
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& frames = input_clip(item, o_.input, type(), sample);
    std::vector<cv::Mat> out;
    if (o_.method == "auto") {
      if (frames.size() < static_cast<std::size_t>(o_.count)) {
        throw SampleError(detail::concat("key_frames: sample ", sample.id, " has ", frames.size(), " frames in '",
                                         o_.input, "', fewer than count = ", o_.count));
      }
      for (const auto t : select_key_frames(frames, o_.count)) out.push_back(frames[t].clone());
    } else {
      const cv::Mat& numbers = item.at("clip_frames");
      if (numbers.total() != frames.size()) {
        throw ValueError(detail::concat("key_frames: '", o_.input, "' of sample ", sample.id, " has ", frames.size(),
                                        " frames but clip_frames numbers ", numbers.total(),
                                        "; pick annotated frames before an interpolate stage changes the clip"));
      }
      for (const auto& name : o_.frames) {
        const int n = frame_number(sample, item, name);
        const int* first = numbers.ptr<int>(0);
        const int* last = first + numbers.total();
        const int* hit = std::find(first, last, n);
        if (hit == last) {
          throw SampleError(detail::concat("key_frames: the ", name, " frame ", n, " of sample ", sample.id,
                                           " is not in the clip (frames ", *first, "..", *(last - 1), ")"));
        }
        out.push_back(frames[static_cast<std::size_t>(hit - first)].clone());
      }
    }
    item.set_sequence(o_.output, std::move(out));
  }

 private:
  static int frame_number(const SampleMeta& sample, const Item& item, const std::string& name) {
    int n = name == "onset" ? sample.onset : name == "offset" ? sample.offset : sample.apex;
    // An apex_spot stage earlier in the pipeline has the final word on the apex (annotated or spotted).
    if (name == "apex" && item.mats.count("apex_frame") > 0) n = item.at("apex_frame").at<int>(0, 0);
    if (n < 0) {
      throw SampleError(detail::concat("key_frames: sample ", sample.id, ": ", name,
                                       " unknown (add an apex_spot stage before key_frames to estimate it)"));
    }
    return n;
  }

  KeyFramesOptions o_;
};

void check_entry_name(const ConfigNode& node, const std::string& key, const std::string& value) {
  MER_CHECK(!value.empty(), ConfigError, node.where(key), ": '", node.key_path(key), "' must name an item entry");
}

}  // namespace

// ---------------------------------------------------------------- options

InterpolateOptions InterpolateOptions::from_config(const ConfigNode& node) {
  InterpolateOptions o;
  o.method = node.get("method", o.method);
  node.check_choice("method", o.method, {"tim", "linear"});
  o.length = node.get("length", o.length);
  MER_CHECK(o.length >= 2 && o.length <= 10000, ConfigError, node.where("length"), ": '", node.key_path("length"),
            "' must be in [2, 10000], got ", o.length);
  o.input = node.get("input", o.input);
  check_entry_name(node, "input", o.input);
  o.output = node.get("output", o.input);
  check_entry_name(node, "output", o.output);
  return o;
}

DynamicImageOptions DynamicImageOptions::from_config(const ConfigNode& node) {
  DynamicImageOptions o;
  o.input = node.get("input", o.input);
  check_entry_name(node, "input", o.input);
  o.output = node.get("output", o.output);
  check_entry_name(node, "output", o.output);
  o.normalize = node.get("normalize", o.normalize);
  node.check_choice("normalize", o.normalize, {"minmax", "none"});
  return o;
}

ActiveImageOptions ActiveImageOptions::from_config(const ConfigNode& node) {
  ActiveImageOptions o;
  o.input = node.get("input", o.input);
  check_entry_name(node, "input", o.input);
  o.output = node.get("output", o.output);
  check_entry_name(node, "output", o.output);
  o.window = node.get("window", o.window);
  MER_CHECK(o.window >= 1 && o.window % 2 == 1 && o.window <= 99, ConfigError, node.where("window"), ": '",
            node.key_path("window"), "' must be odd and in [1, 99], got ", o.window);
  o.normalize = node.get("normalize", o.normalize);
  node.check_choice("normalize", o.normalize, {"minmax", "none"});
  return o;
}

KeyFramesOptions KeyFramesOptions::from_config(const ConfigNode& node) {
  KeyFramesOptions o;
  o.method = node.get("method", o.method);
  node.check_choice("method", o.method, {"annotated", "auto"});
  o.input = node.get("input", o.input);
  check_entry_name(node, "input", o.input);
  o.output = node.get("output", o.output);
  check_entry_name(node, "output", o.output);
  // Only the chosen method's option is read, so a `count:` under `method: annotated` fails as unknown.
  if (o.method == "auto") {
    o.count = node.get("count", o.count);
    MER_CHECK(o.count >= 1, ConfigError, node.where("count"), ": '", node.key_path("count"), "' must be >= 1, got ",
              o.count);
  } else {
    o.frames = node.get("frames", o.frames);
    MER_CHECK(!o.frames.empty(), ConfigError, node.where("frames"), ": '", node.key_path("frames"),
              "' must list at least one of onset, apex, offset");
    for (const auto& f : o.frames) node.check_choice("frames", f, {"onset", "apex", "offset"});
  }
  return o;
}

std::unique_ptr<Stage> make_interpolate_stage(InterpolateOptions options) {
  return std::make_unique<InterpolateStage>(std::move(options));
}
std::unique_ptr<Stage> make_dynamic_image_stage(DynamicImageOptions options) {
  return std::make_unique<DynamicImageStage>(std::move(options));
}
std::unique_ptr<Stage> make_active_image_stage(ActiveImageOptions options) {
  return std::make_unique<ActiveImageStage>(std::move(options));
}
std::unique_ptr<Stage> make_key_frames_stage(KeyFramesOptions options) {
  return std::make_unique<KeyFramesStage>(std::move(options));
}

}  // namespace mer
