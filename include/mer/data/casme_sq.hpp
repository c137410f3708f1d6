#pragma once
/// CAS(ME)^2 ("CASME_sq") in its native layout (Qu et al. 2018): long videos at 30 fps with 57 micro- and
/// 300 macro-expressions coded in them.
///
///   <root>/rawpic/s15/15_0401girlcrashing/img557.jpg     (variant: raw)
///   <root>/cropped/s15/15_0401girlcrashing/img557.jpg    (variant: cropped; same sub-layout assumed, unverified)
///   <root>/CAS(ME)^2code_final.xlsx                      (sheet 1: the code sheet; sheets 2, 3: naming rules)
///
/// The frame tree is looked for in the documented place and then in the common unpackings: the folder
/// nested once more (rawpic/rawpic/), for the cropped variant Off-TANet's casme^2_cropped/, and the
/// subject folders directly in the root. The first that holds an s<code> folder is used (logged when it
/// is not the documented one); none is a DataError listing every place looked in. The code sheet may be
/// the .xlsx or a CSV export beside it (naming-rule sheets are then read only from an .xlsx).
///
/// Code sheet (the workbook's first sheet, no header row; genbing99/SoftNet-SpotME : load_label.py), by
/// position: 1 subject number, 2 expression ("anger1_1" = <video name>_<expression # in that video>),
/// 3 onset, 4 apex, 5 offset, 6 AUs ("NULL" when none coded; read as none), 7 emotion (negative, positive,
/// surprise, others), 8 type (micro-expression | macro-expression), 9 self-report. Frame numbers count
/// from 1, so 0 means "not annotated": offset 0 goes through missing_offset, apex 0 through missing_apex,
/// onset 0 is a DataError. The saved copy in shared/data/annotations (casme_sq_code_final.csv, from
/// hitheyuhong/MEGC2024-CODE) has two columns its author appended: 10 offset - onset (ignored, derived)
/// and 11 the subject/video folder, "s15/15_0401girlcrashing", which locates the frames directly.
///
/// Folder names: subject folder "s<code>", video folder "<code>_<4-digit video code><description>". The
/// workbook's naming-rule sheets give the codes (SoftNet's reading): sheet 2 maps the subject number
/// (column 3) to the subject code (column 2, "15" or "s15"); sheet 3 maps the video name (column 2,
/// "anger1") to its 4-digit code (column 1, "0401", text: leading zeros are part of the code). The
/// description is in no sheet, so the video folder is the one folder under s<code>/ whose name starts
/// with "<code>_<video code>" (none or several is an error naming them). Where the sheets come from:
///  1. subject_codes + video_codes: the two sheets exported as CSV (same columns, no header needed;
///     a first row without digits in its key column is taken as a header), if given;
///  2. else sheets 2 and 3 of the table when it is the .xlsx;
///  3. else column 11 of the table, row by row.
/// When column 11 and naming rules are both there, they must agree (DataError naming the row otherwise).
///
///   dataset:
///     type: casme_sq
///     root: ${MER_DATA_ROOT}/CASME_sq
///     table: CAS(ME)^2code_final.xlsx   # relative to root; or the CSV copy (column 11 or the code files)
///     subject_codes: ""                 # naming rule 1 as CSV (relative to root); with video_codes
///     video_codes: ""                   # naming rule 2 as CSV
///     variant: raw                      # raw (rawpic/) | cropped (cropped/)
///     frame_pattern: img{}.jpg          # zero padding unverified; "img{:04}.jpg" if yours is padded
///     expression_type: micro            # micro | macro | both
///     missing_offset: skip              # apex | skip | fail   (offset 0; 44 macro rows, no micro row)
///     missing_apex: midpoint            # data/annotated.hpp (apex 0: one macro row)
///     apex_out_of_range: fail           # three macro rows have apex > offset
///     check_frames: true
///     missing_frames: fail              # fail | skip
///     labels: {classes: [negative, positive, surprise], map: {...}}
///
/// missing_offset defaults to skip: ending a clip at its apex changes what the clip is, so it is done only
/// when asked; no micro-expression row is affected either way. Rows of the other expression type are not
/// samples of this dataset and are counted in the log, not listed as excluded.
///
/// Samples: id "casme_sq/s15/anger1_1", subject "s15", clip the expression name, fps 30.
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct CasmeSqOptions {
  /// Dataset root: holds rawpic/ (or cropped/) and, by default, the workbook.
  std::filesystem::path root;
  /// Code sheet: the workbook (.xlsx, first sheet) or a CSV export; relative to root.
  std::filesystem::path table = "CAS(ME)^2code_final.xlsx";
  /// Naming rule 1 (subject number -> code) as CSV; relative to root. Given together with video_codes.
  std::filesystem::path subject_codes;
  /// Naming rule 2 (video name -> 4-digit code) as CSV; relative to root.
  std::filesystem::path video_codes;
  /// "raw" (rawpic/) or "cropped" (cropped/).
  std::string variant = "raw";
  /// Frame file names in a video folder; "{}" is the frame number.
  std::string frame_pattern = "img{}.jpg";
  /// Which rows are samples: "micro", "macro" or "both".
  std::string expression_type = "micro";
  /// Offset 0 (not annotated): "apex" (end at the apex, recorded), "skip" (listed) or "fail".
  std::string missing_offset = "skip";
  /// check_frames, missing_frames, missing_apex / apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  static CasmeSqOptions from_config(const ConfigNode& node);
};

class CasmeSqDataset : public AnnotatedDataset {
 public:
  /// DataError for a missing root, table or frame folder, a malformed row (file:row, column, value), no
  /// way to name a row's folder, a naming-rule / column-11 disagreement, or (missing_frames: fail) a
  /// missing video folder or frame.
  explicit CasmeSqDataset(CasmeSqOptions options);

 private:
  CasmeSqOptions options_;
};

/// One row of the code sheet as written (exposed for tests and tools).
struct CasmeSqRow {
  int subject = 0;
  std::string expression;  ///< "anger1_1"
  std::string video;       ///< "anger1": the expression name before its last '_'
  int onset = 0, apex = 0, offset = 0;  ///< as written; 0 = not annotated
  std::string action_units;             ///< as written ("NULL" kept)
  std::string emotion;
  std::string type;         ///< "micro-expression" | "macro-expression"
  std::string self_report;
  std::string folder;       ///< column 11 when the table has it ("s15/15_0401girlcrashing"), else ""
  std::string where;        ///< "file:line" (or "file[sheet]:row")
};
/// Reads the code sheet (first sheet of an .xlsx, or a CSV; no header). DataError naming file:row for
/// fewer than 9 columns, a non-numeric subject or frame, an expression name without "_<n>", or a type
/// other than micro-expression / macro-expression.
std::vector<CasmeSqRow> read_casme_sq_table(const std::filesystem::path& file);

}  // namespace mer
