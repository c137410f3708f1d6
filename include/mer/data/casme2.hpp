#pragma once
/// CASME II in its native layout (Yan et al. 2014).
///
///   <root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     (variant: raw)
///   <root>/Cropped/sub01/EP02_01f/reg_img46.jpg              (variant: cropped)
///   <root>/CASME2-coding-20140508.csv                        (the coding table exported as CSV)
///
/// The table is read by header name (it has two blank columns), Subject "01" → folder "sub01", frame
/// numbers are the numbers in the file names, ApexFrame may be "/" (→ apex policy), Action Units may be
/// numbers or text. Emotions are matched case-sensitively through the label map; rows whose emotion the
/// map leaves out are excluded and listed.
///
///   dataset:
///     type: casme2
///     root: data/demo/CASME2
///     table: CASME2-coding-20140508.csv   # relative to root, or absolute
///     variant: raw                         # raw | cropped
///     apex_policy: midpoint                # midpoint | skip | fail   (for a missing apex)
///     check_frames: true                   # verify onset/apex/offset files exist when loading
///     labels: {classes: [...], map: {...}}
#include <mer/data/dataset.hpp>

#include <filesystem>

namespace mer {

struct Casme2Options {
  /// Dataset root folder (holds the frame tree and, by default, the table).
  std::filesystem::path root;
  /// Coding table; relative paths are resolved against root.
  std::filesystem::path table = "CASME2-coding-20140508.csv";
  /// "raw" (CASME2_RAW_selected, img<N>.jpg) or "cropped" (Cropped, reg_img<N>.jpg).
  std::string variant = "raw";
  /// What to do when ApexFrame is missing or "/": midpoint of onset/offset, skip the row, or fail.
  std::string apex_policy = "midpoint";
  /// Check at load time that the onset, apex and offset frame files exist.
  bool check_frames = true;
  LabelMap labels;

  static Casme2Options from_config(const ConfigNode& node);
};

/// Throws DataError for a missing root or table, a malformed row (naming file:line and column), or
/// missing frames when check_frames is on.
class Casme2Dataset : public Dataset {
 public:
  explicit Casme2Dataset(Casme2Options options);
  std::string name() const override { return "casme2"; }
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return options_.labels; }
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }

 private:
  Casme2Options options_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
};

/// One parsed row of a CASME II coding table, before the label map (exposed for tests and tools).
struct Casme2Row {
  std::string subject;  ///< as in the table, "01"
  std::string filename;
  int onset = -1, apex = -1, offset = -1;  ///< apex -1 when "/" or blank
  std::string action_units;
  std::string emotion;
  int line = 0;
};
/// Parses a CASME II coding table (CSV export of the vendor sheet). DataError naming file:line on a
/// malformed row (non-numeric onset/offset, onset > offset, missing subject or file name).
std::vector<Casme2Row> read_casme2_table(const std::filesystem::path& file);

}  // namespace mer
