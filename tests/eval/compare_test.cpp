#include <mer/core/error.hpp>
#include <mer/eval/compare.hpp>
#include <mer/io/atomic_file.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

namespace mer {
namespace {
namespace fs = std::filesystem;

// Exact two-sided p-values computed by hand from the 2^n sign patterns (and matching scipy.stats.wilcoxon's
// exact method where it applies).
TEST(Wilcoxon, AllPositiveDifferences) {
  // d = 1..5: W+ = 15, W- = 0; only 1 of 32 patterns is as extreme on each side: p = 2/32.
  const auto r = wilcoxon_signed_rank({2, 3, 4, 5, 6}, {1, 1, 1, 1, 1});
  EXPECT_EQ(r.n, 5);
  EXPECT_DOUBLE_EQ(r.w_plus, 15);
  EXPECT_DOUBLE_EQ(r.w_minus, 0);
  EXPECT_DOUBLE_EQ(r.p_value, 0.0625);
}

TEST(Wilcoxon, MixedSignsWithoutTies) {
  // d = 1, -2, 3, 4, -5, 6: W- = 2 + 5 = 7, W+ = 14. Subsets of {1..6} summing to <= 7: 1 (empty) + 1 + 1
  // + 2 + 2 + 3 + 4 + 4 = 18 of 64 (sum 7: {1,6} {2,5} {3,4} {1,2,4}), so p = 2 * 18/64.
  const auto r = wilcoxon_signed_rank({1, -2, 3, 4, -5, 6}, {0, 0, 0, 0, 0, 0});
  EXPECT_DOUBLE_EQ(r.w_plus, 14);
  EXPECT_DOUBLE_EQ(r.w_minus, 7);
  EXPECT_DOUBLE_EQ(r.p_value, 2.0 * 18 / 64);
}

TEST(Wilcoxon, TiesGetMeanRanksAndZerosAreDropped) {
  // d = 0, 0.5, 0.5, 0.5, 0.5: the zero is dropped; four tied ranks of 2.5; W+ = 10, W- = 0; of the 16 sign
  // patterns one is as extreme on each side: p = 2/16.
  const auto r = wilcoxon_signed_rank({1, 1.5, 1.5, 1.5, 1.5}, {1, 1, 1, 1, 1});
  EXPECT_EQ(r.zeros, 1);
  EXPECT_EQ(r.n, 4);
  EXPECT_DOUBLE_EQ(r.w_plus, 10);
  EXPECT_DOUBLE_EQ(r.p_value, 0.125);
  // d = 1, 1, -2: ranks 1.5, 1.5, 3; W+ = W- = 3: no evidence either way.
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank({1, 1, -2}, {0, 0, 0}).p_value, 1.0);
  // Nothing differs: nothing to test.
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank({1, 2}, {1, 2}).p_value, 1.0);
  EXPECT_THROW(wilcoxon_signed_rank({1, 2}, {1}), ValueError);
}

TEST(Wilcoxon, LargeSamplesStayExactAndSymmetric) {
  // 68 subjects (MEGC2019's LOSO folds), all better by distinct amounts: p = 2 / 2^68.
  std::vector<double> a, b;
  for (int i = 1; i <= 68; ++i) a.push_back(i), b.push_back(0);
  EXPECT_NEAR(wilcoxon_signed_rank(a, b).p_value / std::ldexp(2.0, -68), 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank(a, b).p_value, wilcoxon_signed_rank(b, a).p_value);
}

// Two hand-made runs of three subjects: run B gets subject s3 right where A did not.
class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mer_compare_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path run(const std::string& name, const std::string& rows, const std::string& config) {
    const auto d = dir_ / name;
    fs::create_directories(d);
    write_file_atomic(d / "predictions.csv", "sample_id,subject,fold,true_label,pred_label,p_neg,p_pos\n" + rows);
    write_file_atomic(d / "config.resolved.yaml", config);
    return d;
  }
  fs::path dir_;
};

TEST_F(CompareTest, ScoresConfigDifferencesAndPairedTest) {
  const auto a = run("a", "x/s1/c1,x/s1,x/s1,neg,neg,0.9,0.1\nx/s2/c1,x/s2,x/s2,pos,pos,0.2,0.8\nx/s3/c1,x/s3,x/s3,pos,neg,0.6,0.4\n",
                     "name: a\ntrain: {lr: 0.001, epochs: 10}\nmodel: {type: ststnet}\n");
  const auto b = run("b", "x/s1/c1,x/s1,x/s1,neg,neg,0.9,0.1\nx/s2/c1,x/s2,x/s2,pos,pos,0.2,0.8\nx/s3/c1,x/s3,x/s3,pos,pos,0.4,0.6\n",
                     "name: b\ntrain: {lr: 0.01, epochs: 10}\nmodel: {type: ststnet}\n");
  const auto c = compare_runs({a, b}, "accuracy");
  ASSERT_EQ(c.runs.size(), 2u);
  EXPECT_NEAR(*c.runs[0].scores.accuracy, 2.0 / 3, 1e-12);
  EXPECT_NEAR(*c.runs[1].scores.accuracy, 1.0, 1e-12);
  // name and train.lr differ; epochs and model do not.
  ASSERT_EQ(c.config_differences.size(), 2u);
  EXPECT_EQ(c.config_differences[0].first, "name");
  EXPECT_EQ(c.config_differences[1].first, "train.lr");
  EXPECT_EQ(c.config_differences[1].second, (std::vector<std::string>{"0.001", "0.01"}));
  ASSERT_EQ(c.tests.size(), 1u);
  const auto& t = c.tests.front();
  EXPECT_EQ(t.subjects, 3);
  EXPECT_EQ(t.test.zeros, 2);  // s1 and s2 scored the same
  EXPECT_EQ(t.test.n, 1);
  EXPECT_DOUBLE_EQ(t.test.p_value, 1.0);  // one subject can never be significant: 2 × 1/2
  EXPECT_NEAR(t.mean_a, 1.0, 1e-12);
  EXPECT_NEAR(t.mean_b, 2.0 / 3, 1e-12);
  const auto md = comparison_markdown(c, "compare.png");
  for (const char* s : {"| a |", "| b |", "`train.lr`", "Wilcoxon", "![comparison](compare.png)"})
    EXPECT_NE(md.find(s), std::string::npos) << s;
}

TEST_F(CompareTest, RefusesRunsThatCannotBeCompared) {
  const auto a = run("a", "x/s1/c1,x/s1,x/s1,neg,neg,0.9,0.1\n", "name: a\n");
  EXPECT_THROW(compare_runs({a}), ValueError);  // one run
  fs::create_directories(dir_ / "unfinished");
  EXPECT_THROW(compare_runs({a, dir_ / "unfinished"}), DataError);
  const auto other = dir_ / "other";
  fs::create_directories(other);
  write_file_atomic(other / "predictions.csv", "sample_id,subject,fold,true_label,pred_label,p_happy,p_sad\nx/s1/c1,x/s1,x/s1,happy,happy,0.9,0.1\n");
  try {
    compare_runs({a, other});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("different classes"), std::string::npos) << e.what();
  }
  const auto elsewhere = run("elsewhere", "y/t1/c1,y/t1,y/t1,neg,neg,0.9,0.1\n", "name: e\n");
  EXPECT_THROW(compare_runs({a, elsewhere}), ValueError);  // no subject in common
  EXPECT_THROW(compare_runs({a, a}, "auc"), ValueError);
}

}  // namespace
}  // namespace mer
