#pragma once
/// SAMM in its native layout (Davison et al. 2016; emotion and objective classes: Davison et al. 2017).
///
///   <root>/SAMM/006/006_1_2/006_05562.jpg                   (variant: raw; greyscale frames)
///   <root>/SAMM_CROP/006/006_1_2/006_05562.jpg              (variant: cropped)
///   <root>/SAMM_Micro_FACS_Codes_v2.xlsx                    (or its CSV export)
///
/// i.e. <subject>/<subject>_<inducement>_<n>/<subject>_<frame:05d>.jpg, frame numbers being those of the
/// original long recording (200 fps). The release has no cropped tree: `SAMM_CROP` is the folder name
/// MEB (tvaranka/meb) and others give their cropped copy, a convention this adapter follows.
///
/// The table: the header row is found by its cells "Subject" and "Filename" — row 14 of the v2 sheet
/// (13 preamble rows of title, citation and symbol key), row 1 of other releases and of CSV exports cut
/// at the header. Columns are located by name. Subject is kept as text ("006"); a release or export that
/// stored it as a number ("6") is padded to three digits and the padding is recorded on the sample.
/// Action Units and emotions are trimmed (v2 has "12+15 " on 033_1_4). Emotions are matched exactly as
/// written, capitalised: Anger, Contempt, Disgust, Fear, Happiness, Other, Sadness, Surprise — so a label
/// map must use that spelling.
///
/// Frame-order quirks of v2 go through `apex_out_of_range` (see data/annotated.hpp), default fail:
///   028_4_1 apex 1143 > offset 1134; 032_3_1 apex 1930 < onset 4896;
///   032_3_2 apex 5127 one frame after onset 5126 — caught by `min_onset_to_apex` (at 200 fps one frame is
///   5 ms; the next shortest onset-to-apex rise in v2 is 10 frames). Under `clamp` such an apex moves to
///   onset + min_onset_to_apex.
///
///   dataset:
///     type: samm
///     root: ${MER_DATA_ROOT}/SAMM
///     table: SAMM_Micro_FACS_Codes_v2.xlsx   # relative to root, or absolute; .xlsx or .csv
///     sheet: ""                              # .xlsx worksheet; "" = the first (MICRO_ONLY)
///     variant: raw                           # raw (SAMM/) | cropped (SAMM_CROP/)
///     min_onset_to_apex: 2                   # frames; 0 = only the onset..offset range check
///     missing_apex: midpoint                 # estimate | midpoint | skip | fail
///     apex_out_of_range: fail                # clamp | estimate | midpoint | skip | fail
///     check_frames: true                     # onset/apex/offset frame files must exist at load time
///     missing_frames: fail                   # fail | skip   (a clip folder or key frame file not there)
///     labels:
///       classes: [Anger, Happiness, Contempt, Surprise, Other]   # 5 classes: 136 samples, 27 subjects
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct SammOptions {
  /// Dataset root: holds SAMM/ (or SAMM_CROP/) and, by default, the table.
  std::filesystem::path root;
  /// FACS coding table, .xlsx as distributed or a CSV export; relative paths resolve against root.
  std::filesystem::path table = "SAMM_Micro_FACS_Codes_v2.xlsx";
  /// Worksheet of an .xlsx table; "" takes the first one. Ignored for CSV.
  std::string sheet;
  /// "raw" (SAMM/) or "cropped" (SAMM_CROP/); both name frames <subject>_<frame:05d>.jpg.
  std::string variant = "raw";
  /// An apex fewer than this many frames after the onset counts as out of range (032_3_2); 0 disables.
  int min_onset_to_apex = 2;
  /// check_frames, missing_frames, missing_apex / apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  /// ConfigError naming the line for an unknown variant or policy, or a negative min_onset_to_apex.
  static SammOptions from_config(const ConfigNode& node);
};

/// Throws DataError (one line) for a missing root, table or frame folder, a missing clip folder or frame
/// file under missing_frames: fail (naming the path and the table row), a malformed row (naming file:row,
/// the column and the value), a clip listed twice, or an apex problem under `fail`.
class SammDataset : public AnnotatedDataset {
 public:
  explicit SammDataset(SammOptions options);
  const SammOptions& options() const { return options_; }

 private:
  SammOptions options_;
};

/// One row of a SAMM coding table, before the label map and the apex policies (exposed for tests and tools).
struct SammRow {
  std::string subject;           ///< as the folder on disk: "006"
  std::string subject_in_table;  ///< as written: "006", or "6" where a release stored a number
  std::string filename;          ///< "006_1_2"
  int onset = -1, apex = -1, offset = -1;  ///< apex -1 when blank or "/"
  std::string action_units;      ///< trimmed, otherwise as written ("(R6 or R12)+R15")
  std::string emotion;           ///< trimmed, as written ("Anger")
  std::string where;             ///< "file:row" or "file[sheet]:row"
};
/// Reads a SAMM coding table (.xlsx or CSV, header row detected). DataError naming file:row, the column
/// and the value for a non-numeric frame, an empty or non-numeric Subject, an empty Filename, or a
/// Filename that does not start with "<subject>_"; DataError naming the file if a column is missing.
std::vector<SammRow> read_samm_table(const std::filesystem::path& file, const std::string& sheet = "");

}  // namespace mer
