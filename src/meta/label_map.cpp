#include <mer/core/error.hpp>
#include <mer/meta/action_units.hpp>
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
  for (const auto& r : node.items("compound")) {
    CompoundRule rule;
    const auto cls = r.required<std::string>("class");
    const auto it = std::find(m.classes_.begin(), m.classes_.end(), cls);
    MER_CHECK(it != m.classes_.end(), ConfigError, r.where("class"), ": compound rule class '", cls,
              "' is not one of the classes");
    rule.label = static_cast<int>(it - m.classes_.begin());
    rule.emotions = r.get<std::vector<std::string>>("emotions", {});
    rule.aus_any = r.get<std::vector<int>>("aus_any", {});
    rule.aus_all = r.get<std::vector<int>>("aus_all", {});
    MER_CHECK(!rule.aus_any.empty() || !rule.aus_all.empty() || !rule.emotions.empty(), ConfigError, r.where(),
              ": a compound rule needs emotions, aus_any or aus_all");
    m.compound_.push_back(std::move(rule));
  }
  return m;
}

LabelMap LabelMap::restricted_to(const std::vector<std::string>& keep) const {
  const auto kept = [&](int index) { return std::find(keep.begin(), keep.end(), classes_[index]) != keep.end(); };
  std::map<std::string, std::string> map;
  for (const auto& [raw, index] : index_)
    if (kept(index)) map[raw] = classes_[index];
  LabelMap out(keep, map);
  out.min_samples_per_class_ = min_samples_per_class_;
  for (auto rule : compound_) {
    if (!kept(rule.label)) continue;
    rule.label = static_cast<int>(std::find(keep.begin(), keep.end(), classes_[rule.label]) - keep.begin());
    out.compound_.push_back(std::move(rule));
  }
  return out;
}

std::optional<int> LabelMap::classify(const std::string& emotion, const std::string& action_units) const {
  if (!compound_.empty()) {
    const auto aus = parse_action_units(action_units).numbers();
    const auto has = [&](int au) { return std::binary_search(aus.begin(), aus.end(), au); };
    for (const auto& rule : compound_) {
      if (!rule.emotions.empty() && std::find(rule.emotions.begin(), rule.emotions.end(), emotion) == rule.emotions.end())
        continue;
      if (!rule.aus_any.empty() && std::none_of(rule.aus_any.begin(), rule.aus_any.end(), has)) continue;
      if (!std::all_of(rule.aus_all.begin(), rule.aus_all.end(), has)) continue;
      return rule.label;
    }
  }
  return index_of(emotion);
}

std::optional<int> LabelMap::index_of(const std::string& raw) const {
  auto it = index_.find(raw);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mer
