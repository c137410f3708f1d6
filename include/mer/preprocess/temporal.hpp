#pragma once
/// Temporal processing of whole clips: normalising their length (TIM, linear), summarising them in one
/// image (dynamic image, active image), choosing key frames, and spotting the apex frame.
///
/// Frames are cv::Mats of one size and type (8-bit or float, any number of channels) in time order; the
/// functions check that and throw ValueError naming the frame that differs. The preprocessing stages
/// `interpolate`, `dynamic_image`, `active_image`, `key_frames` and `apex_spot` call these functions.
#include <opencv2/core.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace mer {

// ---------------------------------------------------------------- length normalisation

/// The temporal interpolation model (TIM; Zhou et al. 2011, used for micro-expressions by Pfister et al.
/// 2011): the n frames are embedded on a curve given by the eigenvectors of the Laplacian of the path
/// graph P_n, a linear map from that curve back to image space is fitted, and `length` points spaced
/// evenly along the curve are mapped back. The first and last frames are reproduced exactly (up to
/// rounding), and so is every input frame that falls on an output position.
///
/// Returns exactly `length` frames of the input's size, type and channels (8-bit results are rounded and
/// saturated: TIM may overshoot slightly between frames). One input frame gives `length` copies.
/// ValueError: no frames, `length` < 2, or frames of different size or type.
std::vector<cv::Mat> tim_interpolate(const std::vector<cv::Mat>& frames, int length);

/// The n x `length` weights behind tim_interpolate: output frame j = sum_i w(i, j) * frame_i (CV_64F).
/// Exposed so that the model can be checked and reused without touching pixels.
cv::Mat tim_weights(int n, int length);

/// Piecewise-linear resampling of the clip to `length` frames (same positions as TIM: first and last frame
/// kept, the rest evenly spaced). Same contract as tim_interpolate.
std::vector<cv::Mat> linear_interpolate(const std::vector<cv::Mat>& frames, int length);

// ---------------------------------------------------------------- clip summaries

/// Approximate rank pooling weights of Bilen et al. 2016 for a clip of T frames:
/// alpha_t = 2(T - t + 1) - (T + 1)(H_T - H_{t-1}), t = 1..T, H_k the k-th harmonic number (H_0 = 0).
/// They sum to zero, so a static scene pools to zero.
std::vector<double> rank_pooling_weights(std::size_t T);

/// Dynamic image (Bilen et al. 2016): sum_t alpha_t * frame_t, CV_32F with the input's channels. With
/// `minmax`, rescaled to 0..1 over all channels (a constant image becomes all zeros).
cv::Mat dynamic_image(const std::vector<cv::Mat>& frames, bool minmax = true);

/// Active image, after the active imaging of Verma et al. (LEARNet 2019, OrigiNet 2020): one image of
/// where and how much the clip changes. The absolute differences of consecutive frames are summed over
/// time and over a `window` x `window` neighbourhood of each pixel (odd, >= 1), CV_32F single-channel
/// (colour frames: differences summed over channels). With `minmax`, rescaled to 0..1. This is libmer's
/// reading of "active changes of a video segregated into a single frame": the papers' exact formula could
/// not be checked (docs/preprocessing.md). ValueError: fewer than 2 frames, even window.
cv::Mat active_image(const std::vector<cv::Mat>& frames, int window = 3, bool minmax = true);

/// Indices of `count` key frames in time order: greedily the frames farthest (mean absolute difference)
/// from the first, each at least max(1, T / (2 count)) frames from those already chosen, so they spread
/// over the clip; when that spacing cannot fit `count` frames, the best remaining frames fill up.
/// ValueError: count < 1 or count > number of frames.
std::vector<std::size_t> select_key_frames(const std::vector<cv::Mat>& frames, int count);

// ---------------------------------------------------------------- apex spotting

/// How spot_apex finds the apex of a clip.
struct ApexSpotParams {
  /// "frame_difference": farthest (mean absolute difference) from both onset and offset;
  /// "flow_magnitude": largest mean DIS optical-flow magnitude from the onset plus from the offset
  /// (Kroeger et al. 2016); "frequency": most high-frequency energy in the 3D FFT of block volumes
  /// (differences from the onset, plus from the offset) of a sliding window (after Li et al. 2018),
  /// refined to the best single frame within one of it; "feature_difference": largest LBP chi-square distance from the average of the head
  /// and tail frames `interval` away (Moilanen et al. 2014).
  std::string method = "frame_difference";
  /// frequency, feature_difference: the frame is divided into blocks x blocks regions.
  int blocks = 6;
  /// frequency: frames in each sliding window (odd).
  int window = 3;
  /// frequency: components with a normalised 3D frequency radius (cycles per sample) at or below this
  /// are dropped before summing magnitudes.
  double cutoff = 0.15;
  /// feature_difference: head and tail frames are this many frames before and after (0: (T - 1) / 4).
  int interval = 0;
};

/// Frames ready for spot_apex: `region` cut out of each frame (an empty rect: the whole frame; a rect
/// reaching outside is clipped), made grey, shrunk to `width` pixels wide (never enlarged), CV_32F in the
/// frames' 0..255 range.
std::vector<cv::Mat> spotting_frames(const std::vector<cv::Mat>& frames, cv::Rect region, int width);

/// Index of the apex in a clip of equal-size single-channel CV_32F frames (spotting_frames), never the
/// first or last frame when there are more than two. ValueError: fewer than 2 frames, different sizes,
/// unknown method.
std::size_t spot_apex(const std::vector<cv::Mat>& frames, const ApexSpotParams& params);

/// The per-frame score the method maximises (same length as `frames`); for plots and tests.
std::vector<double> apex_profile(const std::vector<cv::Mat>& frames, const ApexSpotParams& params);

/// Uniform local binary patterns (Ojala et al. 2002), 8 neighbours at radius 1: a CV_8U map of 59 codes
/// (0..57 the uniform patterns, 58 all others) for the interior pixels of a single-channel image.
cv::Mat uniform_lbp(const cv::Mat& gray);

}  // namespace mer
