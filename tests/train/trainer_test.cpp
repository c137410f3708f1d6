#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/core/run_context.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/model.hpp>
#include <mer/models/ststnet.hpp>
#include <mer/train/trainer.hpp>

#include <gtest/gtest.h>
#include <torch/nn.h>

#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "support/test_paths.hpp"

#include "support/model_checks.hpp"

namespace mer {
namespace {

// A learnable 3-class problem shaped like STSTNet's input: the class is where a Gaussian blob sits in the
// strain channel (top-left, top-right, bottom-centre, jittered by up to 2 px), and every channel carries
// N(0, 0.5) noise. Samples are appended so train, val and test can come from one FeatureSet, as in a run.
void add_blobs(FeatureSet& f, int per_class, std::uint64_t seed, const std::string& subject) {
  f.channels = 3;
  f.height = 28;
  f.width = 28;
  f.channel_names = {"u", "v", "strain"};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  std::uniform_int_distribution<int> jitter(-2, 2);
  const int centres[3][2] = {{8, 8}, {8, 20}, {20, 14}};
  for (int k = 0; k < 3; ++k) {
    for (int n = 0; n < per_class; ++n) {
      std::vector<float> x(f.sample_size());
      for (auto& v : x) v = noise(rng);
      const int cy = centres[k][0] + jitter(rng), cx = centres[k][1] + jitter(rng);
      for (int y = 0; y < 28; ++y) {
        for (int xx = 0; xx < 28; ++xx) {
          const float d2 = static_cast<float>((y - cy) * (y - cy) + (xx - cx) * (xx - cx));
          x[2 * 28 * 28 + y * 28 + xx] += 1.5f * std::exp(-d2 / (2 * 9.0f));
        }
      }
      SampleMeta s;
      s.dataset = "synth";
      s.subject = subject;
      s.clip = "c" + std::to_string(f.size());
      s.id = s.dataset + "/" + s.subject + "/" + s.clip;
      s.label = k;
      f.samples.push_back(s);
      f.inputs.push_back(std::move(x));
    }
  }
}

std::vector<std::size_t> range(std::size_t begin, std::size_t end) {
  std::vector<std::size_t> v;
  for (std::size_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// One intra-op thread: the suite runs on shared 2-core machines, where LibTorch's OpenMP workers
// waiting for busy cores turned a 0.6 s fit into 12 s.
RunContext context(int threads = 1) {
  RunContext ctx;
  ctx.threads = threads;
  return ctx;
}

double accuracy(const std::vector<std::vector<float>>& probs, const FeatureSet& f, const std::vector<std::size_t>& idx) {
  int correct = 0;
  for (std::size_t r = 0; r < idx.size(); ++r) {
    const auto& p = probs[r];
    const auto best = std::max_element(p.begin(), p.end()) - p.begin();
    correct += best == f.samples[idx[r]].label;
  }
  return static_cast<double>(correct) / static_cast<double>(idx.size());
}

using test::error_message;

TrainerOptions quick(int epochs) {
  TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = 16;
  o.lr = 0.01;
  return o;
}

// Seeds before constructing the model (its initial weights) and fits with the same seed, as the
// Experiment does per fold.
std::vector<std::vector<float>> seeded_run(const FeatureSet& f, const std::vector<std::size_t>& train,
                                           const std::vector<std::size_t>& test, std::uint64_t seed, int epochs,
                                           int threads = 1) {
  torch::manual_seed(seed);
  STSTNet net(STSTNetOptions(3, 3));
  const Trainer trainer(quick(epochs));
  trainer.fit(*net, f, train, {}, seed, context(threads));
  return trainer.predict(*net, f, test, context(threads));
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add_blobs(features, 20, 11, "train");  // 0..59
    add_blobs(features, 5, 12, "val");     // 60..74
    add_blobs(features, 10, 13, "test");   // 75..104
  }
  FeatureSet features;
  const std::vector<std::size_t> train = range(0, 60), val = range(60, 75), test = range(75, 105);
};

TEST_F(TrainerTest, LearnsASeparableProblem) {
  const auto start = std::chrono::steady_clock::now();
  torch::manual_seed(5);
  STSTNet net(STSTNetOptions(3, 3));
  const Trainer trainer(quick(30));
  const auto logs = trainer.fit(*net, features, train, val, 5, context());
  const auto probs = trainer.predict(*net, features, test, context());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ASSERT_EQ(logs.size(), 30u);
  const auto& last = logs.back();
  const double test_accuracy = accuracy(probs, features, test);
  const double train_accuracy = accuracy(trainer.predict(*net, features, train, context()), features, train);
  RecordProperty("last_epoch_train_accuracy", std::to_string(last.train_accuracy));
  RecordProperty("train_accuracy_eval_mode", std::to_string(train_accuracy));
  RecordProperty("val_accuracy", std::to_string(*last.val_accuracy));
  RecordProperty("test_accuracy", std::to_string(test_accuracy));
  RecordProperty("seconds", std::to_string(seconds));
  EXPECT_GT(last.train_accuracy, 0.9);
  EXPECT_GT(train_accuracy, 0.9);
  EXPECT_LT(last.train_loss, logs.front().train_loss * 0.5);
  EXPECT_GT(*last.val_accuracy, 0.8);
  EXPECT_GT(test_accuracy, 0.8);  // chance is 1/3

  ASSERT_EQ(probs.size(), test.size());
  for (const auto& p : probs) {
    ASSERT_EQ(p.size(), 3u);
    EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-5);
  }
  EXPECT_FALSE(net->is_training());
}

// FLOPs counted by hand for STSTNet on 3x28x28: three 3x3 convolutions with padding 2 give 16 maps of 30x30,
// 2 x 30 x 30 x 16 x 27 = 777,600; the head maps 16x5x5 = 400 features to 3 classes, 2 x 400 x 3 = 2,400.
// ReLU, batch norm, pooling and dropout are not counted.
TEST_F(TrainerTest, CountsForwardFlopsOfConvolutionsAndMatrixProducts) {
  STSTNet net(STSTNetOptions(3, 3));
  EXPECT_DOUBLE_EQ(Trainer(quick(1)).forward_flops(*net, features, 0, context()), 777600.0 + 2400.0);
  EXPECT_GT(measure_gemm_gflops(1), 0.1);  // a number, whatever the machine
}

TEST_F(TrainerTest, SameSeedGivesIdenticalProbabilities) {
  const auto a = seeded_run(features, train, test, 21, 3);
  const auto b = seeded_run(features, train, test, 21, 3);
  EXPECT_EQ(a, b);  // bit for bit
  const auto c = seeded_run(features, train, test, 22, 3);
  EXPECT_NE(a, c);
  // The promise holds per thread count, so check a parallel run too; one batch for one epoch keeps it
  // cheap on a busy machine.
  const auto few = range(0, 16), some = range(75, 85);
  EXPECT_EQ(seeded_run(features, few, some, 21, 1, 2), seeded_run(features, few, some, 21, 1, 2));
}

TEST_F(TrainerTest, FitSeedAloneChangesTheRun) {
  // Same initial weights, different fit seed: the shuffles and dropout masks must differ.
  const Trainer trainer(quick(2));
  auto run = [&](std::uint64_t fit_seed) {
    torch::manual_seed(1);
    STSTNet net(STSTNetOptions(3, 3));
    trainer.fit(*net, features, train, {}, fit_seed, context());
    return trainer.predict(*net, features, test, context());
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST_F(TrainerTest, ValidationLogsExactlyWhenValidationIsGiven) {
  const Trainer trainer(quick(3));
  torch::manual_seed(2);
  STSTNet net(STSTNetOptions(3, 3));
  std::vector<int> seen;
  const auto with_val = trainer.fit(*net, features, train, val, 2, context(),
                                    [&](const EpochLog& log) { seen.push_back(log.epoch); });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(with_val.size(), 3u);
  for (const auto& log : with_val) {
    ASSERT_TRUE(log.val_loss && log.val_accuracy);
    EXPECT_TRUE(std::isfinite(*log.val_loss));
    EXPECT_GE(*log.val_accuracy, 0.0);
    EXPECT_LE(*log.val_accuracy, 1.0);
  }
  const auto without = trainer.fit(*net, features, train, {}, 2, context());
  ASSERT_EQ(without.size(), 3u);
  for (const auto& log : without) {
    EXPECT_FALSE(log.val_loss);
    EXPECT_FALSE(log.val_accuracy);
    EXPECT_TRUE(std::isfinite(log.train_loss));
  }
}

TEST_F(TrainerTest, InvalidLabelNamesTheSample) {
  features.samples[7].label = -1;
  const Trainer trainer(quick(1));
  STSTNet net(STSTNetOptions(3, 3));
  const auto msg = error_message<DataError>([&] { trainer.fit(*net, features, train, {}, 1, context()); });
  EXPECT_CONTAINS(msg, "'synth/train/c7'");
  EXPECT_CONTAINS(msg, "label -1");
  EXPECT_CONTAINS(msg, "[0, 3)");

  features.samples[7].label = 0;
  features.samples[62].label = 3;  // one past the model's classes, in validation
  EXPECT_CONTAINS(error_message<DataError>([&] { trainer.fit(*net, features, train, val, 1, context()); }),
                  "'synth/val/c62' has label 3");
}

TEST_F(TrainerTest, RejectsBadIndicesAndShapes) {
  const Trainer trainer(quick(1));
  STSTNet net(STSTNetOptions(3, 3));
  EXPECT_THROW(trainer.fit(*net, features, {}, {}, 1, context()), ValueError);
  EXPECT_THROW(trainer.fit(*net, features, {0, 500}, {}, 1, context()), ValueError);
  EXPECT_CONTAINS(error_message<ValueError>([&] { trainer.fit(*net, features, {0, 1, 2}, {2, 70}, 1, context()); }),
                  "'synth/train/c2' is in both");
  features.inputs[4].pop_back();
  EXPECT_CONTAINS(error_message<DataError>([&] { trainer.predict(*net, features, {4}, context()); }),
                  "'synth/train/c4' has 2351 input values, expected 2352");

  STSTNet wide(STSTNetOptions(3, 3).input_size(32));  // the model and the features disagree
  features.inputs[4].push_back(0.0f);
  EXPECT_CONTAINS(error_message<ValueError>([&] { trainer.fit(*wide, features, train, {}, 1, context()); }),
                  "expects input [N, 3, 32, 32], got [1, 3, 28, 28]");

  TrainerOptions zero_batch = quick(1);
  zero_batch.batch_size = 0;  // options filled in code skip from_config's checks
  EXPECT_THROW(Trainer(zero_batch).fit(*net, features, train, {}, 1, context()), ValueError);
  EXPECT_THROW(Trainer(zero_batch).predict(*net, features, test, context()), ValueError);

  RunContext bad = context();
  bad.device = "tpu";
  EXPECT_THROW(trainer.fit(*net, features, train, {}, 1, bad), ValueError);
  bad = context();
  bad.threads = 0;
  EXPECT_THROW(trainer.predict(*net, features, test, bad), ValueError);
}

// Logits are a parameter vector, whatever the input: the loss of each class is known in closed form.
class FixedLogits : public ImageClassifier {
 public:
  explicit FixedLogits(std::vector<float> logits) { bias = register_parameter("bias", torch::tensor(logits)); }
  torch::Tensor forward(torch::Tensor x) override { return bias.unsqueeze(0).expand({x.size(0), bias.size(0)}); }
  torch::Tensor bias;
};

TEST_F(TrainerTest, ClassWeightsAreInverseFrequencyAndIgnoreUnseenClasses) {
  // Training: one sample of class 0, three of class 1, none of class 2. Weights 1/1 and 1/3, scaled to
  // mean 1 over the classes present → 1.5, 0.5; class 2 → 0.
  const std::vector<std::size_t> tr = {0, 20, 21, 22}, va = {1, 23, 40};
  const std::vector<float> b = {0.0f, 1.0f, 2.0f};
  const double lse = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0));
  const double l0 = lse - 0.0, l1 = lse - 1.0, l2 = lse - 2.0;

  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = 2;
  o.optimizer = "sgd";
  o.momentum = 0;
  o.lr = 1e-9;  // the logits stay put, so the epoch's losses are the closed-form ones

  FixedLogits plain(b);
  const auto unweighted = Trainer(o).fit(plain, features, tr, va, 1, context()).front();
  EXPECT_NEAR(unweighted.train_loss, (l0 + 3 * l1) / 4, 1e-5);
  EXPECT_NEAR(*unweighted.val_loss, (l0 + l1 + l2) / 3, 1e-5);
  EXPECT_NEAR(*unweighted.val_accuracy, 1.0 / 3, 1e-9);  // everything is predicted as class 2

  o.class_weighted_loss = true;
  FixedLogits weighted_model(b);
  const auto weighted = Trainer(o).fit(weighted_model, features, tr, va, 1, context()).front();
  EXPECT_NEAR(weighted.train_loss, (1.5 * l0 + 3 * 0.5 * l1) / (1.5 + 3 * 0.5), 1e-5);
  EXPECT_NEAR(*weighted.val_loss, (1.5 * l0 + 0.5 * l1) / 2.0, 1e-5);
  EXPECT_NEAR(*weighted.val_accuracy, 1.0 / 3, 1e-9);

  // Validation made only of a class never trained on: no weighted loss to report, accuracy still is.
  FixedLogits unseen_model(b);
  const auto unseen = Trainer(o).fit(unseen_model, features, tr, {40, 41}, 1, context()).front();
  EXPECT_FALSE(unseen.val_loss);
  ASSERT_TRUE(unseen.val_accuracy);
  EXPECT_DOUBLE_EQ(*unseen.val_accuracy, 1.0);
}

// Class 0's logit is the sample's mean input, the others 0; the one parameter gets no gradient, so SGD
// leaves the model exactly as it is and every figure the Trainer reports is a function of the inputs it fed.
class MeanLogit : public ImageClassifier {
 public:
  MeanLogit() { unused = register_parameter("unused", torch::zeros({1})); }
  torch::Tensor forward(torch::Tensor x) override {
    const auto m = x.mean({1, 2, 3});
    return torch::stack({m, torch::zeros_like(m), torch::zeros_like(m)}, 1) + unused * 0;
  }
  torch::Tensor unused;
};

TEST_F(TrainerTest, AugmentationChangesTrainingBatchesOnly) {
  features.groups = {{"flow", 0, 2, true}, {"strain", 2, 1, false}};
  const auto inputs_before = features.inputs;
  TrainerOptions plain = quick(2);
  plain.optimizer = "sgd";
  plain.momentum = 0;
  TrainerOptions augmented = plain;
  augmented.augment.hflip = 0.5;
  augmented.augment.rotate_deg = 15;
  augmented.augment.noise_std = 1.0;

  MeanLogit plain_model, augmented_model;
  const auto p = Trainer(plain).fit(plain_model, features, train, val, 3, context());
  const auto a = Trainer(augmented).fit(augmented_model, features, train, val, 3, context());
  ASSERT_EQ(p.size(), 2u);
  ASSERT_EQ(a.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(*p[e].val_loss, *a[e].val_loss);  // validation batches are the features as they are
    EXPECT_EQ(*p[e].val_accuracy, *a[e].val_accuracy);
    EXPECT_NE(p[e].train_loss, a[e].train_loss);  // training batches are not
  }
  EXPECT_NE(a[0].train_loss, a[1].train_loss);  // a fresh draw every epoch
  EXPECT_EQ(Trainer(plain).predict(plain_model, features, test, context()),
            Trainer(augmented).predict(augmented_model, features, test, context()));
  EXPECT_EQ(features.inputs, inputs_before);  // copies only: what the cache holds is never changed

  // Reproducible from the fit seed alone.
  MeanLogit again, other;
  EXPECT_EQ(Trainer(augmented).fit(again, features, train, val, 3, context())[1].train_loss, a[1].train_loss);
  EXPECT_NE(Trainer(augmented).fit(other, features, train, val, 4, context())[1].train_loss, a[1].train_loss);

  // Without groups a flow cannot be told from an image: refused before training.
  features.groups.clear();
  MeanLogit refused;
  EXPECT_CONTAINS(error_message<ValueError>([&] { Trainer(augmented).fit(refused, features, train, {}, 3, context()); }),
                  "groups");
}

TEST(TrainerOptions, ReadsEveryKeyFromYaml) {
  const auto config = Config::from_string(
      "train:\n  epochs: 5\n  batch_size: 8\n  optimizer: sgd\n  lr: 0.1\n  momentum: 0.5\n"
      "  weight_decay: 0.001\n  class_weighted_loss: true\n  augment: {hflip: 0.5, crop: [0.9, 1]}\n");
  const auto o = TrainerOptions::from_config(config.root().child("train"));
  EXPECT_EQ(o.epochs, 5);
  EXPECT_EQ(o.batch_size, 8);
  EXPECT_EQ(o.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(o.lr, 0.1);
  EXPECT_DOUBLE_EQ(o.momentum, 0.5);
  EXPECT_DOUBLE_EQ(o.weight_decay, 0.001);
  EXPECT_TRUE(o.class_weighted_loss);
  EXPECT_DOUBLE_EQ(o.augment.hflip, 0.5);
  EXPECT_EQ(o.augment.crop, (std::vector<double>{0.9, 1.0}));
  EXPECT_NO_THROW(config.check_all_used());
}

TEST(TrainerOptions, DefaultsAreRecordedInTheResolvedConfig) {
  const auto config = Config::from_string("train: {}");
  const auto o = TrainerOptions::from_config(config.root().child("train"));
  EXPECT_EQ(o.epochs, TrainerOptions{}.epochs);
  EXPECT_EQ(o.optimizer, "adam");
  EXPECT_CONTAINS(config.dump(), "optimizer: adam");
  EXPECT_CONTAINS(config.dump(), "class_weighted_loss: false");
  EXPECT_FALSE(o.augment.enabled());
  EXPECT_CONTAINS(config.dump(), "augment:");
}

TEST(TrainerOptions, AugmentScheduleExampleReads) {
  const auto config = Config::load(test::source_dir() / "configs/_base_/schedules/ststnet_augment.yaml");
  const auto o = TrainerOptions::from_config(config.root().child("train"));
  EXPECT_TRUE(o.augment.enabled());
  EXPECT_DOUBLE_EQ(o.augment.hflip, 0.5);
  EXPECT_EQ(o.epochs, 40);  // the rest comes from ststnet.yaml
  EXPECT_NO_THROW(config.check_all_used());
}

TEST(TrainerOptions, UnknownOptimizerNamesLineAndKnownNames) {
  const auto config = Config::from_string("train:\n  epochs: 3\n  optimizer: adamm\n", "sched.yaml");
  const auto msg = error_message<ConfigError>([&] { TrainerOptions::from_config(config.root().child("train")); });
  EXPECT_CONTAINS(msg, "sched.yaml:3");
  EXPECT_CONTAINS(msg, "'adamm'");
  EXPECT_CONTAINS(msg, "did you mean 'adam'?");
  EXPECT_CONTAINS(msg, "known optimizers: adam adamw sgd rmsprop");
}

TEST(TrainerOptions, OutOfRangeValuesNameTheirKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"epochs: 0", "train.epochs"},       {"batch_size: -4", "train.batch_size"}, {"lr: 0", "train.lr"},
      {"momentum: 1.0", "train.momentum"}, {"weight_decay: -1", "train.weight_decay"}};
  for (const auto& [yaml, key] : cases) {
    const auto config = Config::from_string("train:\n  " + yaml + "\n", "sched.yaml");
    const auto msg = error_message<ConfigError>([&] { TrainerOptions::from_config(config.root().child("train")); });
    EXPECT_CONTAINS(msg, "sched.yaml:2");
    EXPECT_CONTAINS(msg, "'" + key + "'");
  }
}

TEST(TrainerSchedule, LearningRatesFollowTheirFormulas) {
  TrainerOptions o;
  o.lr = 0.1;
  o.epochs = 10;
  o.scheduler.type = "step";
  o.scheduler.step_size = 2;
  o.scheduler.gamma = 0.5;
  EXPECT_DOUBLE_EQ(o.lr_at(1, 0, 4), 0.1);
  EXPECT_DOUBLE_EQ(o.lr_at(2, 3, 4), 0.1);
  EXPECT_DOUBLE_EQ(o.lr_at(3, 0, 4), 0.05);
  EXPECT_DOUBLE_EQ(o.lr_at(5, 0, 4), 0.025);
  o.scheduler.type = "multistep";
  o.scheduler.milestones = {3, 7};
  EXPECT_DOUBLE_EQ(o.lr_at(3, 0, 4), 0.1);   // two epochs done
  EXPECT_DOUBLE_EQ(o.lr_at(4, 0, 4), 0.05);  // three done
  EXPECT_DOUBLE_EQ(o.lr_at(8, 0, 4), 0.025);
  o.scheduler.type = "exponential";
  o.scheduler.gamma = 0.9;
  EXPECT_NEAR(o.lr_at(4, 0, 4), 0.1 * 0.729, 1e-12);
  o.scheduler.type = "cosine";
  o.scheduler.min_lr = 0.0;
  EXPECT_NEAR(o.lr_at(1, 0, 4), 0.1, 1e-12);
  EXPECT_NEAR(o.lr_at(6, 0, 4), 0.05, 1e-12);  // half way: (1 + cos(pi/2)) / 2
  o.scheduler.warmup_epochs = 2;               // linear warm-up, then cosine over the remaining 8
  EXPECT_NEAR(o.lr_at(1, 0, 4), 0.1 * 0.25 / 2, 1e-12);
  EXPECT_NEAR(o.lr_at(2, 3, 4), 0.1, 1e-12);
  EXPECT_NEAR(o.lr_at(3, 0, 4), 0.1, 1e-12);
  o.scheduler = {};
  o.scheduler.type = "onecycle";
  EXPECT_NEAR(o.lr_at(1, 0, 4), 0.1 / 25, 1e-12);  // starts at lr / div_factor
  EXPECT_NEAR(o.lr_at(4, 0, 4), 0.1, 1e-12);       // peaks at pct_start = 0.3 of 10 epochs
  EXPECT_LT(o.lr_at(10, 3, 4), 0.1 / 25);           // ends far below the start
}

TEST(TrainerSchedule, ConfigErrorsNameTheKey) {
  const auto bad = [](const std::string& yaml) {
    try {
      TrainerOptions::from_config(Config::from_string(yaml, "t.yaml").root());
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_CONTAINS(bad("{scheduler: {type: cosin}}"), "cosine");
  EXPECT_CONTAINS(bad("{scheduler: {type: step, gamma: 2}}"), "gamma");
  EXPECT_CONTAINS(bad("{scheduler: {type: multistep, milestones: [5, 3]}}"), "milestones");
  EXPECT_CONTAINS(bad("{optimizer: adam, nesterov: true}"), "nesterov");
  EXPECT_CONTAINS(bad("{select: best_val_acc}"), "best_val_uf1");
  EXPECT_CONTAINS(bad("{early_stopping: {patience: -1}}"), "patience");
}

TEST_F(TrainerTest, SelectsTheBestValidationEpochAndStopsEarly) {
  TrainerOptions o = quick(12);
  o.lr = 0.02;  // large enough that validation loss wanders
  o.select = "best_val_loss";
  const auto net = STSTNet(STSTNetOptions(3, 3));
  torch::manual_seed(4);
  auto model = STSTNet(STSTNetOptions(3, 3));
  const auto logs = Trainer(o).fit(*model, features, train, val, 4, context());
  ASSERT_EQ(logs.size(), 12u);
  std::size_t best = 0, selected = 0, n_selected = 0;
  for (std::size_t e = 0; e < logs.size(); ++e) {
    if (*logs[e].val_loss < *logs[best].val_loss) best = e;
    if (logs[e].selected) selected = e, ++n_selected;
    EXPECT_TRUE(logs[e].val_uf1.has_value());
  }
  EXPECT_EQ(n_selected, 1u);
  EXPECT_EQ(selected, best);
  // The model returned is that epoch's: predicting the validation set again gives its accuracy.
  EXPECT_NEAR(accuracy(Trainer(o).predict(*model, features, val, context()), features, val), *logs[best].val_accuracy, 1e-9);

  // Early stopping with patience 2 stops two epochs after the last improvement. The same seed gives the
  // same trajectory, so the full run says where that is.
  TrainerOptions full = quick(25);
  full.lr = 0.05;
  torch::manual_seed(4);
  auto reference = STSTNet(STSTNetOptions(3, 3));
  const auto all = Trainer(full).fit(*reference, features, train, val, 4, context());
  std::size_t expected = all.size(), since = 0;
  double best_loss = *all[0].val_loss;
  for (std::size_t e = 1; e < all.size(); ++e) {
    if (*all[e].val_loss < best_loss) {
      best_loss = *all[e].val_loss;
      since = 0;
    } else if (++since >= 2) {
      expected = e + 1;
      break;
    }
  }
  TrainerOptions es = full;
  es.patience = 2;
  torch::manual_seed(4);
  auto stopped = STSTNet(STSTNetOptions(3, 3));
  const auto short_logs = Trainer(es).fit(*stopped, features, train, val, 4, context());
  EXPECT_EQ(short_logs.size(), expected);
  EXPECT_LT(expected, all.size()) << "the validation loss never stalled for 2 epochs; the test shows nothing";
  for (std::size_t e = 0; e < short_logs.size(); ++e) EXPECT_EQ(*short_logs[e].val_loss, *all[e].val_loss);
  EXPECT_TRUE(short_logs.back().selected);  // select: last keeps the last epoch run

  // Selection needs validation subjects.
  EXPECT_THROW(Trainer(o).fit(*model, features, train, {}, 4, context()), ValueError);
}

TEST_F(TrainerTest, ParameterGroupsClippingAndOtherOptimizersTrain) {
  for (const std::string opt : {"adamw", "rmsprop", "sgd"}) {
    SCOPED_TRACE(opt);
    TrainerOptions o = quick(3);
    o.optimizer = opt;
    o.nesterov = opt == "sgd";
    o.clip_grad_norm = 1.0;
    o.scheduler.type = "cosine";
    auto model = STSTNet(STSTNetOptions(3, 3));
    const auto logs = Trainer(o).fit(*model, features, train, val, 1, context());
    EXPECT_TRUE(std::isfinite(logs.back().train_loss));
    EXPECT_GT(logs.front().lr, logs.back().lr);
  }
  // A group with lr 0 leaves its parameters exactly as they were; the others move.
  TrainerOptions frozen = quick(2);
  frozen.param_groups = {{"stream*", 0.0}};
  auto model = STSTNet(STSTNetOptions(3, 3));
  const auto before_stream = model->named_parameters()["stream3.weight"].clone();
  const auto before_fc = model->named_parameters()["fc.weight"].clone();
  Trainer(frozen).fit(*model, features, train, {}, 1, context());
  EXPECT_TRUE(torch::equal(model->named_parameters()["stream3.weight"], before_stream));
  EXPECT_FALSE(torch::equal(model->named_parameters()["fc.weight"], before_fc));
  frozen.param_groups = {{"backbone.*", 0.0}};
  EXPECT_THROW(Trainer(frozen).fit(*model, features, train, {}, 1, context()), ValueError);
}

// Transductive domain adaptation: unlabelled samples reach the domain losses only. Their labels are never
// read (the fit is bit-identical whatever they say), yet they change the fit (they are used), and without a
// loss that reads them they are refused.
TEST_F(TrainerTest, UnlabelledSamplesReachOnlyTheDomainLosses) {
  FeatureSet f = features;
  for (const std::size_t i : test) f.samples[i].dataset = "target";  // the test side is another database
  const auto model_config = Config::from_string(
      "{type: multi_task, trunk: {type: single_stream, backbone: {channels: [4, 8]}}, tasks: {embedding: {}}}", "model.yaml");
  const auto losses = Config::from_string("l: [{type: cross_entropy}, {type: coral}]", "losses.yaml");
  TrainerOptions o = quick(2);
  o.losses = losses.root().items("l");
  const auto fit = [&](const FeatureSet& data, const std::vector<std::size_t>& unlabelled, const TrainerOptions& opts) {
    torch::manual_seed(3);
    const auto model = std::shared_ptr<Classifier>(builtin_models().build(model_config.root(), ModelSpec::image(3, 28, 28, 3)));
    Trainer(opts).fit(*model, data, train, {}, 3, context(), {}, nullptr, unlabelled);
    return Trainer(opts).predict(*model, data, test, context());
  };
  const auto with = fit(f, test, o);
  FeatureSet relabelled = f;
  for (const std::size_t i : test) relabelled.samples[i].label = (relabelled.samples[i].label + 1) % 3;
  EXPECT_EQ(fit(relabelled, test, o), with);  // bit for bit
  EXPECT_NE(fit(f, {}, o), with);
  EXPECT_CONTAINS(error_message<ValueError>([&] { fit(f, test, quick(1)); }), "no loss reads them");
  EXPECT_CONTAINS(error_message<ValueError>([&] { fit(f, {train.front()}, o); }), "both the training and the unlabelled");
}

}  // namespace
}  // namespace mer
