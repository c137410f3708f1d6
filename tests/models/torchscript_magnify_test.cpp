#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/stages.hpp>
#include <mer/train/trainer.hpp>
#include <mer/preprocess/pipeline.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/script.h>

#include <algorithm>
#include <random>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "support/model_checks.hpp"

namespace mer {
namespace {

using test::error_message;

// A tiny TorchScript "magnifier" written from source in the test (no Python needed): the first-order
// Eulerian model in intensity, frame + alpha (frame - reference). Saved as a real .pt file so that the
// stage goes through torch::jit::load exactly as with a trained network.
std::filesystem::path save_model(const std::filesystem::path& dir, const std::string& name, const std::string& body) {
  torch::jit::Module m("Magnifier");
  m.define("def forward(self, reference, frame, alpha):\n    " + body + "\n");
  const auto path = dir / name;
  m.save(path.string());
  return path;
}

std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  auto stage = all_stages().build(config.root());
  config.check_all_used();
  return stage;
}

std::string stage_yaml(const std::filesystem::path& model, const std::string& extra = "") {
  return "{type: magnify_model, model: \"" + model.string() + "\"" + extra + "}";
}

// Three 8-bit gray frames of a smooth gradient that brightens over time.
std::vector<cv::Mat> gray_clip() {
  std::vector<cv::Mat> clip;
  for (int t = 0; t < 3; ++t) {
    cv::Mat f(16, 20, CV_8UC1);
    for (int y = 0; y < f.rows; ++y)
      for (int x = 0; x < f.cols; ++x) f.at<uchar>(y, x) = static_cast<uchar>(60 + 4 * x + 3 * y + 5 * t);
    clip.push_back(f);
  }
  return clip;
}

// What the linear model gives for one 8-bit pixel under the [-1, 1] convention, clipped and rounded.
int expected_pixel(int frame, int reference, double alpha) {
  const double f = frame / 127.5 - 1, r = reference / 127.5 - 1;
  const double y = std::clamp(f + alpha * (f - r), -1.0, 1.0);
  return static_cast<int>(std::lround((y + 1) * 127.5));
}

TEST(MagnifyModel, RunsATorchScriptModelOnEveryFrameAgainstTheReference) {
  test::TempDir dir;
  const auto model = save_model(dir.path(), "linear.pt", "return frame + alpha * (frame - reference)");
  for (const std::string reference : {"first", "previous"}) {
    const auto stage = build(stage_yaml(model, ", alpha: 3, reference: " + reference));
    EXPECT_EQ(stage->type(), "magnify_model");
    EXPECT_EQ(stage->reads(), (std::vector<std::string>{"clip"}));
    Item item;
    const auto clip = gray_clip();
    item.set_sequence("clip", clip);
    stage->apply(SampleMeta{}, item);
    const auto& out = item.seq("clip");
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].type(), CV_8UC1);
    EXPECT_EQ(cv::norm(out[0], clip[0], cv::NORM_INF), 0.0);  // frame 0 passes through
    int worst = 0;
    for (int t = 1; t < 3; ++t) {
      const cv::Mat& ref = reference == "first" ? clip[0] : clip[static_cast<std::size_t>(t - 1)];
      for (int y = 0; y < 16; ++y) {
        for (int x = 0; x < 20; ++x) {
          const int want = expected_pixel(clip[static_cast<std::size_t>(t)].at<uchar>(y, x), ref.at<uchar>(y, x), 3);
          worst = std::max(worst, std::abs(out[static_cast<std::size_t>(t)].at<uchar>(y, x) - want));
        }
      }
    }
    // Frame t = frame + 3 (frame - reference): 5 grey levels brighter per frame adds 15 more (first: 30 at t=2).
    std::printf("[ measured ] magnify_model (%s): worst difference to the formula %d grey level(s)\n",
                reference.c_str(), worst);
    EXPECT_LE(worst, 1) << reference;
  }
}

TEST(MagnifyModel, ColourFramesAreRgbForTheModelAndBgrAgainAfterIt) {
  test::TempDir dir;
  // Pure red in the model's RGB: must come back as OpenCV's BGR (0, 0, 255). Returning a tuple, as Oh et
  // al.'s network does (output plus its representations), is accepted too.
  const auto model = save_model(dir.path(), "red.pt",
                                "return (frame * 0.0 + torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1), frame)");
  const auto stage = build(stage_yaml(model, ", output: magnified"));
  Item item;
  item.set_sequence("clip", {cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.2, 0.4, 0.6)),
                             cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.3, 0.5, 0.7))});
  stage->apply(SampleMeta{}, item);
  const auto& out = item.seq("magnified");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type(), CV_32FC3);
  const auto px = out[1].at<cv::Vec3f>(3, 3);
  EXPECT_NEAR(px[0], 0.0, 1e-6);
  EXPECT_NEAR(px[1], 0.0, 1e-6);
  EXPECT_NEAR(px[2], 1.0, 1e-6);
  EXPECT_EQ(item.seq("clip").size(), 2u);  // the input stays
}

TEST(MagnifyModel, FingerprintFollowsTheModelFileAndOptions) {
  test::TempDir dir;
  const auto a = save_model(dir.path(), "a.pt", "return frame + alpha * (frame - reference)");
  const auto fa = build(stage_yaml(a))->fingerprint();
  EXPECT_EQ(fa, build(stage_yaml(a))->fingerprint());
  EXPECT_NE(fa, build(stage_yaml(a, ", alpha: 5"))->fingerprint());
  EXPECT_NE(fa, build(stage_yaml(a, ", reference: previous"))->fingerprint());
  // Same path, other weights: another fingerprint.
  save_model(dir.path(), "a.pt", "return frame + 2.0 * alpha * (frame - reference)");
  EXPECT_NE(fa, build(stage_yaml(a))->fingerprint());
}

TEST(MagnifyModel, ErrorsNameTheFileTheLineOrTheSample) {
  test::TempDir dir;
  auto what = error_message<ConfigError>([&] { build("type: magnify_model\nmodel: " + (dir / "missing.pt").string()); });
  EXPECT_CONTAINS(what, "stage.yaml:2");
  EXPECT_CONTAINS(what, "missing.pt");
  {
    std::ofstream(dir / "garbage.pt") << "not a zip archive";
  }
  what = error_message<ConfigError>([&] { build(stage_yaml(dir / "garbage.pt")); });
  EXPECT_CONTAINS(what, "cannot load TorchScript model");
  EXPECT_CONTAINS(what, "garbage.pt");
  what = error_message<ConfigError>([&] { build(stage_yaml(dir / "garbage.pt", ", reference: last")); });
  EXPECT_CONTAINS(what, "reference");

  const auto wrong = save_model(dir.path(), "wrong.pt", "return frame[:, 0:1]");
  Item item;
  item.set_sequence("clip", gray_clip());
  what = error_message<ConfigError>([&] { build(stage_yaml(wrong))->apply(SampleMeta{}, item); });
  EXPECT_CONTAINS(what, "wrong.pt");
  EXPECT_CONTAINS(what, "expected [1, 3, 16, 20]");

  const auto ok = save_model(dir.path(), "ok.pt", "return frame");
  SampleMeta s;
  s.id = "test/s1/short";
  Item one;
  one.set_sequence("clip", {gray_clip()[0]});
  what = error_message<SampleError>([&] { build(stage_yaml(ok))->apply(s, one); });
  EXPECT_CONTAINS(what, "test/s1/short");
  EXPECT_CONTAINS(what, "at least 2");
}

TEST(MagnifyModel, AllStagesHasTheBuiltinsAndTheLearnStagesForPipelines) {
  EXPECT_TRUE(all_stages().contains("magnify_model"));
  EXPECT_TRUE(all_stages().contains("magnify"));
  EXPECT_TRUE(all_stages().contains("flow"));
  EXPECT_FALSE(builtin_stages().contains("magnify_model"));

  test::TempDir dir;
  const auto model = save_model(dir.path(), "linear.pt", "return frame + alpha * (frame - reference)");
  SampleMeta s;
  s.id = "test/s1/clip";
  s.onset = 1, s.apex = 2, s.offset = 3;
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  const auto clip = gray_clip();
  for (int n = 1; n <= 3; ++n) cv::imwrite(s.frame_path(n).string(), clip[static_cast<std::size_t>(n - 1)]);
  const auto config = Config::from_string("preprocess:\n  outputs: [clip]\n  stages:\n"
                                          "    - {type: frames, frames: [], clip: true}\n"
                                          "    - " + stage_yaml(model, ", alpha: 2") + "\n"
                                          "    - {type: to_float, keys: [clip], scale: none}\n",
                                          "pre.yaml");
  const auto pipeline = Pipeline::from_config(config.root().child("preprocess"), all_stages());
  config.check_all_used();
  const auto item = pipeline.run_one(s);
  ASSERT_EQ(item.seq("clip").size(), 3u);
  // Frame 2 = frame + 2 (frame - frame 0): frame 2 is 10 grey levels above frame 0, so it gains 20.
  EXPECT_NEAR(item.seq("clip")[2].at<float>(5, 5), clip[2].at<uchar>(5, 5) + 20, 1.0);
}

// ---------------------------------------------------------------- the torchscript model type

// A two-input network written in TorchScript from the test (what torch.jit.script gives from Python): a
// hidden layer on the pooled flow and strain, and a submodule "head", so dotted names are exercised.
std::filesystem::path save_network(const std::filesystem::path& dir) {
  torch::manual_seed(3);
  torch::jit::Module head("Head");
  head.register_parameter("weight", torch::randn({16, 3}) * 0.1, false);
  head.register_parameter("bias", torch::zeros({3}), false);
  torch::jit::Module m("Net");
  m.register_parameter("w1", torch::randn({147, 16}) * 0.1, false);
  m.register_parameter("b1", torch::zeros({16}), false);
  m.register_module("head", head);
  m.define(R"(
def forward(self, flow, strain):
    x = torch.cat([flow, strain], 1)
    x = torch.avg_pool2d(x, [4, 4], [4, 4])
    h = torch.relu(torch.matmul(x.flatten(1), self.w1) + self.b1)
    return torch.matmul(h, self.head.weight) + self.head.bias
)");
  const auto path = dir / "net.pt";
  m.save(path.string());
  return path;
}

ModelSpec flow_strain_spec() {
  ModelSpec spec;
  spec.inputs = {InputSpec{"flow", {2, 28, 28}, true}, InputSpec{"strain", {1, 28, 28}, false}};
  spec.num_classes = 3;
  spec.inputs_where = "preprocess.outputs";
  return spec;
}

// Flow and strain of three classes told apart by the mean strain.
FeatureSet three_classes() {
  FeatureSet f;
  f.channels = 3, f.height = 28, f.width = 28;
  f.channel_names = {"u", "v", "strain"};
  f.groups = {FeatureGroup{"flow", 0, 2}, FeatureGroup{"strain", 2, 1}};
  f.groups[0].vector_field = true;
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (int i = 0; i < 60; ++i) {
    std::vector<float> x(3 * 28 * 28);
    for (auto& v : x) v = noise(rng);
    for (int k = 2 * 784; k < 3 * 784; ++k) x[static_cast<std::size_t>(k)] += static_cast<float>(i % 3) - 1.0f;
    SampleMeta s;
    s.dataset = "t", s.subject = "s" + std::to_string(i % 5), s.clip = "c" + std::to_string(i);
    s.id = "t/" + s.subject + "/" + s.clip;
    s.label = i % 3;
    f.samples.push_back(s);
    f.inputs.push_back(std::move(x));
  }
  return f;
}

TEST(TorchScriptModel, TrainsInTheTrainerWithItsOwnParameterNames) {
  test::TempDir dir;
  const auto file = save_network(dir.path());
  const auto config = Config::from_string("{type: torchscript, file: \"" + file.string() + "\"}", "model.yaml");
  auto model = std::shared_ptr<Classifier>(builtin_models().build(config.root(), flow_strain_spec()));
  EXPECT_EQ(model->input_names(), (std::vector<std::string>{"flow", "strain"}));  // forward's argument names
  std::vector<std::string> names;
  for (const auto& p : model->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"w1", "b1", "head.weight", "head.bias"}));
  EXPECT_EQ(count_parameters(*model), 147 * 16 + 16 + 16 * 3 + 3);

  const auto features = three_classes();
  std::vector<std::size_t> all(features.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto head_before = model->named_parameters()["head.weight"].detach().clone();
  const auto w1_before = model->named_parameters()["w1"].detach().clone();
  auto options = TrainerOptions::from_config(Config::from_string("{epochs: 15, batch_size: 20, lr: 0.01, freeze: [head.*]}").root());
  RunContext ctx;
  ctx.threads = 1;
  const auto log = Trainer(options).fit(*model, features, all, {}, 7, ctx);
  EXPECT_LT(log.back().train_loss, log.front().train_loss);  // it learns, through the script module
  EXPECT_TRUE(torch::equal(model->named_parameters()["head.weight"], head_before));  // frozen by name
  EXPECT_FALSE(torch::equal(model->named_parameters()["w1"], w1_before));
  const auto probs = Trainer(options).predict(*model, features, all, ctx);
  EXPECT_NEAR(probs[0][0] + probs[0][1] + probs[0][2], 1.0, 1e-5);

  // A checkpoint of it loads into a fresh build of the same file, by name (model.init).
  const auto ckpt = dir.path() / "ckpt.pt";
  {
    torch::serialize::OutputArchive a;
    model->save(a);
    a.save_to(ckpt.string());
  }
  auto fresh = std::shared_ptr<Classifier>(builtin_models().build(config.root(), flow_strain_spec()));
  InitOptions init;
  init.where = "model.yaml:1";
  const auto report = load_initial_weights(*fresh, ckpt, init);
  EXPECT_EQ(report.loaded.size(), 4u);
  EXPECT_TRUE(torch::equal(fresh->named_parameters()["w1"], model->named_parameters()["w1"]));
}

TEST(TorchScriptModel, ArgumentsMustBePreprocessingOutputs) {
  test::TempDir dir;
  const auto file = save_network(dir.path());
  auto spec = flow_strain_spec();
  spec.inputs.pop_back();  // no strain
  const auto config = Config::from_string("{type: torchscript, file: \"" + file.string() + "\"}", "model.yaml");
  const auto msg = error_message<ConfigError>([&] { builtin_models().build(config.root(), spec); });
  EXPECT_NE(msg.find("takes 'strain'"), std::string::npos) << msg;
  const auto missing = Config::from_string("{type: torchscript, file: /nonexistent.pt}", "model.yaml");
  EXPECT_NE(error_message<ConfigError>([&] { builtin_models().build(missing.root(), flow_strain_spec()); }).find("model.yaml:1"),
            std::string::npos);
}

}  // namespace
}  // namespace mer
