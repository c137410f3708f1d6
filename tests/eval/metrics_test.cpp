#include <mer/core/error.hpp>
#include <mer/eval/metrics.hpp>

#include <gtest/gtest.h>

namespace mer {
namespace {

// Worked by hand:           predicted
//                           0  1  2
//   true 0 (4 samples)      2  1  1
//   true 1 (3 samples)      1  2  0
//   true 2 (3 samples)      0  1  2
// F1_0 = 2·2/(2·2+1+2) = 4/7, F1_1 = 4/(4+2+1) = 4/7, F1_2 = 4/(4+1+1) = 2/3
// UF1 = (4/7 + 4/7 + 2/3)/3 = 38/63;  UAR = (2/4 + 2/3 + 2/3)/3 = 11/18;  accuracy = 6/10
const std::vector<int> kTrue = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
const std::vector<int> kPred = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};

TEST(Metrics, ConfusionMatrixByHand) {
  const auto cm = confusion_matrix(kTrue, kPred, 3);
  const std::vector<std::vector<std::int64_t>> expected = {{2, 1, 1}, {1, 2, 0}, {0, 1, 2}};
  EXPECT_EQ(cm.counts, expected);
  EXPECT_EQ(cm.total(), 10);
}

TEST(Metrics, PerClassUf1UarAccuracyByHand) {
  const auto cm = confusion_matrix(kTrue, kPred, 3);
  const auto s = per_class_scores(cm);
  EXPECT_EQ(s[0].tp, 2);
  EXPECT_EQ(s[0].fp, 1);
  EXPECT_EQ(s[0].fn, 2);
  EXPECT_EQ(s[1].fp, 2);
  EXPECT_NEAR(*s[0].f1, 4.0 / 7, 1e-12);
  EXPECT_NEAR(*s[1].f1, 4.0 / 7, 1e-12);
  EXPECT_NEAR(*s[2].f1, 2.0 / 3, 1e-12);
  EXPECT_NEAR(*s[0].precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(*s[1].precision, 0.5, 1e-12);
  EXPECT_NEAR(*s[0].recall, 0.5, 1e-12);
  EXPECT_NEAR(*uf1(cm), 38.0 / 63, 1e-12);
  EXPECT_NEAR(*uar(cm), 11.0 / 18, 1e-12);
  EXPECT_NEAR(*accuracy(cm), 0.6, 1e-12);
}

TEST(Metrics, ClassWithoutSupportIsLeftOutNotCountedAsZero) {
  // True: two of class 0; predicted one right, one as class 1 (which has no sample).
  const auto cm = confusion_matrix({0, 0}, {0, 1}, 2);
  const auto s = per_class_scores(cm);
  EXPECT_FALSE(s[1].recall.has_value());
  ASSERT_TRUE(s[1].f1.has_value());
  EXPECT_DOUBLE_EQ(*s[1].f1, 0.0);
  // Only class 0 has support: UF1 = F1_0 = 2/(2+0+1), not (2/3 + 0)/2.
  EXPECT_NEAR(*uf1(cm), 2.0 / 3, 1e-12);
  EXPECT_NEAR(*uar(cm), 0.5, 1e-12);
}

TEST(Metrics, ClassNeverSeenNorPredictedHasNoScores) {
  const auto cm = confusion_matrix({0, 1}, {0, 1}, 3);
  const auto s = per_class_scores(cm);
  EXPECT_FALSE(s[2].f1.has_value());
  EXPECT_FALSE(s[2].precision.has_value());
  EXPECT_DOUBLE_EQ(*uf1(cm), 1.0);
  EXPECT_DOUBLE_EQ(*uar(cm), 1.0);
}

TEST(Metrics, EmptyInputHasNoScores) {
  const auto cm = confusion_matrix({}, {}, 3);
  EXPECT_FALSE(accuracy(cm));
  EXPECT_FALSE(uf1(cm));
  EXPECT_FALSE(uar(cm));
}

TEST(Metrics, BadInputIsAValueError) {
  EXPECT_THROW(confusion_matrix({0, 1}, {0}, 2), ValueError);
  EXPECT_THROW(confusion_matrix({0, 2}, {0, 1}, 2), ValueError);
  EXPECT_THROW(confusion_matrix({0}, {-1}, 2), ValueError);
  EXPECT_THROW(confusion_matrix({}, {}, 0), ValueError);
}

}  // namespace
}  // namespace mer
