#pragma once
/// Looking at a dataset before training on it: what it holds (classes × subjects, and per source for a
/// composite), what was left out and why, which quirk policies changed which sample, and whether every
/// frame is on disk and the key frames decode. `mer data check` and `mer data stats` print and write these.
#include <mer/core/progress.hpp>
#include <mer/data/annotated.hpp>
#include <mer/data/dataset.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mer {

/// Samples per class and per subject × class.
struct DatasetCounts {
  std::vector<std::string> classes;
  std::size_t n_samples = 0;
  std::vector<std::int64_t> per_class;  ///< by class index
  /// Subjects as group keys ("casme2/sub01": dataset-qualified, as LOSO groups them), sorted.
  std::vector<std::string> subjects;
  std::vector<std::vector<std::int64_t>> by_subject;  ///< [subject][class]
};

/// Counts `samples` (labels index `classes`; ValueError for a label outside them).
DatasetCounts count_samples(const std::vector<SampleMeta>& samples, const std::vector<std::string>& classes);

/// A frame that is not on disk, or that is there but does not decode.
struct FrameProblem {
  std::string sample_id;
  int frame = -1;
  std::filesystem::path path;  ///< the frame file (the video for a video sample)
  std::string problem;         ///< "missing" or "unreadable"
  std::string detail;          ///< the reader's message
};

struct DataCheckOptions {
  /// Every frame file from onset to offset must exist (the adapters check only the key frames).
  bool all_frames = true;
  /// The onset, apex and offset frames must decode (load_frame).
  bool decode_key_frames = true;
  ProgressStyle progress = ProgressStyle::Auto;
};

struct DataReport {
  std::string dataset;  ///< Dataset::name()
  DatasetCounts counts;
  /// Per SampleMeta::dataset, filled only when the samples come from more than one (a composite).
  std::map<std::string, DatasetCounts> per_source;
  /// (sample ID, quirk line) for every quirk policy applied, in sample order.
  std::vector<std::pair<std::string, std::string>> quirks;
  std::size_t quirky_samples = 0;
  std::vector<SkipRecord> excluded;
  /// What a `sample_list:` section did (unmatched rows, frame and label differences); set only when the
  /// dataset is table-based and was given a list.
  std::optional<SampleListReport> sample_list;
  std::vector<FrameProblem> frame_problems;
  std::size_t frames_checked = 0;  ///< frame files looked for
  std::size_t frames_decoded = 0;

  /// True when no frame is missing or unreadable.
  bool usable() const { return frame_problems.empty(); }
};

/// Counts, quirks and exclusions of `dataset`, then checks its frames as `options` say (with progress).
/// Frame problems are collected, not thrown: the report lists them all.
DataReport check_dataset(const Dataset& dataset, const DataCheckOptions& options = {});

/// One JSON object: "dataset", "n_samples", "n_subjects", "classes", "per_class" {class: n},
/// "per_subject" {subject: {class: n}}, "n_excluded", "excluded" [{"sample_id","stage","reason"}],
/// "quirks" (number of quirk lines), "quirk_list" [{"sample_id","quirk"}], "quirky_samples",
/// "sample_list" {"file","rows","matched","unmatched" [{"sample_id","stage","reason"}],"onset_differs",
/// "apex_differs","offset_differs","frames_differ","labels_differ","differences" [line]} when a list was given,
/// "frames_checked", "frames_decoded", "missing_frames" [{"sample_id","frame","path","problem","detail"}]
/// (missing and unreadable), "usable", and for composites "per_source" {source: {"n_samples",
/// "n_subjects","per_class"}}.
std::string data_report_json(const DataReport& report);
/// The same for people: tables of classes, sources and subjects, then exclusions, quirks and frame problems.
std::string data_report_text(const DataReport& report);
/// Class-by-subject table: "subject,<class>...,total", one row per subject, then a "total" row.
std::string class_subject_csv(const DatasetCounts& counts);

}  // namespace mer
