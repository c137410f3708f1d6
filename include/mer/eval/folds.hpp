#pragma once
/// Evaluation protocols produce folds and nothing else; the Experiment runs them.
///
/// Every fold is {train, val, test} as indices into the sample list. `val` is drawn from training
/// subjects only (whole subjects, never the test sample's or test subject's), so nothing of the test side
/// is seen before its predictions are made. Every protocol takes the validation options:
///     val_subjects: 0     # training subjects per fold held out for validation (0: none), or
///     val_fraction: 0.0   # that share of the training subjects (at least one when > 0)
///
///   protocol: {type: loso, group_by: subject}   # leave one subject out; group_by: subject (dataset-qualified,
///                                               #   default) | subject_name (as on disk) | dataset
///   protocol: {type: lovo}                      # leave one video (sample) out: one fold per sample
///   protocol: {type: kfold, k: 5, stratified: true, group_by: subject, shuffle: true}
///                                               # group_by: subject (no subject split between train and
///                                               #   test) | none (samples)
///   protocol: {type: lodo}                      # leave one dataset (source) of a composite out
///   protocol: {type: lodo, train_on: [casme2, smic], test_on: [samm]}   # cross-database, one fold
///   protocol: {type: holdout, list: split.csv}  # a fixed split: CSV "sample,split" (train | val | test)
#include <mer/core/config.hpp>
#include <mer/core/registry.hpp>
#include <mer/meta/sample.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mer {

struct Fold {
  std::string name;  ///< e.g. "casme2/sub01"; also the file name stem of its predictions.
  std::vector<std::size_t> train, val, test;
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual std::string name() const = 0;
  /// Folds over `samples`; `seed` drives any random choice (e.g. which subjects go to val).
  virtual std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const = 0;
};

/// Training subjects held out for validation, per fold.
struct ValidationOptions {
  int val_subjects = 0;
  double val_fraction = 0.0;
  static ValidationOptions from_config(const ConfigNode& node);
  bool enabled() const { return val_subjects > 0 || val_fraction > 0; }
  /// Moves whole subjects (group_key) from f.train to f.val, chosen with a seed derived from `seed` and the
  /// fold's name; subjects of the test side are never chosen. ConfigError when no training subject would
  /// remain.
  void split(const std::vector<SampleMeta>& samples, Fold& f, std::uint64_t seed) const;
};

struct LosoOptions {
  /// Number of training subjects per fold held out as validation (kept for code that sets it directly).
  int val_subjects = 0;
  ValidationOptions validation;
  /// subject (dataset-qualified), subject_name (as named on disk; merges equal names across datasets) or
  /// dataset (leave one dataset out).
  std::string group_by = "subject";
  static LosoOptions from_config(const ConfigNode& node);
};

/// Leave-one-subject-out over SampleMeta::group_key() (or the chosen key); folds in sorted key order.
class Loso : public Protocol {
 public:
  explicit Loso(LosoOptions options = {}) : options_(options) {}
  std::string name() const override { return "loso"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  LosoOptions options_;
};

/// Leave one video out: one fold per sample, named by its id; the test sample's subject keeps its other
/// samples in training (that is the protocol), but validation subjects never include it.
class Lovo : public Protocol {
 public:
  explicit Lovo(ValidationOptions validation = {}) : validation_(validation) {}
  std::string name() const override { return "lovo"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  ValidationOptions validation_;
};

struct KFoldOptions {
  int k = 5;
  bool stratified = true;
  std::string group_by = "subject";  ///< subject | none
  bool shuffle = true;
  ValidationOptions validation;
  static KFoldOptions from_config(const ConfigNode& node);
};

/// k folds "fold01".."foldK". Grouped by subject, whole subjects go to a fold (stratified: each subject to
/// the fold whose class counts it brings closest to an even share); otherwise samples are dealt per class.
class KFold : public Protocol {
 public:
  explicit KFold(KFoldOptions options = {}) : options_(options) {}
  std::string name() const override { return "kfold"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  KFoldOptions options_;
};

struct LodoOptions {
  std::vector<std::string> train_on, test_on;  ///< both empty: leave each dataset out in turn
  ValidationOptions validation;
  static LodoOptions from_config(const ConfigNode& node);
};

/// Leave one dataset out (SampleMeta::dataset: a composite's sources), or one cross-database fold
/// "casme2+smic->samm" with train_on/test_on.
class Lodo : public Protocol {
 public:
  explicit Lodo(LodoOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "lodo"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  LodoOptions options_;
};

struct HoldoutOptions {
  std::filesystem::path list;  ///< CSV, header "sample,split", split train | val | test
  static HoldoutOptions from_config(const ConfigNode& node);
};

/// One fold "holdout" from a list file. Samples the list does not name are left out (and logged); an id
/// the data does not have is a DataError naming the file and line.
class Holdout : public Protocol {
 public:
  explicit Holdout(HoldoutOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "holdout"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  HoldoutOptions options_;
};

using ProtocolRegistry = Registry<Protocol>;
/// Adds loso, lovo, kfold, lodo, holdout.
void register_builtin_protocols(ProtocolRegistry& registry);
const ProtocolRegistry& builtin_protocols();

}  // namespace mer
