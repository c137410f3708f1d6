#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/stage.hpp>
#include <mer/preprocess/temporal.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "support/test_paths.hpp"

namespace mer {
namespace {

std::vector<cv::Mat> random_clip(int n, cv::Size size, int type, std::uint64_t seed) {
  cv::RNG rng(seed);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < n; ++i) {
    cv::Mat f(size, type);
    rng.fill(f, cv::RNG::UNIFORM, 0, 255);
    frames.push_back(f);
  }
  return frames;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat x, y;
  a.convertTo(x, CV_64F);
  b.convertTo(y, CV_64F);
  return cv::norm(x, y, cv::NORM_INF);
}

std::unique_ptr<Stage> build_stage(const std::string& yaml) {
  const auto cfg = Config::from_string("s: " + yaml + "\n", "t.yaml");
  auto stage = builtin_stages().build(cfg.root().child("s"));
  cfg.check_all_used();
  return stage;
}

// ---------------------------------------------------------------- TIM

TEST(Tim, ClosedFormCurveIsThePathGraphLaplacianEigenbasis) {
  const int n = 7;
  cv::Mat L(n, n, CV_64F, cv::Scalar(0));
  for (int i = 0; i + 1 < n; ++i) {
    L.at<double>(i, i + 1) = L.at<double>(i + 1, i) = -1;
    L.at<double>(i, i) += 1;
    L.at<double>(i + 1, i + 1) += 1;
  }
  cv::Mat values, vectors;
  cv::eigen(L, values, vectors);  // rows, eigenvalues descending
  const double pi = std::acos(-1.0);
  for (int k = 1; k < n; ++k) {
    // Eigenvalue 2 - 2 cos(pi k / n) belongs to y_k(i) = cos(pi k (i + 1/2) / n).
    const double lambda = 2 - 2 * std::cos(pi * k / n);
    int row = -1;
    for (int r = 0; r < n; ++r)
      if (std::abs(values.at<double>(r) - lambda) < 1e-9) row = r;
    ASSERT_GE(row, 0) << "k " << k;
    cv::Mat y(1, n, CV_64F);
    for (int i = 0; i < n; ++i) y.at<double>(i) = std::cos(pi * k * (i + 0.5) / n);
    const double cosine = std::abs(y.dot(vectors.row(row))) / cv::norm(y);
    EXPECT_NEAR(cosine, 1.0, 1e-9) << "k " << k;
  }
}

TEST(Tim, EqualsTheLiteralFitOfALinearMapFromTheCurveToImageSpace) {
  // The textbook TIM: centre the frames, fit M with M Y = X - mean by least squares (Y: the curve
  // coordinates of the frames), then map evenly spaced curve points back. Done here with pixel-sized
  // matrices on a small clip; the library's n x n weights must give the same frames.
  const int n = 6, length = 11;
  const auto frames = random_clip(n, cv::Size(5, 4), CV_32FC1, 3);
  cv::Mat X(20, n, CV_64F);
  for (int i = 0; i < n; ++i) frames[static_cast<std::size_t>(i)].reshape(1, 20).convertTo(X.col(i), CV_64F);
  cv::Mat mean;
  cv::reduce(X, mean, 1, cv::REDUCE_AVG);
  cv::Mat Xc = X - cv::repeat(mean, 1, n);
  const double pi = std::acos(-1.0);
  auto curve = [&](double s) {
    cv::Mat y(n - 1, 1, CV_64F);
    for (int k = 1; k < n; ++k) y.at<double>(k - 1) = std::cos(pi * k * (s + 0.5) / n);
    return y;
  };
  cv::Mat Y(n - 1, n, CV_64F);
  for (int i = 0; i < n; ++i) curve(i).copyTo(Y.col(i));
  cv::Mat Mt;  // solve Y^T M^T = Xc^T
  ASSERT_TRUE(cv::solve(Y.t(), Xc.t(), Mt, cv::DECOMP_SVD));
  const auto out = tim_interpolate(frames, length);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(length));
  double worst = 0;
  for (int j = 0; j < length; ++j) {
    const double s = double(j) * (n - 1) / (length - 1);
    cv::Mat expected = mean + Mt.t() * curve(s);
    worst = std::max(worst, max_abs_diff(out[static_cast<std::size_t>(j)].reshape(1, 20), expected));
  }
  EXPECT_LT(worst, 1e-3);  // float output of values up to 255
}

TEST(Tim, KeepsEndFramesAndLengthWhenUpAndDownSampling) {
  const auto frames = random_clip(9, cv::Size(16, 12), CV_32FC1, 5);
  for (const int length : {2, 4, 9, 23}) {
    const auto out = tim_interpolate(frames, length);
    ASSERT_EQ(out.size(), static_cast<std::size_t>(length));
    EXPECT_EQ(out.front().type(), CV_32FC1);
    // Relative to the 0..255 range: < 1e-3 (measured 0: the float result rounds to the input).
    EXPECT_LT(max_abs_diff(out.front(), frames.front()) / 255.0, 1e-3) << "length " << length;
    EXPECT_LT(max_abs_diff(out.back(), frames.back()) / 255.0, 1e-3) << "length " << length;
  }
  // Same length: every frame comes back.
  const auto same = tim_interpolate(frames, 9);
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_LT(max_abs_diff(same[i], frames[i]), 1e-3) << i;
}

TEST(Tim, InterpolatesAClipOnTheCurveExactlyBetweenFrames) {
  // Intensity that follows one of the curve's own coordinates over time is reproduced exactly at any
  // position, which linear interpolation cannot do.
  const int n = 8, length = 15;
  const double pi = std::acos(-1.0);
  auto value = [&](double s) { return 100 + 60 * std::cos(pi * 2 * (s + 0.5) / n); };
  std::vector<cv::Mat> frames;
  for (int i = 0; i < n; ++i) frames.emplace_back(4, 4, CV_32FC1, cv::Scalar(value(i)));
  const auto tim = tim_interpolate(frames, length);
  const auto lin = linear_interpolate(frames, length);
  double tim_err = 0, lin_err = 0;
  for (int j = 0; j < length; ++j) {
    const double s = double(j) * (n - 1) / (length - 1);
    tim_err = std::max(tim_err, std::abs(tim[static_cast<std::size_t>(j)].at<float>(0, 0) - value(s)));
    lin_err = std::max(lin_err, std::abs(lin[static_cast<std::size_t>(j)].at<float>(0, 0) - value(s)));
  }
  EXPECT_LT(tim_err, 1e-3);
  EXPECT_GT(lin_err, 1.0);  // measured 4.6 grey levels (TIM: 2e-6)
}

TEST(Tim, EightBitFramesStayEightBitAndColourIsKept) {
  const auto frames = random_clip(5, cv::Size(8, 6), CV_8UC3, 7);
  const auto out = tim_interpolate(frames, 12);
  ASSERT_EQ(out.size(), 12u);
  EXPECT_EQ(out[5].type(), CV_8UC3);
  EXPECT_LE(max_abs_diff(out.front(), frames.front()), 0.0);
  EXPECT_LE(max_abs_diff(out.back(), frames.back()), 0.0);
  // One frame: copies.
  const auto one = tim_interpolate({frames[0]}, 3);
  ASSERT_EQ(one.size(), 3u);
  EXPECT_LE(max_abs_diff(one[2], frames[0]), 0.0);
  EXPECT_THROW(tim_interpolate(frames, 1), ValueError);
  EXPECT_THROW(tim_interpolate({frames[0], cv::Mat(6, 8, CV_8UC1)}, 3), ValueError);
}

TEST(Tim, IsFastOnAClipOfRealSize) {
  // 60 frames of 128x128 to 10 and to 120 frames.
  const auto frames = random_clip(60, cv::Size(128, 128), CV_8UC1, 9);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(tim_interpolate(frames, 10).size(), 10u);
  EXPECT_EQ(tim_interpolate(frames, 120).size(), 120u);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ measured ] TIM 60 -> 10 and 60 -> 120 frames of 128x128: %.3f s\n", seconds);
  // Measured 0.44 s on an idle 2-core machine; the bound leaves room for a loaded one.
  EXPECT_LT(seconds, 5.0);
}

TEST(LinearInterpolate, ResamplesBetweenNeighbours) {
  std::vector<cv::Mat> frames;
  for (const double v : {0.0, 10.0, 40.0}) frames.emplace_back(2, 2, CV_32FC1, cv::Scalar(v));
  const auto out = linear_interpolate(frames, 5);  // positions 0, 0.5, 1, 1.5, 2
  ASSERT_EQ(out.size(), 5u);
  const double expected[] = {0, 5, 10, 25, 40};
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(out[static_cast<std::size_t>(j)].at<float>(1, 1), expected[j], 1e-5) << j;
  const auto down = linear_interpolate(frames, 2);
  EXPECT_NEAR(down[1].at<float>(0, 0), 40, 1e-6);
}

TEST(InterpolateStage, ResamplesTheClipThroughTheRegistry) {
  const auto stage = build_stage("{type: interpolate, method: tim, length: 6}");
  EXPECT_EQ(stage->reads(), std::vector<std::string>{"clip"});
  EXPECT_EQ(stage->writes(), std::vector<std::string>{"clip"});
  Item item;
  item.set_sequence("clip", random_clip(9, cv::Size(10, 10), CV_8UC1, 1));
  stage->apply(SampleMeta{}, item);
  ASSERT_EQ(item.seq("clip").size(), 6u);
  EXPECT_EQ(item.seq("clip")[3].type(), CV_8UC1);

  const auto other = build_stage("{type: interpolate, method: linear, length: 4, output: clip4}");
  EXPECT_EQ(other->writes(), std::vector<std::string>{"clip4"});
  EXPECT_NE(other->fingerprint(), build_stage("{type: interpolate, method: linear, length: 5, output: clip4}")->fingerprint());
  other->apply(SampleMeta{}, item);
  EXPECT_EQ(item.seq("clip4").size(), 4u);

  EXPECT_THROW(build_stage("{type: interpolate, method: cubic}"), ConfigError);
  EXPECT_THROW(build_stage("{type: interpolate, length: 1}"), ConfigError);
}

// ---------------------------------------------------------------- dynamic image

TEST(DynamicImage, MatchesADirectRankPoolingSum) {
  const int T = 7;
  const auto frames = random_clip(T, cv::Size(5, 4), CV_8UC1, 21);
  // Direct: alpha_t = 2(T - t + 1) - (T + 1)(H_T - H_{t-1}).
  auto H = [](int k) {
    double h = 0;
    for (int i = 1; i <= k; ++i) h += 1.0 / i;
    return h;
  };
  cv::Mat expected(4, 5, CV_64F, cv::Scalar(0));
  double alpha_sum = 0;
  for (int t = 1; t <= T; ++t) {
    const double alpha = 2.0 * (T - t + 1) - (T + 1) * (H(T) - H(t - 1));
    alpha_sum += alpha;
    cv::Mat f;
    frames[static_cast<std::size_t>(t - 1)].convertTo(f, CV_64F);
    expected += alpha * f;
  }
  EXPECT_NEAR(alpha_sum, 0.0, 1e-9);
  const cv::Mat raw = dynamic_image(frames, false);
  EXPECT_EQ(raw.type(), CV_32FC1);
  EXPECT_LT(max_abs_diff(raw, expected), 1e-3);

  const cv::Mat unit = dynamic_image(frames, true);
  double lo = 0, hi = 0;
  cv::minMaxLoc(unit, &lo, &hi);
  EXPECT_NEAR(lo, 0.0, 1e-6);
  EXPECT_NEAR(hi, 1.0, 1e-6);
  // A static clip pools to zero.
  const cv::Mat still = dynamic_image(std::vector<cv::Mat>(5, frames[0]), false);
  EXPECT_LT(cv::norm(still, cv::NORM_INF), 1e-3);
}

TEST(DynamicImage, StageWritesAFloatImage) {
  const auto stage = build_stage("{type: dynamic_image, normalize: none}");
  EXPECT_EQ(stage->writes(), std::vector<std::string>{"dynamic_image"});
  Item item;
  item.set_sequence("clip", random_clip(4, cv::Size(6, 6), CV_8UC3, 2));
  stage->apply(SampleMeta{}, item);
  EXPECT_EQ(item.at("dynamic_image").type(), CV_32FC3);
  EXPECT_THROW(build_stage("{type: dynamic_image, normalize: zscore}"), ConfigError);
}

// ---------------------------------------------------------------- active image

// A 12x12 bright square moving right 1 px per frame over a textured, static background.
std::vector<cv::Mat> moving_square(int n) {
  cv::Mat background(64, 64, CV_8UC1);
  cv::RNG rng(4);
  rng.fill(background, cv::RNG::UNIFORM, 60, 90);
  cv::GaussianBlur(background, background, cv::Size(0, 0), 1.5);
  std::vector<cv::Mat> frames;
  for (int t = 0; t < n; ++t) {
    cv::Mat f = background.clone();
    cv::rectangle(f, cv::Rect(10 + t, 40, 12, 12), cv::Scalar(220), cv::FILLED);
    frames.push_back(f);
  }
  return frames;
}

TEST(ActiveImage, EnergySitsWhereTheMotionIs) {
  const auto frames = moving_square(8);
  const cv::Mat a = active_image(frames, 3, false);
  ASSERT_EQ(a.type(), CV_32FC1);
  // The square sweeps x 10..28, y 40..51; with the 3x3 window change can show one pixel further.
  const cv::Rect moving(9, 39, 21, 14);
  const double inside = cv::sum(a(moving))[0], total = cv::sum(a)[0];
  EXPECT_GT(total, 0);
  EXPECT_GT(inside / total, 0.999);  // measured 1.0: the background does not change
  cv::Point peak;
  cv::minMaxLoc(a, nullptr, nullptr, nullptr, &peak);
  EXPECT_TRUE(moving.contains(peak));
  const auto stage = build_stage("{type: active_image, window: 5}");
  Item item;
  item.set_sequence("clip", frames);
  stage->apply(SampleMeta{}, item);
  double lo = 0, hi = 0;
  cv::minMaxLoc(item.at("active_image"), &lo, &hi);
  EXPECT_NEAR(hi, 1.0, 1e-6);
  EXPECT_THROW(build_stage("{type: active_image, window: 4}"), ConfigError);
}

// ---------------------------------------------------------------- key frames

TEST(KeyFrames, AutoPicksTheMostChangedFramesSpreadOverTheClip) {
  // Frame t is the first frame plus a displacement profile d(t) peaking at t = 6.
  const double d[] = {0, 2, 5, 9, 14, 18, 20, 17, 12, 6, 3, 1};
  std::vector<cv::Mat> frames;
  for (const double v : d) frames.emplace_back(4, 4, CV_8UC1, cv::Scalar(50 + v));
  EXPECT_EQ(select_key_frames(frames, 1), std::vector<std::size_t>{6});
  // gap = 12 / 6 = 2: 6 first; 5 and 7 are too close to it, so 4, then 8.
  EXPECT_EQ(select_key_frames(frames, 3), (std::vector<std::size_t>{4, 6, 8}));
  EXPECT_EQ(select_key_frames(frames, 12).size(), 12u);
  EXPECT_THROW(select_key_frames(frames, 13), ValueError);
}

TEST(KeyFrames, AnnotatedFramesAreFoundByNumber) {
  const auto stage = build_stage("{type: key_frames, frames: [onset, apex, offset]}");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"clip", "clip_frames"}));
  SampleMeta s;
  s.id = "t/1";
  s.onset = 20;
  s.apex = 23;
  s.offset = 27;
  std::vector<cv::Mat> clip;
  cv::Mat numbers(1, 8, CV_32SC1);
  for (int n = 20; n <= 27; ++n) {
    clip.emplace_back(3, 3, CV_8UC1, cv::Scalar(n));
    numbers.at<int>(0, n - 20) = n;
  }
  Item item;
  item.set_sequence("clip", clip);
  item.set("clip_frames", numbers);
  stage->apply(s, item);
  const auto& k = item.seq("key_frames");
  ASSERT_EQ(k.size(), 3u);
  EXPECT_EQ(k[0].at<unsigned char>(0, 0), 20);
  EXPECT_EQ(k[1].at<unsigned char>(0, 0), 23);
  EXPECT_EQ(k[2].at<unsigned char>(0, 0), 27);
  // A spotted apex (apex_spot ran) wins over the sample's.
  item.set("apex_frame", cv::Mat(1, 1, CV_32SC1, cv::Scalar(25)));
  stage->apply(s, item);
  EXPECT_EQ(item.seq("key_frames")[1].at<unsigned char>(0, 0), 25);
  // An unknown apex is a per-sample error.
  item.mats.erase("apex_frame");
  s.apex = -1;
  EXPECT_THROW(stage->apply(s, item), SampleError);

  const auto automatic = build_stage("{type: key_frames, method: auto, count: 2, output: keys}");
  EXPECT_EQ(automatic->reads(), std::vector<std::string>{"clip"});
  automatic->apply(s, item);
  EXPECT_EQ(item.seq("keys").size(), 2u);
  EXPECT_THROW(build_stage("{type: key_frames, method: annotated, count: 2}"), ConfigError);
  EXPECT_THROW(build_stage("{type: key_frames, frames: [peak]}"), ConfigError);
}

TEST(TemporalStages, RunInAPipelineFromFramesOnDisk) {
  test::TempDir dir;
  SampleMeta s;
  s.id = "t/s1/c";
  s.clip_dir = dir.path();
  s.frame_pattern = "f{}.png";
  s.onset = 3;
  s.apex = 6;
  s.offset = 10;
  const auto frames = moving_square(8);
  for (int t = 0; t < 8; ++t) cv::imwrite(s.frame_path(3 + t).string(), frames[static_cast<std::size_t>(t)]);
  const auto cfg = Config::from_string(R"(preprocess:
  outputs: [key_frames, dynamic_image, clip]
  stages:
    - {type: frames, frames: [], clip: true}
    - {type: key_frames, frames: [onset, apex, offset]}
    - {type: interpolate, method: tim, length: 5}
    - {type: dynamic_image}
    - {type: to_float, keys: [key_frames, clip], scale: unit}
)", "p.yaml");
  const auto pipeline = Pipeline::from_config(cfg.root().child("preprocess"));
  cfg.check_all_used();
  const Item item = pipeline.run_one(s);
  ASSERT_EQ(item.seq("clip").size(), 5u);
  ASSERT_EQ(item.seq("key_frames").size(), 3u);
  EXPECT_EQ(item.seq("key_frames")[1].type(), CV_32FC1);
  // The apex key frame is frame 6, index 3 of the clip: the square's left edge at x = 13.
  EXPECT_NEAR(item.seq("key_frames")[1].at<float>(45, 13), 220 / 255.0, 1e-6);
  EXPECT_EQ(item.at("dynamic_image").size(), cv::Size(64, 64));
}

}  // namespace
}  // namespace mer
