#pragma once
/// Reading frames of a clip from its native layout: a frame file in a folder, or a picture in a video.
#include <mer/meta/sample.hpp>

#include <opencv2/core.hpp>

namespace mer {

enum class ColorMode { Gray, Color };

/// Reads frame number `frame` of `sample` (8-bit, 1 or 3 channels, BGR).
///
/// Frame files (SampleMeta::clip_dir + frame_pattern): `frame` is the number in the file name. Throws
/// DataError naming the file and the sample when it is missing or cannot be decoded.
///
/// Videos (SampleMeta::video set): `frame` is a 0-based index. The video is opened for each call (nothing
/// is cached between calls); the reader seeks, checks that the frame counter and the decoded picture's
/// timestamp agree with the request, and otherwise decodes from the start, so the result is the
/// frame-th picture either way. Throws DataError naming the video, the frame and the sample when the
/// file is missing, cannot be opened or decoded, and, for a frame beyond the end, with the number of
/// frames the video has.
cv::Mat load_frame(const SampleMeta& sample, int frame, ColorMode mode = ColorMode::Color);

}  // namespace mer
