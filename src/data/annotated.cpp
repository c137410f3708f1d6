#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/annotated.hpp>

#include <algorithm>
#include <map>

namespace mer {

namespace {
void check_one_of(const ConfigNode& node, const std::string& key, const std::string& value,
                  const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : " | ") + a;
  throw ConfigError(node.where(key) + ": '" + node.key_path(key) + "' must be one of " + list + ", got '" + value +
                    "'");
}
}  // namespace

QuirkPolicies QuirkPolicies::from_config(const ConfigNode& node, const std::string& missing_default) {
  QuirkPolicies p;
  p.missing_apex = node.get<std::string>("missing_apex", missing_default);
  p.apex_out_of_range = node.get<std::string>("apex_out_of_range", p.apex_out_of_range);
  check_one_of(node, "missing_apex", p.missing_apex, {"estimate", "midpoint", "skip", "fail"});
  check_one_of(node, "apex_out_of_range", p.apex_out_of_range, {"clamp", "estimate", "midpoint", "skip", "fail"});
  return p;
}

bool apply_apex_policies(const QuirkPolicies& p, SampleMeta& s, const std::string& where, std::string& skip_reason) {
  if (s.onset < 0 || s.offset < 0 || s.onset > s.offset)
    throw DataError(detail::concat(where, ": sample ", s.id, " has onset ", s.onset, " and offset ", s.offset,
                                   "; expected 0 <= onset <= offset"));
  const auto resolve = [&](const std::string& policy, const std::string& what) {
    if (policy == "fail")
      throw DataError(detail::concat(where, ": sample ", s.id, ": ", what,
                                     " (choose a policy: missing_apex / apex_out_of_range)"));
    if (policy == "skip") {
      skip_reason = what;
      return false;
    }
    const int before = s.apex;
    if (policy == "midpoint") s.apex = (s.onset + s.offset) / 2;
    else if (policy == "estimate") s.apex = -1;
    else if (policy == "clamp") s.apex = std::clamp(s.apex, s.onset, s.offset);
    s.quirks.push_back(detail::concat(what, " -> ", policy, policy == "estimate" ? "" : " " + std::to_string(s.apex),
                                      before >= 0 ? " (was " + std::to_string(before) + ")" : ""));
    return true;
  };
  if (s.apex < 0) return resolve(p.missing_apex, "no usable apex");
  if (s.apex < s.onset || s.apex > s.offset)
    return resolve(p.apex_out_of_range, detail::concat("apex ", s.apex, " outside onset..offset ", s.onset, "..", s.offset));
  return true;
}

bool AnnotatedDataset::add(SampleMeta s) {
  const auto index = labels_.index_of(s.emotion);
  if (!index) {
    exclude(s.id, "label_map", "emotion '" + s.emotion + "' is not mapped to a class");
    return false;
  }
  s.label = *index;
  samples_.push_back(std::move(s));
  return true;
}

void AnnotatedDataset::exclude(const std::string& sample_id, const std::string& stage, const std::string& reason) {
  excluded_.push_back(SkipRecord{sample_id, stage, reason});
}

void AnnotatedDataset::finish() {
  if (const int min = labels_.min_samples_per_class(); min > 0) {
    std::vector<int> count(labels_.num_classes(), 0);
    for (const auto& s : samples_) ++count[s.label];
    std::vector<std::string> keep;
    for (int c = 0; c < labels_.num_classes(); ++c)
      if (count[c] >= min) keep.push_back(labels_.name(c));
    if (static_cast<int>(keep.size()) < labels_.num_classes()) {
      MER_CHECK(!keep.empty(), DataError, name_, ": no class has at least ", min, " samples (min_samples_per_class)");
      const auto old = labels_;
      labels_ = labels_.restricted_to(keep);
      std::vector<SampleMeta> kept;
      for (auto& s : samples_) {
        if (auto index = labels_.index_of(s.emotion)) {
          s.label = *index;
          kept.push_back(std::move(s));
        } else {
          exclude(s.id, "min_samples_per_class",
                  detail::concat("class '", old.name(s.label), "' has ", count[s.label], " samples, fewer than ", min));
        }
      }
      samples_ = std::move(kept);
    }
  }
  MER_CHECK(!samples_.empty(), DataError, name_, ": no sample is left after the label map (", excluded_.size(),
            " excluded); check dataset.labels");
  std::size_t quirky = 0;
  for (const auto& s : samples_) quirky += !s.quirks.empty();
  logger()->info("{}: {} samples, {} classes; {} excluded; quirk policies applied to {} samples", name_,
                 samples_.size(), labels_.num_classes(), excluded_.size(), quirky);
}

}  // namespace mer
