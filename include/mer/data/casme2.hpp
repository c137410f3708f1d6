#pragma once
/// CASME II in its native layout (Yan et al. 2014), recorded at 200 fps.
///
///   <root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     (variant: raw)
///   <root>/Cropped/sub01/EP02_01f/reg_img46.jpg              (variant: cropped)
///   <root>/CASME2-coding-20140508.xlsx                       (the coding table as distributed, or a CSV export)
///
/// The table is read as distributed: .xlsx directly or a CSV export of the sheet (chosen by extension),
/// the header row found by its Subject and Filename cells, columns located by name (the sheet has two
/// blank columns). Both releases load: 20140508 and 20190701, which adds `Objective Classes` and relabels
/// three sub24 clips from sadness to surprise. Subject "01" → folder "sub01"; frame numbers are the
/// numbers in the file names. ApexFrame "/" (sub04/EP12_01f) is a missing apex and an apex outside
/// onset..offset is out of range: both go through the quirk policies (data/annotated.hpp), recorded on
/// the sample. Legal but unusual apexes (equal to the onset, as sub05/EP09_05f, or to the offset) are
/// noted on the sample too. Emotions are matched case-sensitively through the label map; rows it leaves
/// out are excluded and listed.
///
///   dataset:
///     type: casme2
///     root: ${MER_DATA_ROOT}/CASME2
///     table: CASME2-coding-20140508.xlsx   # .xlsx or .csv; relative to root, or absolute
///     sheet: ""                             # worksheet of an .xlsx; "" takes the first (Sheet1)
///     variant: raw                          # raw | cropped
///     label_column: Estimated Emotion       # Estimated Emotion | Objective Classes (20190701 table, "1".."7")
///     missing_apex: midpoint                # estimate | midpoint | skip | fail   (ApexFrame "/" or blank)
///     apex_out_of_range: fail               # clamp | estimate | midpoint | skip | fail
///     check_frames: true                    # verify onset/apex/offset files exist when loading
///     missing_frames: fail                  # fail | skip   (a clip folder or key frame file not there)
///     labels: {classes: [...], map: {...}, min_samples_per_class: 0}
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct Casme2Options {
  /// Dataset root folder (holds the frame tree and, by default, the table).
  std::filesystem::path root;
  /// Coding table, .xlsx or .csv; relative paths are resolved against root.
  std::filesystem::path table = "CASME2-coding-20140508.csv";
  /// Worksheet of an .xlsx table; "" takes the first. Ignored for CSV.
  std::string sheet;
  /// "raw" (CASME2_RAW_selected, img<N>.jpg) or "cropped" (Cropped, reg_img<N>.jpg).
  std::string variant = "raw";
  /// The column the label map reads: "Estimated Emotion" or "Objective Classes" (20190701 table only).
  std::string label_column = "Estimated Emotion";
  /// check_frames, missing_frames, the apex policies (a missing "/" or out-of-range apex), labels and
  /// sample_list (data/annotated.hpp).
  AdapterOptions common;

  static Casme2Options from_config(const ConfigNode& node);
};

/// Throws DataError for a missing root or table, a malformed row (naming file:line and column), a clip
/// listed twice, a missing clip folder or (check_frames) frame file under missing_frames: fail, or an apex
/// quirk under policy "fail"; ValueError for an unknown variant or label column.
class Casme2Dataset : public AnnotatedDataset {
 public:
  explicit Casme2Dataset(Casme2Options options);
  const Casme2Options& options() const { return options_; }

 private:
  Casme2Options options_;
};

/// One parsed row of a CASME II coding table, before the label map (exposed for tests and tools).
struct Casme2Row {
  std::string subject;  ///< as in the table, "01"
  std::string filename;
  int onset = -1, apex = -1, offset = -1;  ///< apex -1 when "/" or blank
  std::string apex_cell;                   ///< ApexFrame as written ("/" where apex is -1)
  std::string action_units;
  std::string emotion;          ///< Estimated Emotion, "happiness"
  std::string objective_class;  ///< Objective Classes ("1".."7"); "" in the 20140508 table
  int line = 0;                 ///< CSV line or sheet row
  std::string where;            ///< "<path>:<line>" or "<path>[<sheet>]:<row>", for messages
  std::string source;           ///< the same with the file name only, for SampleMeta::source
};
/// Parses a CASME II coding table (.xlsx or CSV, either release). DataError naming file[sheet]:line on
/// a malformed row (non-numeric onset/offset/apex other than "/" or blank, onset > offset, missing
/// subject or file name), a missing column, or a sheet without a Subject/Filename header row.
std::vector<Casme2Row> read_casme2_table(const std::filesystem::path& file, const std::string& sheet = "");

}  // namespace mer
