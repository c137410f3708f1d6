#include <mer/core/error.hpp>
#include <mer/meta/label_map.hpp>

#include <algorithm>

namespace mer {

LabelMap::LabelMap(std::vector<std::string> classes, std::map<std::string, std::string> map)
    : classes_(std::move(classes)) {
  MER_CHECK(!classes_.empty(), ValueError, "a label map needs at least one class");
  for (std::size_t i = 0; i < classes_.size(); ++i) {
    MER_CHECK(std::count(classes_.begin(), classes_.end(), classes_[i]) == 1, ValueError, "class '", classes_[i],
              "' is listed twice");
  }
  if (map.empty())
    for (const auto& c : classes_) map[c] = c;
  for (const auto& [raw, cls] : map) {
    auto it = std::find(classes_.begin(), classes_.end(), cls);
    MER_CHECK(it != classes_.end(), ValueError, "label map sends '", raw, "' to '", cls,
              "', which is not one of the classes");
    index_[raw] = static_cast<int>(it - classes_.begin());
  }
}

LabelMap LabelMap::from_config(const ConfigNode& node) {
  const auto classes = node.required<std::vector<std::string>>("classes");
  const auto map = node.get_string_map("map");
  const int min_samples = node.get<int>("min_samples_per_class", 0);
  MER_CHECK(min_samples >= 0, ConfigError, node.where("min_samples_per_class"),
            ": min_samples_per_class must be >= 0, got ", min_samples);
  auto m = with_context("reading the label map at " + node.where(), [&] { return LabelMap(classes, map); });
  m.min_samples_per_class_ = min_samples;
  return m;
}

LabelMap LabelMap::restricted_to(const std::vector<std::string>& keep) const {
  std::map<std::string, std::string> map;
  for (const auto& [raw, index] : index_)
    if (std::find(keep.begin(), keep.end(), classes_[index]) != keep.end()) map[raw] = classes_[index];
  LabelMap out(keep, map);
  out.min_samples_per_class_ = min_samples_per_class_;
  return out;
}

std::optional<int> LabelMap::index_of(const std::string& raw) const {
  auto it = index_.find(raw);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mer
