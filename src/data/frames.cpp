#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <filesystem>

namespace mer {

namespace {

std::string context(const SampleMeta& sample, int frame) {
  return detail::concat(" (frame ", frame, " of sample ", sample.id,
                        sample.source.empty() ? std::string() : ", annotated at " + sample.source, ")");
}

// cv::Exception messages end in a newline; ours are one line.
std::string one_line(const char* text) {
  std::string out(text);
  for (auto& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

cv::Mat to_mode(cv::Mat image, ColorMode mode) {
  if (mode == ColorMode::Gray && image.channels() != 1) {
    cv::Mat gray;
    cv::cvtColor(image, gray, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    return gray;
  }
  if (mode == ColorMode::Color && image.channels() == 1) {
    cv::Mat color;
    cv::cvtColor(image, color, cv::COLOR_GRAY2BGR);
    return color;
  }
  return image;
}

cv::Mat load_image_frame(const SampleMeta& sample, int frame, ColorMode mode) {
  const auto path = sample.frame_path(frame);
  const auto where = context(sample, frame);
  std::error_code ec;
  // Checked first so that a missing file and a corrupt one get different messages: imread says neither.
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError("frame file '" + path.string() + "' does not exist" + where);
  cv::Mat image;
  try {
    image = cv::imread(path.string(), mode == ColorMode::Gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw DataError("cannot decode frame file '" + path.string() + "'" + where + ": " + one_line(e.what()));
  }
  if (image.empty()) throw DataError("cannot decode frame file '" + path.string() + "'" + where);
  return image;
}

cv::VideoCapture open_video(const std::filesystem::path& path, const std::string& where) {
  cv::VideoCapture capture;
  try {
    capture.open(path.string());
  } catch (const cv::Exception& e) {
    throw DataError("cannot open video '" + path.string() + "'" + where + ": " + one_line(e.what()));
  }
  if (!capture.isOpened())
    throw DataError("cannot open video '" + path.string() + "'" + where + ": no backend decodes it");
  return capture;
}

// Seeking lands on the nearest keyframe and decodes forward; some containers (no index, variable frame
// rate, odd start times) land elsewhere. The position is believed only when both the frame counter and
// the decoded picture's timestamp agree with the request.
bool read_by_seeking(cv::VideoCapture& capture, int frame, cv::Mat& image) {
  if (!capture.set(cv::CAP_PROP_POS_FRAMES, frame)) return false;
  if (std::lround(capture.get(cv::CAP_PROP_POS_FRAMES)) != frame) return false;
  if (!capture.read(image) || image.empty()) return false;
  const double fps = capture.get(cv::CAP_PROP_FPS);
  if (fps > 0) {
    const double expected_ms = frame * 1000.0 / fps;
    if (std::abs(capture.get(cv::CAP_PROP_POS_MSEC) - expected_ms) > 500.0 / fps) return false;
  }
  return true;
}

cv::Mat load_video_frame(const SampleMeta& sample, int frame, ColorMode mode) {
  const auto& path = sample.video;
  const auto where = context(sample, frame);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError("video file '" + path.string() + "' does not exist" + where);
  if (frame < 0)
    throw DataError(detail::concat("frame ", frame, " of video '", path.string(),
                                   "' is negative; video frames are 0-based indices", where));
  const auto beyond_end = [&](int count) {
    return DataError(detail::concat("frame ", frame, " is beyond the end of video '", path.string(), "', which has ",
                                    count, count ? detail::concat(" frames (0..", count - 1, ")") : " decodable frames",
                                    where));
  };
  try {
    cv::Mat image;
    auto capture = open_video(path, where);
    if (frame == 0 ? capture.read(image) && !image.empty() : read_by_seeking(capture, frame, image))
      return to_mode(image, mode);
    // Decode from the start: slow, but then the frame is the frame-th picture whatever the container says,
    // and a failure tells the true frame count.
    capture = open_video(path, where);
    int decoded = 0;
    while (decoded < frame && capture.grab()) ++decoded;
    if (decoded < frame) throw beyond_end(decoded);
    if (capture.read(image) && !image.empty()) return to_mode(image, mode);
    if (!capture.grab()) throw beyond_end(frame);
    throw DataError(detail::concat("cannot decode frame ", frame, " of video '", path.string(),
                                   "' (later frames decode)", where));
  } catch (const cv::Exception& e) {
    throw DataError(detail::concat("cannot decode frame ", frame, " of video '", path.string(), "'", where, ": ",
                                   one_line(e.what())));
  }
}

}  // namespace

cv::Mat load_frame(const SampleMeta& sample, int frame, ColorMode mode) {
  return sample.from_video() ? load_video_frame(sample, frame, mode) : load_image_frame(sample, frame, mode);
}

}  // namespace mer
