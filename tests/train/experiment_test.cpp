#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/train/experiment.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/synth_tree.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

// A tiny synthetic CASME II tree made once for all tests here (3 real people, 4 clips each).
class ExperimentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    test::write_synth_casme2(dir_->path() / "CASME2", 3, 4, 8, 10, 11);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string config_text(const std::string& extra = "") {
    const auto demo = test::source_dir() / "configs/demo.yaml";
    return "base: " + demo.string() + "\nname: t\ndataset: {root: " + (dir_->path() / "CASME2").string() +
           "}\ntrain: {epochs: 3}\nruntime: {threads: 2, progress: none, cache_dir: " +
           (dir_->path() / "cache").string() + "}\n" + extra;
  }
  static Config config(const std::string& extra = "", const std::vector<std::string>& overrides = {}) {
    const auto file = dir_->path() / ("exp" + std::to_string(counter_++) + ".yaml");
    write_file_atomic(file, config_text(extra));
    return Config::load(file, overrides);
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline int counter_ = 0;
};

TEST_F(ExperimentTest, RunsLosoAndWritesEveryReportFile) {
  const auto e = Experiment::from_config(config());
  const auto run_dir = RunDir::at(dir_->path() / "run1");
  auto ctx = e.runtime().context();
  const auto result = e.run(run_dir, ctx);
  EXPECT_EQ(result.scores.folds.size(), 3u);
  EXPECT_EQ(result.scores.n_samples, 12);
  for (const char* f : {"config.resolved.yaml", "env.json", "predictions.csv", "metrics.json", "summary.md",
                        "confusion.png", "skipped.csv"})
    EXPECT_TRUE(run_dir.has(f)) << f;
  const auto metrics = nlohmann::json::parse(read_file(run_dir.file("metrics.json")));
  EXPECT_EQ(metrics["n_folds"].get<int>(), 3);
  const auto env = nlohmann::json::parse(read_file(run_dir.file("env.json")));
  for (const char* k : {"libmer", "libtorch", "opencv", "dlib", "git_commit", "seed", "threads"})
    EXPECT_TRUE(env.contains(k)) << k;
  // The resolved config holds defaults nobody wrote, e.g. the optimiser's momentum.
  EXPECT_NE(read_file(run_dir.file("config.resolved.yaml")).find("momentum"), std::string::npos);

  // Same config, same seed: identical predictions (the cache serves the features the second time).
  const auto again = RunDir::at(dir_->path() / "run2");
  e.run(again, ctx);
  EXPECT_EQ(read_file(run_dir.file("predictions.csv")), read_file(again.file("predictions.csv")));

  // A run folder of one config cannot be resumed with another.
  const auto other = Experiment::from_config(config("", {"train.epochs=4"}));
  EXPECT_THROW(other.run(run_dir, ctx), ConfigError);
}

TEST_F(ExperimentTest, TypoOutsideDatasetIsReportedBeforeTheDatasetIsRead) {
  try {
    Experiment::from_config(config("model: {dropuot: 0.2}\n", {"dataset.root=/nonexistent"}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'dropout'"), std::string::npos) << e.what();
  }
}

TEST_F(ExperimentTest, PlannedProtocolIsRefusedClearly) {
  try {
    Experiment::from_config(config("", {"protocol.type=lovo"}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("not implemented yet"), std::string::npos) << e.what();
  }
}

TEST_F(ExperimentTest, RescoreReproducesTheRunsMetrics) {
  const auto e = Experiment::from_config(config());
  const auto run_dir = RunDir::at(dir_->path() / "run3");
  const auto result = e.run(run_dir, e.runtime().context());
  const auto again = rescore_run(run_dir.path());
  EXPECT_EQ(again.uf1, result.scores.uf1);
  EXPECT_EQ(again.uar, result.scores.uar);
  EXPECT_EQ(again.confusion.counts, result.scores.confusion.counts);
}

}  // namespace
}  // namespace mer
