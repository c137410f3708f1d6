#pragma once
/// Evaluation protocols produce folds and nothing else; the Experiment runs them.
///
/// Every fold is {train, val, test} as indices into the sample list. `val` is drawn from training
/// subjects only, so the test subject is never seen before its predictions are made.
///
///   protocol:
///     type: loso          # leave one subject out (subjects are dataset-qualified)
///     val_subjects: 0     # training subjects held out for validation (0: none)
#include <mer/core/config.hpp>
#include <mer/core/registry.hpp>
#include <mer/meta/sample.hpp>

#include <cstdint>
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

struct LosoOptions {
  /// Number of training subjects per fold held out as validation (monitoring only).
  int val_subjects = 0;
  static LosoOptions from_config(const ConfigNode& node);
};

/// Leave-one-subject-out over SampleMeta::group_key(); folds in sorted subject order.
class Loso : public Protocol {
 public:
  explicit Loso(LosoOptions options = {}) : options_(options) {}
  std::string name() const override { return "loso"; }
  std::vector<Fold> folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const override;

 private:
  LosoOptions options_;
};

using ProtocolRegistry = Registry<Protocol>;
/// Adds loso. (lovo and kfold are refused with a message saying they are not implemented yet.)
void register_builtin_protocols(ProtocolRegistry& registry);
const ProtocolRegistry& builtin_protocols();

}  // namespace mer
