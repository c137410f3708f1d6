#pragma once
/// CAS(ME)^3 Part A in its native layout (Li et al. 2023): 860 micro-expressions of 94 subjects (of Part
/// A's 100) in 13 task videos each, colour frames at 30 fps.
///
///   <root>/spNO.1/b/color/175.jpg
///   <root>/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   (sheet "label")
///
/// The spNO.<n>/ folders are looked for in the root (documented), then in the root's folder nested once
/// more (part_A/part_A/, a zip unpacked into a folder of its name) and in MEB's ME_A/. The first that
/// holds an spNO.<n> folder is used (logged when not the root); none is a DataError listing every place
/// looked in. The table may be the .xlsx or a CSV export beside it.
///
/// Layout from tvaranka/meb (format "/{subject}/{material}/color/") and the imagename columns of
/// wangzhifengharrison/HTNet : cas(me)3_part_A_edited.csv; frame numbers are the numbers in the file
/// names. The table is read by header name: Subject ("spNO.<n>", also the folder), Filename (the task video,
/// a letter a-m), Onset, Apex, Offset, AU, Objective class (I-VII), emotion.
///
/// Sample ids: one task video holds several micro-expressions, so (Subject, Filename) is not unique (191
/// keys cover 588 of the 860 rows). The clip name is "<Filename>_<Onset>" as written in the table
/// (before any policy), the key other public code uses: id "casme3/spNO.1/b_175". A repeat of that is a
/// DataError.
///
/// Quirks, each with a policy, reported on the sample (SampleMeta::quirks) or listed in excluded():
///  - Filename "J" (one row, spNO.14): filename_case: lower (the folder is then "j", recorded) | keep.
///    Which case the folder has on disk is unverified.
///  - emotion "Others" (3 rows) beside "others" (158): emotions are lower-cased, recorded.
///  - 0 means "not annotated" (MEB replaces these values): onset 0 (spNO.216 e) -> invalid_onset;
///    offset 0 (spNO.40 e, two rows) -> missing_offset; apex 0 -> missing_apex.
///  - onset after offset (spNO.216 d: onset 3647, apex 2668, offset 2694; MEB reads 2647) -> invalid_onset.
///  - apex before onset (spNO.149 d: onset 112, apex 83) -> apex_out_of_range.
///  - offset far too late (spNO.214 c: onset 5, offset 3460; MEB reads 34): not detectable from the row
///    alone; max_clip_frames > 0 sends clips longer than that (offset - onset + 1) to long_clip. A few
///    other rows run for 400-730 frames; where to draw the line is the user's choice, so the default is
///    no limit.
/// invalid_onset and missing_offset default to skip (the row names no usable clip; it is listed);
/// apex_out_of_range defaults to fail (data/annotated.hpp), so loading the table as published needs a
/// choice for spNO.149 d, e.g. clamp.
///
///   dataset:
///     type: casme3
///     root: ${MER_DATA_ROOT}/CASME3/part_A
///     table: cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   # relative to root; .xlsx or .csv
///     sheet: label                      # worksheet of the .xlsx (ignored for CSV)
///     filename_case: lower              # lower | keep
///     invalid_onset: skip               # skip | fail   (onset 0, or onset after offset)
///     missing_offset: skip              # apex | skip | fail   (offset 0)
///     max_clip_frames: 0                # 0 = no limit
///     long_clip: skip                   # skip | fail   (longer than max_clip_frames)
///     missing_apex: midpoint
///     apex_out_of_range: clamp
///     check_frames: true
///     missing_frames: fail              # fail | skip
///     labels: {classes: [...], map: {...}}
///
/// Samples: subject "spNO.1", fps 30. DataError for a missing root, table or frame tree, a malformed row (file:row,
/// column, value), a repeated id, a policy "fail", or (missing_frames: fail) a missing frame.
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>

namespace mer {

struct Casme3Options {
  /// Part A data root: holds the spNO.<n>/ folders (or ME_A/ or <root name>/ holding them).
  std::filesystem::path root;
  /// Label table (.xlsx or .csv); relative paths are resolved against root.
  std::filesystem::path table = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx";
  /// Worksheet of an .xlsx table.
  std::string sheet = "label";
  /// Filename as folder name: "lower" (recorded when it changes) or "keep".
  std::string filename_case = "lower";
  /// Onset 0 or after the offset: "skip" (listed) or "fail".
  std::string invalid_onset = "skip";
  /// Offset 0: "apex" (end at the apex, recorded), "skip" (listed) or "fail".
  std::string missing_offset = "skip";
  /// Clips with more frames than this (offset - onset + 1) go to long_clip; 0 = no limit.
  int max_clip_frames = 0;
  /// "skip" (listed) or "fail".
  std::string long_clip = "skip";
  /// check_frames, missing_frames, missing_apex / apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  static Casme3Options from_config(const ConfigNode& node);
};

class Casme3Dataset : public AnnotatedDataset {
 public:
  explicit Casme3Dataset(Casme3Options options);

 private:
  Casme3Options options_;
};

}  // namespace mer
