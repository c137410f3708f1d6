// The MEGC2019 prediction log: scored against hand-computed values and against STSTNet's published log.
#include <mer/core/error.hpp>
#include <mer/eval/megc_log.hpp>

#include <gtest/gtest.h>

#include "support/test_paths.hpp"

namespace mer {
namespace {

TEST(MegcLog, ScoresAHandComputedLog) {
  // Pooled confusion (true rows, predicted columns): [[1, 1, 0], [1, 0, 0], [0, 0, 1]].
  // F1: class 0 = 2·1 / (2·1 + 1 + 1) = 0.5, class 1 = 0, class 2 = 1 → UF1 0.5; recalls 1/2, 0, 1 → UAR 0.5.
  const auto preds = parse_megc_log("casme2 sub01\na 0 0\nb 1 0\n\nsmic s1\r\nc 2 2\r\nd 0 1\n", "hand.txt");
  ASSERT_EQ(preds.size(), 4u);
  EXPECT_EQ(preds[2].sample_id, "smic/s1/c");
  EXPECT_EQ(preds[2].fold, "smic/s1");
  const auto s = score_predictions(preds, {"negative", "positive", "surprise"});
  EXPECT_NEAR(*s.uf1, 0.5, 1e-12);
  EXPECT_NEAR(*s.uar, 0.5, 1e-12);
  EXPECT_NEAR(*s.accuracy, 0.5, 1e-12);
  EXPECT_EQ(s.per_source.size(), 2u);
  // Written back, it parses to the same predictions.
  const auto again = parse_megc_log(megc_log(preds), "again");
  ASSERT_EQ(again.size(), preds.size());
  for (std::size_t i = 0; i < preds.size(); ++i) {
    EXPECT_EQ(again[i].sample_id, preds[i].sample_id);
    EXPECT_EQ(again[i].true_label, preds[i].true_label);
    EXPECT_EQ(again[i].pred_label, preds[i].pred_label);
  }
}

TEST(MegcLog, ReproducesStstnetsPublishedScores) {
  // christy1206/STSTNet STSTNet_logfile.txt (tests/data/megc_logs/SOURCES.md): the published values.
  const auto s = score_megc_log(test::source_dir() / "tests/data/megc_logs/STSTNet_logfile.txt");
  EXPECT_EQ(s.n_samples, 442);
  EXPECT_NEAR(*s.uf1, 0.7353, 5e-5);
  ASSERT_EQ(s.per_source.size(), 3u);
  EXPECT_NEAR(*s.per_source.at("smic").uf1, 0.6801, 5e-5);
  EXPECT_NEAR(*s.per_source.at("casme2").uf1, 0.8382, 5e-5);
  EXPECT_NEAR(*s.per_source.at("samm").uf1, 0.6588, 5e-5);
  EXPECT_EQ(s.per_source.at("smic").n, 164);
  EXPECT_EQ(s.per_source.at("casme2").n, 145);
  EXPECT_EQ(s.per_source.at("samm").n, 133);
}

TEST(MegcLog, MalformedLogsNameFileAndLine) {
  const auto msg = [](const std::string& text) {
    try {
      parse_megc_log(text, "log.txt");
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("a 0 0\n").find("log.txt:1"), std::string::npos);                     // before any header
  EXPECT_NE(msg("casme2 sub01\na 0 3\n").find("log.txt:2"), std::string::npos);        // label out of range
  EXPECT_NE(msg("casme2 sub01\na 0 x\n").find("'x'"), std::string::npos);
  EXPECT_NE(msg("casme2 sub01\na 0 0 0\n").find("4 fields"), std::string::npos);
  EXPECT_NE(msg("casme2 sub01\na 0 0\na 1 1\n").find("listed twice"), std::string::npos);
  EXPECT_NE(msg("").find("no prediction"), std::string::npos);
  EXPECT_THROW(score_megc_log("/nonexistent/log.txt"), IoError);
}

}  // namespace
}  // namespace mer
