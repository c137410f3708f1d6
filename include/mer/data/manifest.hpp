#pragma once
/// A CSV manifest: anyone's own clips, as frame folders or video files, with the same policies and
/// reporting as the public datasets.
///
///   id,subject,clip,onset,apex,offset,emotion,frames_dir,frame_pattern,video,fps
///   ,p01,take1,12,20,31,happiness,p01/take1,img{}.jpg,,
///   ,p01,take2,3,,9,surprise,p01/take2,{:05}.png,,
///   ,p02,talk,40,52,75,disgust,,,videos/p02.mp4,30
///
/// Columns are found by header name. Required: subject, clip, onset, offset, emotion. Optional: id, apex
/// (column or cell may be missing; blank or "/" goes through missing_apex), frames_dir, frame_pattern,
/// video, fps, action_units. Each row names its frames in exactly one way:
///  - frames_dir (+ frame_pattern, or the frame_pattern option when the cell is blank): frame numbers are
///    the numbers in the file names; "{}" is the number, "{:05}" a zero-padded one;
///  - video (mp4, avi, webm, ... anything OpenCV's VideoCapture reads): frame numbers are 0-based
///    indices into the video (data/frames.hpp reads them).
/// Relative paths are resolved against the manifest's folder, so a manifest travels with its data.
/// fps: the row's fps cell where filled, else the fps option; a row with neither is a DataError (fps is
/// part of what a sample is: temporal stages need it).
///
///   dataset:
///     type: manifest
///     manifest: ${MER_DATA_ROOT}/mine/manifest.csv
///     name: mine                        # dataset name: ids "<name>/<subject>/<clip>" (or "<name>/<id>")
///     frame_pattern: ""                 # default for rows with frames_dir and no frame_pattern cell
///     fps: 0                            # default for rows with no fps cell; 0 = none
///     check_frames: true                # key frame files (or the video file) must exist when loading
///     missing_frames: fail              # fail | skip
///     missing_apex: midpoint            # data/annotated.hpp
///     apex_out_of_range: fail
///     labels: {classes: [...], map: {...}}
///
/// Samples: id "<name>/<id>" when the id cell is filled, else "<name>/<subject>/<clip>"; subject and clip
/// as written. DataError naming file:row for a malformed row (missing required cell, non-numeric frame,
/// both or neither of frames_dir and video, a pattern without a frame placeholder, no fps), a repeated
/// id, a policy "fail", or (missing_frames: fail) missing frames; DataError naming the path for a missing
/// manifest.
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>

namespace mer {

struct ManifestOptions {
  /// The manifest CSV (.xlsx works too); relative paths inside it are resolved against its folder.
  std::filesystem::path manifest;
  /// Dataset name: SampleMeta::dataset, the id prefix and the LOSO group prefix. No '/'.
  std::string name = "manifest";
  /// Frame file pattern for rows with frames_dir and a blank (or no) frame_pattern cell.
  std::string frame_pattern;
  /// Frames per second for rows with a blank (or no) fps cell; 0 = none given.
  double fps = 0;
  /// check_frames (the key frame files, or the video file), missing_frames, missing_apex /
  /// apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  static ManifestOptions from_config(const ConfigNode& node);
};

class ManifestDataset : public AnnotatedDataset {
 public:
  explicit ManifestDataset(ManifestOptions options);

 private:
  ManifestOptions options_;
};

}  // namespace mer
