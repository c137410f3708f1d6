#pragma once
/// SMIC (Li et al. 2013) in its native layouts: the short clips of SMIC (`type: smic`) and the long
/// clips of SMIC-E (`type: smic_e`, a separate type because table, tree and frame lookup all differ).
///
/// ## SMIC, short clips
///
///   <root>/SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image559740.bmp          (variant: raw)
///   <root>/SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/reg_image559740.bmp  (variant: cropped)
///
/// i.e. <camera>/s<N>/micro/{negative,positive,surprise}/s<N>_{ne,po,sur}_<NN>/, folders unpadded
/// (s1, not s01), frame numbers absolute camera indices zero-padded to at least 6 digits. Clips under
/// s<N>/non_micro/ are not micro-expressions and are ignored. HS records at 100 fps, VIS and NIR at 25.
///
/// The camera folder is looked for in the documented place, then in the common unpackings: the tree
/// nested once more (SMIC_all_raw/SMIC_all_raw/HS/), the camera folder directly in the root (HS/), and
/// the subject folders directly in the root (one camera's copy). The first that holds an s<N> folder is
/// used (logged when not the documented one); none is a DataError listing every place looked in.
///
/// SMIC comes without an annotation table. `source: folders` (default) reads the clips from the tree:
/// the class is the emotion folder, onset and offset are the first and last frame numbers found, and the
/// clip folder name must agree with both (s<N>_<ne|po|sur>_<NN>). `source: list` reads a list file
/// (the .xlsx or a CSV export beside it, whichever `list` names) instead, like smic_hs.csv (xiazhaoqiang/Benchmark-MicroExpressionRec): no header, columns subject,
/// filename, onset, apex, offset, label (1 positive, 2 negative, 3 surprise). Lists write IDs padded
/// (s01, s01_ne_01); they are mapped to the unpadded folders (s1, s1_ne_01) and the mapping is recorded
/// on each sample. Every listed clip folder must exist.
///
/// SMIC annotates no apex. `missing_apex` decides (default midpoint, as MEB does; `estimate` leaves it
/// to an apex-spotting stage). The apex column of a list is a third-party estimate — smic_hs.csv and
/// another public list disagree on 131 of 164 values — so it is ignored unless `use_list_apex: true`
/// (then `apex_out_of_range` applies to it).
///
///   dataset:
///     type: smic
///     root: ${MER_DATA_ROOT}/SMIC
///     camera: HS               # HS | VIS | NIR
///     variant: raw             # raw (SMIC_all_raw, image) | cropped (SMIC_all_cropped, reg_image)
///     source: folders          # folders | list
///     list: smic_hs.csv        # source: list only; relative to root, or absolute; .csv or .xlsx
///     use_list_apex: false     # source: list only
///     missing_apex: midpoint   # estimate | midpoint | skip | fail
///     apex_out_of_range: fail  # clamp | estimate | midpoint | skip | fail
///     check_frames: true       # folders: frame numbers contiguous; list: onset/apex/offset files exist
///     missing_frames: fail     # fail | skip   (a clip folder, its frames, or a gap in them)
///     labels:
///       classes: [negative, positive, surprise]
///
/// ## SMIC-E, long clips
///
///   <root>/SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx
///   <root>/SMIC-E_raw image/HS_long/SMIC-HS-E/s01/<Filename>/image<N>.<ext>
///
/// The frame folder is looked for in the documented place, then nested once more
/// (SMIC-HS-E/SMIC-HS-E/), in HS_long/ directly in the root (without "SMIC-E_raw image/"), spelt
/// SMIC_HS_E there (QqXuyujie/Micro-Expression-Datasets' copy), and as subject folders directly in the
/// root; the first holding an s<N> folder is used (logged when not the documented one); none is a
/// DataError listing every place looked in. The default table is the workbook beside the frame folder
/// found (beside the outer folder of a doubled one; in the root with the subject folders), or its CSV
/// export.
///
/// The annotation (genbing99/MEAN_Spot-then-recognize) has columns Subject (a number), Filename, OnsetF,
/// OffsetF, Emotion, FirstF and no apex; the HS sheet has 157 data rows followed by text rows. The table
/// ends at the first row whose Subject is not a number; each row from there on is listed in excluded().
/// FirstF is the first frame of the long clip and OnsetF − FirstF the onset's index into the clip's
/// frames in numeric order (as MEAN reads it), so onset and offset are the frame files at those indices.
/// Unverified, taken from a third-party copy (QqXuyujie/Micro-Expression-Datasets): subject folders
/// are padded to two digits (s01, option `subject_digits`) and clip folders are named as Filename.
/// The frame files' prefix `image`, their extension and their zero padding are read from each clip
/// folder, not assumed; a clip whose files are not numbered from FirstF gets a quirk line saying so.
/// Emotion is passed through as written (trimmed): the label map must use the sheet's spelling.
///
///   dataset:
///     type: smic_e
///     root: ${MER_DATA_ROOT}/SMIC
///     camera: HS               # HS | VIS | NIR
///     table: ""                # "" = SMIC-E_raw image/<camera>_long/SMIC-<camera>-E_annotation.xlsx
///     sheet: ""
///     subject_digits: 2        # subject folder = "s" + Subject zero-padded to this width
///     missing_apex: midpoint   # estimate | midpoint | skip | fail
///     check_frames: true       # the onset/apex/offset frame files must exist
///     missing_frames: fail     # fail | skip   (a clip folder, or frames the row points at)
///     labels:
///       classes: [negative, positive, surprise]
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct SmicOptions {
  /// Dataset root: holds SMIC_all_raw/ and SMIC_all_cropped/.
  std::filesystem::path root;
  /// "HS" (100 fps), "VIS" or "NIR" (25 fps).
  std::string camera = "HS";
  /// "raw" (SMIC_all_raw, image<N>.bmp) or "cropped" (SMIC_all_cropped, reg_image<N>.bmp).
  std::string variant = "raw";
  /// "folders": clips and their classes from the tree; "list": clips from the list file.
  std::string source = "folders";
  /// List file for source: list (no header: subject, filename, onset, apex, offset, label 1/2/3).
  std::filesystem::path list;
  /// Use the list's apex column (a third-party estimate) instead of the missing_apex policy.
  bool use_list_apex = false;
  /// check_frames (folders: a clip's frame numbers must be contiguous; list: the onset/apex/offset files
  /// must exist), missing_frames, missing_apex (midpoint: SMIC has no apex) / apex_out_of_range (a list
  /// apex), labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  /// ConfigError naming the line for an unknown camera/variant/source/policy, or source: list without list.
  static SmicOptions from_config(const ConfigNode& node);
};

/// Emotion names are the folder names: negative, positive, surprise. Throws DataError (one line) for a
/// missing root or frame tree, an unexpected folder in the tree, frame files not padded to 6 digits, a
/// clip name that disagrees with its subject or class, a malformed list row (naming file:row), or, under
/// missing_frames: fail, a missing clip folder (naming the list row) or frame file, or a clip without
/// frames or with a gap.
class SmicDataset : public AnnotatedDataset {
 public:
  explicit SmicDataset(SmicOptions options);
  const SmicOptions& options() const { return options_; }

 private:
  void load_folders(const std::filesystem::path& camera_dir);
  void load_list(const std::filesystem::path& camera_dir);
  SmicOptions options_;
};

/// The unpadded on-disk form of a SMIC subject or clip ID: "s01" -> "s1", "s01_ne_01" -> "s1_ne_01";
/// already unpadded IDs are returned unchanged. nullopt unless the ID is "s<digits>" optionally followed
/// by "_...".
std::optional<std::string> smic_unpadded(const std::string& id);

/// One row of a SMIC list file (exposed for tests and tools).
struct SmicListRow {
  std::string subject;  ///< as written: "s01"
  std::string clip;     ///< as written: "s01_ne_01"
  int onset = -1, apex = -1, offset = -1;
  int label = 0;        ///< as written: 1 positive, 2 negative, 3 surprise
  std::string emotion;  ///< the label's name: positive, negative, surprise
  std::string where;    ///< "file:row"
};
/// Reads a SMIC list (.csv or .xlsx, no header). DataError naming file:row for fewer than six columns,
/// an empty subject or file name, a non-numeric frame, or a label other than 1, 2, 3.
std::vector<SmicListRow> read_smic_list(const std::filesystem::path& file);

struct SmicEOptions {
  /// Dataset root: holds "SMIC-E_raw image/".
  std::filesystem::path root;
  /// "HS" (100 fps), "VIS" or "NIR" (25 fps).
  std::string camera = "HS";
  /// Annotation table; "" = SMIC-<camera>-E_annotation.xlsx beside the frame folder (documented:
  /// SMIC-E_raw image/<camera>_long/). Relative to root.
  std::filesystem::path table;
  /// Worksheet of an .xlsx table; "" takes the first one.
  std::string sheet;
  /// The subject folder is "s" + Subject zero-padded to this many digits (2: s01; 1: s1).
  int subject_digits = 2;
  /// check_frames (the onset, apex and offset frame files), missing_frames, missing_apex (SMIC-E has no
  /// apex; midpoint), labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  /// ConfigError naming the line for an unknown camera or policy, or subject_digits outside 1..9.
  static SmicEOptions from_config(const ConfigNode& node);
};

/// Throws DataError (one line) for a missing root, table or frame tree, a clip with mixed frame names, a
/// malformed row, a clip listed twice, or, under missing_frames: fail, a missing clip folder (naming the
/// row), a clip without numbered frames, an OffsetF past the clip's frames (naming the row and the index)
/// or a missing apex frame.
class SmicEDataset : public AnnotatedDataset {
 public:
  explicit SmicEDataset(SmicEOptions options);
  const SmicEOptions& options() const { return options_; }

 private:
  SmicEOptions options_;
};

/// One data row of a SMIC-E annotation table.
struct SmicERow {
  int subject = -1;      ///< as written: 1
  std::string filename;  ///< as written
  int onset = -1, offset = -1, first = -1;  ///< OnsetF, OffsetF, FirstF
  std::string emotion;   ///< trimmed
  std::string where;     ///< "file:row" or "file[sheet]:row"
};
struct SmicETable {
  std::vector<SmicERow> rows;
  /// Rows after the data (from the first whose Subject is not a number): "file:row" of each.
  std::vector<std::string> trailing;
  /// The Subject cell that ended the data ("" when the table has none).
  std::string ended_at;
};
/// Reads a SMIC-E annotation table (.xlsx or CSV, header row found by Subject/Filename/OnsetF). DataError
/// naming file:row and the column for a non-numeric OnsetF/OffsetF/FirstF, an empty Filename, or
/// OnsetF > OffsetF or FirstF > OnsetF.
SmicETable read_smic_e_table(const std::filesystem::path& file, const std::string& sheet = "");

}  // namespace mer
