#include <mer/preprocess/stage.hpp>

#include "detail/stages.hpp"

namespace mer {

void register_builtin_stages(StageRegistry& registry) {
  registry.add(
      "frames", [](const ConfigNode& c) { return make_frames_stage(FramesOptions::from_config(c)); },
      "reads the annotated frames (onset, apex, offset) of a sample");
  registry.add(
      "apex_spot", [](const ConfigNode& c) { return make_apex_spot_stage(ApexSpotOptions::from_config(c)); },
      "finds the apex frame when the annotation has none (frame_difference, flow_magnitude, frequency, "
      "feature_difference) -> apex, apex_frame");
  registry.add(
      "interpolate", [](const ConfigNode& c) { return make_interpolate_stage(InterpolateOptions::from_config(c)); },
      "resamples a clip to a fixed number of frames (tim, linear)");
  registry.add(
      "dynamic_image", [](const ConfigNode& c) { return make_dynamic_image_stage(DynamicImageOptions::from_config(c)); },
      "summarises a clip in one image by approximate rank pooling -> dynamic_image");
  registry.add(
      "active_image", [](const ConfigNode& c) { return make_active_image_stage(ActiveImageOptions::from_config(c)); },
      "summarises where a clip changes (accumulated local frame differences) -> active_image");
  registry.add(
      "key_frames", [](const ConfigNode& c) { return make_key_frames_stage(KeyFramesOptions::from_config(c)); },
      "picks annotated or most-changed frames of a clip -> key_frames");
  registry.add(
      "detect_face", [](const ConfigNode& c) { return make_detect_face_stage(DetectFaceOptions::from_config(c)); },
      "finds the largest face (dlib HOG, OpenCV Haar/LBP cascades or dlib MMOD CNN) -> face");
  registry.add(
      "landmarks", [](const ConfigNode& c) { return make_landmarks_stage(LandmarksOptions::from_config(c)); },
      "dlib's 68 facial landmarks in the face box -> landmarks");
  registry.add(
      "align", [](const ConfigNode& c) { return make_align_stage(AlignOptions::from_config(c)); },
      "warps frames onto the canonical face (similarity/affine on stable landmarks; per-frame with smoothed tracks)");
  registry.add(
      "flow", [](const ConfigNode& c) { return make_flow_stage(FlowOptions::from_config(c)); },
      "dense optical flow between two frames (tvl1, farneback, dis, dense_lk, rlof) -> flow");
  registry.add(
      "strain", [](const ConfigNode& c) { return make_strain_stage(StrainOptions::from_config(c)); },
      "optical strain magnitude of the flow -> strain");
  registry.add(
      "flow_polar", [](const ConfigNode& c) { return make_flow_polar_stage(FlowPolarOptions::from_config(c)); },
      "flow magnitude and orientation (radians or sin/cos) -> magnitude, orientation");
  registry.add(
      "roi", [](const ConfigNode& c) { return make_roi_stage(RoiOptions::from_config(c)); },
      "regions of interest (grid, facs, eye_cheek_mask, eyes_mouth, heatmap, landmark_patches): mask or crop -> rois");
  registry.add(
      "landmark_map", [](const ConfigNode& c) { return make_landmark_map_stage(LandmarkMapOptions::from_config(c)); },
      "Gaussian heat maps at the 68 landmarks -> landmark_map");
  registry.add(
      "resize", [](const ConfigNode& c) { return make_resize_stage(ResizeOptions::from_config(c)); },
      "resizes entries to a square size, rescaling flow vectors");
  registry.add(
      "to_float", [](const ConfigNode& c) { return make_to_float_stage(ToFloatOptions::from_config(c)); },
      "converts frames or clips to float network input (0..1 or standardized)");
  registry.add(
      "magnify", [](const ConfigNode& c) { return make_magnify_stage(MagnifyOptions::from_config(c)); },
      "magnifies the motion of a clip, Eulerian (evm) or Lagrangian (flow re-warping) -> clip");
}

}  // namespace mer
