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
#include <mer/core/config.hpp>
#include <mer/data/dataset.hpp>

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

/// Base for adapters: collect samples with add()/exclude(), then call finish() at the end of the
/// constructor.
class AnnotatedDataset : public Dataset {
 public:
  std::string name() const override { return name_; }
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return labels_; }
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }

 protected:
  AnnotatedDataset(std::string name, LabelMap labels) : name_(std::move(name)), labels_(std::move(labels)) {}
  /// Adds a sample whose `emotion` is set: sets `label` through the label map, or excludes the sample
  /// (stage "label_map") when the map leaves its emotion out. Returns true if it was added.
  bool add(SampleMeta s);
  void exclude(const std::string& sample_id, const std::string& stage, const std::string& reason);
  /// Drops classes with fewer than labels().min_samples_per_class() samples (re-indexing the rest),
  /// logs a summary of exclusions and quirks, and checks that something is left (DataError otherwise).
  void finish();

 private:
  std::string name_;
  LabelMap labels_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
};

}  // namespace mer
