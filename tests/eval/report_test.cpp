#include <mer/core/error.hpp>
#include <mer/eval/report.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mer {
namespace {

const std::vector<std::string> kClasses = {"negative", "positive", "surprise"};

Prediction pred(const std::string& fold, int t, int p) {
  return Prediction{fold + "/clip" + std::to_string(t) + std::to_string(p), fold, fold, t, p, {0.2f, 0.3f, 0.5f}};
}

TEST(Report, PooledScoresDifferFromFoldMeansAndAreNamedSo) {
  // Fold A: 2 negative (1 right), fold B: 1 positive (right), 1 surprise (wrong → negative).
  const std::vector<Prediction> preds = {pred("A", 0, 0), pred("A", 0, 1), pred("B", 1, 1), pred("B", 2, 0)};
  const auto s = score_predictions(preds, kClasses);
  // Pooled CM: neg [1,1,0], pos [0,1,0], sur [1,0,0].
  // F1: neg 2/(2+1+1) = 0.5, pos 2/(2+1+0) = 2/3, sur 0 → UF1 = (0.5 + 2/3 + 0)/3 = 7/18.
  EXPECT_NEAR(*s.uf1, 7.0 / 18, 1e-12);
  EXPECT_NEAR(*s.uar, (0.5 + 1.0 + 0.0) / 3, 1e-12);
  EXPECT_NEAR(*s.accuracy, 0.5, 1e-12);
  ASSERT_EQ(s.folds.size(), 2u);
  // Fold A: only negative has support: F1 = 2/(2+0+1) = 2/3.  Fold B: pos F1 = 1, sur F1 = 0 → 0.5.
  EXPECT_NEAR(*s.folds[0].uf1, 2.0 / 3, 1e-12);
  EXPECT_NEAR(*s.folds[1].uf1, 0.5, 1e-12);
  EXPECT_NEAR(*s.uf1_fold_mean, (2.0 / 3 + 0.5) / 2, 1e-12);

  const auto j = nlohmann::json::parse(metrics_to_json(s));
  for (const char* key : {"accuracy", "uf1", "uar", "f1_per_class", "fold_mean", "n_samples", "n_folds"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_NEAR(j["uf1"].get<double>(), 7.0 / 18, 1e-12);
  EXPECT_EQ(j["n_samples"].get<int>(), 4);
  EXPECT_EQ(j["n_folds"].get<int>(), 2);
  EXPECT_NEAR(j["f1_per_class"]["positive"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_TRUE(j["fold_mean"].contains("uf1"));

  SummaryInfo info{"test run", "loso", {{"x/1", "detect_face", "no face found"}}, {"model: ststnet"}, {}};
  const auto md = summary_markdown(s, info);
  EXPECT_NE(md.find("pooled over folds (MEGC2019)"), std::string::npos);
  EXPECT_NE(md.find("no face found"), std::string::npos);
  EXPECT_NE(md.find("confusion.png"), std::string::npos);
}

TEST(Report, PerSourceScoresFilterThePooledPredictions) {
  auto p = [](const std::string& id, int t, int pr) {
    const auto subject = id.substr(0, id.rfind('/'));
    return Prediction{id, subject, subject, t, pr, {}};
  };
  // casme2: neg [1,1,0], pos [0,1,0], sur [0,0,1]   smic: neg [0,0,1], pos [0,1,0], sur [1,0,1]
  const std::vector<Prediction> preds = {
      p("casme2/sub01/a", 0, 0), p("casme2/sub01/b", 0, 1), p("casme2/sub02/c", 1, 1), p("casme2/sub02/d", 2, 2),
      p("smic/s1/e", 0, 2),      p("smic/s1/f", 1, 1),      p("smic/s2/g", 2, 2),      p("smic/s2/h", 2, 0)};
  const auto s = score_predictions(preds, kClasses);
  ASSERT_EQ(s.per_source.size(), 2u);
  const auto& casme2 = s.per_source.at("casme2");
  // F1: neg 2/(2+0+1) = 2/3, pos 2/(2+1+0) = 2/3, sur 1 → UF1 7/9; recall 1/2, 1, 1 → UAR 5/6.
  EXPECT_EQ(casme2.n, 4);
  EXPECT_NEAR(*casme2.uf1, 7.0 / 9, 1e-12);
  EXPECT_NEAR(*casme2.uar, 5.0 / 6, 1e-12);
  EXPECT_NEAR(*casme2.accuracy, 0.75, 1e-12);
  EXPECT_NEAR(*casme2.per_class[0].f1, 2.0 / 3, 1e-12);
  const auto& smic = s.per_source.at("smic");
  // F1: neg 0, pos 1, sur 2/(2+1+1) = 1/2 → UF1 1/2; recall 0, 1, 1/2 → UAR 1/2.
  EXPECT_NEAR(*smic.uf1, 0.5, 1e-12);
  EXPECT_NEAR(*smic.uar, 0.5, 1e-12);
  EXPECT_NEAR(*smic.accuracy, 0.5, 1e-12);
  EXPECT_NEAR(*smic.per_class[0].f1, 0.0, 1e-12);
  // Pooled: neg [1,1,1], pos [0,2,0], sur [1,0,2]: F1 2/5, 4/5, 2/3 → UF1 28/45, not the mean of the sources.
  EXPECT_NEAR(*s.uf1, 28.0 / 45, 1e-12);
  EXPECT_NEAR(*s.uar, 2.0 / 3, 1e-12);

  const auto j = nlohmann::json::parse(metrics_to_json(s));
  ASSERT_TRUE(j.contains("per_source"));
  EXPECT_NEAR(j["per_source"]["casme2"]["uf1"].get<double>(), 7.0 / 9, 1e-12);
  EXPECT_NEAR(j["per_source"]["smic"]["uar"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j["per_source"]["smic"]["accuracy"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(j["per_source"]["smic"]["n_samples"].get<int>(), 4);
  EXPECT_NEAR(j["per_source"]["smic"]["f1_per_class"]["surprise"].get<double>(), 0.5, 1e-12);

  const auto md = summary_markdown(s, SummaryInfo{"composite", "loso", {}, {}, {}});
  EXPECT_NE(md.find("## Per source"), std::string::npos);
  EXPECT_NE(md.find("| casme2 | 4 | 0.7778 | 0.8333 | 0.7500 | 0.667 | 0.667 | 1.000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| smic | 4 | 0.5000 | 0.5000 | 0.5000 | 0.000 | 1.000 | 0.500 |"), std::string::npos) << md;
}

TEST(Report, OneSourceHasNoPerSourceScores) {
  const std::vector<Prediction> preds = {
      Prediction{"casme2/sub01/a", "casme2/sub01", "casme2/sub01", 0, 0, {}},
      Prediction{"casme2/sub02/b", "casme2/sub02", "casme2/sub02", 1, 0, {}}};
  const auto s = score_predictions(preds, kClasses);
  EXPECT_TRUE(s.per_source.empty());
  EXPECT_TRUE(nlohmann::json::parse(metrics_to_json(s))["per_source"].empty());
  EXPECT_EQ(summary_markdown(s, SummaryInfo{"one", "loso", {}, {}, {}}).find("Per source"), std::string::npos);
  EXPECT_EQ(source_of("samm/006/006_1_2"), "samm");
  EXPECT_EQ(source_of("clip7"), "clip7");
}

TEST(Report, PredictionsCsvRoundTrip) {
  const std::vector<Prediction> preds = {pred("casme2/sub01", 0, 2), pred("casme2/sub02", 1, 1)};
  const auto csv = predictions_to_csv(preds, kClasses);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "sample_id,subject,fold,true_label,pred_label,p_negative,p_positive,p_surprise");
  const auto back = predictions_from_csv(csv, "p.csv", kClasses);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].pred_label, 2);
  EXPECT_EQ(back[1].fold, "casme2/sub02");
  EXPECT_NEAR(back[0].probs[2], 0.5f, 1e-6);
}

TEST(Report, PredictionsWithUnknownClassNameTheLine) {
  const std::string csv =
      "sample_id,subject,fold,true_label,pred_label,p_negative,p_positive,p_surprise\n"
      "a,s,f,negative,happy,0.1,0.2,0.7\n";
  try {
    predictions_from_csv(csv, "p.csv", kClasses);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("p.csv:2"), std::string::npos) << e.what();
  }
}

TEST(Report, SkippedCsvQuotesReasons) {
  EXPECT_EQ(skipped_to_csv({{"a/b", "frames", "missing img1.jpg, img2.jpg"}}),
            "sample_id,stage,reason\na/b,frames,\"missing img1.jpg, img2.jpg\"\n");
}

}  // namespace
}  // namespace mer
