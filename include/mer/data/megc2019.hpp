#pragma once
/// The MEGC2019 composite (the "CDE" protocol of the MEGC2019 recognition challenge): SMIC-HS, CASME II and
/// SAMM, relabelled to negative / positive / surprise — exactly the 442 samples of the organisers' ground
/// truth, which libmer embeds (src/data/megc2019_list.cpp). The list is not re-derived from the published
/// relabelling rules: those give 147 CASME II samples with the 20140508 table, the official file has 145
/// (sub04/EP12_01f and sub05/EP09_05f are left out, undocumented); see docs/datasets.md.
///
///   dataset:
///     type: megc2019
///     on_missing: fail                  # fail | skip: a listed sample that its source does not provide
///     smic:                             # each section is a full dataset config of that adapter;
///       root: ${MER_DATA_ROOT}/SMIC     # `type` defaults to the section name, `root` as shown,
///     casme2:                           # `labels` to every raw emotion of that source, and SAMM's
///       root: ${MER_DATA_ROOT}/CASME2   # `apex_out_of_range` to midpoint (the list keeps 028_4_1,
///     samm:                             # 032_3_1 and 032_3_2, whose v2 apexes lie outside their clips)
///       root: ${MER_DATA_ROOT}/SAMM
///
/// Each source is built through builtin_datasets(), then the composite keeps exactly the listed samples,
/// matched on (database, subject, clip) under the list's ID conventions:
///   smic    s01 / s01_ne_01   ↔ on disk s1 / s1_ne_01   (the list zero-pads, the folders do not)
///   samm    6 / 006_1_2       ↔ on disk 006 / 006_1_2   (the list writes SAMM subjects unpadded)
///   casme2  sub01 / EP02_01f  ↔ on disk sub01 / EP02_01f
/// Labels come from the list. A source section may set its own label map (configs/_base_/labels/
/// megc2019_3class.yaml gives the published per-source rules); when that map's classes are negative,
/// positive, surprise, every listed sample's mapped class must agree with the list (DataError otherwise),
/// which checks the rules against the official file.
///
/// Samples keep their source's identity: SampleMeta::dataset is "smic", "casme2" or "samm" (so per-source
/// metrics can filter on the sample ID's first component), subjects are dataset-qualified through
/// group_key() (68 LOSO folds: 16 + 24 + 28), and name() is "megc2019".
#include <mer/data/dataset.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mer {

/// One row of the MEGC2019 ground-truth list, as written there.
struct Megc2019Row {
  std::string database;  ///< "smic", "casme2" or "samm"
  std::string subject;   ///< "s01", "sub01", "6"
  std::string filename;  ///< "s01_ne_01", "EP02_01f", "006_1_2"
  int label = -1;        ///< 0 negative, 1 positive, 2 surprise
  int line = 0;          ///< 1-based line in the list
};

/// The composite's classes in label order: negative, positive, surprise.
const std::vector<std::string>& megc2019_classes();
/// The sources in the order the list holds them: casme2, smic, samm.
const std::vector<std::string>& megc2019_sources();
/// The name under which messages cite the embedded list ("combined_3class_gt.csv").
const std::string& megc2019_list_name();

/// The official list's text, embedded (LF line ends; the organisers' file uses CRLF).
const std::string& megc2019_official_list_text();
/// Parses a list in the official format (no header; database, subject, filename, label 0..2). DataError
/// naming `name`:line for a short row, an unknown database, a label outside 0..2, or a sample listed twice.
std::vector<Megc2019Row> parse_megc2019_list(const std::string& text, const std::string& name);
/// The embedded official list, parsed once: 442 rows.
const std::vector<Megc2019Row>& megc2019_official_list();

/// The list's subject and clip in the source's on-disk convention: SMIC "s01" → "s1", "s01_ne_01" →
/// "s1_ne_01"; SAMM "6" → "006"; anything else unchanged. Idempotent, so names already in the on-disk
/// form map to themselves.
std::string megc2019_disk_subject(const std::string& database, const std::string& subject);
std::string megc2019_disk_clip(const std::string& database, const std::string& filename);

struct Megc2019Options {
  /// "fail": a listed sample that its source does not provide is a DataError naming the list row and what
  /// was looked for; "skip": it is left out and listed in excluded() with the same text.
  std::string on_missing = "fail";

  static Megc2019Options from_config(const ConfigNode& node);
};

class Megc2019Dataset : public Dataset {
 public:
  /// `sources` maps a database name of the list ("smic", "casme2", "samm") to that dataset, loaded; rows
  /// of a database with no entry count as missing. ValueError if a source's name() differs from its key.
  /// DataError for a missing listed sample (on_missing: fail), a label disagreement (see above), or an
  /// empty result.
  Megc2019Dataset(Megc2019Options options, std::map<std::string, std::unique_ptr<Dataset>> sources,
                  const std::vector<Megc2019Row>& list = megc2019_official_list());

  std::string name() const override { return "megc2019"; }
  /// In list order.
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return labels_; }
  /// The sources' own exclusions, their samples that the list leaves out (stage "megc2019"), and listed
  /// samples skipped under on_missing: skip.
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }

 private:
  Megc2019Options options_;
  LabelMap labels_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
};

/// The `type: megc2019` factory: reads the options, fills each source section's defaults (type, root,
/// permissive labels) into the config, builds the sources through `registry` and returns the composite.
std::unique_ptr<Dataset> build_megc2019(const ConfigNode& node, const DatasetRegistry& registry);

}  // namespace mer
