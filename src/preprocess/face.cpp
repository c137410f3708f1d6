#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>

#include "detail/object_pool.hpp"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>

namespace mer {

namespace {

// dlib and the detectors below want 8-bit grey; HOG on grey loses nothing that matters for faces.
cv::Mat to_gray8(const cv::Mat& image, const char* who) {
  MER_CHECK(!image.empty(), ValueError, who, ": the image is empty");
  MER_CHECK(image.depth() == CV_8U, ValueError, who, ": expected an 8-bit image, got depth ", image.depth(), " (",
            image.cols, "x", image.rows, ", ", image.channels(), " channels)");
  cv::Mat gray;
  switch (image.channels()) {
    case 1: gray = image; break;
    case 3: cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY); break;
    case 4: cv::cvtColor(image, gray, cv::COLOR_BGRA2GRAY); break;
    default:
      throw ValueError(detail::concat(who, ": expected 1, 3 or 4 channels, got ", image.channels()));
  }
  // cv_image wraps the buffer row by row with its step, but a fresh copy keeps dlib away from views into
  // caller memory that another thread might be writing.
  if (!gray.isContinuous()) gray = gray.clone();
  return gray;
}

// One pool for every HogFaceDetector: they all run the same model (their options act on the input and
// the output only), and dlib's scanner holds scratch state, so a thread borrows one for a call.
detail::ObjectPool<dlib::frontal_face_detector>& hog_pool() {
  static detail::ObjectPool<dlib::frontal_face_detector> pool(
      [] { return std::make_unique<dlib::frontal_face_detector>(dlib::get_frontal_face_detector()); });
  return pool;
}

}  // namespace

// ---------------------------------------------------------------- HogFaceDetector

double detection_scale(int cols, int rows, int upsample_below, int downscale_above) {
  const int side = std::max(cols, rows);
  if (side < upsample_below) return 2.0;
  if (downscale_above > 0 && side > downscale_above) return static_cast<double>(downscale_above) / side;
  return 1.0;
}

double resize_for_detection(const cv::Mat& image, cv::Mat& out, int upsample_below, int downscale_above) {
  const double scale = detection_scale(image.cols, image.rows, upsample_below, downscale_above);
  if (scale == 1.0) out = image;
  else cv::resize(image, out, cv::Size(), scale, scale, scale > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
  return scale;
}

HogFaceDetector::HogFaceDetector(int upsample_below, double min_confidence, int downscale_above)
    : upsample_below_(upsample_below), min_confidence_(min_confidence), downscale_above_(downscale_above) {
  MER_CHECK(upsample_below >= 0, ValueError, "HogFaceDetector: upsample_below must be >= 0, got ", upsample_below);
  MER_CHECK(downscale_above >= 0, ValueError, "HogFaceDetector: downscale_above must be >= 0, got ", downscale_above);
  MER_CHECK(std::isfinite(min_confidence), ValueError, "HogFaceDetector: min_confidence must be finite, got ",
            min_confidence);
}

std::vector<FaceDetection> HogFaceDetector::detect(const cv::Mat& image) const {
  const cv::Mat gray = to_gray8(image, "HogFaceDetector::detect");
  // dlib's HOG window is 80x80: faces smaller than that are found only after upsampling, which is what
  // dlib's own examples do for typical photos; very large frames are shrunk (detection_scale).
  std::vector<dlib::rect_detection> dets;
  double scale = 1.0;
  try {
    cv::Mat input;
    scale = resize_for_detection(gray, input, upsample_below_, downscale_above_);
    const dlib::cv_image<unsigned char> img(input);
    // Asking dlib for detections down to min_confidence (its adjust_threshold) rather than 0 lets a
    // caller lower the bar below dlib's default, too.
    auto detector = hog_pool().borrow();
    (*detector)(img, dets, std::min(0.0, min_confidence_));
  } catch (const dlib::error& e) {
    throw DataError(std::string("face detection failed (dlib): ") + e.what());
  } catch (const cv::Exception& e) {
    throw DataError(std::string("face detection failed (OpenCV): ") + e.what());
  }
  std::vector<FaceDetection> out;
  for (const auto& d : dets) {
    if (d.detection_confidence < min_confidence_) continue;
    const auto& r = d.rect;
    FaceDetection f;
    f.box = cv::Rect2f(static_cast<float>(r.left() / scale), static_cast<float>(r.top() / scale),
                       static_cast<float>(r.width() / scale), static_cast<float>(r.height() / scale));
    f.confidence = d.detection_confidence;
    out.push_back(f);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const FaceDetection& a, const FaceDetection& b) { return a.confidence > b.confidence; });
  return out;
}

std::optional<FaceDetection> FaceDetector::detect_largest(const cv::Mat& image) const {
  const auto faces = detect(image);
  if (faces.empty()) return std::nullopt;
  // Ties in area go to the more confident face: the list is already sorted that way.
  const auto it = std::max_element(faces.begin(), faces.end(), [](const FaceDetection& a, const FaceDetection& b) {
    return a.box.area() < b.box.area();
  });
  return *it;
}

// ---------------------------------------------------------------- CascadeFaceDetector

struct CascadeFaceDetector::Impl {
  std::filesystem::path file;
  CascadeDetectorParams params;
  detail::ObjectPool<cv::CascadeClassifier> pool;

  Impl(std::filesystem::path f, CascadeDetectorParams p)
      : file(std::move(f)), params(p), pool([this] { return load(); }) {}

  std::unique_ptr<cv::CascadeClassifier> load() const {
    auto c = std::make_unique<cv::CascadeClassifier>();
    bool ok = false;
    try {
      ok = c->load(file.string());
    } catch (const cv::Exception& e) {
      throw IoError("cannot load the face cascade '" + file.string() + "': " + e.what());
    }
    if (!ok || c->empty()) {
      throw IoError("cannot load the face cascade '" + file.string() +
                    "' (Debian's opencv-data package installs OpenCV's cascades under /usr/share/opencv4/)");
    }
    return c;
  }
};

CascadeDetectorParams haar_frontal_params() {
  CascadeDetectorParams p;
  p.box_scale = 1.17;
  p.box_shift = -0.10;
  return p;
}

CascadeDetectorParams lbp_frontal_params() {
  CascadeDetectorParams p;
  p.box_scale = 0.79;
  p.box_shift = -0.03;
  return p;
}

CascadeFaceDetector::CascadeFaceDetector(const std::filesystem::path& cascade_file, CascadeDetectorParams params) {
  MER_CHECK(params.scale_factor > 1.0 && params.scale_factor < 2.0, ValueError,
            "CascadeFaceDetector: scale_factor must be in (1, 2), got ", params.scale_factor);
  MER_CHECK(params.min_neighbors >= 0, ValueError, "CascadeFaceDetector: min_neighbors must be >= 0, got ",
            params.min_neighbors);
  MER_CHECK(params.min_size >= 0 && params.min_size < 1, ValueError,
            "CascadeFaceDetector: min_size must be in [0, 1), got ", params.min_size);
  MER_CHECK(params.box_scale > 0.2 && params.box_scale < 5 && std::abs(params.box_shift) < 1, ValueError,
            "CascadeFaceDetector: box_scale must be in (0.2, 5) and box_shift in (-1, 1), got ", params.box_scale,
            " and ", params.box_shift);
  impl_ = std::make_unique<Impl>(cascade_file, params);
  // Load one now so that a wrong file fails when the detector is built, before any frame is read.
  impl_->pool.add(impl_->load());
}

CascadeFaceDetector::~CascadeFaceDetector() = default;

std::vector<FaceDetection> CascadeFaceDetector::detect(const cv::Mat& image) const {
  const cv::Mat gray = to_gray8(image, "CascadeFaceDetector::detect");
  const auto& p = impl_->params;
  std::vector<cv::Rect> boxes;
  std::vector<int> neighbours;
  try {
    // Viola-Jones features are computed on raw intensities; equalising first is OpenCV's documented
    // practice and makes the cascades far less sensitive to exposure.
    cv::Mat eq;
    cv::equalizeHist(gray, eq);
    const int min_side = static_cast<int>(p.min_size * std::min(gray.cols, gray.rows));
    auto cascade = impl_->pool.borrow();
    cascade->detectMultiScale(eq, boxes, neighbours, p.scale_factor, p.min_neighbors, 0,
                              cv::Size(min_side, min_side));
  } catch (const cv::Exception& e) {
    throw DataError(std::string("face detection failed (OpenCV cascade): ") + e.what());
  }
  std::vector<FaceDetection> out;
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    FaceDetection f;
    // Back to the HOG box convention: side / box_scale, centre moved down by box_shift of that side.
    const double side_w = boxes[i].width / p.box_scale, side_h = boxes[i].height / p.box_scale;
    const double cx = boxes[i].x + boxes[i].width / 2.0;
    const double cy = boxes[i].y + boxes[i].height / 2.0 - p.box_shift * side_h;
    f.box = cv::Rect2f(static_cast<float>(cx - side_w / 2), static_cast<float>(cy - side_h / 2),
                       static_cast<float>(side_w), static_cast<float>(side_h));
    // The number of raw windows merged into a detection is the score OpenCV's grouping itself uses.
    f.confidence = i < neighbours.size() ? neighbours[i] : 0;
    out.push_back(f);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const FaceDetection& a, const FaceDetection& b) { return a.confidence > b.confidence; });
  return out;
}

// ---------------------------------------------------------------- LandmarkDetector

struct LandmarkDetector::Impl {
  dlib::shape_predictor predictor;
};

LandmarkDetector::LandmarkDetector(const std::filesystem::path& model_file) : impl_(std::make_unique<Impl>()) {
  std::ifstream in(model_file, std::ios::binary);
  if (!in) {
    throw IoError("cannot read the landmark model '" + model_file.string() +
                  "' (install libdlib-data or set the stage's `model:` path)");
  }
  try {
    dlib::deserialize(impl_->predictor, in);
  } catch (const dlib::error& e) {
    throw IoError("cannot load the landmark model '" + model_file.string() + "': " + e.what());
  } catch (const std::exception& e) {
    throw IoError("cannot load the landmark model '" + model_file.string() + "': " + e.what());
  }
  MER_CHECK(impl_->predictor.num_parts() == 68, IoError, "the landmark model '", model_file.string(), "' predicts ",
            impl_->predictor.num_parts(), " points; libmer expects dlib's 68-point model");
}

LandmarkDetector::~LandmarkDetector() = default;

std::vector<cv::Point2f> LandmarkDetector::detect(const cv::Mat& image, const cv::Rect2f& face) const {
  const cv::Mat gray = to_gray8(image, "LandmarkDetector::detect");
  MER_CHECK(face.width > 0 && face.height > 0, ValueError, "LandmarkDetector::detect: the face box must be non-empty, got ",
            face.width, "x", face.height);
  const dlib::rectangle rect(std::lround(face.x), std::lround(face.y), std::lround(face.x + face.width) - 1,
                             std::lround(face.y + face.height) - 1);
  std::vector<cv::Point2f> points;
  try {
    const dlib::cv_image<unsigned char> img(gray);
    // shape_predictor::operator() is const and keeps no scratch state, so one instance serves all threads.
    const dlib::full_object_detection shape = impl_->predictor(img, rect);
    points.reserve(shape.num_parts());
    for (unsigned long i = 0; i < shape.num_parts(); ++i) {
      points.emplace_back(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
    }
  } catch (const dlib::error& e) {
    throw DataError(std::string("landmark detection failed (dlib): ") + e.what());
  }
  return points;
}

std::shared_ptr<const LandmarkDetector> shared_landmark_detector(const std::filesystem::path& model_file) {
  // A process-wide cache is the one piece of shared state here: the model is immutable once loaded and
  // ~100 MB, and every stage built from a config would otherwise load its own copy.
  // Entries are kept for the life of the process (not weak): pipelines are built and dropped repeatedly
  // (one per fold, per test), and reloading costs a second each time.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const LandmarkDetector>> cache;
  std::error_code ec;
  auto key = std::filesystem::weakly_canonical(model_file, ec).string();
  if (ec) key = model_file.string();
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  // A failed load throws before `slot` is filled, so a later call (file fixed) tries again.
  if (!slot) slot = std::make_shared<const LandmarkDetector>(model_file);
  return slot;
}

// ---------------------------------------------------------------- alignment

cv::Mat fit_to_canonical(const std::vector<cv::Point2f>& landmarks, int size, FaceTransform kind, double margin) {
  MER_CHECK(landmarks.size() == 68, ValueError, "fit_to_canonical: expected 68 landmarks, got ", landmarks.size());
  MER_CHECK(size > 0, ValueError, "fit_to_canonical: size must be > 0, got ", size);
  MER_CHECK(margin >= 0 && margin <= 4 && std::isfinite(margin), ValueError,
            "fit_to_canonical: margin must be in [0, 4], got ", margin);
  const auto& canon = canonical_face_68();
  const auto& idx = stable_landmarks();
  // With a margin the canonical unit square becomes the middle 1 / (1 + 2 margin) of the crop.
  const double side = size / (1.0 + 2.0 * margin), offset = margin * side;
  const double n = static_cast<double>(idx.size());
  double mpx = 0, mpy = 0, mqx = 0, mqy = 0;
  for (int i : idx) {
    mpx += landmarks[i].x;
    mpy += landmarks[i].y;
    mqx += canon[i].x * side + offset;
    mqy += canon[i].y * side + offset;
  }
  mpx /= n, mpy /= n, mqx /= n, mqy /= n;
  // Sums over centred source p and target q.
  double sxx = 0, sxy = 0, syy = 0, qxpx = 0, qxpy = 0, qypx = 0, qypy = 0;
  for (int i : idx) {
    const double px = landmarks[i].x - mpx, py = landmarks[i].y - mpy;
    const double qx = canon[i].x * side + offset - mqx, qy = canon[i].y * side + offset - mqy;
    sxx += px * px, sxy += px * py, syy += py * py;
    qxpx += qx * px, qxpy += qx * py, qypx += qy * px, qypy += qy * py;
  }
  const double norm = sxx + syy;
  MER_CHECK(norm > 1e-9 && std::isfinite(norm), ValueError,
            "fit_to_canonical: the stable landmarks are degenerate (all at one point)");
  double a11, a12, a21, a22;
  if (kind == FaceTransform::Similarity) {
    // Closed-form least-squares similarity (Umeyama 1991 restricted to 2-D): the rotation-and-scale
    // [a -b; b a] minimising sum |A p + t - q|^2 has a = sum(p.q) / sum|p|^2 and b = sum(p x q) / sum|p|^2.
    // Exact, no RANSAC, so the same landmarks always give the same crop.
    const double a = (qxpx + qypy) / norm, b = (qypx - qxpy) / norm;
    a11 = a, a12 = -b, a21 = b, a22 = a;
  } else {
    // Least-squares affine: each output row r solves the 2x2 normal equations S r = sum(q_row p), with
    // S = sum p p^T. Closed form, like the similarity, rather than estimateAffine2D's robust sampling:
    // the 13 stable points are all inliers, and a random fit would make crops irreproducible.
    const double det = sxx * syy - sxy * sxy;
    MER_CHECK(det > 1e-9 * norm * norm, ValueError,
              "fit_to_canonical: the stable landmarks are (nearly) collinear; no affine fit");
    a11 = (qxpx * syy - qxpy * sxy) / det, a12 = (qxpy * sxx - qxpx * sxy) / det;
    a21 = (qypx * syy - qypy * sxy) / det, a22 = (qypy * sxx - qypx * sxy) / det;
  }
  cv::Mat m = (cv::Mat_<double>(2, 3) << a11, a12, mqx - (a11 * mpx + a12 * mpy), a21, a22,
               mqy - (a21 * mpx + a22 * mpy));
  return m;
}

cv::Mat similarity_to_canonical(const std::vector<cv::Point2f>& landmarks, int size) {
  return fit_to_canonical(landmarks, size, FaceTransform::Similarity);
}

cv::Mat affine_to_canonical(const std::vector<cv::Point2f>& landmarks, int size) {
  return fit_to_canonical(landmarks, size, FaceTransform::Affine);
}

// ---------------------------------------------------------------- landmark tracks

std::vector<std::vector<cv::Point2f>> smooth_tracks(const std::vector<std::vector<cv::Point2f>>& tracks,
                                                    TrackSmoothing kind, int window) {
  MER_CHECK(window >= 1 && window % 2 == 1, ValueError, "smooth_tracks: window must be odd and >= 1, got ", window);
  const std::size_t points = tracks.empty() ? 0 : tracks[0].size();
  for (std::size_t t = 0; t < tracks.size(); ++t) {
    MER_CHECK(tracks[t].size() == points, ValueError, "smooth_tracks: frame ", t, " has ", tracks[t].size(),
              " points, frame 0 has ", points);
  }
  if (kind == TrackSmoothing::None || window == 1 || tracks.size() < 3) return tracks;
  const int n = static_cast<int>(tracks.size()), half = window / 2;
  const double sigma = window / 4.0;
  std::vector<std::vector<cv::Point2f>> out(tracks.size(), std::vector<cv::Point2f>(points));
  for (int t = 0; t < n; ++t) {
    // Symmetric window, shrunk near the ends: an off-centre window would drag the ends of a drifting
    // track towards the middle of the clip, which registration would then turn into fake motion.
    const int h = std::min({half, t, n - 1 - t});
    std::vector<double> w(static_cast<std::size_t>(2 * h + 1));
    double total = 0;
    for (int d = -h; d <= h; ++d) {
      const double v = kind == TrackSmoothing::Gaussian ? std::exp(-0.5 * d * d / (sigma * sigma)) : 1.0;
      w[static_cast<std::size_t>(d + h)] = v;
      total += v;
    }
    for (std::size_t k = 0; k < points; ++k) {
      double x = 0, y = 0;
      for (int d = -h; d <= h; ++d) {
        const double v = w[static_cast<std::size_t>(d + h)] / total;
        x += v * tracks[static_cast<std::size_t>(t + d)][k].x;
        y += v * tracks[static_cast<std::size_t>(t + d)][k].y;
      }
      out[static_cast<std::size_t>(t)][k] = cv::Point2f(static_cast<float>(x), static_cast<float>(y));
    }
  }
  return out;
}

}  // namespace mer
