#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/pipeline.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "support/model_checks.hpp"

namespace mer {
namespace {

using test::error_message;

// A tiny TorchScript "magnifier" written from source in the test (no Python needed): the first-order
// Eulerian model in intensity, frame + alpha (frame - reference). Saved as a real .pt file so that the
// stage goes through torch::jit::load exactly as with a trained network.
std::filesystem::path save_model(const std::filesystem::path& dir, const std::string& name, const std::string& body) {
  torch::jit::Module m("Magnifier");
  m.define("def forward(self, reference, frame, alpha):\n    " + body + "\n");
  const auto path = dir / name;
  m.save(path.string());
  return path;
}

std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  auto stage = all_stages().build(config.root());
  config.check_all_used();
  return stage;
}

std::string stage_yaml(const std::filesystem::path& model, const std::string& extra = "") {
  return "{type: magnify_model, model: \"" + model.string() + "\"" + extra + "}";
}

// Three 8-bit gray frames of a smooth gradient that brightens over time.
std::vector<cv::Mat> gray_clip() {
  std::vector<cv::Mat> clip;
  for (int t = 0; t < 3; ++t) {
    cv::Mat f(16, 20, CV_8UC1);
    for (int y = 0; y < f.rows; ++y)
      for (int x = 0; x < f.cols; ++x) f.at<uchar>(y, x) = static_cast<uchar>(60 + 4 * x + 3 * y + 5 * t);
    clip.push_back(f);
  }
  return clip;
}

// What the linear model gives for one 8-bit pixel under the [-1, 1] convention, clipped and rounded.
int expected_pixel(int frame, int reference, double alpha) {
  const double f = frame / 127.5 - 1, r = reference / 127.5 - 1;
  const double y = std::clamp(f + alpha * (f - r), -1.0, 1.0);
  return static_cast<int>(std::lround((y + 1) * 127.5));
}

TEST(MagnifyModel, RunsATorchScriptModelOnEveryFrameAgainstTheReference) {
  test::TempDir dir;
  const auto model = save_model(dir.path(), "linear.pt", "return frame + alpha * (frame - reference)");
  for (const std::string reference : {"first", "previous"}) {
    const auto stage = build(stage_yaml(model, ", alpha: 3, reference: " + reference));
    EXPECT_EQ(stage->type(), "magnify_model");
    EXPECT_EQ(stage->reads(), (std::vector<std::string>{"clip"}));
    Item item;
    const auto clip = gray_clip();
    item.set_sequence("clip", clip);
    stage->apply(SampleMeta{}, item);
    const auto& out = item.seq("clip");
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].type(), CV_8UC1);
    EXPECT_EQ(cv::norm(out[0], clip[0], cv::NORM_INF), 0.0);  // frame 0 passes through
    int worst = 0;
    for (int t = 1; t < 3; ++t) {
      const cv::Mat& ref = reference == "first" ? clip[0] : clip[static_cast<std::size_t>(t - 1)];
      for (int y = 0; y < 16; ++y) {
        for (int x = 0; x < 20; ++x) {
          const int want = expected_pixel(clip[static_cast<std::size_t>(t)].at<uchar>(y, x), ref.at<uchar>(y, x), 3);
          worst = std::max(worst, std::abs(out[static_cast<std::size_t>(t)].at<uchar>(y, x) - want));
        }
      }
    }
    // Frame t = frame + 3 (frame - reference): 5 grey levels brighter per frame adds 15 more (first: 30 at t=2).
    std::printf("[ measured ] magnify_model (%s): worst difference to the formula %d grey level(s)\n",
                reference.c_str(), worst);
    EXPECT_LE(worst, 1) << reference;
  }
}

TEST(MagnifyModel, ColourFramesAreRgbForTheModelAndBgrAgainAfterIt) {
  test::TempDir dir;
  // Pure red in the model's RGB: must come back as OpenCV's BGR (0, 0, 255). Returning a tuple, as Oh et
  // al.'s network does (output plus its representations), is accepted too.
  const auto model = save_model(dir.path(), "red.pt",
                                "return (frame * 0.0 + torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1), frame)");
  const auto stage = build(stage_yaml(model, ", output: magnified"));
  Item item;
  item.set_sequence("clip", {cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.2, 0.4, 0.6)),
                             cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.3, 0.5, 0.7))});
  stage->apply(SampleMeta{}, item);
  const auto& out = item.seq("magnified");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type(), CV_32FC3);
  const auto px = out[1].at<cv::Vec3f>(3, 3);
  EXPECT_NEAR(px[0], 0.0, 1e-6);
  EXPECT_NEAR(px[1], 0.0, 1e-6);
  EXPECT_NEAR(px[2], 1.0, 1e-6);
  EXPECT_EQ(item.seq("clip").size(), 2u);  // the input stays
}

TEST(MagnifyModel, FingerprintFollowsTheModelFileAndOptions) {
  test::TempDir dir;
  const auto a = save_model(dir.path(), "a.pt", "return frame + alpha * (frame - reference)");
  const auto fa = build(stage_yaml(a))->fingerprint();
  EXPECT_EQ(fa, build(stage_yaml(a))->fingerprint());
  EXPECT_NE(fa, build(stage_yaml(a, ", alpha: 5"))->fingerprint());
  EXPECT_NE(fa, build(stage_yaml(a, ", reference: previous"))->fingerprint());
  // Same path, other weights: another fingerprint.
  save_model(dir.path(), "a.pt", "return frame + 2.0 * alpha * (frame - reference)");
  EXPECT_NE(fa, build(stage_yaml(a))->fingerprint());
}

TEST(MagnifyModel, ErrorsNameTheFileTheLineOrTheSample) {
  test::TempDir dir;
  auto what = error_message<ConfigError>([&] { build("type: magnify_model\nmodel: " + (dir / "missing.pt").string()); });
  EXPECT_CONTAINS(what, "stage.yaml:2");
  EXPECT_CONTAINS(what, "missing.pt");
  {
    std::ofstream(dir / "garbage.pt") << "not a zip archive";
  }
  what = error_message<ConfigError>([&] { build(stage_yaml(dir / "garbage.pt")); });
  EXPECT_CONTAINS(what, "cannot load TorchScript model");
  EXPECT_CONTAINS(what, "garbage.pt");
  what = error_message<ConfigError>([&] { build(stage_yaml(dir / "garbage.pt", ", reference: last")); });
  EXPECT_CONTAINS(what, "reference");

  const auto wrong = save_model(dir.path(), "wrong.pt", "return frame[:, 0:1]");
  Item item;
  item.set_sequence("clip", gray_clip());
  what = error_message<ConfigError>([&] { build(stage_yaml(wrong))->apply(SampleMeta{}, item); });
  EXPECT_CONTAINS(what, "wrong.pt");
  EXPECT_CONTAINS(what, "expected [1, 3, 16, 20]");

  const auto ok = save_model(dir.path(), "ok.pt", "return frame");
  SampleMeta s;
  s.id = "test/s1/short";
  Item one;
  one.set_sequence("clip", {gray_clip()[0]});
  what = error_message<SampleError>([&] { build(stage_yaml(ok))->apply(s, one); });
  EXPECT_CONTAINS(what, "test/s1/short");
  EXPECT_CONTAINS(what, "at least 2");
}

TEST(MagnifyModel, AllStagesHasTheBuiltinsAndTheLearnStagesForPipelines) {
  EXPECT_TRUE(all_stages().contains("magnify_model"));
  EXPECT_TRUE(all_stages().contains("magnify"));
  EXPECT_TRUE(all_stages().contains("flow"));
  EXPECT_FALSE(builtin_stages().contains("magnify_model"));

  test::TempDir dir;
  const auto model = save_model(dir.path(), "linear.pt", "return frame + alpha * (frame - reference)");
  SampleMeta s;
  s.id = "test/s1/clip";
  s.onset = 1, s.apex = 2, s.offset = 3;
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  const auto clip = gray_clip();
  for (int n = 1; n <= 3; ++n) cv::imwrite(s.frame_path(n).string(), clip[static_cast<std::size_t>(n - 1)]);
  const auto config = Config::from_string("preprocess:\n  outputs: [clip]\n  stages:\n"
                                          "    - {type: frames, frames: [], clip: true}\n"
                                          "    - " + stage_yaml(model, ", alpha: 2") + "\n"
                                          "    - {type: to_float, keys: [clip], scale: none}\n",
                                          "pre.yaml");
  const auto pipeline = Pipeline::from_config(config.root().child("preprocess"), all_stages());
  config.check_all_used();
  const auto item = pipeline.run_one(s);
  ASSERT_EQ(item.seq("clip").size(), 3u);
  // Frame 2 = frame + 2 (frame - frame 0): frame 2 is 10 grey levels above frame 0, so it gains 20.
  EXPECT_NEAR(item.seq("clip")[2].at<float>(5, 5), clip[2].at<uchar>(5, 5) + 20, 1.0);
}

}  // namespace
}  // namespace mer
