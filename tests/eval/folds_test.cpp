#include <mer/core/error.hpp>
#include <mer/eval/folds.hpp>
#include <mer/io/atomic_file.hpp>

#include <gtest/gtest.h>

#include <set>

#include "support/test_paths.hpp"

namespace mer {
namespace {

std::vector<SampleMeta> samples(const std::vector<std::pair<std::string, std::string>>& dataset_subject) {
  std::vector<SampleMeta> out;
  for (std::size_t i = 0; i < dataset_subject.size(); ++i) {
    SampleMeta s;
    s.dataset = dataset_subject[i].first;
    s.subject = dataset_subject[i].second;
    s.id = s.dataset + "/" + s.subject + "/c" + std::to_string(i);
    out.push_back(s);
  }
  return out;
}

TEST(Loso, FoldsAreDisjointCompleteAndOnePerSubject) {
  const auto data = samples({{"casme2", "sub01"}, {"casme2", "sub02"}, {"casme2", "sub01"}, {"casme2", "sub03"},
                             {"casme2", "sub02"}, {"casme2", "sub03"}, {"casme2", "sub04"}});
  const auto folds = Loso().folds(data, 1);
  ASSERT_EQ(folds.size(), 4u);
  std::multiset<std::size_t> tested;
  for (const auto& f : folds) {
    std::set<std::string> test_subjects;
    for (auto i : f.test) test_subjects.insert(data[i].group_key()), tested.insert(i);
    EXPECT_EQ(test_subjects.size(), 1u);
    EXPECT_EQ(f.name, *test_subjects.begin());
    EXPECT_EQ(f.train.size() + f.test.size(), data.size());
    for (auto i : f.train) EXPECT_NE(data[i].group_key(), f.name);
    EXPECT_TRUE(f.val.empty());
  }
  // Every sample is tested exactly once.
  for (std::size_t i = 0; i < data.size(); ++i) EXPECT_EQ(tested.count(i), 1u) << i;
}

TEST(Loso, SubjectsAreDatasetQualified) {
  const auto data = samples({{"smic", "01"}, {"samm", "01"}, {"casme2", "01"}});
  EXPECT_EQ(Loso().folds(data, 1).size(), 3u);
}

TEST(Loso, ValidationSubjectsComeFromTrainingSideAndAreSeeded) {
  std::vector<std::pair<std::string, std::string>> ds;
  for (int s = 0; s < 8; ++s)
    for (int k = 0; k < 3; ++k) ds.push_back({"d", "s" + std::to_string(s)});
  const auto data = samples(ds);
  LosoOptions o;
  o.val_subjects = 2;
  const auto a = Loso(o).folds(data, 7), b = Loso(o).folds(data, 7);
  for (std::size_t f = 0; f < a.size(); ++f) {
    std::set<std::string> val_subjects;
    for (auto i : a[f].val) {
      EXPECT_NE(data[i].group_key(), a[f].name);
      val_subjects.insert(data[i].group_key());
    }
    EXPECT_EQ(val_subjects.size(), 2u);
    EXPECT_EQ(a[f].train.size() + a[f].val.size() + a[f].test.size(), data.size());
    EXPECT_EQ(a[f].val, b[f].val);  // same seed, same choice
  }
}

TEST(Loso, NeedsTwoSubjects) {
  EXPECT_THROW(Loso().folds(samples({{"d", "a"}, {"d", "a"}}), 1), DataError);
}

// Three datasets, subjects with several samples, three classes.
std::vector<SampleMeta> composite() {
  std::vector<SampleMeta> out;
  int n = 0;
  for (const std::string d : {"casme2", "samm", "smic"})
    for (int subject = 0; subject < 4; ++subject)
      for (int k = 0; k < 3 + subject; ++k) {
        SampleMeta s;
        s.dataset = d;
        s.subject = "s" + std::to_string(subject);
        s.id = d + "/" + s.subject + "/c" + std::to_string(k);
        s.label = (n++ * 7 + subject) % 3;
        out.push_back(s);
      }
  return out;
}

// Disjoint train/val/test, every sample tested exactly once, validation subjects never on the test side.
void expect_valid(const std::vector<SampleMeta>& data, const std::vector<Fold>& folds, bool all_tested = true) {
  std::multiset<std::size_t> tested;
  for (const auto& f : folds) {
    std::set<std::size_t> tr(f.train.begin(), f.train.end()), va(f.val.begin(), f.val.end()), te(f.test.begin(), f.test.end());
    EXPECT_EQ(tr.size() + va.size() + te.size(), f.train.size() + f.val.size() + f.test.size()) << f.name;
    for (auto i : te) EXPECT_FALSE(tr.count(i) || va.count(i)) << f.name;
    for (auto i : va) EXPECT_FALSE(tr.count(i)) << f.name;
    std::set<std::string> test_subjects;
    for (auto i : te) test_subjects.insert(data[i].group_key()), tested.insert(i);
    for (auto i : va) EXPECT_FALSE(test_subjects.count(data[i].group_key())) << f.name << " validates on a test subject";
  }
  if (all_tested) {
    for (std::size_t i = 0; i < data.size(); ++i) EXPECT_EQ(tested.count(i), 1u) << i;
  }
}

TEST(Lovo, OneFoldPerSampleAndValidationAvoidsItsSubject) {
  const auto data = composite();
  ValidationOptions v;
  v.val_subjects = 2;
  const auto folds = Lovo(v).folds(data, 3);
  ASSERT_EQ(folds.size(), data.size());
  expect_valid(data, folds);
  for (std::size_t t = 0; t < data.size(); ++t) {
    EXPECT_EQ(folds[t].test, std::vector<std::size_t>{t});
    EXPECT_EQ(folds[t].name, data[t].id);
    // The test sample's subject keeps its other samples in training.
    std::size_t same = 0;
    for (auto i : folds[t].train) same += data[i].group_key() == data[t].group_key();
    EXPECT_GE(same, 2u);  // every subject here has at least three samples
  }
}

TEST(KFold, SubjectGroupedStratifiedFoldsNeverSplitASubject) {
  const auto data = composite();
  KFoldOptions o;
  o.k = 4;
  const auto folds = KFold(o).folds(data, 1);
  ASSERT_EQ(folds.size(), 4u);
  expect_valid(data, folds);
  for (const auto& f : folds) {
    std::set<std::string> test_subjects, train_subjects;
    for (auto i : f.test) test_subjects.insert(data[i].group_key());
    for (auto i : f.train) train_subjects.insert(data[i].group_key());
    for (const auto& s : test_subjects) EXPECT_FALSE(train_subjects.count(s)) << f.name << " splits " << s;
  }
  // Seeded: the same seed gives the same folds, another seed may not.
  const auto again = KFold(o).folds(data, 1);
  for (std::size_t f = 0; f < folds.size(); ++f) EXPECT_EQ(folds[f].test, again[f].test);
}

TEST(KFold, UngroupedStratifiedFoldsBalanceEveryClass) {
  const auto data = composite();
  KFoldOptions o;
  o.k = 3;
  o.group_by = "none";
  const auto folds = KFold(o).folds(data, 2);
  expect_valid(data, folds);
  std::vector<int> total(3, 0);
  for (const auto& s : data) ++total[static_cast<std::size_t>(s.label)];
  for (const auto& f : folds) {
    std::vector<int> counts(3, 0);
    for (auto i : f.test) ++counts[static_cast<std::size_t>(data[i].label)];
    for (int c = 0; c < 3; ++c) EXPECT_LE(std::abs(counts[c] * 3 - total[c]), 3) << f.name << " class " << c;
  }
  const auto sizes = [&] {
    std::vector<std::size_t> s;
    for (const auto& f : folds) s.push_back(f.test.size());
    return s;
  }();
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()), 1u);
}

TEST(KFold, MoreFoldsThanSubjectsIsAConfigError) {
  KFoldOptions o;
  o.k = 13;
  try {
    KFold(o).folds(composite(), 1);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("only 12 subjects"), std::string::npos) << e.what();
  }
}

TEST(Lodo, LeavesEachDatasetOutOrCrossesDatabases) {
  const auto data = composite();
  const auto folds = Lodo().folds(data, 1);
  ASSERT_EQ(folds.size(), 3u);
  expect_valid(data, folds);
  for (const auto& f : folds)
    for (auto i : f.test) EXPECT_EQ(data[i].dataset, f.name);
  LodoOptions cross;
  cross.train_on = {"casme2", "smic"};
  cross.test_on = {"samm"};
  const auto one = Lodo(cross).folds(data, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "casme2+smic->samm");
  for (auto i : one[0].test) EXPECT_EQ(data[i].dataset, "samm");
  for (auto i : one[0].train) EXPECT_NE(data[i].dataset, "samm");
  cross.test_on = {"casme3"};
  EXPECT_THROW(Lodo(cross).folds(data, 1), ConfigError);
}

TEST(Loso, GroupByDatasetOrSubjectName) {
  const auto data = composite();
  LosoOptions o;
  o.group_by = "dataset";
  EXPECT_EQ(Loso(o).folds(data, 1).size(), 3u);
  o.group_by = "subject_name";  // s0..s3 across the three datasets
  EXPECT_EQ(Loso(o).folds(data, 1).size(), 4u);
  LosoOptions frac;
  frac.validation.val_fraction = 0.25;
  const auto folds = Loso(frac).folds(data, 1);
  expect_valid(data, folds);
  std::set<std::string> val_subjects;
  for (auto i : folds[0].val) val_subjects.insert(data[i].group_key());
  EXPECT_EQ(val_subjects.size(), 3u);  // a quarter of 11 training subjects, rounded
}

TEST(Holdout, SplitsAsTheListSaysAndNamesBadRows) {
  const auto data = composite();
  test::TempDir dir;
  write_file_atomic(dir / "split.csv", "sample,split\n" + data[0].id + ",train\n" + data[1].id + ",train\n" + data[5].id +
                                           ",val\n" + data[20].id + ",test\n");
  HoldoutOptions o;
  o.list = dir / "split.csv";
  const auto folds = Holdout(o).folds(data, 1);
  ASSERT_EQ(folds.size(), 1u);
  EXPECT_EQ(folds[0].train, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(folds[0].val, std::vector<std::size_t>{5});
  EXPECT_EQ(folds[0].test, std::vector<std::size_t>{20});
  write_file_atomic(dir / "bad.csv", "sample,split\n" + data[0].id + ",train\nnope/x/y,test\n");
  o.list = dir / "bad.csv";
  try {
    Holdout(o).folds(data, 1);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope/x/y"), std::string::npos) << e.what();
  }
}

TEST(Protocols, RegistryBuildsEveryProtocolAndChecksOptions) {
  auto cfg = Config::from_string(
      "a: {type: loso, val_subjects: 1}\nb: {type: kfold, k: 1}\nc: {type: lsoo}\nd: {type: lovo}\n"
      "e: {type: lodo, train_on: [casme2]}\nf: {type: holdout, list: /nonexistent.csv}\n"
      "g: {type: loso, val_subjects: 1, val_fraction: 0.2}\n",
      "p.yaml");
  EXPECT_EQ(builtin_protocols().build(cfg.root().child("a"))->name(), "loso");
  EXPECT_EQ(builtin_protocols().build(cfg.root().child("d"))->name(), "lovo");
  for (const char* bad : {"b", "e", "f", "g"}) {
    try {
      builtin_protocols().build(cfg.root().child(bad));
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("p.yaml:"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(builtin_protocols().build(cfg.root().child("c")), RegistryError);
}

}  // namespace
}  // namespace mer
