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
