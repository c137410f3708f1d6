#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/regions.hpp>
#include <mer/preprocess/stage.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace mer {
namespace {

constexpr int kSize = 128;

std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  auto stage = builtin_stages().build(config.root());
  config.check_all_used();
  return stage;
}

// A known 68-point face: the canonical (mean) face scaled to a 128 px crop, as align leaves it.
std::vector<cv::Point2f> face_points() {
  std::vector<cv::Point2f> pts;
  for (const auto& p : canonical_face_68()) pts.emplace_back(p.x * kSize, p.y * kSize);
  return pts;
}

cv::Mat landmark_mat(const std::vector<cv::Point2f>& pts) { return cv::Mat(pts, true).reshape(2, 68); }

// Every pixel holds its own position (x + 1000 y): a crop shows exactly where it came from.
cv::Mat position_image(cv::Size size) {
  cv::Mat m(size, CV_32FC1);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) m.at<float>(y, x) = static_cast<float>(x + 1000 * y);
  }
  return m;
}

Item face_item() {
  Item item;
  item.mats["landmarks"] = landmark_mat(face_points());
  item.mats["apex"] = position_image(cv::Size(kSize, kSize));
  return item;
}

cv::Rect roi_row(const cv::Mat& rois, int i) {
  return cv::Rect(rois.at<int>(i, 0), rois.at<int>(i, 1), rois.at<int>(i, 2), rois.at<int>(i, 3));
}

cv::Point rounded(cv::Point2f p) { return cv::Point(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y))); }

TEST(GridBlocks, TileTheImageExactly) {
  for (const auto& c : {std::make_tuple(cv::Size(128, 128), 4, 4), std::make_tuple(cv::Size(100, 70), 3, 7),
                        std::make_tuple(cv::Size(28, 28), 5, 5)}) {
    const auto [size, rows, cols] = c;
    const auto blocks = grid_blocks(size, rows, cols);
    ASSERT_EQ(blocks.size(), static_cast<std::size_t>(rows * cols));
    cv::Mat cover(size, CV_32SC1, cv::Scalar(0));
    int min_w = size.width, max_w = 0;
    for (const auto& b : blocks) {
      ASSERT_EQ(b & cv::Rect(0, 0, size.width, size.height), b);
      cover(b) += 1;
      min_w = std::min(min_w, b.width), max_w = std::max(max_w, b.width);
    }
    double lo, hi;
    cv::minMaxLoc(cover, &lo, &hi);
    EXPECT_EQ(lo, 1) << size;  // every pixel covered ...
    EXPECT_EQ(hi, 1) << size;  // ... exactly once
    EXPECT_LE(max_w - min_w, 1);
  }
  EXPECT_THROW(grid_blocks(cv::Size(8, 8), 9, 1), ValueError);
}

TEST(RoiStage, GridCropsAreTheBlocksInRowMajorOrder) {
  const auto stage = build("type: roi\nmethod: grid\napply: crop\nrows: 4\ncols: 4\nkeys: [apex]\n");
  EXPECT_EQ(stage->reads(), std::vector<std::string>{"apex"});
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"apex", "rois"}));
  Item item = face_item();
  const cv::Mat image = item.at("apex").clone();
  stage->apply(SampleMeta{}, item);
  ASSERT_TRUE(item.has_sequence("apex"));
  const auto& crops = item.seq("apex");
  const cv::Mat& rois = item.at("rois");
  ASSERT_EQ(rois.type(), CV_32SC1);
  ASSERT_EQ(rois.size(), cv::Size(4, 16));
  ASSERT_EQ(crops.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(roi_row(rois, i), cv::Rect(32 * (i % 4), 32 * (i / 4), 32, 32));
    EXPECT_EQ(cv::norm(crops[static_cast<std::size_t>(i)], image(roi_row(rois, i)), cv::NORM_INF), 0.0);
  }
}

TEST(RoiStage, FlowCropsResizedKeepVectorsInCropPixels) {
  // A 32x32 block resized to 16: a 2 px motion becomes 1 px of the crop's grid.
  const auto stage = build("type: roi\nmethod: grid\napply: crop\nrows: 2\ncols: 2\nsize: 16\nkeys: [flow]\n");
  Item item;
  item.mats["flow"] = cv::Mat(64, 64, CV_32FC2, cv::Scalar(2.0, -1.0));
  stage->apply(SampleMeta{}, item);
  ASSERT_EQ(item.seq("flow").size(), 4u);
  for (const auto& c : item.seq("flow")) {
    ASSERT_EQ(c.size(), cv::Size(16, 16));
    EXPECT_NEAR(c.at<cv::Vec2f>(8, 8)[0], 1.0, 1e-6);
    EXPECT_NEAR(c.at<cv::Vec2f>(8, 8)[1], -0.5, 1e-6);
  }
}

TEST(EyeCheekMask, CoversEveryEyePolygonPointAndNoCheek) {
  const auto pts = face_points();
  const double margin = 0.1;
  const cv::Mat mask = eye_cheek_mask(pts, cv::Size(kSize, kSize), margin);
  ASSERT_EQ(mask.type(), CV_8UC1);
  for (int i = 36; i <= 47; ++i) EXPECT_EQ(mask.at<uchar>(rounded(pts[i])), 0) << "landmark " << i;
  for (const auto& poly : eye_polygons(pts, margin)) {
    for (const auto& p : poly) EXPECT_EQ(mask.at<uchar>(p), 0) << p;
  }
  // The polygon vertices lie margin * IOD outside the landmarks: 0.1 * 51.2 px = 5.1 px.
  const double iod = interocular_distance(pts);
  EXPECT_NEAR(iod, 0.4 * kSize, 1e-3);
  const auto polys = eye_polygons(pts, margin);
  EXPECT_NEAR(cv::norm(cv::Point2f(polys[0][0]) - pts[36]), margin * iod, 0.75);
  // Cheeks (between the jaw and the nose wings, below the eyes), nose tip, mouth, brows: kept.
  for (const auto& p : {(pts[2] + pts[31]) * 0.5f, (pts[14] + pts[35]) * 0.5f, (pts[1] + pts[40]) * 0.5f,
                        (pts[15] + pts[47]) * 0.5f, pts[30], pts[51], pts[19], pts[24]}) {
    EXPECT_EQ(mask.at<uchar>(rounded(p)), 255) << p;
  }
  // Outside the face hull: background, zeroed.
  EXPECT_EQ(mask.at<uchar>(2, 2), 0);
  // The masked eyes are a small part of the face.
  std::vector<cv::Point2f> hull;
  cv::convexHull(pts, hull);
  const double face_area = cv::contourArea(hull), kept = cv::countNonZero(mask);
  std::printf("[ measured ] eye_cheek_mask margin 0.1: %.1f%% of the face hull masked\n", 100 * (1 - kept / face_area));
  EXPECT_GT(kept / face_area, 0.85);
  EXPECT_LT(kept / face_area, 0.99);
}

TEST(RoiStage, EyeCheekMaskZeroesEyesOfEveryKeyAndFrame) {
  const auto stage = build("type: roi\nmethod: eye_cheek_mask\nmargin: 0.1\nkeys: [flow, clip]\n");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"landmarks", "flow", "clip"}));
  const auto pts = face_points();
  Item item;
  item.mats["landmarks"] = landmark_mat(pts);
  item.mats["flow"] = cv::Mat(kSize, kSize, CV_32FC2, cv::Scalar(1.0, 2.0));
  item.sequences["clip"] = {cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(200)), cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(100))};
  stage->apply(SampleMeta{}, item);
  const cv::Point eye = rounded(pts[37]), cheek = rounded((pts[2] + pts[31]) * 0.5f);
  EXPECT_EQ(item.at("flow").at<cv::Vec2f>(eye), cv::Vec2f(0, 0));
  EXPECT_EQ(item.at("flow").at<cv::Vec2f>(cheek), cv::Vec2f(1, 2));
  ASSERT_EQ(item.seq("clip").size(), 2u);
  EXPECT_EQ(item.seq("clip")[1].at<uchar>(eye), 0);
  EXPECT_EQ(item.seq("clip")[1].at<uchar>(cheek), 100);
  // One roi: the kept face's bounding box.
  ASSERT_EQ(item.at("rois").rows, 1);
  EXPECT_TRUE(roi_row(item.at("rois"), 0).contains(cheek));
}

TEST(LandmarkPatches, CentresAreTheLandmarks) {
  const auto pts = face_points();
  const auto patches = landmark_patches(pts, default_patch_landmarks(), 16);
  ASSERT_EQ(patches.size(), default_patch_landmarks().size());
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const auto& b = patches[i].box;
    const cv::Point c = rounded(pts[static_cast<std::size_t>(default_patch_landmarks()[i])]);
    EXPECT_EQ(cv::Point(b.x + b.width / 2, b.y + b.height / 2), c);
    EXPECT_EQ(b.size(), cv::Size(16, 16));
  }
  EXPECT_THROW(landmark_patches(pts, {68}, 16), ValueError);

  // Through the stage: the sequence of equal patches, each with the landmark's own pixel at its centre,
  // also for a landmark so close to the border that its patch must be padded.
  const auto stage = build("type: roi\nmethod: landmark_patches\nlandmarks: [30, 48, 8]\npatch_size: 15\napply: crop\n"
                           "keys: [apex]\n");
  Item item = face_item();
  auto moved = pts;
  moved[8] = cv::Point2f(2.2f, 126.6f);
  item.mats["landmarks"] = landmark_mat(moved);
  stage->apply(SampleMeta{}, item);
  const auto& crops = item.seq("apex");
  ASSERT_EQ(crops.size(), 3u);
  const std::vector<int> ids = {30, 48, 8};
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(crops[i].size(), cv::Size(15, 15));
    const cv::Point c = rounded(moved[static_cast<std::size_t>(ids[i])]);
    EXPECT_EQ(crops[i].at<float>(7, 7), static_cast<float>(c.x + 1000 * c.y)) << "landmark " << ids[i];
    const cv::Rect b = roi_row(item.at("rois"), static_cast<int>(i));
    EXPECT_EQ(cv::Point(b.x + 7, b.y + 7), c);
  }
  // Padding replicates the border: the patch's corner outside the image repeats the corner pixel.
  EXPECT_EQ(crops[2].at<float>(14, 0), static_cast<float>(0 + 1000 * 127));
}

TEST(FacsRegions, ContainTheirLandmarksAndStayOnTheFace) {
  const auto pts = face_points();
  const auto regions = facs_regions(pts);
  ASSERT_EQ(regions.size(), facs_region_names().size());
  ASSERT_EQ(regions.size(), 13u);
  const cv::Rect image(0, 0, kSize, kSize);
  std::vector<cv::Point2f> hull;
  cv::convexHull(pts, hull);
  for (const auto& r : regions) {
    EXPECT_EQ(r.box & image, r.box) << r.name;  // inside the crop
    const cv::Point2f centre(r.box.x + r.box.width / 2.f, r.box.y + r.box.height / 2.f);
    EXPECT_GE(cv::pointPolygonTest(hull, centre, false), 0) << r.name;  // centred on the face
    EXPECT_LE(r.box.area(), 0.1 * kSize * kSize) << r.name;             // local
    std::printf("[ measured ] facs %-19s (%3d, %3d) %2dx%2d\n", r.name.c_str(), r.box.x, r.box.y, r.box.width,
                r.box.height);
  }
  auto box = [&](const std::string& name) {
    for (const auto& r : regions) {
      if (r.name == name) return r.box;
    }
    return cv::Rect();
  };
  for (int i = 36; i <= 41; ++i) EXPECT_TRUE(box("eye_left").contains(rounded(pts[i])));
  for (int i = 42; i <= 47; ++i) EXPECT_TRUE(box("eye_right").contains(rounded(pts[i])));
  EXPECT_TRUE(box("mouth_corner_left").contains(rounded(pts[48])));
  EXPECT_TRUE(box("mouth_corner_right").contains(rounded(pts[54])));
  EXPECT_TRUE(box("chin").contains(rounded(pts[8])));
  // The cheek boxes stay off the eyes and the nose.
  for (const char* cheek : {"cheek_left", "cheek_right"}) {
    for (const char* other : {"eye_left", "eye_right", "nose"}) EXPECT_EQ((box(cheek) & box(other)).area(), 0) << cheek << " " << other;
  }

  const auto stage = build("type: roi\nmethod: facs\napply: crop\nsize: 20\nkeys: [apex]\n");
  Item item = face_item();
  stage->apply(SampleMeta{}, item);
  ASSERT_EQ(item.seq("apex").size(), 13u);
  for (const auto& c : item.seq("apex")) EXPECT_EQ(c.size(), cv::Size(20, 20));
  EXPECT_EQ(item.at("rois").rows, 13);
}

TEST(RoiStage, EyesMouthMaskKeepsOnlyEyesBrowsAndMouth) {
  const auto stage = build("type: roi\nmethod: eyes_mouth\nkeys: [apex]\n");
  const auto pts = face_points();
  Item item = face_item();
  stage->apply(SampleMeta{}, item);
  const cv::Mat& out = item.at("apex");
  for (int i : {17, 21, 22, 26, 36, 45, 48, 54, 57}) EXPECT_GT(out.at<float>(rounded(pts[i])), 0) << i;
  for (const auto& p : {pts[30], (pts[2] + pts[31]) * 0.5f, pts[8]}) EXPECT_EQ(out.at<float>(rounded(p)), 0) << p;
  EXPECT_EQ(item.at("rois").rows, 3);
}

TEST(Heatmap, TopKPicksTheHottestBlocksOfAKnownMap) {
  // 8x8 blocks of 8 px; blocks 42, 9 and 27 are hot, in that order, the rest is weak noise.
  cv::Mat heat(64, 64, CV_32FC1);
  cv::randu(heat, 0.0, 0.1);
  const auto blocks = grid_blocks(heat.size(), 8, 8);
  heat(blocks[42]).setTo(3.0);
  heat(blocks[9]).setTo(2.0);
  heat(blocks[27]).setTo(1.0);
  EXPECT_EQ(hottest_blocks(heat, 8, 8, 3), (std::vector<int>{42, 9, 27}));

  test::TempDir dir;
  write_heatmap(dir / "heat.yml", heat);
  write_heatmap(dir / "heat.png", heat);
  EXPECT_EQ(cv::norm(read_heatmap(dir / "heat.yml"), heat, cv::NORM_INF), 0.0);
  EXPECT_EQ(hottest_blocks(read_heatmap(dir / "heat.png"), 8, 8, 3), (std::vector<int>{42, 9, 27}));
  EXPECT_THROW(read_heatmap(dir / "missing.yml"), IoError);

  // Through the stage on a 128 px crop: the same blocks, now 16 px.
  for (const char* file : {"heat.yml", "heat.png"}) {
    const auto stage = build("type: roi\nmethod: heatmap\nheatmap: " + (dir / file).string() +
                             "\nrows: 8\ncols: 8\ntop_k: 3\nkeys: [apex]\n");
    Item item = face_item();
    stage->apply(SampleMeta{}, item);
    const cv::Mat& rois = item.at("rois");
    ASSERT_EQ(rois.rows, 3);
    EXPECT_EQ(roi_row(rois, 0), cv::Rect(16 * 2, 16 * 5, 16, 16));  // block 42: row 5, column 2
    EXPECT_EQ(roi_row(rois, 1), cv::Rect(16 * 1, 16 * 1, 16, 16));  // block 9
    EXPECT_EQ(roi_row(rois, 2), cv::Rect(16 * 3, 16 * 3, 16, 16));  // block 27
    // Masked outside: 3 of 64 blocks keep their values.
    EXPECT_EQ(cv::countNonZero(item.at("apex")), 3 * 256);
  }
  // The fingerprint follows the content of the file.
  const auto a = build("type: roi\nmethod: heatmap\nheatmap: " + (dir / "heat.yml").string() + "\nrows: 8\ncols: 8\n");
  heat(blocks[0]).setTo(9.0);
  write_heatmap(dir / "heat.yml", heat);
  const auto b = build("type: roi\nmethod: heatmap\nheatmap: " + (dir / "heat.yml").string() + "\nrows: 8\ncols: 8\n");
  EXPECT_NE(a->fingerprint(), b->fingerprint());
}

TEST(Heatmap, MotionHeatmapIsTheMeanMagnitude) {
  const cv::Mat f1(16, 16, CV_32FC2, cv::Scalar(3.0, 4.0));  // |w| = 5
  const cv::Mat m2(16, 16, CV_32FC1, cv::Scalar(1.0));
  const cv::Mat heat = motion_heatmap({f1, m2});
  ASSERT_EQ(heat.type(), CV_32FC1);
  double lo, hi;
  cv::minMaxLoc(heat, &lo, &hi);
  EXPECT_NEAR(lo, 3.0, 1e-6);
  EXPECT_NEAR(hi, 3.0, 1e-6);
  EXPECT_THROW(motion_heatmap({}), ValueError);
  EXPECT_THROW(motion_heatmap({f1, cv::Mat(8, 8, CV_32FC1)}), ValueError);
}

TEST(LandmarkMap, PeaksSitOnTheLandmarks) {
  const auto stage = build("type: landmark_map\nframe: apex\nsigma: 1.5\ngroups: true\n");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"landmarks", "apex"}));
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"landmark_map", "landmark_map_groups"}));
  const auto pts = face_points();
  Item item = face_item();
  const auto start = std::chrono::steady_clock::now();
  stage->apply(SampleMeta{}, item);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const cv::Mat& map = item.at("landmark_map");
  ASSERT_EQ(map.type(), CV_32FC1);
  ASSERT_EQ(map.size(), cv::Size(kSize, kSize));
  double hi;
  cv::minMaxLoc(map, nullptr, &hi);
  EXPECT_LE(hi, 1.0 + 1e-6);  // max: peaks stay at 1
  // Landmarks at least 5 px from any other (jaw ends, chin, brow middles, nose tip, outer eye corners;
  // not the mouth corners, 2.7 px from the inner lip corners): the local maximum of a 5x5 window is at
  // the rounded landmark and its value is the Gaussian at the rounding offset.
  for (int i : {0, 8, 16, 19, 24, 30, 36, 45}) {
    const cv::Point c = rounded(pts[static_cast<std::size_t>(i)]);
    cv::Point at;
    cv::minMaxLoc(map(cv::Rect(c.x - 2, c.y - 2, 5, 5)), nullptr, nullptr, nullptr, &at);
    EXPECT_EQ(at + cv::Point(c.x - 2, c.y - 2), c) << "landmark " << i;
    const double d2 = std::pow(c.x - pts[i].x, 2) + std::pow(c.y - pts[i].y, 2);
    EXPECT_NEAR(map.at<float>(c), std::exp(-d2 / (2 * 1.5 * 1.5)), 1e-5) << "landmark " << i;
  }
  // Far from every landmark (forehead corner): nothing.
  EXPECT_LT(map.at<float>(2, 2), 1e-6);
  std::printf("[ measured ] landmark_map 128x128, sigma 1.5, 5 groups: %.2f ms\n", ms);

  // Groups: brows, eyes, nose, mouth, jaw; the nose tip peaks only in the nose channel.
  const auto& groups = item.seq("landmark_map_groups");
  ASSERT_EQ(groups.size(), 5u);
  const cv::Point nose = rounded(pts[30]);
  EXPECT_GT(groups[2].at<float>(nose), 0.5f);
  for (std::size_t g : {0u, 1u, 3u, 4u}) EXPECT_LT(groups[g].at<float>(nose), 1e-3f) << g;

  // At another size the landmarks are scaled: 128 -> 32, pixel centres to pixel centres.
  const auto small = build("type: landmark_map\nframe: apex\nsize: 32\nsigma: 1\ncombine: sum\n");
  Item item2 = face_item();
  small->apply(SampleMeta{}, item2);
  const cv::Mat& m2 = item2.at("landmark_map");
  ASSERT_EQ(m2.size(), cv::Size(32, 32));
  const cv::Point2f chin((pts[8].x + 0.5f) / 4 - 0.5f, (pts[8].y + 0.5f) / 4 - 0.5f);
  cv::Point at;
  cv::minMaxLoc(m2(cv::Rect(rounded(chin).x - 2, rounded(chin).y - 2, 5, 5)), nullptr, nullptr, nullptr, &at);
  EXPECT_EQ(at + cv::Point(rounded(chin).x - 2, rounded(chin).y - 2), rounded(chin));
}

TEST(RoiStage, PipelineChecksThatLandmarkMethodsHaveLandmarks) {
  auto pipeline = [](const std::string& roi) {
    const auto config = Config::from_string(
        "preprocess:\n  outputs: [flow, magnitude]\n  stages:\n    - {type: frames, frames: [onset, apex, offset]}\n"
        "    - {type: flow, algorithm: dis}\n    - {type: flow, algorithm: dis, from: apex, to: offset, output: back}\n"
        "    - {type: flow_polar, flow: back}\n    - " + roi + "\n",
        "pre.yaml");
    return Pipeline::from_config(config.root().child("preprocess"));
  };
  EXPECT_NO_THROW(pipeline("{type: roi, method: grid, keys: [flow, back]}"));
  try {
    pipeline("{type: roi, method: facs, apply: crop, size: 16, keys: [flow]}");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("landmarks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pre.yaml:8"), std::string::npos) << e.what();
  }
}

TEST(RoiStage, OptionsAreCheckedAndFingerprinted) {
  EXPECT_THROW(build("type: roi\nmethod: facs_regions\n"), ConfigError);
  EXPECT_THROW(build("type: roi\nmethod: facs\napply: crop\n"), ConfigError);  // crops of many sizes need `size`
  EXPECT_THROW(build("type: roi\nmethod: heatmap\n"), ConfigError);             // no heat map given
  EXPECT_THROW(build("type: roi\nmethod: heatmap\nheatmap: /nonexistent/heat.yml\n"), ConfigError);
  EXPECT_THROW(build("type: roi\nmethod: landmark_patches\nlandmarks: [3, 70]\n"), ConfigError);
  EXPECT_THROW(build("type: roi\nmethod: facs\nrows: 3\n"), ConfigError);  // rows is a grid option
  EXPECT_THROW(build("type: roi\nkeys: [landmarks]\n"), ConfigError);
  EXPECT_THROW(build("type: landmark_map\ncombine: mean\n"), ConfigError);
  EXPECT_THROW(build("type: landmark_map\nsigma: 0\n"), ConfigError);
  try {
    build("type: roi\nmethod: grid\napply: cropp\n");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("stage.yaml:3"), std::string::npos) << e.what();
  }
  const auto a = build("type: roi\n")->fingerprint();
  EXPECT_EQ(a, build("type: roi\nmethod: grid\nrows: 4\ncols: 4\n")->fingerprint());
  EXPECT_NE(a, build("type: roi\nrows: 3\n")->fingerprint());
  EXPECT_NE(a, build("type: roi\napply: crop\n")->fingerprint());
  EXPECT_NE(build("type: roi\nmethod: eye_cheek_mask\n")->fingerprint(),
            build("type: roi\nmethod: eye_cheek_mask\nmargin: 0.2\n")->fingerprint());
  EXPECT_NE(build("type: landmark_map\n")->fingerprint(), build("type: landmark_map\nsigma: 3\n")->fingerprint());
  EXPECT_NE(a.find("v1"), std::string::npos);

  // Per-sample problems are SampleErrors naming the sample: entries of different sizes.
  const auto stage = build("type: roi\nkeys: [flow, strain]\n");
  Item item;
  item.mats["flow"] = cv::Mat(32, 32, CV_32FC2, cv::Scalar(0, 0));
  item.mats["strain"] = cv::Mat(16, 16, CV_32FC1, cv::Scalar(0));
  SampleMeta s;
  s.id = "test/s1";
  try {
    stage->apply(s, item);
    FAIL();
  } catch (const SampleError& e) {
    EXPECT_NE(std::string(e.what()).find("test/s1"), std::string::npos) << e.what();
  }
  // Landmarks of a 128 px crop against entries already resized to 28 px.
  Item small;
  small.mats["landmarks"] = landmark_mat(face_points());
  small.mats["flow"] = cv::Mat(28, 28, CV_32FC2, cv::Scalar(0, 0));
  EXPECT_THROW(build("type: roi\nmethod: eye_cheek_mask\nkeys: [flow]\n")->apply(s, small), SampleError);
}

}  // namespace
}  // namespace mer
