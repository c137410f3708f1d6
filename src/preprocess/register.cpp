#include <mer/preprocess/stage.hpp>

#include "detail/stages.hpp"

namespace mer {

void register_builtin_stages(StageRegistry& registry) {
  registry.add(
      "frames", [](const ConfigNode& c) { return make_frames_stage(FramesOptions::from_config(c)); },
      "reads the annotated frames (onset, apex, offset) of a sample");
  registry.add(
      "apex_spot", [](const ConfigNode& c) { return make_apex_spot_stage(ApexSpotOptions::from_config(c)); },
      "finds the apex frame when the annotation has none (frame difference) -> apex, apex_frame");
  registry.add(
      "detect_face", [](const ConfigNode& c) { return make_detect_face_stage(DetectFaceOptions::from_config(c)); },
      "finds the largest face with dlib's HOG detector -> face");
  registry.add(
      "landmarks", [](const ConfigNode& c) { return make_landmarks_stage(LandmarksOptions::from_config(c)); },
      "dlib's 68 facial landmarks in the face box -> landmarks");
  registry.add(
      "align", [](const ConfigNode& c) { return make_align_stage(AlignOptions::from_config(c)); },
      "warps frames onto the canonical face with one similarity fitted on stable landmarks");
  registry.add(
      "flow", [](const ConfigNode& c) { return make_flow_stage(FlowOptions::from_config(c)); },
      "dense optical flow between two frames (tvl1, farneback, dis) -> flow");
  registry.add(
      "strain", [](const ConfigNode& c) { return make_strain_stage(StrainOptions::from_config(c)); },
      "optical strain magnitude of the flow -> strain");
  registry.add(
      "resize", [](const ConfigNode& c) { return make_resize_stage(ResizeOptions::from_config(c)); },
      "resizes entries to a square size, rescaling flow vectors");
  registry.add(
      "to_float", [](const ConfigNode& c) { return make_to_float_stage(ToFloatOptions::from_config(c)); },
      "converts frames or clips to float network input (0..1 or standardized)");
}

}  // namespace mer
