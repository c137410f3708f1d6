#pragma once
/// Building blocks shared by every dataset adapter: explicit quirk policies and a base class that applies
/// the label map, the class-size filter and the bookkeeping of what was left out and why.
///
///   dataset:
///     missing_apex: midpoint        # estimate | midpoint | skip | fail   (apex '/', blank, or none at all)
///     apex_out_of_range: fail       # clamp | estimate | midpoint | skip | fail   (apex outside onset..offset)
///
/// "estimate" leaves the apex unknown (-1) for an apex-spotting preprocessing stage to find from the
/// frames; "midpoint" uses (onset + offset) / 2; "clamp" moves it to the nearest of onset/offset. Every
/// applied policy is recorded on the sample (SampleMeta::quirks) and reported — no silent guesses.
///
/// ## Third-party sample lists (every adapter built on AnnotatedDataset)
///
/// Papers are often reproduced with someone else's list of samples (the "247-sample CASME II 5-class"
/// benchmark list, a composite 3-class list) that selects samples and sometimes changes their frames or
/// labels. A list is opt-in, and every difference from the dataset's own table is reported:
///
///   dataset:
///     sample_list:
///       file: casme2_5class_benchmark.csv   # .csv or .xlsx; relative to the working directory; "" = no list
///       sheet: ""                           # .xlsx worksheet; "" = the first
///       has_header: false
///       subject: 0                          # each column by header name or 0-based index;
///       clip: 1                             # onset/apex/offset/label are optional ("" = absent)
///       onset: 2
///       apex: 3
///       offset: 4
///       label: 5
///       dataset_column: ""                  # composite lists: keep only rows whose cell in this column
///       dataset: ""                         #   equals `dataset` (e.g. Dataset == casme2)
///       label_names: {"1": happiness, "2": surprise}   # list value -> the table's emotion name
///       use_frames: false                   # true: the list's onset/apex/offset replace the table's
///       use_labels: false                   # true: the list's label replaces the table's emotion
///       check_frames: true                  # use_frames: the replaced frames' files must exist
///       on_unmatched: report                # report | fail: a list row that matches no sample
///
/// `label_names` maps to *emotion names as the table writes them* (SampleMeta::emotion, before the label
/// map: CASME II "happiness", SAMM "Happiness"), so the dataset's label map still decides the classes;
/// without it the list's values are taken as emotion names. Subjects and clips match under the known ID
/// conventions: case is ignored, a "sub" or "s" prefix before a subject number is dropped and leading
/// zeros of every number are ignored (CASME II sub01 ~ 01, SAMM 006 ~ 6, SMIC s01 / s01_ne_01 ~ s1 /
/// s1_ne_01). Samples the list leaves out are excluded (stage "sample_list"); list rows that match no
/// sample are listed in sample_list_report().unmatched with the list's file:line (and logged), or fail
/// with DataError naming the row under `on_unmatched: fail`. Frame and label differences are always
/// counted and listed in sample_list_report(); with use_frames / use_labels each applied change is also
/// a quirk line on the sample. A list cell left blank (or "/") is reported and never filled in.
#include <mer/core/config.hpp>
#include <mer/data/dataset.hpp>

#include <filesystem>
#include <map>
#include <functional>
#include <string>
#include <vector>

namespace mer {

struct QuirkPolicies {
  /// What to do when a row has no usable apex.
  std::string missing_apex = "midpoint";
  /// What to do when the apex lies outside onset..offset.
  std::string apex_out_of_range = "fail";

  /// Reads the two keys from a dataset section; `missing_default` lets a dataset without any apex
  /// annotation (SMIC) default to something else. ConfigError naming the line for unknown values.
  static QuirkPolicies from_config(const ConfigNode& node, const std::string& missing_default = "midpoint");
};

/// Applies the apex policies to `s` (onset/apex/offset already parsed; apex < 0 = missing). Returns true
/// if the sample is kept; false if it is to be skipped, with `skip_reason` set. Throws DataError naming
/// `where` under "fail". Also rejects onset > offset (DataError: no policy can repair that).
bool apply_apex_policies(const QuirkPolicies& policies, SampleMeta& s, const std::string& where,
                         std::string& skip_reason);

/// The `sample_list:` section of a dataset config (see the top of this header).
struct SampleListOptions {
  /// List file, .csv or .xlsx; "" = no list (the dataset is used as its table defines it).
  std::filesystem::path file;
  /// Worksheet of an .xlsx list; "" takes the first. Ignored for CSV.
  std::string sheet;
  /// Whether the first row is a header (needed to name columns by header).
  bool has_header = false;
  /// Columns, each a header name or a 0-based index; onset/apex/offset/label "" = not in the list.
  std::string subject = "0";
  std::string clip = "1";
  std::string onset, apex, offset, label;
  /// Composite lists: only rows whose `dataset_column` cell equals `dataset` are used (both or neither).
  std::string dataset_column, dataset;
  /// List label value -> the table's emotion name (SampleMeta::emotion); empty = values are emotion names.
  std::map<std::string, std::string> label_names;
  /// Replace the table's onset/apex/offset with the list's (each change a quirk on the sample).
  bool use_frames = false;
  /// Replace the table's emotion with the list's label (each change a quirk on the sample).
  bool use_labels = false;
  /// With use_frames, the replaced frames' files must exist (image-folder samples only).
  bool check_frames = true;
  /// "report": list rows matching no sample are listed and logged; "fail": DataError naming the row.
  std::string on_unmatched = "report";

  bool enabled() const { return !file.empty(); }
  /// ConfigError naming the line for an unknown on_unmatched, or only one of dataset_column / dataset.
  static SampleListOptions from_config(const ConfigNode& node);
};

/// The options every adapter reads the same way, each under its own key directly in the `dataset:`
/// section (one struct and one reader, so that a key means the same in every dataset):
///
///   dataset:
///     check_frames: true        # the key frame files (onset, apex, offset) must exist when loading
///     missing_frames: fail      # fail | skip: a sample whose clip folder or key frames are missing
///     missing_apex: midpoint    # QuirkPolicies (above)
///     apex_out_of_range: fail
///     labels: {classes: [...], map: {...}, min_samples_per_class: 0}
///     sample_list: {...}        # SampleListOptions (above); none by default
///
/// What counts as a key frame and how a missing one is worded is each adapter's (see its header);
/// missing_frames: skip lists every sample left out, with what was missing, in excluded().
struct AdapterOptions {
  /// Check at load time that each sample's key frame files exist.
  bool check_frames = true;
  /// When a clip folder or key frame is missing: "fail" or "skip" (listed in excluded()).
  std::string missing_frames = "fail";
  /// missing_apex / apex_out_of_range.
  QuirkPolicies policies;
  /// Raw emotion -> class (dataset.labels, meta/label_map.hpp).
  LabelMap labels;
  /// Optional third-party sample list; none by default.
  SampleListOptions sample_list;

  /// Reads the keys above from a dataset section; ConfigError naming the line for an unknown value.
  static AdapterOptions from_config(const ConfigNode& node);
  /// The checks from_config makes, for options built in code: ValueError naming `dataset` and the option.
  void check(const std::string& dataset) const;
};

/// One row of a sample list, as written (frames -1 where the column is absent or the cell blank / "/").
struct SampleListRow {
  std::string subject, clip;
  int onset = -1, apex = -1, offset = -1;
  std::string label;  ///< as written, trimmed ("1"); "" when the list has no label column
  std::string where;  ///< "file:line" or "file[sheet]:row"
};
/// Reads the rows of options.file that belong to options.dataset (all rows without dataset_column).
/// DataError naming the file for a missing column (header names listed) or an index past the widest
/// row; naming file:line for an empty subject or clip or a frame cell that is neither a whole number,
/// blank nor "/".
std::vector<SampleListRow> read_sample_list(const SampleListOptions& options);
/// The matching keys of a subject / clip ID under the conventions above ("sub01", "01" -> "1";
/// "s01_ne_01" -> "s1_ne_1").
std::string sample_list_subject_key(const std::string& subject);
std::string sample_list_clip_key(const std::string& clip);

/// What applying a sample list did, for reports and tests.
struct SampleListReport {
  std::filesystem::path file;
  std::size_t rows = 0;     ///< list rows considered (after the dataset filter)
  std::size_t matched = 0;  ///< rows that matched a sample
  /// Rows matching no sample: sample_id "<subject>/<clip>" as the list writes it, stage "sample_list",
  /// reason starting with the row's file:line.
  std::vector<SkipRecord> unmatched;
  /// Matched samples whose list onset / apex / offset differ from the table (or are blank in the list).
  std::size_t onset_differs = 0, apex_differs = 0, offset_differs = 0;
  /// Matched samples with at least one frame difference, and with a different emotion.
  std::size_t frames_differ = 0, labels_differ = 0;
  /// One line per difference: "<sample id>: apex 59 (table) vs 61 (list, file:line) -> list".
  std::vector<std::string> differences;
};

/// Base for adapters: collect samples with add()/exclude(), then call finish() at the end of the
/// constructor.
class AnnotatedDataset : public Dataset {
 public:
  std::string name() const override { return name_; }
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return labels_; }
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }
  /// What the `sample_list:` section did; rows == 0 and file empty when no list was given.
  const SampleListReport& sample_list_report() const { return list_report_; }

 protected:
  AnnotatedDataset(std::string name, LabelMap labels) : name_(std::move(name)), labels_(std::move(labels)) {}
  /// Adds a sample whose `emotion` is set: sets `label` through the label map, or excludes the sample
  /// (stage "label_map") when the map leaves its emotion out. Returns true if it was added.
  bool add(SampleMeta s);
  void exclude(const std::string& sample_id, const std::string& stage, const std::string& reason);
  /// The end of reading one row, common to the adapters: a sample the label map leaves out is listed
  /// as such before any policy runs; otherwise `extra` (dataset-specific checks; false with a reason to
  /// skip), the apex policies and, when `options.check_frames`, the key-frame files (`missing_frames:
  /// fail|skip`) decide whether it is added or excluded with the reason. Policies set to "fail" throw.
  void admit(SampleMeta s, const AdapterOptions& options, const std::string& where,
             const std::function<bool(SampleMeta&, std::string& skip_reason)>& extra = {});
  /// Applies the sample list when one is given (before the class-size filter, so that classes are
  /// counted over the listed samples), then drops classes with fewer than
  /// labels().min_samples_per_class() samples (re-indexing the rest), logs a summary of exclusions and
  /// quirks, and checks that something is left (DataError otherwise). DataError naming the list row for
  /// an unmatched row under on_unmatched: fail, a row matching a sample already matched, a list label
  /// missing from label_names, or (use_frames) list frames out of order or whose files are missing.
  void finish(const SampleListOptions& sample_list = {});

 private:
  std::string name_;
  LabelMap labels_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
  SampleListReport list_report_;

  void apply_sample_list(const SampleListOptions& list);
};

}  // namespace mer
