#pragma once
/// MMEW in its native layout (Ben et al. 2021): micro-expressions filmed at 90 fps, folders grouped by
/// emotion.
///
///   <root>/Micro_Expression/happiness/S01-01-001/15.jpg
///   <root>/MMEW_Micro_Exp.xlsx
///
/// The emotion folders are looked for in Micro_Expression/ (documented), then in Micro_Expression/
/// nested once more and directly in the root; the first place holding an emotion folder (a lower-case
/// word, as the table writes emotions) is used, logged when not the documented one; none is a DataError
/// listing every place looked in. The table may be the .xlsx or a CSV export beside it.
///
/// Frames are <n>.jpg numbered from 1 in each clip (tvaranka/meb : meb/datasets/datasets.py; the
/// imagename column of wangzhifengharrison/HTNet : MMEW_Micro_Exp_delete_others.csv). The table is read by
/// header name: Subject (a number; subject "S%02d", which must agree with a Filename of the form
/// S<NN>-...), Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion (lower case,
/// also the folder name), remarks; other columns are ignored, so derived copies such as HTNet's (with
/// label, one_hot_label and imagename added and the `others` rows removed) load too. The emotion folder is
/// the table's emotion as written, before the label map.
///
/// Quirks: ApexFrame blank or "/" goes through missing_apex, an apex outside OnsetFrame..OffsetFrame
/// through apex_out_of_range (MEB rewrites apex and offset of 16 rows of the full table by optical flow;
/// nothing is rewritten here). MEB also maps `others` to `repression`; here that is a label-map choice
/// (`map: {others: repression}`), not something the loader does.
///
///   dataset:
///     type: mmew
///     root: ${MER_DATA_ROOT}/MMEW
///     table: MMEW_Micro_Exp.xlsx        # relative to root; .xlsx or .csv
///     check_frames: true
///     missing_frames: fail              # fail | skip
///     missing_apex: midpoint            # data/annotated.hpp
///     apex_out_of_range: fail
///     labels: {classes: [...], map: {...}}
///
/// Samples: id "mmew/S01/S01-01-001", subject "S01", fps 90. DataError for a missing root, table or
/// frame tree, a malformed row (file:row, column, value), a repeated clip, or
/// (missing_frames: fail) a missing clip folder or frame.
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>

namespace mer {

struct MmewOptions {
  /// Dataset root: holds Micro_Expression/ and, by default, the table.
  std::filesystem::path root;
  /// Micro-expression table (.xlsx or .csv); relative paths are resolved against root.
  std::filesystem::path table = "MMEW_Micro_Exp.xlsx";
  /// check_frames, missing_frames, missing_apex / apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  static MmewOptions from_config(const ConfigNode& node);
};

class MmewDataset : public AnnotatedDataset {
 public:
  explicit MmewDataset(MmewOptions options);

 private:
  MmewOptions options_;
};

}  // namespace mer
