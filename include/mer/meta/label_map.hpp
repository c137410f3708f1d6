#pragma once
/// LabelMap: raw emotion names from a table → class indices, declared in config.
///
///   labels:
///     classes: [negative, positive, surprise]
///     map: {disgust: negative, repression: negative, happiness: positive, surprise: surprise}
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

 private:
  std::vector<std::string> classes_;
  std::map<std::string, int> index_;
};

}  // namespace mer
