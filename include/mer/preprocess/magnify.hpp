#pragma once
/// Motion magnification of a clip: makes the small motions of a micro-expression larger before flow or a
/// network looks at them (survey §4.1, li2022survey).
///
/// Two classical methods on a clip given as equal-size CV_32F frames (1 or 3 channels, BGR), in time order:
///
///   Eulerian (wu2012eulerian): each frame is decomposed into a spatial pyramid, the time series of every
///   pyramid pixel is band-passed around the frequencies of the motion, the band is amplified by alpha
///   and added back: I + alpha * B ≈ I(x + (1 + alpha) δ(t)) for a small motion δ(t) in the band
///   (first-order Taylor expansion). The approximation holds while (1 + alpha) δ < λ / 8 for spatial
///   wavelength λ, so fine pyramid levels get a smaller alpha (see `lambda_c`).
///
///   Lagrangian (liu2005motion, without its layer segmentation): the dense flow of every frame from the
///   first is measured (DIS, kroeger2016dis, or given) and the frames are re-warped with cv::remap so that
///   each point moves (1 + alpha) times as far as it did.
///
/// Both need a clip, not an onset/apex pair: EVM filters in time, and a 2-frame "clip" has no temporal
/// frequency band. The preprocessing stage `magnify` (preprocess/pipeline.hpp) runs them on the sequence
/// "clip" written by `{type: frames, clip: true}`:
///
///   - {type: frames, frames: [onset, apex], clip: true}
///   - {type: magnify, method: evm, alpha: 10, low_hz: 0.5, high_hz: 5, lambda_c: 16}
///   - {type: magnify, method: lagrangian, alpha: 4}     # or this
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace mer {

struct EulerianMagnifyOptions {
  /// "laplacian": every band of a Laplacian pyramid is amplified (motion magnification); "gaussian": only
  /// the coarsest Gaussian level, upsampled back (the paper's colour / pulse amplification).
  std::string pyramid = "laplacian";
  /// Pyramid levels (laplacian: `levels` band-pass levels above a low-pass residual of 1/2^levels the
  /// size, which is never amplified because it carries lighting more than motion; gaussian: the frames are
  /// halved `levels` times). The coarsest level must keep 2 pixels a side.
  int levels = 4;
  /// Temporal band-pass: "ideal" (FFT of each pixel's series, bins outside [low_hz, high_hz] zeroed; needs
  /// the whole clip), "butterworth" (difference of two first-order Butterworth low-passes at high_hz and
  /// low_hz, bilinear transform) or "iir" (difference of two first-order exponential low-passes).
  std::string filter = "ideal";
  /// Pass band in Hz; 0 <= low_hz < high_hz < fps / 2.
  double low_hz = 0.5;
  double high_hz = 5.0;
  /// Amplification of the band (motion appears 1 + alpha times larger).
  double alpha = 10.0;
  /// Cut-off spatial wavelength in (full-resolution) pixels: levels with a shorter representative
  /// wavelength λ get alpha_l = attenuation * max(0, (1 + alpha) λ / lambda_c - 1) (< alpha), the bound
  /// (1 + alpha_l) δ < λ / 8 with δ the displacement that just reaches the bound at lambda_c. Laplacian
  /// level l (0 = finest) has λ = 2^(l + 2) px.
  double lambda_c = 16.0;
  /// Multiplies the bound above for levels finer than lambda_c: 1 = the paper's linear fall-off, 0 = those
  /// levels are not amplified at all.
  double attenuation = 1.0;
  /// Colour clips: the chroma (I and Q of YIQ) of the amplified band is multiplied by this, so motion is
  /// magnified without colour artefacts. Ignored for gray clips.
  double chroma_attenuation = 0.1;
};

struct LagrangianMagnifyOptions {
  /// Motion appears 1 + alpha times larger.
  double alpha = 10.0;
  /// Which frame is re-warped into magnified frame t: "each" (frame t itself, moved by a further
  /// alpha * flow; keeps its shading and appearance changes) or "first" (frame 0 moved by
  /// (1 + alpha) * flow; a pure motion rendering).
  std::string source = "each";
  /// DIS optical flow preset when flows are measured: "ultrafast", "fast" or "medium".
  std::string preset = "medium";
};

/// The temporal band of each pixel's series: frames (CV_32F, one size and type) in, band-passed frames of
/// the same size and type out. fps is the clip's frame rate. Throws ValueError when the clip is empty or
/// shorter than 3 frames, frames differ in size or type or are not CV_32F, 0 <= low_hz < high_hz < fps / 2
/// does not hold, or (ideal) no DFT bin of this clip length falls in the band.
std::vector<cv::Mat> temporal_bandpass(const std::vector<cv::Mat>& frames, double fps, const std::string& filter,
                                       double low_hz, double high_hz);

/// Eulerian video magnification (wu2012eulerian) of `frames` (CV_32FC1 or CV_32FC3, one size) recorded at
/// `fps`: returns frames + the amplified band, same size and type. Throws ValueError for bad options
/// (values named), the conditions of temporal_bandpass, or frames too small for `levels` (the coarsest
/// level must keep at least 2 pixels a side).
std::vector<cv::Mat> magnify_eulerian(const std::vector<cv::Mat>& frames, double fps,
                                      const EulerianMagnifyOptions& options);

/// Lagrangian magnification of `frames` (CV_32FC1 or CV_32FC3, one size, at least 2): frame 0 is returned
/// as it is; frame t is re-warped so that its motion from frame 0 appears 1 + alpha times larger.
/// `flows`, when not empty, gives the motion: one CV_32FC2 field per frame, flows[t](p) = where the point
/// at p in frame 0 is in frame t, minus p (flows[0] is ignored); otherwise DIS flow is measured on the
/// frames converted to 8-bit gray (scaled by the clip's min and max). Throws ValueError otherwise.
std::vector<cv::Mat> magnify_lagrangian(const std::vector<cv::Mat>& frames, const LagrangianMagnifyOptions& options,
                                        const std::vector<cv::Mat>& flows = {});

}  // namespace mer
