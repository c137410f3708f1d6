#pragma once
/// LabelMap: raw emotion names from a table → class indices, declared in config.
///
///   labels:
///     classes: [negative, positive, surprise]
///     map: {disgust: negative, repression: negative, happiness: positive, surprise: surprise}
///     min_samples_per_class: 0   # classes with fewer samples are dropped (and reported) after loading;
///                                # the survey keeps classes with more than 10 samples: use 11
///     compound:                  # optional rules on emotion AND action units, tried in order before `map`
///       - {class: negatively_surprised, emotions: [disgust, repression], aus_any: [1, 2]}
///
/// Compound classes in the style of CMED (Zhao & Xu 2019, compound micro-expressions built from existing
/// datasets) combine a basic emotion with the action units of another, e.g. a negative emotion coded with
/// brow raisers (AU1/AU2) as "negatively surprised". A rule matches when the emotion is one of `emotions`
/// (any emotion when empty) and the sample's AUs contain any of `aus_any` (if given) and all of `aus_all`
/// (if given), read with parse_action_units over every alternative the coder wrote.
///
/// Without `map`, each class maps to itself. Raw names not in the map are excluded from the experiment
/// (and reported), never silently relabelled. Matching is exact (case-sensitive), as the tables are.
#include <mer/core/config.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mer {

class LabelMap {
 public:
  LabelMap() = default;
  /// Throws ValueError if a mapped class is not in `classes` or classes repeat.
  LabelMap(std::vector<std::string> classes, std::map<std::string, std::string> map);
  /// Reads `classes` (required) and `map` from the node.
  static LabelMap from_config(const ConfigNode& node);

  const std::vector<std::string>& classes() const { return classes_; }
  int num_classes() const { return static_cast<int>(classes_.size()); }
  /// Class index of a raw emotion, or nullopt if the map leaves it out (compound rules not applied).
  std::optional<int> index_of(const std::string& raw) const;
  /// Class of a sample from its emotion and action-unit cell: the first matching compound rule, else
  /// index_of(emotion). Adapters classify with this.
  std::optional<int> classify(const std::string& emotion, const std::string& action_units) const;

  struct CompoundRule {
    int label = -1;
    std::vector<std::string> emotions;
    std::vector<int> aus_any, aus_all;
  };
  const std::vector<CompoundRule>& compound_rules() const { return compound_; }
  const std::string& name(int index) const { return classes_.at(index); }
  /// Classes with fewer samples than this are dropped by the dataset after loading (0: keep all).
  int min_samples_per_class() const { return min_samples_per_class_; }
  /// The same map restricted to `keep` (a subset of the classes, in their order); raw names mapping
  /// to a dropped class are then left out.
  LabelMap restricted_to(const std::vector<std::string>& keep) const;

 private:
  std::vector<std::string> classes_;
  std::map<std::string, int> index_;
  int min_samples_per_class_ = 0;
  std::vector<CompoundRule> compound_;
};

}  // namespace mer
