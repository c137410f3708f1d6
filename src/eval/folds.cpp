#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/rng.hpp>
#include <mer/eval/folds.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

namespace mer {

namespace {

// Uniform shuffles that are the same with every standard library (std::shuffle is implementation-defined).
template <class T>
void seeded_shuffle(std::vector<T>& v, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::uint64_t n = i, limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(v[i - 1], v[r % n]);
  }
}

void sort_fold(Fold& f) {
  std::sort(f.train.begin(), f.train.end());
  std::sort(f.val.begin(), f.val.end());
  std::sort(f.test.begin(), f.test.end());
}

std::vector<std::string> string_list(const ConfigNode& node, const std::string& key) {
  return node.get<std::vector<std::string>>(key, {});
}

}  // namespace

// ---------------------------------------------------------------- validation

ValidationOptions ValidationOptions::from_config(const ConfigNode& node) {
  ValidationOptions o;
  o.val_subjects = node.get<int>("val_subjects", o.val_subjects);
  MER_CHECK(o.val_subjects >= 0, ConfigError, node.where("val_subjects"), ": '", node.key_path("val_subjects"),
            "' must be >= 0, got ", o.val_subjects);
  o.val_fraction = node.get<double>("val_fraction", o.val_fraction);
  MER_CHECK(o.val_fraction >= 0 && o.val_fraction < 1, ConfigError, node.where("val_fraction"), ": '",
            node.key_path("val_fraction"), "' must be in [0, 1), got ", o.val_fraction);
  MER_CHECK(o.val_subjects == 0 || o.val_fraction == 0, ConfigError, node.where("val_fraction"),
            ": give either val_subjects or val_fraction, not both");
  return o;
}

void ValidationOptions::split(const std::vector<SampleMeta>& samples, Fold& f, std::uint64_t seed) const {
  if (!enabled()) return;
  std::set<std::string> test_subjects;
  for (const auto i : f.test) test_subjects.insert(samples[i].group_key());
  std::map<std::string, std::vector<std::size_t>> by_subject;
  for (const auto i : f.train) by_subject[samples[i].group_key()].push_back(i);
  std::vector<std::string> candidates;
  for (const auto& kv : by_subject)
    if (!test_subjects.count(kv.first)) candidates.push_back(kv.first);
  std::size_t n = static_cast<std::size_t>(val_subjects);
  if (val_fraction > 0)
    n = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(val_fraction * static_cast<double>(by_subject.size()))));
  MER_CHECK(n < by_subject.size() && n <= candidates.size(), ConfigError, "fold ", f.name, ": holding out ", n,
            " validation subject(s) leaves no training subject (", by_subject.size(), " on the training side, ",
            candidates.size(), " of them eligible)");
  seeded_shuffle(candidates, derive_seed(seed, "val/" + f.name));
  const std::set<std::string> chosen(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<std::size_t> train;
  for (const auto i : f.train) (chosen.count(samples[i].group_key()) ? f.val : train).push_back(i);
  f.train = std::move(train);
  sort_fold(f);
}

// ---------------------------------------------------------------- loso

LosoOptions LosoOptions::from_config(const ConfigNode& node) {
  LosoOptions o;
  o.validation = ValidationOptions::from_config(node);
  o.val_subjects = o.validation.val_subjects;
  o.group_by = node.get_choice("group_by", o.group_by, {"subject", "subject_name", "dataset"});
  return o;
}

std::vector<Fold> Loso::folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const {
  const auto key = [&](const SampleMeta& s) {
    if (options_.group_by == "dataset") return s.dataset;
    if (options_.group_by == "subject_name") return s.subject;
    return s.group_key();
  };
  std::map<std::string, std::vector<std::size_t>> groups;  // sorted by key
  for (std::size_t i = 0; i < samples.size(); ++i) groups[key(samples[i])].push_back(i);
  MER_CHECK(groups.size() >= 2, DataError, "leave-one-out by ", options_.group_by, " needs at least 2 groups, got ",
            groups.size());
  ValidationOptions validation = options_.validation;
  if (!validation.enabled()) validation.val_subjects = options_.val_subjects;
  std::vector<Fold> out;
  for (const auto& [test_key, test_idx] : groups) {
    Fold f;
    f.name = test_key;
    f.test = test_idx;
    for (const auto& [k, idx] : groups)
      if (k != test_key) f.train.insert(f.train.end(), idx.begin(), idx.end());
    validation.split(samples, f, seed);
    sort_fold(f);
    out.push_back(std::move(f));
  }
  return out;
}

// ---------------------------------------------------------------- lovo

std::vector<Fold> Lovo::folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const {
  MER_CHECK(samples.size() >= 2, DataError, "leave-one-video-out needs at least 2 samples, got ", samples.size());
  std::vector<Fold> out;
  out.reserve(samples.size());
  for (std::size_t t = 0; t < samples.size(); ++t) {
    Fold f;
    f.name = samples[t].id;
    f.test = {t};
    for (std::size_t i = 0; i < samples.size(); ++i)
      if (i != t) f.train.push_back(i);
    validation_.split(samples, f, seed);
    out.push_back(std::move(f));
  }
  return out;
}

// ---------------------------------------------------------------- kfold

KFoldOptions KFoldOptions::from_config(const ConfigNode& node) {
  KFoldOptions o;
  o.k = node.get<int>("k", o.k);
  MER_CHECK(o.k >= 2, ConfigError, node.where("k"), ": '", node.key_path("k"), "' must be >= 2, got ", o.k);
  o.stratified = node.get<bool>("stratified", o.stratified);
  o.group_by = node.get_choice("group_by", o.group_by, {"subject", "none"});
  o.shuffle = node.get<bool>("shuffle", o.shuffle);
  o.validation = ValidationOptions::from_config(node);
  return o;
}

std::vector<Fold> KFold::folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const {
  const auto k = static_cast<std::size_t>(options_.k);
  int classes = 0;
  for (const auto& s : samples) classes = std::max(classes, s.label + 1);
  const auto cls = [](const SampleMeta& s) { return static_cast<std::size_t>(std::max(0, s.label)); };
  std::vector<std::vector<std::size_t>> members(k);

  if (options_.group_by == "subject") {
    std::map<std::string, std::vector<std::size_t>> by_subject;
    for (std::size_t i = 0; i < samples.size(); ++i) by_subject[samples[i].group_key()].push_back(i);
    MER_CHECK(k <= by_subject.size(), ConfigError, "protocol.k = ", k, " but the data has only ", by_subject.size(),
              " subjects; subject-grouped folds need at least one subject each (lower k or use group_by: none)");
    std::vector<std::pair<std::string, std::vector<std::size_t>>> groups(by_subject.begin(), by_subject.end());
    if (options_.shuffle) seeded_shuffle(groups, derive_seed(seed, "kfold/groups"));
    // Largest subjects first (stable: the shuffle decides among equals), each to the fold it fits best.
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
    std::vector<double> total(static_cast<std::size_t>(classes), 0.0);
    for (const auto& s : samples) total[cls(s)] += 1;
    std::vector<std::vector<double>> counts(k, std::vector<double>(static_cast<std::size_t>(classes), 0.0));
    for (const auto& [subject, idx] : groups) {
      std::vector<double> add(static_cast<std::size_t>(classes), 0.0);
      for (const auto i : idx) add[cls(samples[i])] += 1;
      // The fold whose squared distance to an even share of every class grows least (stratified), or the
      // smallest fold; ties go to the smaller fold, then the lower index.
      std::size_t best = 0;
      double best_cost = 0, best_size = 0;
      for (std::size_t f = 0; f < k; ++f) {
        double cost = 0, size = 0;
        for (std::size_t c = 0; c < add.size(); ++c) {
          const double target = total[c] / static_cast<double>(k);
          const double before = counts[f][c] - target, after = counts[f][c] + add[c] - target;
          cost += after * after - before * before;
          size += counts[f][c];
        }
        if (!options_.stratified) cost = size;
        if (f == 0 || cost < best_cost - 1e-9 || (cost < best_cost + 1e-9 && size < best_size))
          best = f, best_cost = cost, best_size = size;
      }
      for (std::size_t c = 0; c < add.size(); ++c) counts[best][c] += add[c];
      members[best].insert(members[best].end(), idx.begin(), idx.end());
    }
  } else {
    MER_CHECK(k <= samples.size(), ConfigError, "protocol.k = ", k, " but the data has only ", samples.size(), " samples");
    std::vector<std::vector<std::size_t>> pools(options_.stratified ? static_cast<std::size_t>(classes) : 1);
    for (std::size_t i = 0; i < samples.size(); ++i) pools[options_.stratified ? cls(samples[i]) : 0].push_back(i);
    std::size_t next = 0;  // carried across classes, so fold sizes differ by at most one
    for (std::size_t p = 0; p < pools.size(); ++p) {
      if (options_.shuffle) seeded_shuffle(pools[p], derive_seed(seed, "kfold/pool" + std::to_string(p)));
      for (const auto i : pools[p]) members[next++ % k].push_back(i);
    }
  }

  std::vector<Fold> out;
  for (std::size_t f = 0; f < k; ++f) {
    Fold fold;
    fold.name = "fold" + std::string(f + 1 < 10 ? "0" : "") + std::to_string(f + 1);
    fold.test = members[f];
    MER_CHECK(!fold.test.empty(), DataError, "k-fold: ", fold.name, " got no sample (k = ", k, ")");
    for (std::size_t g = 0; g < k; ++g)
      if (g != f) fold.train.insert(fold.train.end(), members[g].begin(), members[g].end());
    sort_fold(fold);
    options_.validation.split(samples, fold, seed);
    out.push_back(std::move(fold));
  }
  return out;
}

// ---------------------------------------------------------------- lodo

LodoOptions LodoOptions::from_config(const ConfigNode& node) {
  LodoOptions o;
  o.train_on = string_list(node, "train_on");
  o.test_on = string_list(node, "test_on");
  MER_CHECK(o.train_on.empty() == o.test_on.empty(), ConfigError, node.where(o.train_on.empty() ? "test_on" : "train_on"),
            ": cross-database evaluation needs both train_on and test_on");
  for (const auto& d : o.test_on)
    MER_CHECK(std::find(o.train_on.begin(), o.train_on.end(), d) == o.train_on.end(), ConfigError,
              node.where("test_on"), ": dataset '", d, "' is in both train_on and test_on");
  o.validation = ValidationOptions::from_config(node);
  return o;
}

std::vector<Fold> Lodo::folds(const std::vector<SampleMeta>& samples, std::uint64_t seed) const {
  std::map<std::string, std::vector<std::size_t>> by_dataset;
  for (std::size_t i = 0; i < samples.size(); ++i) by_dataset[samples[i].dataset].push_back(i);
  std::string present;
  for (const auto& kv : by_dataset) present += (present.empty() ? "" : ", ") + kv.first;
  std::vector<Fold> out;
  if (options_.train_on.empty()) {
    MER_CHECK(by_dataset.size() >= 2, DataError, "leave-one-dataset-out needs samples of at least 2 datasets, got ",
              present.empty() ? std::string("none") : present);
    for (const auto& [test, idx] : by_dataset) {
      Fold f;
      f.name = test;
      f.test = idx;
      for (const auto& [d, other] : by_dataset)
        if (d != test) f.train.insert(f.train.end(), other.begin(), other.end());
      options_.validation.split(samples, f, seed);
      sort_fold(f);
      out.push_back(std::move(f));
    }
    return out;
  }
  Fold f;
  const auto take = [&](const std::vector<std::string>& names, std::vector<std::size_t>& dst) {
    std::string joined;
    for (const auto& n : names) {
      const auto it = by_dataset.find(n);
      MER_CHECK(it != by_dataset.end(), ConfigError, "protocol names dataset '", n, "', but the samples come from ",
                present);
      dst.insert(dst.end(), it->second.begin(), it->second.end());
      joined += (joined.empty() ? "" : "+") + n;
    }
    return joined;
  };
  const auto train = take(options_.train_on, f.train);
  const auto test = take(options_.test_on, f.test);
  f.name = train + "->" + test;
  options_.validation.split(samples, f, seed);
  sort_fold(f);
  out.push_back(std::move(f));
  return out;
}

// ---------------------------------------------------------------- holdout

HoldoutOptions HoldoutOptions::from_config(const ConfigNode& node) {
  HoldoutOptions o;
  o.list = node.required_path("list");
  MER_CHECK(std::filesystem::is_regular_file(o.list), ConfigError, node.where("list"), ": holdout list '",
            o.list.string(), "' does not exist; expected a CSV with header sample,split");
  return o;
}

std::vector<Fold> Holdout::folds(const std::vector<SampleMeta>& samples, std::uint64_t) const {
  const auto table = Table::read(options_.list);
  const auto sample_col = table.column("sample"), split_col = table.column("split");
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < samples.size(); ++i) index.emplace(samples[i].id, i);
  Fold f;
  f.name = "holdout";
  std::set<std::string> listed;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& id = table.rows[r].at(sample_col);
    const auto& split = table.rows[r].at(split_col);
    const auto it = index.find(id);
    MER_CHECK(it != index.end(), DataError, table.where(r), ": sample '", id, "' is not in the data");
    MER_CHECK(listed.insert(id).second, DataError, table.where(r), ": sample '", id, "' is listed twice");
    if (split == "train") f.train.push_back(it->second);
    else if (split == "val") f.val.push_back(it->second);
    else if (split == "test") f.test.push_back(it->second);
    else throw DataError(detail::concat(table.where(r), ": split '", split, "' must be train, val or test"));
  }
  MER_CHECK(!f.train.empty() && !f.test.empty(), DataError, options_.list.string(),
            ": a holdout split needs at least one train and one test sample");
  if (listed.size() < samples.size())
    logger()->warn("holdout: {} of {} samples are not in {} and are left out", samples.size() - listed.size(),
                   samples.size(), options_.list.string());
  std::set<std::string> test_subjects;
  for (const auto i : f.test) test_subjects.insert(samples[i].group_key());
  for (const auto i : f.val)
    if (test_subjects.count(samples[i].group_key()))
      logger()->warn("holdout: validation sample {} shares its subject with the test side", samples[i].id);
  sort_fold(f);
  return {f};
}

// ---------------------------------------------------------------- registry

void register_builtin_protocols(ProtocolRegistry& registry) {
  registry.add(
      "loso", [](const ConfigNode& node) { return std::make_unique<Loso>(LosoOptions::from_config(node)); },
      "leave one subject out (subjects dataset-qualified; group_by: subject | subject_name | dataset)");
  registry.add(
      "lovo", [](const ConfigNode& node) { return std::make_unique<Lovo>(ValidationOptions::from_config(node)); },
      "leave one video (sample) out: one fold per sample");
  registry.add(
      "kfold", [](const ConfigNode& node) { return std::make_unique<KFold>(KFoldOptions::from_config(node)); },
      "k folds (k, stratified, group_by: subject | none, shuffle)");
  registry.add(
      "lodo", [](const ConfigNode& node) { return std::make_unique<Lodo>(LodoOptions::from_config(node)); },
      "leave one dataset out of a composite, or train_on: [...] test_on: [...] (cross-database)");
  registry.add(
      "holdout", [](const ConfigNode& node) { return std::make_unique<Holdout>(HoldoutOptions::from_config(node)); },
      "a fixed split from a CSV list (sample,split with train | val | test)");
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
