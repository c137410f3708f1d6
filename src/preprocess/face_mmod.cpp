// dlib's MMOD CNN face detector. Alone in this file because dlib/dnn.h costs far more compile time than
// everything else in the preprocessing sources together.
#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>

#include "detail/object_pool.hpp"

#include <dlib/dnn.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace mer {

namespace {

// The network of mmod_human_face_detector.dat (King 2015). A serialised dlib network loads only into the
// exact layer types it was saved from, so this spells out that architecture: three strided 5x5
// convolutions (downsampling by 8), three 5x5 convolutions of 45 filters, and a 9x9 single-filter
// detection layer, scanned over an image pyramid with 5/6 scale steps under the max-margin loss.
template <long filters, typename Sub>
using conv5_stride2 = dlib::con<filters, 5, 5, 2, 2, Sub>;
template <long filters, typename Sub>
using conv5 = dlib::con<filters, 5, 5, 1, 1, Sub>;
template <typename Sub>
using downsample8 = dlib::relu<dlib::affine<conv5_stride2<
    32, dlib::relu<dlib::affine<conv5_stride2<32, dlib::relu<dlib::affine<conv5_stride2<16, Sub>>>>>>>>>;
template <typename Sub>
using block45 = dlib::relu<dlib::affine<conv5<45, Sub>>>;
using MmodFaceNet = dlib::loss_mmod<dlib::con<
    1, 9, 9, 1, 1,
    block45<block45<block45<downsample8<dlib::input_rgb_image_pyramid<dlib::pyramid_down<6>>>>>>>>;

class MmodFaceDetector final : public FaceDetector {
 public:
  MmodFaceDetector(std::filesystem::path file, int upsample_below, double min_confidence, int downscale_above)
      : file_(std::move(file)),
        upsample_below_(upsample_below),
        downscale_above_(downscale_above),
        min_confidence_(min_confidence),
        pool_([this] { return std::make_unique<MmodFaceNet>(*prototype_); }) {
    MER_CHECK(upsample_below >= 0, ValueError, "MMOD face detector: upsample_below must be >= 0, got ",
              upsample_below);
    MER_CHECK(downscale_above >= 0, ValueError, "MMOD face detector: downscale_above must be >= 0, got ",
              downscale_above);
    MER_CHECK(std::isfinite(min_confidence), ValueError, "MMOD face detector: min_confidence must be finite, got ",
              min_confidence);
    std::ifstream in(file_, std::ios::binary);
    if (!in) {
      throw IoError("cannot read the MMOD face model '" + file_.string() +
                    "' (mmod_human_face_detector.dat is not packaged by Debian; download it from dlib.net/files)");
    }
    prototype_ = std::make_unique<MmodFaceNet>();
    try {
      dlib::deserialize(*prototype_, in);
    } catch (const std::exception& e) {
      throw IoError("cannot load the MMOD face model '" + file_.string() +
                    "' (expected dlib's mmod_human_face_detector.dat): " + e.what());
    }
  }

  std::vector<FaceDetection> detect(const cv::Mat& image) const override {
    MER_CHECK(!image.empty(), ValueError, "MMOD face detector: the image is empty");
    MER_CHECK(image.depth() == CV_8U, ValueError, "MMOD face detector: expected an 8-bit image, got depth ",
              image.depth());
    cv::Mat rgb;
    switch (image.channels()) {
      case 1: cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB); break;
      case 3: cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB); break;
      case 4: cv::cvtColor(image, rgb, cv::COLOR_BGRA2RGB); break;
      default:
        throw ValueError(detail::concat("MMOD face detector: expected 1, 3 or 4 channels, got ", image.channels()));
    }
    // The network's smallest face is about 80 px, like the HOG window: small frames are upsampled, very
    // large ones shrunk (detection_scale).
    const double scale = resize_for_detection(rgb, rgb, upsample_below_, downscale_above_);
    std::vector<dlib::mmod_rect> dets;
    try {
      dlib::matrix<dlib::rgb_pixel> img;
      dlib::assign_image(img, dlib::cv_image<dlib::rgb_pixel>(rgb));
      auto net = pool_.borrow();
      dets = net->process(img, std::min(0.0, min_confidence_));
    } catch (const dlib::error& e) {
      throw DataError(std::string("face detection failed (dlib MMOD): ") + e.what());
    }
    std::vector<FaceDetection> out;
    for (const auto& d : dets) {
      if (d.detection_confidence < min_confidence_) continue;
      FaceDetection f;
      f.box = cv::Rect2f(static_cast<float>(d.rect.left() / scale), static_cast<float>(d.rect.top() / scale),
                         static_cast<float>(d.rect.width() / scale), static_cast<float>(d.rect.height() / scale));
      f.confidence = d.detection_confidence;
      out.push_back(f);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const FaceDetection& a, const FaceDetection& b) { return a.confidence > b.confidence; });
    return out;
  }

 private:
  std::filesystem::path file_;
  int upsample_below_;
  int downscale_above_;
  double min_confidence_;
  // Loaded once; every pooled network is a copy (a forward pass writes into the network's own tensors).
  std::unique_ptr<MmodFaceNet> prototype_;
  mutable detail::ObjectPool<MmodFaceNet> pool_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_mmod_face_detector(const std::filesystem::path& model_file, int upsample_below,
                                                      double min_confidence, int downscale_above) {
  return std::make_unique<MmodFaceDetector>(model_file, upsample_below, min_confidence, downscale_above);
}

}  // namespace mer
