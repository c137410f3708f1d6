#include <mer/core/error.hpp>
#include <mer/core/rng.hpp>
#include <mer/eval/folds.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace mer {

LosoOptions LosoOptions::from_config(const ConfigNode& node) {
  LosoOptions o;
  o.val_subjects = node.get<int>("val_subjects", o.val_subjects);
  MER_CHECK(o.val_subjects >= 0, ConfigError, node.where("val_subjects"), ": protocol.val_subjects must be >= 0, got ",
            o.val_subjects);
  return o;
}

std::vector<Fold> Loso::folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const {
  std::map<std::string, std::vector<std::size_t>> by_subject;  // sorted by group key
  for (std::size_t i = 0; i < samples.size(); ++i) by_subject[samples[i].group_key()].push_back(i);
  MER_CHECK(by_subject.size() >= 2, DataError, "leave-one-subject-out needs at least 2 subjects, got ",
            by_subject.size());
  MER_CHECK(static_cast<std::size_t>(options_.val_subjects) + 1 < by_subject.size(), ConfigError,
            "protocol.val_subjects = ", options_.val_subjects, " leaves no training subject with ", by_subject.size(),
            " subjects");
  std::vector<Fold> out;
  for (const auto& [test_subject, test_idx] : by_subject) {
    Fold f;
    f.name = test_subject;
    f.test = test_idx;
    std::vector<std::string> others;
    for (const auto& kv : by_subject)
      if (kv.first != test_subject) others.push_back(kv.first);
    // Validation subjects come from the training side only, chosen per fold from a derived seed.
    std::mt19937_64 rng(derive_seed(seed, "val/" + test_subject));
    std::shuffle(others.begin(), others.end(), rng);
    const std::set<std::string> val_set(others.begin(), others.begin() + options_.val_subjects);
    for (const auto& [subject, idx] : by_subject) {
      if (subject == test_subject) continue;
      auto& dst = val_set.count(subject) ? f.val : f.train;
      dst.insert(dst.end(), idx.begin(), idx.end());
    }
    std::sort(f.train.begin(), f.train.end());
    std::sort(f.val.begin(), f.val.end());
    out.push_back(std::move(f));
  }
  return out;
}

void register_builtin_protocols(ProtocolRegistry& registry) {
  registry.add(
      "loso", [](const ConfigNode& node) { return std::make_unique<Loso>(LosoOptions::from_config(node)); },
      "leave one subject out (subjects dataset-qualified)");
  // Named so that asking for them gives a clear answer instead of "unknown protocol".
  for (const char* planned : {"lovo", "kfold"}) {
    registry.add(
        planned,
        [planned](const ConfigNode& node) -> std::unique_ptr<Protocol> {
          throw ConfigError(node.where("type") + ": protocol '" + planned +
                            "' is not implemented yet in this version of libmer; use 'loso'");
        },
        "not implemented yet");
  }
}

const ProtocolRegistry& builtin_protocols() {
  static const ProtocolRegistry registry = [] {
    ProtocolRegistry r("protocols");
    register_builtin_protocols(r);
    return r;
  }();
  return registry;
}

}  // namespace mer
