#include <mer/core/error.hpp>
#include <mer/eval/folds.hpp>

#include <gtest/gtest.h>

#include <set>

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

TEST(Protocols, RegistryBuildsLosoAndRefusesPlannedOnesClearly) {
  auto cfg = Config::from_string("a: {type: loso, val_subjects: 1}\nb: {type: kfold}\nc: {type: lsoo}\n", "p.yaml");
  EXPECT_EQ(builtin_protocols().build(cfg.root().child("a"))->name(), "loso");
  try {
    builtin_protocols().build(cfg.root().child("b"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("not implemented yet"), std::string::npos) << e.what();
  }
  EXPECT_THROW(builtin_protocols().build(cfg.root().child("c")), RegistryError);
}

}  // namespace
}  // namespace mer
