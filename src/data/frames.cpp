#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>

namespace mer {

cv::Mat load_frame(const SampleMeta& sample, int frame, ColorMode mode) {
  const auto path = sample.frame_path(frame);
  const auto where = detail::concat(" (frame ", frame, " of sample ", sample.id,
                                    sample.source.empty() ? std::string() : ", annotated at " + sample.source, ")");
  std::error_code ec;
  // Checked first so that a missing file and a corrupt one get different messages: imread says neither.
  if (!std::filesystem::is_regular_file(path, ec)) throw DataError("frame file '" + path.string() + "' does not exist" + where);
  cv::Mat image;
  try {
    image = cv::imread(path.string(), mode == ColorMode::Gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw DataError("cannot decode frame file '" + path.string() + "'" + where + ": " + e.what());
  }
  if (image.empty()) throw DataError("cannot decode frame file '" + path.string() + "'" + where);
  return image;
}

}  // namespace mer
