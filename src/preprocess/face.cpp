#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgproc.hpp>

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

// dlib's scanner is stateful (it keeps its feature pyramid inside), so two threads must never use one
// detector at once. Building one deserialises the model (~0.8 s), so rather than a thread_local (rebuilt
// for every worker thread of every pipeline run) detectors live in a pool: a thread borrows one for the
// duration of a call. The pool grows to the largest number of concurrent callers and no further.
class DetectorPool {
 public:
  class Lease {
   public:
    Lease(DetectorPool& pool, std::unique_ptr<dlib::frontal_face_detector> d) : pool_(pool), d_(std::move(d)) {}
    ~Lease() { pool_.give_back(std::move(d_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    dlib::frontal_face_detector& operator*() { return *d_; }

   private:
    DetectorPool& pool_;
    std::unique_ptr<dlib::frontal_face_detector> d_;
  };

  Lease borrow() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        auto d = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(d));
      }
    }
    return Lease(*this, std::make_unique<dlib::frontal_face_detector>(dlib::get_frontal_face_detector()));
  }

 private:
  void give_back(std::unique_ptr<dlib::frontal_face_detector> d) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(d));
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<dlib::frontal_face_detector>> free_;
};

DetectorPool& detector_pool() {
  static DetectorPool pool;
  return pool;
}

}  // namespace

// ---------------------------------------------------------------- HogFaceDetector

HogFaceDetector::HogFaceDetector(int upsample_below, double min_confidence)
    : upsample_below_(upsample_below), min_confidence_(min_confidence) {
  MER_CHECK(upsample_below >= 0, ValueError, "HogFaceDetector: upsample_below must be >= 0, got ", upsample_below);
  MER_CHECK(std::isfinite(min_confidence), ValueError, "HogFaceDetector: min_confidence must be finite, got ",
            min_confidence);
}

std::vector<FaceDetection> HogFaceDetector::detect(const cv::Mat& image) const {
  const cv::Mat gray = to_gray8(image, "HogFaceDetector::detect");
  // dlib's HOG window is 80x80: faces smaller than that are found only after upsampling, which is what
  // dlib's own examples do for typical photos. Large images are left alone (4x the pixels, little gain).
  const bool up = std::max(gray.cols, gray.rows) < upsample_below_;
  const double scale = up ? 2.0 : 1.0;
  std::vector<dlib::rect_detection> dets;
  try {
    cv::Mat input = gray;
    if (up) cv::resize(gray, input, cv::Size(), scale, scale, cv::INTER_LINEAR);
    const dlib::cv_image<unsigned char> img(input);
    // Asking dlib for detections down to min_confidence (its adjust_threshold) rather than 0 lets a
    // caller lower the bar below dlib's default, too.
    auto detector = detector_pool().borrow();
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

std::optional<FaceDetection> HogFaceDetector::detect_largest(const cv::Mat& image) const {
  const auto faces = detect(image);
  if (faces.empty()) return std::nullopt;
  // Ties in area go to the more confident face: the list is already sorted that way.
  const auto it = std::max_element(faces.begin(), faces.end(), [](const FaceDetection& a, const FaceDetection& b) {
    return a.box.area() < b.box.area();
  });
  return *it;
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

cv::Mat similarity_to_canonical(const std::vector<cv::Point2f>& landmarks, int size) {
  MER_CHECK(landmarks.size() == 68, ValueError, "similarity_to_canonical: expected 68 landmarks, got ",
            landmarks.size());
  MER_CHECK(size > 0, ValueError, "similarity_to_canonical: size must be > 0, got ", size);
  const auto& canon = canonical_face_68();
  const auto& idx = stable_landmarks();
  // Closed-form least-squares similarity (Umeyama 1991 restricted to 2-D): with centred source p and
  // target q, the rotation-and-scale [a -b; b a] minimising sum |sR p + t - q|^2 has
  // a = sum(p.q) / sum|p|^2 and b = sum(p x q) / sum|p|^2. Exact, no RANSAC, so the same landmarks
  // always give the same crop.
  const double n = static_cast<double>(idx.size());
  double mpx = 0, mpy = 0, mqx = 0, mqy = 0;
  for (int i : idx) {
    mpx += landmarks[i].x;
    mpy += landmarks[i].y;
    mqx += canon[i].x * size;
    mqy += canon[i].y * size;
  }
  mpx /= n, mpy /= n, mqx /= n, mqy /= n;
  double dot = 0, cross = 0, norm = 0;
  for (int i : idx) {
    const double px = landmarks[i].x - mpx, py = landmarks[i].y - mpy;
    const double qx = canon[i].x * size - mqx, qy = canon[i].y * size - mqy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  MER_CHECK(norm > 1e-9 && std::isfinite(norm), ValueError,
            "similarity_to_canonical: the stable landmarks are degenerate (all at one point)");
  const double a = dot / norm, b = cross / norm;
  cv::Mat m = (cv::Mat_<double>(2, 3) << a, -b, mqx - (a * mpx - b * mpy), b, a, mqy - (b * mpx + a * mpy));
  return m;
}

}  // namespace mer
