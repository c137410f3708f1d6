#pragma once
/// LabelMap: raw emotion names from a table → class indices, declared in config.
///
///   labels:
///     classes: [negative, positive, surprise]
///     map: {disgust: negative, repression: negative, happiness: positive, surprise: surprise}
///     min_samples_per_class: 0   # classes with fewer samples are dropped (and reported) after loading;
///                                # the survey keeps classes with more than 10 samples: use 11
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
  /// Class index of a raw emotion, or nullopt if the map leaves it out.
  std::optional<int> index_of(const std::string& raw) const;
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
};

}  // namespace mer
