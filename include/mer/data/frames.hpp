#pragma once
/// Reading frames of a clip from its native layout.
#include <mer/meta/sample.hpp>

#include <opencv2/core.hpp>

namespace mer {

enum class ColorMode { Gray, Color };

/// Reads frame number `frame` of `sample` (8-bit, 1 or 3 channels). Throws DataError naming the file
/// when it is missing or cannot be decoded, and the sample.
cv::Mat load_frame(const SampleMeta& sample, int frame, ColorMode mode = ColorMode::Color);

}  // namespace mer
