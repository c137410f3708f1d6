#pragma once
/// SampleMeta: one annotated micro-expression clip, independent of how its frames are stored.
#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct SampleMeta {
  /// Unique and stable across runs: "<dataset>/<subject>/<clip>", e.g. "casme2/sub01/EP02_01f".
  std::string id;
  /// Dataset name as registered ("casme2").
  std::string dataset;
  /// Subject as named by the dataset on disk ("sub01"). LOSO groups by group_key(), which is
  /// dataset-qualified so two datasets' "01" never merge.
  std::string subject;
  /// Clip name ("EP02_01f").
  std::string clip;
  /// Frame numbers as in the annotation table (not indices). apex < 0 means unknown.
  int onset = -1;
  int apex = -1;
  int offset = -1;
  /// The raw emotion from the table ("happiness") and its class index after the label map.
  std::string emotion;
  int label = -1;
  /// Action units as written in the table ("4+L10"); kept as text.
  std::string action_units;
  /// Where the frames are: folder plus a file-name pattern in which "{}" is the frame number, or
  /// "{:05}" for a zero-padded one ("img{}.jpg", "006_{:05}.jpg").
  std::filesystem::path clip_dir;
  std::string frame_pattern;
  /// Alternatively a video file (mp4, avi, webm, ...); frame numbers are then 0-based indices into it
  /// and clip_dir/frame_pattern are unused.
  std::filesystem::path video;
  /// Frames per second of the recording (0 if unknown): 200 for CASME II, 100 for SMIC-HS, ...
  double fps = 0;
  /// Quirk policies applied to this sample, one line each ("apex '/' -> midpoint 291"); reported by
  /// `mer data check` and in run summaries.
  std::vector<std::string> quirks;
  /// Where the annotation came from, for messages: "CASME2-coding-20140508.csv:12".
  std::string source;

  std::string group_key() const { return dataset + "/" + subject; }
  /// Path of frame number `frame` (pattern applied). Throws ValueError on a malformed pattern or for a
  /// video sample.
  std::filesystem::path frame_path(int frame) const;
  bool from_video() const { return !video.empty(); }
  /// The files a sample's key frames come from (the video, or the onset, apex and offset frame files);
  /// used to key caches so that changed data is never served stale results.
  std::vector<std::filesystem::path> source_files() const;
};

/// A sample left out of a run, with the reason; listed in skipped.csv and the report.
struct SkipRecord {
  std::string sample_id;
  std::string stage;   ///< "dataset", "label_map", a stage name, ...
  std::string reason;  ///< One line.
};

}  // namespace mer
