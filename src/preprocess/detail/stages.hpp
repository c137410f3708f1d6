#pragma once
/// Private: the built-in stages' options and factories, shared by the stage sources and register.cpp.
/// Each Options struct owns its defaults; its from_config is the only YAML→C++ mapping of that stage.
#include <mer/core/config.hpp>
#include <mer/preprocess/stage.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mer {

namespace detail {
/// "type(v1; key=value; ...)": what a stage's fingerprint is made of. Values are written exactly (doubles
/// with 17 significant digits) so two option sets that behave differently never share a cache entry.
std::string stage_fingerprint(const std::string& type, const std::string& version,
                              const std::vector<std::pair<std::string, std::string>>& options);
std::string fingerprint_value(double v);
std::string fingerprint_value(const std::vector<std::string>& v);
}  // namespace detail

// ---------------------------------------------------------------- stages_face.cpp

struct FramesOptions {
  /// Which annotated frames to read, each one of onset, apex, offset; item entries get these names.
  /// May be empty when `clip` is set.
  std::vector<std::string> frames = {"onset", "apex"};
  /// "gray" (8-bit, 1 channel) or "color" (8-bit BGR).
  std::string color = "gray";
  /// Also read every frame from `clip_from` to `clip_to` (inclusive) into the sequence "clip", with their
  /// numbers in "clip_frames".
  bool clip = false;
  /// First and last annotated frame of the clip: onset, apex or offset.
  std::string clip_from = "onset";
  std::string clip_to = "offset";
  /// Longer clips are a per-sample error (0 = no limit): a mis-annotated offset can otherwise ask for
  /// thousands of frames (CAS(ME)^3 long videos).
  int max_clip_frames = 600;
  static FramesOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_frames_stage(FramesOptions options);

struct DetectFaceOptions {
  /// The item entry (frame) to detect the face in.
  std::string frame = "onset";
  /// Frames whose long side is below this many pixels are upsampled once before detection.
  int upsample_below = 1000;
  /// Detections with a lower HOG-SVM score are ignored.
  double min_confidence = 0.3;
  static DetectFaceOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_detect_face_stage(DetectFaceOptions options);

struct LandmarksOptions {
  /// The item entry (frame) the face was detected in.
  std::string frame = "onset";
  /// dlib's 68-point shape predictor file (${VAR} is expanded).
  std::filesystem::path model = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  static LandmarksOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_landmarks_stage(LandmarksOptions options);

struct AlignOptions {
  /// Frames or sequences (every frame) warped into the canonical crop, all with the one transform fitted
  /// on `landmarks`.
  std::vector<std::string> frames = {"onset", "apex"};
  /// Side of the square crop in pixels.
  int size = 128;
  static AlignOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_align_stage(AlignOptions options);

// ---------------------------------------------------------------- stages_apex.cpp

struct ApexSpotOptions {
  /// "frame_difference": the frame farthest (mean absolute difference) from both onset and offset,
  /// after a 3-frame moving average.
  std::string method = "frame_difference";
  /// "face": compare inside the detected face box (reads `face`); "frame": whole frames.
  std::string region = "face";
  /// Frames are compared at this width (pixels); enough to find the peak, cheap on long clips.
  int width = 64;
  /// Colour of the `apex` frame written for later stages: "gray" or "color".
  std::string color = "gray";
  /// Also re-estimate apexes the annotation gives (by default only missing ones are estimated).
  bool override_annotated = false;
  static ApexSpotOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_apex_spot_stage(ApexSpotOptions options);
/// Index of the spotted apex in a clip of equal-size single-channel float frames (never the first or last
/// frame when there are more than two).
std::size_t spot_apex(const std::vector<cv::Mat>& frames);

// ---------------------------------------------------------------- stages_motion.cpp

struct FlowOptions {
  /// "tvl1" (Zach et al. 2007, opencv_contrib), "farneback" (Farnebäck 2003) or "dis" (Kroeger et al. 2016).
  std::string algorithm = "tvl1";
  /// Item entry of the first frame.
  std::string from = "onset";
  /// Item entry of the second frame; flow maps `from` pixels to where they are in `to`.
  std::string to = "apex";
  /// tvl1: time step of the primal-dual scheme.
  double tau = 0.25;
  /// tvl1: weight of the data term against smoothness (smaller = smoother).
  double lambda = 0.15;
  /// tvl1: coupling between the two sub-problems.
  double theta = 0.3;
  /// tvl1: pyramid levels.
  int nscales = 5;
  /// tvl1: warpings per level.
  int warps = 5;
  /// tvl1: stopping threshold of the inner iterations.
  double epsilon = 0.01;
  /// tvl1: inner iterations per warping.
  int inner_iterations = 30;
  /// tvl1: outer iterations per warping.
  int outer_iterations = 10;
  /// tvl1: pyramid scale step.
  double scale_step = 0.8;
  /// farneback: pyramid levels.
  int levels = 5;
  /// farneback: pyramid scale (< 1).
  double pyr_scale = 0.5;
  /// farneback: averaging window in pixels.
  int win_size = 13;
  /// farneback: iterations per level.
  int iterations = 10;
  /// farneback: neighbourhood of the polynomial expansion (5 or 7).
  int poly_n = 5;
  /// farneback: Gaussian sigma of the polynomial expansion.
  double poly_sigma = 1.1;
  /// dis: "ultrafast", "fast" or "medium".
  std::string preset = "medium";
  static FlowOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_flow_stage(FlowOptions options);

struct StrainOptions {
  /// Item entry holding the flow.
  std::string flow = "flow";
  static StrainOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_strain_stage(StrainOptions options);

struct ResizeOptions {
  /// Item entries resized (every frame of a sequence).
  std::vector<std::string> keys = {"flow", "strain"};
  /// Output side in pixels (square).
  int size = 28;
  /// "area" (averaging; right for shrinking) or "linear".
  std::string interpolation = "area";
  /// Multiply the vectors of 2-channel "flow" entries by the scale factor (keeps them in output pixels).
  bool rescale_vectors = true;
  static ResizeOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_resize_stage(ResizeOptions options);

struct ToFloatOptions {
  /// Item entries (mats or sequences) converted to CV_32F, channels kept.
  std::vector<std::string> keys = {"apex"};
  /// "unit": 8-bit values / 255 (so 0..1); "standardize": zero mean and unit variance per sample and entry
  /// (a sequence as a whole), which removes lighting differences between clips; "none": values as they are.
  std::string scale = "unit";
  static ToFloatOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_to_float_stage(ToFloatOptions options);

}  // namespace mer
