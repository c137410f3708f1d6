// Pipeline variants (`preprocess.variants`) as training-set augmentation: the Experiment's side of it.
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/train/experiment.hpp>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <sstream>

#include "support/synth_tree.hpp"
#include "support/test_paths.hpp"

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

namespace mer {
namespace {

// Everything the "mer" logger says while alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    sink_->set_pattern("%v");
    level_ = logger()->level();
    logger()->set_level(spdlog::level::info);
    logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    logger()->set_level(level_);
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum level_;
};

// The demo's input (flow + strain at 28x28, STSTNet) on a tiny synthetic CASME II tree: 3 real people,
// 3 clips each, so every LOSO fold trains on 6 samples and tests on 3. The face detection and alignment
// stages are left out and DIS replaces TV-L1 to keep the tests fast; variants only care that some stage
// options change.
class VariantsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    test::write_synth_casme2(dir_->path() / "CASME2", 3, 3, 8, 8, 5);
  }
  static void TearDownTestSuite() { delete dir_; }

  // `variants` is the YAML list under preprocess.variants; it starts on line 14 of the written file.
  static Config config(const std::string& variants, const std::vector<std::string>& overrides = {}) {
    const auto demo = test::source_dir() / "configs/demo.yaml";
    const auto text = "base: " + demo.string() + "\nname: v\ndataset: {root: " + (dir_->path() / "CASME2").string() +
                      "}\ntrain: {epochs: 1}\nruntime: {threads: 1, progress: none, cache_dir: " +
                      (dir_->path() / "cache").string() + "}\n" + kPipeline + "  variants:\n" + variants;
    const auto file = dir_->path() / ("exp" + std::to_string(counter_++) + ".yaml");
    write_file_atomic(file, text);
    return Config::load(file, overrides);
  }
  static std::string file_of(int n) { return (dir_->path() / ("exp" + std::to_string(n) + ".yaml")).string(); }

  static std::string config_error(const std::string& variants) {
    const int n = counter_;
    try {
      // The dataset is read last: variant mistakes must be reported before it is touched.
      Experiment::from_config(config(variants, {"dataset.root=/nonexistent"}));
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_CONTAINS(msg, file_of(n) + ":14");
      return msg;
    }
    ADD_FAILURE() << "expected a ConfigError for " << variants;
    return {};
  }

  static inline const std::string kPipeline =
      "preprocess:\n"
      "  outputs: [flow, strain]\n"
      "  stages:\n"
      "    - {type: frames, frames: [onset, apex]}\n"
      "    - {type: flow, algorithm: dis}\n"
      "    - {type: strain}\n"
      "    - {type: resize, keys: [flow, strain], size: 28}\n";
  static inline test::TempDir* dir_ = nullptr;
  static inline int counter_ = 0;
};

TEST_F(VariantsTest, FoldsTrainOnCopiesOfTheirTrainingSamplesOnly) {
  // With batch augmentation too: it needs the groups (flow is a vector field), also when served from the cache.
  const auto e = Experiment::from_config(config("    - {name: lin, set: {resize.interpolation: linear}}\n",
                                                {"train.augment.hflip=0.5", "train.augment.rotate_deg=5"}));
  const auto ctx = e.runtime().context();
  LogCapture log;
  const auto start = std::chrono::steady_clock::now();
  const auto result = e.run(RunDir::at(dir_->path() / "run1"), ctx);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
  const auto text = log.text();

  EXPECT_EQ(result.scores.n_samples, 9);  // copies are trained on, never evaluated
  EXPECT_EQ(result.scores.folds.size(), 3u);
  EXPECT_CONTAINS(text, "preprocess variant 'lin': 9 sample copies");
  // 6 training samples per fold, each with its one copy; the 3 test samples' copies stay out.
  const std::regex fold_line("fold [^:]+: (\\d+) training samples \\+ (\\d+) variant copies");
  int folds = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), fold_line); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1].str(), "6");
    EXPECT_EQ((*it)[2].str(), "6");
    ++folds;
  }
  EXPECT_EQ(folds, 3);
  const auto predictions = read_file(dir_->path() / "run1" / "predictions.csv");
  EXPECT_EQ(predictions.find('#'), std::string::npos);  // no copy was predicted
  EXPECT_CONTAINS(read_file(dir_->path() / "run1" / "summary.md"),
                  "augmentation (training samples only): hflip 0.5, rotate ±5 deg, variant lin");

  // The variant is cached under its own fingerprint: a second run computes nothing.
  LogCapture again;
  e.run(RunDir::at(dir_->path() / "run2"), ctx);
  EXPECT_CONTAINS(again.text(), "preprocess variant 'lin': 9 sample copies (9 from cache");
  EXPECT_EQ(read_file(dir_->path() / "run2" / "predictions.csv"), predictions);
}

TEST_F(VariantsTest, AVariantOfAnotherShapeIsNamed) {
  const auto e = Experiment::from_config(config("    - {name: big, set: {resize.size: 32}}\n"));
  try {
    e.run(RunDir::at(dir_->path() / "run3"), e.runtime().context());
    FAIL();
  } catch (const ConfigError& err) {
    const std::string msg = err.what();
    EXPECT_CONTAINS(msg, "variant 'big' gives features of 3x32x32");
    EXPECT_CONTAINS(msg, "base pipeline's are 3x28x28");
    EXPECT_CONTAINS(msg, ":14");
  }
}

TEST_F(VariantsTest, MistakesNameTheVariantsLine) {
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flwo.algorithm: farneback}}\n"),
                  "no 'flwo' stage (did you mean 'flow'?)");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flow.algoritm: farneback}}\n"), "did you mean 'algorithm'?");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flow.algorithm: farnebak}}\n"), "'farnebak'");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flow.algorithm: dis}}\n"), "same preprocessing as the base");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flow: farneback}}\n"), "expected <stage type>.<option>");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {flow.type: strain}}\n"), "cannot change a stage's type");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {}}\n"), "sets nothing");
  EXPECT_CONTAINS(config_error("    - {name: a, set: {resize.interpolation: linear}}\n"
                               "    - {name: b, set: {resize.interpolation: linear}}\n"),
                  "same preprocessing as variant 'a'");
}

TEST_F(VariantsTest, DuplicateNamesAreRefused) {
  try {
    Experiment::from_config(config("    - {name: a, set: {resize.interpolation: linear}}\n"
                                   "    - {name: a, set: {flow.algorithm: farneback}}\n",
                                   {"dataset.root=/nonexistent"}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "used twice");
  }
}

}  // namespace
}  // namespace mer
