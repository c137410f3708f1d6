#include <mer/core/error.hpp>
#include <mer/meta/label_map.hpp>

#include <gtest/gtest.h>

namespace mer {
namespace {

TEST(LabelMap, MapsRawEmotionsToClassesAndExcludesTheRest) {
  auto cfg = Config::from_string(
      "labels:\n  classes: [negative, positive, surprise]\n"
      "  map: {disgust: negative, repression: negative, happiness: positive, surprise: surprise}\n",
      "l.yaml");
  const auto m = LabelMap::from_config(cfg.root().child("labels"));
  EXPECT_EQ(m.num_classes(), 3);
  EXPECT_EQ(m.index_of("disgust"), 0);
  EXPECT_EQ(m.index_of("repression"), 0);
  EXPECT_EQ(m.index_of("happiness"), 1);
  EXPECT_EQ(m.index_of("surprise"), 2);
  EXPECT_FALSE(m.index_of("others"));
  EXPECT_FALSE(m.index_of("Happiness"));  // tables are lower case; matching is exact
}

TEST(LabelMap, IdentityWithoutMap) {
  const LabelMap m({"a", "b"}, {});
  EXPECT_EQ(m.index_of("b"), 1);
  EXPECT_EQ(m.name(0), "a");
}

TEST(LabelMap, RejectsUnknownTargetAndDuplicates) {
  EXPECT_THROW(LabelMap({"a"}, {{"x", "b"}}), ValueError);
  EXPECT_THROW(LabelMap({"a", "a"}, {}), ValueError);
  auto cfg = Config::from_string("labels: {classes: [a], map: {x: b}}\n", "l.yaml");
  try {
    LabelMap::from_config(cfg.root().child("labels"));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("l.yaml:1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mer

#include <mer/meta/table.hpp>

#include <fstream>
#include <sstream>

#include "support/test_paths.hpp"

namespace mer {
namespace {

TEST(LabelMap, CompoundRulesCombineEmotionAndActionUnits) {
  auto cfg = Config::from_string(
      "labels:\n  classes: [neg_surprised, negative, surprise]\n"
      "  compound:\n    - {class: neg_surprised, emotions: [disgust], aus_any: [1, 2]}\n"
      "  map: {disgust: negative, surprise: surprise}\n",
      "c.yaml");
  const auto m = LabelMap::from_config(cfg.root().child("labels"));
  EXPECT_EQ(m.classify("disgust", "1+4"), 0);
  EXPECT_EQ(m.classify("disgust", "L2"), 0);         // unilateral AU2 counts
  EXPECT_EQ(m.classify("disgust", "4+L10"), 1);      // no brow raiser: the plain map
  EXPECT_EQ(m.classify("disgust", "?"), 1);          // unknown AUs never match a rule
  EXPECT_EQ(m.classify("surprise", "1+2"), 2);       // rule limited to disgust
  EXPECT_FALSE(m.classify("others", "1+2").has_value());
  // Dropping a class drops its rule and re-indexes the rest.
  const auto r = m.restricted_to({"negative", "surprise"});
  EXPECT_EQ(r.classify("disgust", "1+4"), 0);
  EXPECT_EQ(r.classify("surprise", "1"), 1);
}

TEST(LabelMap, CompoundRuleClassMustExist) {
  auto cfg = Config::from_string("labels:\n  classes: [a]\n  compound:\n    - {class: b, aus_any: [1]}\n", "c.yaml");
  try {
    LabelMap::from_config(cfg.root().child("labels"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("c.yaml:4"), std::string::npos) << e.what();
  }
}

TEST(LabelMap, CmedStyleCompoundFragmentOnTheRealCasme2Table) {
  const auto fragment = test::source_dir() / "configs/_base_/labels/casme2_compound.yaml";
  const auto cfg = Config::load(fragment);
  const auto m = LabelMap::from_config(cfg.root().child("dataset").child("labels"));
  const auto table = Table::read(test::annotations_dir() / "casme2_coding.csv");
  std::vector<int> count(m.num_classes(), 0);
  int left_out = 0;
  for (const auto& row : table.rows) {
    const auto c = m.classify(trim(row[table.column("Estimated Emotion")]), row[table.column("Action Units")]);
    c ? ++count[*c] : ++left_out;
  }
  // Counted independently from the CSV: happiness/negative emotions with AU1 or AU2 coded.
  EXPECT_EQ(count, (std::vector<int>{1, 8, 25, 31, 91}));
  EXPECT_EQ(left_out, 99);
}

}  // namespace
}  // namespace mer
