// Apex spotting for samples whose annotation has no usable apex (SMIC has none; CASME II and SAMM have
// '/' and out-of-order apexes; see the datasets' missing_apex: estimate policy).
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace mer {

namespace {
std::vector<double> raw_profile(const std::vector<cv::Mat>& frames) {
  MER_CHECK(frames.size() >= 2, ValueError, "apex spotting needs at least 2 frames, got ", frames.size());
  const cv::Mat& first = frames.front();
  const cv::Mat& last = frames.back();
  std::vector<double> d(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    MER_CHECK(frames[t].size() == first.size() && frames[t].type() == first.type(), ValueError,
              "apex spotting: frame ", t, " is ", frames[t].cols, "x", frames[t].rows, ", expected ", first.cols, "x",
              first.rows);
    // Onset and offset are both near-neutral, so the apex is the frame farthest from both.
    d[t] = cv::mean(cv::abs(frames[t] - first))[0] + cv::mean(cv::abs(frames[t] - last))[0];
  }
  return d;
}

std::vector<double> smoothed(const std::vector<double>& d) {
  // A 3-tap moving average keeps a single noisy frame from winning.
  std::vector<double> smooth(d.size());
  for (std::size_t t = 0; t < d.size(); ++t) {
    const std::size_t a = t == 0 ? 0 : t - 1, b = std::min(d.size() - 1, t + 1);
    double sum = 0;
    for (std::size_t k = a; k <= b; ++k) sum += d[k];
    smooth[t] = sum / double(b - a + 1);
  }
  return smooth;
}
}  // namespace

std::size_t spot_apex(const std::vector<cv::Mat>& frames) {
  const auto raw = raw_profile(frames);
  if (raw.size() <= 2) return raw.size() - 1;
  const auto smooth = smoothed(raw);
  // The smoothed profile finds the peak's neighbourhood (robust to one noisy frame); the raw profile then
  // picks the frame, since smoothing shifts the maximum of an asymmetric rise and fall. The apex lies
  // strictly between onset and offset.
  const auto coarse = static_cast<std::size_t>(std::max_element(smooth.begin() + 1, smooth.end() - 1) - smooth.begin());
  const std::size_t a = std::max<std::size_t>(1, coarse - 1), b = std::min(raw.size() - 2, coarse + 1);
  return static_cast<std::size_t>(std::max_element(raw.begin() + a, raw.begin() + b + 1) - raw.begin());
}

ApexSpotOptions ApexSpotOptions::from_config(const ConfigNode& node) {
  ApexSpotOptions o;
  o.method = node.get<std::string>("method", o.method);
  o.region = node.get<std::string>("region", o.region);
  o.width = node.get<int>("width", o.width);
  o.color = node.get<std::string>("color", o.color);
  o.override_annotated = node.get<bool>("override_annotated", o.override_annotated);
  node.check_choice("method", o.method, {"frame_difference"});
  node.check_choice("region", o.region, {"face", "frame"});
  node.check_choice("color", o.color, {"gray", "color"});
  MER_CHECK(o.width >= 16, ConfigError, node.where("width"), ": '", node.key_path("width"), "' must be >= 16, got ",
            o.width);
  return o;
}

namespace {

class ApexSpotStage final : public Stage {
 public:
  explicit ApexSpotStage(ApexSpotOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "apex_spot"; }
  std::vector<std::string> reads() const override {
    return o_.region == "face" ? std::vector<std::string>{"face"} : std::vector<std::string>{};
  }
  std::vector<std::string> writes() const override { return {"apex", "apex_frame"}; }
  std::string fingerprint() const override {
    return detail::stage_fingerprint(type(), "v1",
                                     {{"method", o_.method},
                                      {"region", o_.region},
                                      {"width", std::to_string(o_.width)},
                                      {"color", o_.color},
                                      {"override_annotated", o_.override_annotated ? "true" : "false"}});
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    int apex = sample.apex;
    if (apex < 0 || o_.override_annotated) {
      MER_CHECK(sample.offset > sample.onset, SampleError, "sample ", sample.id, ": onset ", sample.onset,
                " and offset ", sample.offset, " leave no frames to spot an apex in");
      cv::Rect roi;
      if (o_.region == "face") {
        const auto* f = item.at("face").ptr<float>(0);
        roi = cv::Rect(cv::Point(cvRound(f[0]), cvRound(f[1])), cv::Size(cvRound(f[2]), cvRound(f[3])));
      }
      std::vector<cv::Mat> frames;
      for (int n = sample.onset; n <= sample.offset; ++n) {
        cv::Mat frame;
        try {
          frame = load_frame(sample, n, ColorMode::Gray);
        } catch (const DataError& e) {
          throw SampleError(e.what());
        }
        cv::Mat region = roi.area() > 0 ? frame(roi & cv::Rect(0, 0, frame.cols, frame.rows)) : frame;
        // Comparing small images is enough to find the peak and keeps long clips cheap.
        const double scale = std::min(1.0, double(o_.width) / region.cols);
        cv::Mat small;
        cv::resize(region, small, cv::Size(), scale, scale, cv::INTER_AREA);
        cv::Mat f32;
        small.convertTo(f32, CV_32F);
        frames.push_back(f32);
      }
      apex = sample.onset + static_cast<int>(spot_apex(frames));
    }
    try {
      item.set("apex", load_frame(sample, apex, o_.color == "color" ? ColorMode::Color : ColorMode::Gray));
    } catch (const DataError& e) {
      throw SampleError(e.what());
    }
    item.set("apex_frame", cv::Mat(1, 1, CV_32SC1, cv::Scalar(apex)));
  }

 private:
  ApexSpotOptions o_;
};

}  // namespace

std::unique_ptr<Stage> make_apex_spot_stage(ApexSpotOptions options) {
  return std::make_unique<ApexSpotStage>(std::move(options));
}

}  // namespace mer
