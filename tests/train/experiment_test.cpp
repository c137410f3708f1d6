#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/variants.hpp>
#include <mer/train/experiment.hpp>
#include <mer/train/predict.hpp>
#include <mer/train/trainer.hpp>

#include <gtest/gtest.h>
#include <cstdlib>
#include <sstream>
#include <torch/script.h>
#include <torch/serialize.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "support/synth_tree.hpp"
#include "support/model_checks.hpp"
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
  // A LOSO run with its fold checkpoints and the all-data model (--fit-all): a pretrained model, a teacher,
  // a run to predict with.
  static RunDir run_with_fit_all(const std::string& folder, int epochs) {
    const auto e = Experiment::from_config(config("", {"train.epochs=" + std::to_string(epochs)}));
    const auto dir = RunDir::at(dir_->path() / folder);
    RunOptions options;
    options.fit_all = true;
    e.run(dir, e.runtime().context(), options);
    return dir;
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
                        "confusion.png", "skipped.csv", "learning_curves.png"})
    EXPECT_TRUE(run_dir.has(f)) << f;
  const auto metrics = nlohmann::json::parse(read_file(run_dir.file("metrics.json")));
  EXPECT_EQ(metrics["n_folds"].get<int>(), 3);
  const auto env = nlohmann::json::parse(read_file(run_dir.file("env.json")));
  for (const char* k : {"libmer", "libtorch", "opencv", "dlib", "git_commit", "seed", "threads"})
    EXPECT_TRUE(env.contains(k)) << k;
  // Every sample's face detector is on record (real faces: dlib's HOG finds them all here).
  const auto faces = read_file(run_dir.file("faces.csv"));
  EXPECT_EQ(std::count(faces.begin(), faces.end(), '\n'), 13);  // header + 12 samples
  EXPECT_NE(faces.find("casme2/sub01/"), std::string::npos);
  EXPECT_NE(read_file(run_dir.file("summary.md")).find("faces: "), std::string::npos);
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

TEST_F(ExperimentTest, EveryProtocolRunsEndToEnd) {
  // 3 subjects x 4 clips: lovo gives 12 folds, kfold (k 3, grouped by subject) 3, loso with a validation
  // subject 3; every sample is predicted exactly once.
  for (const auto& [protocol, folds] : std::vector<std::pair<std::string, std::size_t>>{
           {"{type: lovo}", 12}, {"{type: kfold, k: 3}", 3}, {"{type: kfold, k: 4, group_by: none}", 4},
           {"{type: loso, val_subjects: 1}", 3}}) {
    SCOPED_TRACE(protocol);
    const auto e = Experiment::from_config(config("", {"protocol=" + protocol, "train.epochs=1"}));
    const auto run_dir = RunDir::at(dir_->path() / ("proto" + std::to_string(counter_++)));
    const auto result = e.run(run_dir, e.runtime().context());
    EXPECT_EQ(result.scores.folds.size(), folds);
    EXPECT_EQ(result.scores.n_samples, 12);
  }
  // More folds than subjects is refused with the numbers.
  const auto e = Experiment::from_config(config("", {"protocol={type: kfold, k: 5}"}));
  try {
    e.run(RunDir::at(dir_->path() / "proto_bad"), e.runtime().context());
    FAIL();
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("only 3 subjects"), std::string::npos) << err.what();
  }
}

TEST_F(ExperimentTest, RepeatsRunTheProtocolAgainWithDerivedSeedsAndReportMeanAndSd) {
  const auto e = Experiment::from_config(config("", {"protocol={type: kfold, k: 3, repeats: 2}", "train.epochs=1"}));
  const auto run_dir = RunDir::at(dir_->path() / "repeats");
  const auto result = e.run(run_dir, e.runtime().context());
  EXPECT_EQ(result.scores.folds.size(), 6u);
  EXPECT_EQ(result.scores.n_samples, 24);  // every sample once per repeat
  const auto metrics = nlohmann::json::parse(read_file(run_dir.file("metrics.json")));
  ASSERT_TRUE(metrics.contains("repeats"));
  EXPECT_EQ(metrics["repeats"]["per_repeat"].size(), 2u);
  const double m = (metrics["repeats"]["per_repeat"][0]["uf1"].get<double>() + metrics["repeats"]["per_repeat"][1]["uf1"].get<double>()) / 2;
  EXPECT_NEAR(metrics["repeats"]["uf1_mean"].get<double>(), m, 1e-12);
  EXPECT_NE(read_file(run_dir.file("summary.md")).find("2 repeats of the protocol"), std::string::npos);
  EXPECT_TRUE(run_dir.has("folds/r2_fold01.csv"));
}

TEST_F(ExperimentTest, OptimisticSelectionIsStampedAndLeavesTheHonestRunUnchanged) {
  const auto honest = Experiment::from_config(config("", {"train.epochs=4"}));
  const auto h = RunDir::at(dir_->path() / "honest");
  const auto hr = honest.run(h, honest.runtime().context());
  const auto optimistic = Experiment::from_config(config("", {"train.epochs=4", "protocol.select_on_test=true"}));
  const auto o = RunDir::at(dir_->path() / "optimistic");
  const auto orr = optimistic.run(o, optimistic.runtime().context());
  // Keeping the test predictions of every epoch changes nothing in the honest results.
  EXPECT_EQ(read_file(h.file("predictions.csv")), read_file(o.file("predictions.csv")));
  ASSERT_TRUE(orr.optimistic.has_value());
  EXPECT_GE(*orr.optimistic->accuracy, *orr.scores.accuracy);  // best epoch on the test subject: never worse
  const std::string stamp = "optimistic: epochs chosen on the test subject";
  for (const char* f : {"summary.md", "metrics.json"}) EXPECT_NE(read_file(o.file(f)).find(stamp), std::string::npos) << f;
  EXPECT_TRUE(o.has("predictions_optimistic.csv"));
  EXPECT_TRUE(o.has("confusion_optimistic.png"));
  EXPECT_NE(orr.optimistic->notes.front().find(stamp), std::string::npos);
  EXPECT_EQ(read_file(h.file("summary.md")).find(stamp), std::string::npos);  // honest runs carry no stamp
  // Each fold's model is saved beside its predictions.
  EXPECT_TRUE(fs::exists(h.path() / "folds"));
  std::size_t checkpoints = 0;
  for (const auto& e : fs::directory_iterator(h.path() / "folds")) checkpoints += e.path().extension() == ".pt";
  EXPECT_EQ(checkpoints, 3u);
}

// Shards in one folder, and shards in folders of their own gathered by merge, give the report of an
// unsharded run; a shard never writes a pooled report while folds are missing.
TEST_F(ExperimentTest, ShardsMergeToTheUnshardedRun) {
  const auto e = Experiment::from_config(config("", {"train.epochs=2"}));
  const auto ctx = e.runtime().context();
  const auto whole = RunDir::at(dir_->path() / "unsharded");
  e.run(whole, ctx);

  const auto shared = RunDir::at(dir_->path() / "sharded");
  RunOptions first;
  first.shard = RunOptions::Shard::parse("1/2");
  const auto r1 = e.run(shared, ctx, first);
  EXPECT_FALSE(r1.complete);
  EXPECT_EQ(r1.folds_run, 2);  // folds 1 and 3 of 3
  EXPECT_EQ(r1.folds_missing, 1);
  EXPECT_FALSE(shared.has("metrics.json"));
  RunOptions merge;
  merge.merge = true;
  EXPECT_THROW(e.run(shared, ctx, merge), DataError);  // fold 2 is missing
  RunOptions second;
  second.shard = RunOptions::Shard::parse("2/2");
  EXPECT_EQ(e.run(shared, ctx, second).folds_run, 1);
  // The merge rebuilds the experiment from the run folder alone, as `mer report merge` does.
  const auto rebuilt = Experiment::from_config(Config::load(shared.file("config.resolved.yaml")));
  const auto merged = rebuilt.run(shared, ctx, merge);
  EXPECT_EQ(merged.folds_run, 0);
  EXPECT_EQ(read_file(shared.file("metrics.json")), read_file(whole.file("metrics.json")));
  EXPECT_EQ(read_file(shared.file("predictions.csv")), read_file(whole.file("predictions.csv")));

  for (const char* bad : {"3/2", "0/2", "2", "1/0", "a/b", "1/2/3", "/2"}) EXPECT_THROW(RunOptions::Shard::parse(bad), ValueError) << bad;
}

TEST_F(ExperimentTest, ARunFolderIsLockedWhileAProcessWritesIt) {
  const auto run_dir = RunDir::at(dir_->path() / "locked");
  const RunLock held(run_dir, "run.lock", "run folder");
  const auto e = Experiment::from_config(config("", {"train.epochs=1"}));
  EXPECT_CONTAINS(test::error_message<IoError>([&] { e.run(run_dir, e.runtime().context()); }), "in use by another process");
}

// The saved models classify a clip given as a frame folder or as a (lossless) video exactly as the run
// classified that sample; --fit-all adds a model trained on every sample.
TEST_F(ExperimentTest, PredictReproducesTheRunsPredictionsFromFramesAndVideo) {
  const auto run_dir = run_with_fit_all("predict_run", 2);
  ASSERT_TRUE(run_dir.has("fit_all.pt"));
  EXPECT_TRUE(run_dir.has("fit_all.json"));
  const auto classes = predictions_classes(run_dir.file("predictions.csv"));
  const auto preds = read_predictions(run_dir.file("predictions.csv"), classes);
  const auto& p = preds.front();
  // The sample's frames, as the dataset lists them.
  const auto table = read_file(dir_->path() / "CASME2/CASME2-coding-20140508.csv");
  const auto clip = p.sample_id.substr(p.sample_id.rfind('/') + 1);
  const auto subject = p.subject.substr(p.subject.rfind('/') + 1);
  int onset = -1, apex = -1, offset = -1;
  {
    std::istringstream in(table);
    std::string line;
    while (std::getline(in, line))
      if (line.find("," + clip + ",") != std::string::npos) {
        std::vector<std::string> cells;
        std::istringstream ls(line);
        for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
        onset = std::stoi(cells[3]), apex = std::stoi(cells[4]), offset = std::stoi(cells[5]);
      }
  }
  ASSERT_GE(onset, 0) << clip;
  const auto frames = dir_->path() / "CASME2/CASME2_RAW_selected" / subject / clip;
  RunContext ctx;
  ctx.threads = 2;
  PredictRequest req;
  req.frames = frames;
  req.onset = onset, req.apex = apex, req.offset = offset;
  req.model = p.fold;
  const auto from_frames = predict_clip(run_dir.path(), req, ctx);
  ASSERT_EQ(from_frames.probabilities.size(), p.probs.size());
  for (std::size_t c = 0; c < p.probs.size(); ++c) EXPECT_NEAR(from_frames.probabilities[c], p.probs[c], 1e-5) << classes[c];

  // The same frames as an FFV1 video (lossless): frame numbers become 0-based indices. Grey frames, because
  // the pipeline reads JPEG frames as grey straight from the decoder (its luma), while a colour video's
  // frames would be converted from BGR with other rounding.
  const auto video = dir_->path() / "clip.avi";
  {
    cv::VideoWriter w;
    for (int f = onset; f <= offset; ++f) {
      const auto img = cv::imread((frames / ("img" + std::to_string(f) + ".jpg")).string(), cv::IMREAD_GRAYSCALE);
      if (!w.isOpened()) w.open(video.string(), cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25, img.size(), false);
      ASSERT_TRUE(w.isOpened());
      w.write(img);
    }
  }
  PredictRequest vreq;
  vreq.video = video;
  vreq.apex = apex - onset;
  vreq.model = p.fold;
  const auto from_video = predict_clip(run_dir.path(), vreq, ctx);
  for (std::size_t c = 0; c < p.probs.size(); ++c) EXPECT_NEAR(from_video.probabilities[c], p.probs[c], 1e-5) << classes[c];
  EXPECT_EQ(from_video.offset, offset - onset);

  // All folds' mean and the all-data model give distributions; a fold that does not exist is refused.
  vreq.model = "";
  const auto mean = predict_clip(run_dir.path(), vreq, ctx);
  EXPECT_EQ(mean.models.size(), 3u);
  double sum = 0;
  for (const double q : mean.probabilities) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  vreq.model = "fit_all";
  EXPECT_EQ(predict_clip(run_dir.path(), vreq, ctx).models.size(), 1u);
  vreq.model = "casme2/nobody";
  EXPECT_THROW(predict_clip(run_dir.path(), vreq, ctx), DataError);

  // A checkpoint of another model is refused by name.
  const auto other = Experiment::from_config(config("model: {dropout: 0.25}\n", {"train.epochs=1"}));
  const auto other_dir = RunDir::at(dir_->path() / "predict_other");
  other.run(other_dir, other.runtime().context());
  fs::copy_file(other_dir.file("folds/casme2_sub01.pt"), run_dir.file("folds/casme2_sub01.pt"), fs::copy_options::overwrite_existing);
  vreq.model = "casme2/sub01";
  EXPECT_CONTAINS(test::error_message<ConfigError>([&] { predict_clip(run_dir.path(), vreq, ctx); }), "holds another model");
}

// `mer export`: a fold's model as TorchScript, loaded back as Python would (torch::jit::load), gives the
// probabilities the run reported for that fold's test samples, from the run's own features.
TEST_F(ExperimentTest, ExportedTorchScriptReproducesTheRunsProbabilities) {
  const auto run_dir = run_with_fit_all("export_run", 1);
  const auto classes = predictions_classes(run_dir.file("predictions.csv"));
  const auto preds = read_predictions(run_dir.file("predictions.csv"), classes);
  const auto fold = preds.front().fold;
  const auto out = dir_->path() / "exported" / "model.pt";
  const auto r = export_torchscript(run_dir.path(), fold, out);
  EXPECT_LE(r.max_difference, 1e-5);
  ASSERT_TRUE(fs::exists(out));
  const auto sidecar = nlohmann::json::parse(read_file(r.sidecar));
  EXPECT_EQ(sidecar["classes"].get<std::vector<std::string>>(), classes);
  EXPECT_EQ(sidecar["fold"], fold);
  EXPECT_FALSE(sidecar["preprocess"].get<std::string>().empty());

  // The run's features, through its own config (from its cache).
  const auto cfg = Config::load(run_dir.file("config.resolved.yaml"));
  const auto dataset = builtin_datasets().build(cfg.root().child("dataset"));
  const auto pipeline = Pipeline::from_config(cfg.root().child("preprocess"), all_stages());
  RunContext ctx;
  ctx.threads = 2;
  ctx.progress = ProgressStyle::None;
  ctx.cache_dir = cfg.root().child("runtime").get_path("cache_dir", "");
  const FeatureSet f = pipeline.run(dataset->samples(), ctx);
  auto module = torch::jit::load(out.string());
  int compared = 0;
  for (const auto& p : preds) {
    if (p.fold != fold) continue;
    const auto at = std::find_if(f.samples.begin(), f.samples.end(), [&](const SampleMeta& s) { return s.id == p.sample_id; });
    ASSERT_NE(at, f.samples.end()) << p.sample_id;
    const auto i = static_cast<std::size_t>(at - f.samples.begin());
    std::vector<c10::IValue> args;
    for (const auto& in : r.inputs) {
      std::size_t g = 0;
      while (f.groups[g].name != in.name) ++g;
      std::vector<std::int64_t> shape = {1};
      const auto gs = f.group_shape(f.groups[g]);
      shape.insert(shape.end(), gs.begin(), gs.end());
      args.emplace_back(torch::from_blob(const_cast<float*>(f.inputs[i].data() + f.group_offset(g)), shape).clone());
    }
    const auto probs = torch::softmax(module.forward(args).toTensor(), 1);
    for (std::size_t c = 0; c < classes.size(); ++c)
      EXPECT_NEAR(probs[0][static_cast<std::int64_t>(c)].item<double>(), p.probs[c], 1e-5) << p.sample_id << " " << classes[c];
    ++compared;
  }
  EXPECT_GT(compared, 0);
  EXPECT_LE(export_torchscript(run_dir.path(), "fit_all", dir_->path() / "exported" / "fit_all.pt").max_difference, 1e-5);
  EXPECT_CONTAINS(test::error_message<DataError>([&] { export_torchscript(run_dir.path(), "casme2/nobody", out); }), "no model of fold");
}

// Fine-tuning: each fold's model starts from a checkpoint by parameter name; a checkpoint that learnt from
// the fold's test subject is refused; frozen parameters keep the checkpoint's values.
TEST_F(ExperimentTest, ModelInitLoadsByNameFreezesAndRefusesCheckpointsThatSawTheTestSubject) {
  const auto pre_dir = run_with_fit_all("init_pre", 1);

  // The all-data model saw every subject: no LOSO fold may start from it.
  const auto leaky = Experiment::from_config(
      config("model: {init: {checkpoint: " + pre_dir.file("fit_all.pt").string() + "}}\n", {"train.epochs=1"}));
  EXPECT_CONTAINS(test::error_message<ConfigError>([&] { leaky.run(RunDir::at(dir_->path() / "init_leaky"), leaky.runtime().context()); }),
                  "was trained on subject casme2/sub01");

  // The matching fold of the pre-training run never saw its test subject.
  const auto tuned = Experiment::from_config(config("model: {init: {checkpoint: '" + (pre_dir.path() / "folds").string() +
                                                    "/{fold}.pt', skip: [fc.*]}}\ntrain: {epochs: 2, freeze: [stream3.*]}\n"));
  const auto tuned_dir = RunDir::at(dir_->path() / "init_tuned");
  tuned.run(tuned_dir, tuned.runtime().context());
  const auto tensor = [](const fs::path& file, const std::string& module, const std::string& name) {
    torch::serialize::InputArchive a, sub;
    a.load_from(file.string());
    EXPECT_TRUE(a.try_read(module, sub)) << module;
    torch::Tensor t;
    EXPECT_TRUE(sub.try_read(name, t)) << name;
    return t;
  };
  const auto before = pre_dir.file("folds/casme2_sub01.pt"), after = tuned_dir.file("folds/casme2_sub01.pt");
  EXPECT_TRUE(torch::equal(tensor(before, "stream3", "weight"), tensor(after, "stream3", "weight")));  // frozen
  EXPECT_FALSE(torch::equal(tensor(before, "stream5", "weight"), tensor(after, "stream5", "weight")));  // trained on
  // A pattern that freezes nothing is a mistake worth an error.
  const auto typo = Experiment::from_config(config("train: {epochs: 1, freeze: [strem3.*]}\n"));
  EXPECT_THROW(typo.run(RunDir::at(dir_->path() / "init_typo"), typo.runtime().context()), ValueError);
  // A file that is not a checkpoint, and strict loading with the head skipped but present in the file.
  const auto strict = Experiment::from_config(config("model: {init: {checkpoint: '" + (pre_dir.path() / "folds").string() +
                                                     "/{fold}.pt', strict: true}}\n", {"train.epochs=1"}));
  EXPECT_NO_THROW(strict.run(RunDir::at(dir_->path() / "init_strict"), strict.runtime().context()));
  const auto junk = Experiment::from_config(config("model: {init: {checkpoint: " + pre_dir.file("metrics.json").string() + "}}\n"));
  EXPECT_THROW(junk.run(RunDir::at(dir_->path() / "init_junk"), junk.runtime().context()), DataError);
}

// Knowledge distillation: each fold's student learns from the teacher run's matching fold; the teacher's
// all-data model, which saw every test subject, is refused; the loss and the teacher go together.
TEST_F(ExperimentTest, DistillationUsesTheMatchingFoldsTeacherOnly) {
  const auto teacher_dir = run_with_fit_all("teacher", 2);
  const std::string losses = "train: {epochs: 2, losses: [{type: cross_entropy, weight: 0.5}, {type: distill, weight: 0.5, temperature: 3}], ";
  const auto student = Experiment::from_config(config(losses + "distill: {teacher: " + teacher_dir.path().string() + "}}\n"));
  const auto student_dir = RunDir::at(dir_->path() / "student");
  const auto r = student.run(student_dir, student.runtime().context());
  EXPECT_EQ(r.scores.n_samples, 12);
  const auto h = nlohmann::json::parse(read_file(student_dir.file("folds/casme2_sub01.json")));
  EXPECT_TRUE(h["history"][0].contains("train_distill"));
  EXPECT_GT(h["history"][0]["train_distill"].get<double>(), 0.0);

  const auto leaky = Experiment::from_config(config(losses + "distill: {teacher: " + teacher_dir.file("fit_all.pt").string() + "}}\n"));
  EXPECT_CONTAINS(test::error_message<ConfigError>([&] { leaky.run(RunDir::at(dir_->path() / "student_leaky"), leaky.runtime().context()); }),
                  "was trained on subject");
  // With the distillation term weighted 0 the student trains exactly as without a teacher: the teacher's
  // pass draws no random numbers and a zero-weighted term adds nothing to the gradient.
  const auto plain = Experiment::from_config(config("train: {epochs: 2, losses: [{type: cross_entropy}]}\n"));
  const auto zero = Experiment::from_config(config("train: {epochs: 2, losses: [{type: cross_entropy}, {type: distill, weight: 0}], "
                                                   "distill: {teacher: " + teacher_dir.path().string() + "}}\n"));
  const auto plain_dir = RunDir::at(dir_->path() / "student_plain"), zero_dir = RunDir::at(dir_->path() / "student_alpha0");
  plain.run(plain_dir, plain.runtime().context());
  zero.run(zero_dir, zero.runtime().context());
  EXPECT_EQ(read_file(zero_dir.file("predictions.csv")), read_file(plain_dir.file("predictions.csv")));
  EXPECT_THROW(Experiment::from_config(config(losses + "}\n")), ConfigError);  // the loss without a teacher
  EXPECT_THROW(Experiment::from_config(config("train: {distill: {teacher: " + teacher_dir.path().string() + "}}\n")),
               ConfigError);  // a teacher without the loss
}

// FitNets hints: a student whose embedding is narrower than its teacher's regresses the teacher's embedding
// through a learned adapter, from the matching fold's teacher; the history logs the hint term.
TEST_F(ExperimentTest, HintsMatchTheTeachersEmbedding) {
  const auto base = test::source_dir() / "configs/_base_";
  const auto text = [&](const std::string& channels, const std::string& train) {
    return "base: [" + (base / "datasets/casme2_demo.yaml").string() + ", " + (base / "preprocess/ststnet_flow.yaml").string() +
           ", " + (base / "schedules/ststnet.yaml").string() + ", " + (base / "runtime/default.yaml").string() +
           "]\nname: hints\nprotocol: {type: loso}\ndataset: {root: " + (dir_->path() / "CASME2").string() +
           "}\nruntime: {threads: 2, progress: none, cache_dir: " + (dir_->path() / "cache").string() +
           "}\nmodel: {type: multi_task, trunk: {type: single_stream, backbone: {channels: " + channels +
           "}}, tasks: {embedding: {}}}\ntrain: {epochs: 2" + train + "}\n";
  };
  const auto load = [&](const std::string& yaml) {
    const auto file = dir_->path() / ("hints" + std::to_string(counter_++) + ".yaml");
    write_file_atomic(file, yaml);
    return Experiment::from_config(Config::load(file));
  };
  const auto teacher = load(text("[8, 16]", ""));
  const auto teacher_dir = RunDir::at(dir_->path() / "hint_teacher");
  teacher.run(teacher_dir, teacher.runtime().context());
  const auto student = load(text("[4, 8]", ", losses: [{type: cross_entropy}, {type: hint, weight: 0.5}], distill: {teacher: " +
                                               teacher_dir.path().string() + "}"));
  const auto student_dir = RunDir::at(dir_->path() / "hint_student");
  student.run(student_dir, student.runtime().context());
  const auto h = nlohmann::json::parse(read_file(student_dir.file("folds/casme2_sub01.json")));
  ASSERT_TRUE(h["history"][0].contains("train_hint"));
  EXPECT_GT(h["history"][0]["train_hint"].get<double>(), 0.0);
  // A hint without a teacher is refused before any data is read.
  EXPECT_THROW(load(text("[4, 8]", ", losses: [{type: cross_entropy}, {type: hint}]")), ConfigError);
}

// Pretraining (macro -> micro): pretraining data with subjects of its own is pretrained on once for all folds;
// data sharing subjects with the target is pretrained on per fold, without the fold's test subjects.
TEST_F(ExperimentTest, PretrainingIsSharedOnlyWhenNoSubjectIsShared) {
  const auto macro = dir_->path() / "MACRO";
  if (!fs::exists(macro)) test::write_synth_casme2(macro, 3, 3, 8, 10, 21);
  // The same tree as a manifest dataset named "macro": its subjects are macro/sub01..., no one in common.
  {
    std::istringstream in(read_file(macro / "CASME2-coding-20140508.csv"));
    std::string line, out = "subject,clip,onset,apex,offset,emotion,frames_dir,frame_pattern\n";
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> c;
      std::istringstream ls(line);
      for (std::string x; std::getline(ls, x, ',');) c.push_back(x);
      out += "sub" + c[0] + "," + c[1] + "," + c[3] + "," + c[4] + "," + c[5] + "," + c[8] + ",CASME2_RAW_selected/sub" + c[0] +
             "/" + c[1] + ",img{}.jpg\n";
    }
    write_file_atomic(macro / "manifest.csv", out);
  }
  const std::string labels = "labels: {classes: [negative, positive, surprise], map: {disgust: negative, repression: negative, "
                             "happiness: positive, surprise: surprise}}";
  const auto shared = Experiment::from_config(config(
      "pretrain:\n  dataset: {type: manifest, name: macro, fps: 200, manifest: " + (macro / "manifest.csv").string() + ", " + labels +
          "}\n  train: {epochs: 2}\n",
      {"train.epochs=1"}));
  const auto shared_dir = RunDir::at(dir_->path() / "pretrain_shared");
  shared.run(shared_dir, shared.runtime().context());
  EXPECT_TRUE(shared_dir.has("pretrain.pt"));
  EXPECT_TRUE(shared_dir.has("pretrain.json"));
  EXPECT_FALSE(shared_dir.has("pretrain/casme2_sub01.pt"));

  const auto per_fold = Experiment::from_config(config(
      "pretrain:\n  dataset: {type: casme2, root: " + macro.string() + ", missing_apex: fail, " + labels + "}\n", {"train.epochs=1"}));
  const auto per_fold_dir = RunDir::at(dir_->path() / "pretrain_per_fold");
  per_fold.run(per_fold_dir, per_fold.runtime().context());
  EXPECT_FALSE(per_fold_dir.has("pretrain.pt"));
  for (const char* f : {"casme2_sub01", "casme2_sub02", "casme2_sub03"}) {
    const auto file = per_fold_dir.file(std::string("pretrain/") + f + ".pt");
    ASSERT_TRUE(fs::exists(file)) << f;
    torch::serialize::InputArchive a;
    a.load_from(file.string());
    c10::IValue seen;
    ASSERT_TRUE(a.try_read("mer.seen_subjects", seen));
    const auto subjects = nlohmann::json::parse(seen.toStringRef()).get<std::vector<std::string>>();
    EXPECT_EQ(std::count(subjects.begin(), subjects.end(), std::string("casme2/") + (f + 7)), 0) << f;  // not its test subject
    EXPECT_EQ(subjects.size(), 2u) << f;
  }
  EXPECT_THROW(Experiment::from_config(config("pretrain:\n  dataset: {type: casme2, root: " + macro.string() +
                                              ", labels: {classes: [a, b], map: {happiness: a, surprise: b}}}\n")),
               ConfigError);  // another label space
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

// Each family runs end to end through the experiment: named groups of the preprocessing reach the model,
// the multi-task model gets its AU vocabulary from each fold's training samples, losses are summed.
TEST_F(ExperimentTest, EveryFamilyRunsEndToEnd) {
  struct Family {
    std::string name, preprocess, model, train;
  };
  const std::vector<Family> families = {
      {"multi_stream", "apex_flow_rois", "tscnn", ""},
      {"multi_task", "ststnet_flow", "geme", ", losses: [{type: cross_entropy}, {type: bce_au, weight: 0.5}]"},
      {"cascaded", "tim_clip", "elrcn", ""},
      {"patches", "ststnet_flow", "graph_tcn", ""}};
  const auto base = [](const std::string& p) { return (test::source_dir() / "configs/_base_" / p).string(); };
  for (const auto& f : families) {
    SCOPED_TRACE(f.name);
    const auto file = dir_->path() / ("family_" + f.name + ".yaml");
    write_file_atomic(file, "base: [" + base("datasets/casme2_demo.yaml") + ", " + base("preprocess/" + f.preprocess + ".yaml") +
                                ", " + base("models/" + f.model + ".yaml") + ", " + base("runtime/default.yaml") +
                                "]\nname: " + f.name + "\nprotocol: {type: loso}\ndataset: {root: " +
                                (dir_->path() / "CASME2").string() + "}\ntrain: {epochs: 2, batch_size: 4" + f.train +
                                "}\nruntime: {threads: 2, progress: none, cache_dir: " + (dir_->path() / "cache").string() +
                                "}\n");
    const auto e = Experiment::from_config(Config::load(file));
    const auto run_dir = RunDir::at(dir_->path() / ("run_" + f.name));
    const auto result = e.run(run_dir, e.runtime().context());
    EXPECT_EQ(result.scores.folds.size(), 3u);
    EXPECT_EQ(result.scores.n_samples, 12);
  }
}

TEST_F(ExperimentTest, AMultiStreamModelTakesGroupsOfDifferentSizes) {
  // The apex frame at 32 px beside flow and strain at 16 px: each stream gets its group at its own size.
  const auto base = [](const std::string& p) { return (test::source_dir() / "configs/_base_" / p).string(); };
  const auto file = dir_->path() / "mixed.yaml";
  write_file_atomic(file, "base: [" + base("datasets/casme2_demo.yaml") + ", " + base("runtime/default.yaml") +
                              "]\nname: mixed\nprotocol: {type: loso}\ndataset: {root: " + (dir_->path() / "CASME2").string() +
                              "}\npreprocess:\n  outputs: [apex, flow, strain]\n  stages:\n"
                              "    - {type: frames, frames: [onset, apex]}\n    - {type: detect_face, frame: onset}\n"
                              "    - {type: landmarks, frame: onset}\n    - {type: align, frames: [onset, apex], size: 128}\n"
                              "    - {type: flow, algorithm: tvl1, from: onset, to: apex}\n    - {type: strain}\n"
                              "    - {type: to_float, keys: [apex], scale: standardize}\n"
                              "    - {type: resize, keys: [apex], size: 32}\n    - {type: resize, keys: [flow, strain], size: 16}\n"
                              "model: {type: multi_stream, streams: [{input: apex}, {input: flow}, {input: strain}]}\n"
                              "train: {epochs: 2, batch_size: 4}\nruntime: {threads: 2, progress: none, cache_dir: " +
                              (dir_->path() / "cache").string() + "}\n");
  const auto e = Experiment::from_config(Config::load(file));
  const auto run_dir = RunDir::at(dir_->path() / "run_mixed");
  const auto result = e.run(run_dir, e.runtime().context());
  EXPECT_EQ(result.scores.n_samples, 12);
  // A single-tensor model cannot stack them: a config error naming the sizes, before training.
  const auto stacked = Experiment::from_config(Config::load(file, {"model={type: ststnet}"}));
  try {
    stacked.run(RunDir::at(dir_->path() / "run_mixed_bad"), stacked.runtime().context());
    FAIL();
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("multi_stream"), std::string::npos) << err.what();
  }
}

TEST_F(ExperimentTest, AModelInputThePreprocessingLacksFailsBeforeAnyFrameIsRead) {
  // The dataset root does not exist: the error must come from the model check, before the dataset is read.
  const auto c = config("model: {type: ststnet, inputs: [apex, flow]}\n", {"dataset.root=/nonexistent"});
  try {
    Experiment::from_config(c);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'apex'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.inputs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("preprocess.outputs at"), std::string::npos) << msg;
  }
}

// Every committed experiment config: its model reads groups its preprocessing produces, and its model and
// training options are valid — checked without data, as Experiment::from_config does before the dataset.
TEST(CommittedConfigs, ModelsReadWhatTheirPreprocessingProduces) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(test::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto config = Config::load(entry.path());
    const auto root = config.root();
    const auto pipeline = Pipeline::from_config(root.child("preprocess"), all_stages());
    read_variant_specs(root.child("preprocess"));
    ModelSpec spec;
    spec.check_only = true;
    spec.inputs.clear();
    for (const auto& out : pipeline.options().outputs) spec.inputs.push_back(InputSpec{out, {}, false});
    EXPECT_NO_THROW(builtin_models().build(root.child("model"), spec));
    EXPECT_NO_THROW(TrainerOptions::from_config(root.child("train")));
    // model.init as Experiment::from_config reads it; its checkpoint may live under ${MER_MODELS}
    // (megc2019_faceapi_finetune.yaml), which only has to be set, not to exist, for the check.
    setenv("MER_MODELS", "/nonexistent-mer-models", /*overwrite=*/0);
    EXPECT_NO_THROW(InitOptions::from_config(root.child("model")));
    if (root.has("pretrain") && root.child("pretrain").has("train")) {
      EXPECT_NO_THROW(TrainerOptions::from_config(root.child("pretrain").child("train")));
    }
    // Every key of those sections was read: a misspelt or misplaced option fails here, not in a user's run.
    EXPECT_NO_THROW(config.check_all_used({"dataset", "protocol", "runtime", "name", "pretrain"}));
    ++n;
  }
  EXPECT_GE(n, 15u);
}

}  // namespace
}  // namespace mer
