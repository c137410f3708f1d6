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
  /// Where the annotation came from, for messages: "CASME2-coding-20140508.csv:12".
  std::string source;

  std::string group_key() const { return dataset + "/" + subject; }
  /// Path of frame number `frame` (pattern applied). Throws ValueError on a malformed pattern.
  std::filesystem::path frame_path(int frame) const;
};

/// A sample left out of a run, with the reason; listed in skipped.csv and the report.
struct SkipRecord {
  std::string sample_id;
  std::string stage;   ///< "dataset", "label_map", a stage name, ...
  std::string reason;  ///< One line.
};

}  // namespace mer
