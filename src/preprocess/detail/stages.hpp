#pragma once
/// Private: the built-in stages' options and factories, shared by the stage sources and register.cpp.
/// Each Options struct owns its defaults; its from_config is the only YAML→C++ mapping of that stage.
#include <mer/core/config.hpp>
#include <mer/preprocess/magnify.hpp>
#include <mer/preprocess/stage.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mer {

namespace detail {
// The built-in stages spell these with detail:: (they were private before stages outside the vision layer
// needed them); the public declarations are in <mer/preprocess/stage.hpp>.
using mer::fingerprint_value;
using mer::stage_fingerprint;
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
  /// "hog" (dlib HOG-SVM), "haar" or "lbp" (OpenCV cascades) or "mmod" (dlib's CNN; needs `model`).
  std::string detector = "hog";
  /// hog, mmod: frames whose long side is below this many pixels are upsampled once before detection.
  /// Default 0 (never): MER frames show one large face, which HOG finds at native scale, and the fallback
  /// chain starts with hog_upsampled for the small ones. Measured on the synthesised 442-clip composite:
  /// 442 of 442 found by HOG at native scale (the old default of 1000 found 441, Haar the last one), in
  /// 5.2 instead of 19.6 ms per sample (`mer bench preprocess`, docs/benchmarks.md).
  int upsample_below = 0;
  /// hog, mmod: frames whose long side is above this many pixels are shrunk to it before detection (the
  /// box is mapped back; landmarks are found on the full frame); 0: never. Default 640: the datasets'
  /// 640x480 frames are scanned as they are, SAMM's 2040x1088 (and MMEW's, CAS(ME)³'s) at a third or half.
  /// Measured on the composite at real frame sizes: 442 of 442 faces by HOG either way, detection 47 ->
  /// 16 ms per sample, landmarks within 2 % of the eyes' distance (docs/benchmarks.md).
  int downscale_above = 640;
  /// hog, mmod: detections with a lower score (SVM or CNN margin) are ignored; mmod's default is 0.
  double min_confidence = 0.3;
  /// haar, lbp: the cascade XML; defaults to Debian opencv-data's frontal face cascade of that kind.
  std::filesystem::path cascade;
  /// haar, lbp: scale step of the detection pyramid (> 1).
  double scale_factor = 1.1;
  /// haar, lbp: overlapping raw windows a detection needs (its score).
  int min_neighbors = 4;
  /// haar, lbp: smallest face searched, as a fraction of the frame's short side.
  double min_size = 0.1;
  /// haar, lbp: the cascade's box side over dlib's HOG box side (boxes are converted to HOG's convention,
  /// which the landmark predictor expects); default measured for the chosen default cascade.
  double box_scale = 1.0;
  /// haar, lbp: vertical offset of the cascade box's centre from HOG's, as a fraction of its side.
  double box_shift = 0.0;
  /// mmod: dlib's mmod_human_face_detector.dat (required for mmod; not packaged by Debian).
  std::filesystem::path model;
  /// Tried in order when `detector` finds no face: hog_upsampled (HOG on the frame upsampled twice), haar,
  /// lbp (OpenCV's stock frontal cascades with their defaults). Which one served is logged per sample.
  std::vector<std::string> fallback = {"hog_upsampled", "haar", "lbp"};
  /// When no detector finds a face, these policies are tried in order (a single name is a list of one):
  /// nearest_frame (the same detectors on the clip's neighbouring frames, nearest first, up to
  /// `search_frames` away within onset..offset; the box found there is used: the head barely moves within a
  /// micro-expression clip), whole_frame (the frame is taken as the face box: right for tightly cropped
  /// frames, logged), skip (the sample is left out and listed in skipped.csv, whatever preprocess.on_error
  /// says) or fail (a per-sample error, then preprocess.on_error decides). skip and fail end the list.
  /// The default keeps every listed sample (MEGC2019 allows no sample to be dropped) and records how:
  /// [nearest_frame, whole_frame] when `frame` has a number in the clip, else [whole_frame].
  std::vector<std::string> no_face;
  int search_frames = 5;
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
  /// Frames or sequences (every frame) warped into the canonical crop.
  std::vector<std::string> frames = {"onset", "apex"};
  /// Side of the square crop in pixels.
  int size = 128;
  /// "similarity" (rotation, scale, shift) or "affine" (also shear), least squares on stable landmarks.
  std::string transform = "similarity";
  /// "onset": one transform, fitted on `landmarks`, for every frame; "per_frame": sequences get one
  /// transform per frame from landmarks found in that frame (inside `face`) and smoothed over time.
  std::string reference = "onset";
  /// per_frame: "none", "moving_average" or "gaussian" smoothing of each landmark track.
  std::string smoothing = "gaussian";
  /// per_frame: frames in the smoothing window (odd).
  int smoothing_window = 5;
  /// per_frame: dlib's 68-point shape predictor file (as in the landmarks stage).
  std::filesystem::path model = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  /// Pixels the warp needs from outside the frame: "replicate" (edge pixels), "constant" (zeros) or
  /// "reflect" (mirrored, edge pixel not repeated).
  std::string padding = "replicate";
  /// Extra border around the canonical face, as a fraction of its side on each side (0 = tight crop).
  double margin = 0.0;
  static AlignOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_align_stage(AlignOptions options);

// ---------------------------------------------------------------- stages_apex.cpp

struct ApexSpotOptions {
  /// "frame_difference": the frame farthest (mean absolute difference) from both onset and offset,
  /// after a 3-frame moving average; "flow_magnitude": largest mean DIS flow magnitude from onset and
  /// offset; "frequency": most high-frequency 3D FFT energy of block volumes (Li et al. 2018);
  /// "feature_difference": largest LBP chi-square distance from head and tail frames (Moilanen et al. 2014).
  std::string method = "frame_difference";
  /// frequency, feature_difference: the region is divided into blocks x blocks.
  int blocks = 6;
  /// frequency: frames in each sliding window (odd).
  int window = 3;
  /// frequency: normalised 3D frequency radius at or below which components are dropped.
  double cutoff = 0.15;
  /// feature_difference: head and tail frames this many frames away (0: a quarter of the clip).
  int interval = 0;
  /// "face": compare inside the detected face box (reads `face`); "frame": whole frames.
  std::string region = "face";
  /// Frames are compared at this width (pixels); enough to find the peak, cheap on long clips.
  int width = 64;
  /// Colour of the `apex` frame written for later stages: "gray" or "color". It is taken from the item's
  /// clip when that holds the frame in this colour (so it is registered/magnified like the clip), else read
  /// from disk.
  std::string color = "gray";
  /// Also re-estimate apexes the annotation gives (by default only missing ones are estimated).
  bool override_annotated = false;
  static ApexSpotOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_apex_spot_stage(ApexSpotOptions options);
/// Index of the spotted apex in a clip of equal-size single-channel float frames (never the first or last
/// frame when there are more than two).
std::size_t spot_apex(const std::vector<cv::Mat>& frames);

// ---------------------------------------------------------------- stages_temporal.cpp

struct InterpolateOptions {
  /// "tim" (temporal interpolation model, Zhou et al. 2011) or "linear".
  std::string method = "tim";
  /// Frames in the output sequence (first and last input frames are kept).
  int length = 10;
  /// The sequence resampled.
  std::string input = "clip";
  /// Where the result goes; by default it replaces `input`. Frames keep the input's depth (8-bit stays
  /// 8-bit, so align and flow still take them).
  std::string output = "clip";
  static InterpolateOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_interpolate_stage(InterpolateOptions options);

struct DynamicImageOptions {
  /// The sequence summarised.
  std::string input = "clip";
  /// The CV_32F image written (the input's channels).
  std::string output = "dynamic_image";
  /// "minmax": rescaled to 0..1; "none": the raw rank-pooled sum.
  std::string normalize = "minmax";
  static DynamicImageOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_dynamic_image_stage(DynamicImageOptions options);

struct ActiveImageOptions {
  /// The sequence summarised.
  std::string input = "clip";
  /// The CV_32FC1 image written.
  std::string output = "active_image";
  /// Side of the local window the frame-to-frame change is accumulated over (odd).
  int window = 3;
  /// "minmax": rescaled to 0..1; "none": accumulated absolute differences.
  std::string normalize = "minmax";
  static ActiveImageOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_active_image_stage(ActiveImageOptions options);

struct KeyFramesOptions {
  /// "annotated": the frames named in `frames`, found in the clip by number (reads clip_frames);
  /// "auto": the `count` frames most different from the first, spread over the clip.
  std::string method = "annotated";
  /// annotated: which frames, each onset, apex or offset (apex: apex_frame when an apex_spot ran).
  std::vector<std::string> frames = {"onset", "apex", "offset"};
  /// auto: how many frames.
  int count = 3;
  /// The sequence the frames are taken from.
  std::string input = "clip";
  /// The sequence written.
  std::string output = "key_frames";
  static KeyFramesOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_key_frames_stage(KeyFramesOptions options);

// ---------------------------------------------------------------- stages_motion.cpp

struct FlowOptions {
  /// "tvl1" (Zach et al. 2007, opencv_contrib), "farneback" (Farnebäck 2003), "dis" (Kroeger et al. 2016),
  /// "dense_lk" (pyramidal Lucas-Kanade on a grid, interpolated densely; Bouguet 2000, opencv_contrib) or
  /// "rlof" (robust local optical flow, Senst et al. 2012, interpolated densely; Geistert et al. 2016).
  std::string algorithm = "tvl1";
  /// Item entry of the first frame.
  std::string from = "onset";
  /// Item entry of the second frame; flow maps `from` pixels to where they are in `to`.
  std::string to = "apex";
  /// Item entry the flow is written to; distinct names let one pipeline compute several flows
  /// (onset->apex as "flow", apex->offset as "flow_back").
  std::string output = "flow";
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
  /// tvl1: stopping threshold of the inner iterations. 0.02 rather than OpenCV's 0.01: on real faces moved
  /// by known micro-expression-like fields (`mer bench flow`), it gives the same or a lower end-point error
  /// at bumps of 1, 3 and 8 px (0.0578 / 0.1065 / 0.2296 px against 0.0588 / 0.1129 / 0.2373) in half the
  /// time; set 0.01 to reproduce pipelines that use OpenCV's defaults. Looser still (0.05) is faster again
  /// but worse at 1 px, the size of the smallest micro-expressions.
  double epsilon = 0.02;
  /// tvl1: inner iterations per warping.
  int inner_iterations = 30;
  /// tvl1: outer iterations per warping.
  int outer_iterations = 10;
  /// tvl1: pyramid scale step.
  double scale_step = 0.8;
  /// farneback, rlof: pyramid levels, the full-size image included (rlof's maxLevel is levels - 1).
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
  /// dense_lk, rlof: spacing in pixels of the grid of sparse motion vectors that are then interpolated
  /// (6, RLOF's OpenCV default: on a 128 px face crop rlof's error halves from step 8 to 6).
  int grid_step = 6;
  /// dense_lk, rlof (interpolation epic): nearest sparse vectors used in each locally affine fit.
  int neighbors = 128;
  /// dense_lk, rlof (interpolation epic): how fast the affine fit's weights fall off with distance.
  double sigma = 0.05;
  /// dense_lk, rlof: smooth the interpolated field with the fast global smoother (edge-aware).
  bool post_process = true;
  /// dense_lk, rlof: strength (lambda) and colour sigma of that smoother.
  double fgs_lambda = 500.0;
  double fgs_sigma = 1.5;
  /// rlof: "epic" (edge-preserving, Revaud et al. 2015) or "geo" (geodesic, faster) interpolation.
  std::string interpolation = "epic";
  /// rlof: drop sparse vectors whose forward-backward error exceeds this many pixels (0 = no check,
  /// which halves the run time).
  double forward_backward = 0.0;
  /// rlof: support region of each local estimate: "cross" (adaptive, follows colour edges) or "fixed".
  std::string support_region = "cross";
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

struct FlowPolarOptions {
  /// Item entry holding the flow (CV_32FC2).
  std::string flow = "flow";
  /// "angle": one map of atan2(v, u) in radians, in (-pi, pi], measured from +x towards +y (down, image
  /// axes); "sincos": two maps cos = u/|w| and sin = v/|w| (0 where there is no motion), which have no
  /// jump at +-pi for a network to stumble on.
  std::string orientation_encoding = "angle";
  /// Entry the magnitude |w| = sqrt(u^2 + v^2) is written to.
  std::string magnitude = "magnitude";
  /// Entry the orientation is written to; with sincos, "<orientation>_sin" and "<orientation>_cos".
  std::string orientation = "orientation";
  static FlowPolarOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_flow_polar_stage(FlowPolarOptions options);

// ---------------------------------------------------------------- stages_regions.cpp

struct RoiOptions {
  /// "grid", "facs", "eye_cheek_mask", "eyes_mouth", "heatmap" or "landmark_patches" (regions.hpp).
  std::string method = "grid";
  /// "mask": zero each entry outside the regions; "crop": replace each entry by the sequence of its region
  /// crops (region-major for sequences: all frames of region 0, then region 1, ...).
  std::string apply = "mask";
  /// Item entries (mats or sequences, all of one size) masked or cropped.
  std::vector<std::string> keys = {"flow", "strain"};
  /// crop: side the crops are resized to (0 = keep each region's size; all regions must then be equal).
  int size = 0;
  /// grid, heatmap: blocks down and across.
  int rows = 4;
  int cols = 4;
  /// eye_cheek_mask, eyes_mouth: margin around the landmarks, in inter-ocular distances.
  double margin = 0.1;
  /// heatmap: the data set's motion heat map (write_heatmap: .yml/.yaml/.xml/.json, .png or .exr).
  std::filesystem::path heatmap;
  /// heatmap: how many of the hottest blocks are kept.
  int top_k = 4;
  /// landmark_patches: landmark indices (0..67) the patches are centred on.
  std::vector<int> landmarks = {17, 19, 21, 22, 24, 26, 36, 39, 42, 45, 30, 48, 51, 54, 57};
  /// landmark_patches: side of each square patch in pixels.
  int patch_size = 16;
  static RoiOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_roi_stage(RoiOptions options);

struct LandmarkMapOptions {
  /// The entry whose pixel grid the landmarks are in (its size is the map's size unless `size` is set).
  std::string frame = "onset";
  /// Side of the square map in pixels (0 = the frame's size); landmarks are scaled to it.
  int size = 0;
  /// Standard deviation of each Gaussian in map pixels.
  double sigma = 2.0;
  /// "max" keeps every peak at 1 where bumps overlap; "sum" adds them (denser parts weigh more).
  std::string combine = "max";
  /// Also write "<output>_groups": one map per part (brows, eyes, nose, mouth, jaw), as a sequence.
  bool groups = false;
  /// Entry the map is written to.
  std::string output = "landmark_map";
  static LandmarkMapOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_landmark_map_stage(LandmarkMapOptions options);

// ---------------------------------------------------------------- stages_magnify.cpp

struct MagnifyOptions {
  /// The sequence magnified (a whole clip: {type: frames, clip: true}); 8-bit clips stay 8-bit.
  std::string sequence = "clip";
  /// The sequence written; empty = replace `sequence`.
  std::string output = "";
  /// "evm" (Eulerian, Wu et al. 2012) or "lagrangian" (flow from the first frame, re-warped).
  std::string method = "evm";
  /// evm: pyramid, levels, filter, low_hz, high_hz, alpha, lambda_c, attenuation, chroma_attenuation.
  EulerianMagnifyOptions evm;
  /// evm: frame rate used for samples whose metadata has none (0 = such samples are an error).
  double default_fps = 0;
  /// lagrangian: alpha, source, preset.
  LagrangianMagnifyOptions lagrangian;
  /// lagrangian: a sequence of CV_32FC2 flows from the first frame, one per frame, used instead of DIS
  /// (empty = measure with DIS).
  std::string flows = "";
  static MagnifyOptions from_config(const ConfigNode& node);
};
std::unique_ptr<Stage> make_magnify_stage(MagnifyOptions options);

}  // namespace mer
