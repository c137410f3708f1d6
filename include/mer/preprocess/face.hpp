#pragma once
/// Faces: dlib HOG detection, dlib 68-point landmarks, similarity alignment to a canonical face.
#include <opencv2/core.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace mer {

struct FaceDetection {
  cv::Rect2f box;
  double confidence = 0;
};

/// dlib's HOG frontal face detector (Dalal & Triggs 2005; King 2009). Thread-safe: each thread uses its
/// own copy of the detector internally.
class HogFaceDetector {
 public:
  /// `upsample_below`: images whose long side is under this many pixels are upsampled once first
  /// (small faces); `min_confidence`: detections below are dropped (0.3 is sound on real photos).
  explicit HogFaceDetector(int upsample_below = 1000, double min_confidence = 0.3);
  /// All faces, most confident first. `image` is 8-bit grey or BGR.
  std::vector<FaceDetection> detect(const cv::Mat& image) const;
  /// The largest face, if any.
  std::optional<FaceDetection> detect_largest(const cv::Mat& image) const;

 private:
  int upsample_below_;
  double min_confidence_;
};

/// dlib's 68-point shape predictor (Kazemi & Sullivan 2014). Loading takes ~1 s; share one instance.
class LandmarkDetector {
 public:
  /// Throws IoError naming the file if the model cannot be read.
  explicit LandmarkDetector(const std::filesystem::path& model_file);
  ~LandmarkDetector();
  /// 68 points in image coordinates.
  std::vector<cv::Point2f> detect(const cv::Mat& image, const cv::Rect2f& face) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Shared, loaded once per process per path (the model is ~100 MB).
std::shared_ptr<const LandmarkDetector> shared_landmark_detector(const std::filesystem::path& model_file);

/// The canonical 68-point face, normalised so that the outer eye corners (36, 45) lie at (0.3, 0.35) and
/// (0.7, 0.35) of a unit square; scale by the crop size.
const std::vector<cv::Point2f>& canonical_face_68();

/// Indices of landmarks that micro-expressions barely move (eye corners, nose bridge and base), used to
/// estimate the registration so the expression itself is not "aligned away".
const std::vector<int>& stable_landmarks();

/// The 2x3 similarity transform (rotation, uniform scale, translation) mapping `landmarks` onto the
/// canonical face scaled to a `size`×`size` crop, fitted by least squares on stable_landmarks().
cv::Mat similarity_to_canonical(const std::vector<cv::Point2f>& landmarks, int size);

}  // namespace mer
