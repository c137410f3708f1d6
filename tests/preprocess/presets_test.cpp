// The committed preprocessing presets (configs/_base_/preprocess/): each builds through the YAML path with
// every key used, and turns a synthesised real-face clip into finite float features of the documented shape.
#include <mer/core/config.hpp>
#include <mer/data/dataset.hpp>
#include <mer/preprocess/pipeline.hpp>

#include "support/synth_tree.hpp"
#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace mer {
namespace {
namespace fs = std::filesystem;

fs::path presets_dir() { return test::source_dir() / "configs/_base_/preprocess"; }

// One subject, two clips of the synthetic CASME II tree, loaded by the real adapter (200 fps, annotated apexes).
std::vector<SampleMeta> synth_samples(const fs::path& dir) {
  const auto root = dir / "CASME2";
  test::write_synth_casme2(root, 1, 2, 10, 12, 1);
  const auto config = Config::from_string("dataset:\n  type: casme2\n  root: \"" + root.string() +
                                              "\"\n  labels:\n    classes: [negative, positive, surprise]\n"
                                              "    map: {disgust: negative, repression: negative, happiness: "
                                              "positive, surprise: surprise}\n",
                                          "dataset.yaml");
  return builtin_datasets().build(config.root().child("dataset"))->samples();
}

TEST(Presets, EveryPresetBuildsAndGivesFiniteFeaturesOfItsShape) {
  // Documented shapes: channels x side (the header comment of each file).
  const std::map<std::string, std::pair<int, int>> expected = {
      {"ststnet_flow.yaml", {3, 28}},   {"ststnet_flow_apex_spot.yaml", {3, 28}},
      {"evm_tim_clip.yaml", {10, 64}},  {"apex_flow_rois.yaml", {4, 48}},
      {"dynamic_image.yaml", {1, 64}},   {"apex_flow_strain.yaml", {4, 28}},
      {"tim_clip.yaml", {8, 32}},       {"aligned_apex_color.yaml", {3, 112}},
  };
  test::TempDir dir;
  const auto samples = synth_samples(dir.path());
  ASSERT_EQ(samples.size(), 2u);
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(presets_dir())) {
    const auto name = entry.path().filename().string();
    SCOPED_TRACE(name);
    ASSERT_TRUE(expected.count(name)) << "new preset " << name << ": add its shape to this test";
    ++seen;
    // Landmark model path: the presets use the Debian default, which is what test::landmark_model() is.
    const auto config = Config::load(entry.path());
    const auto pipeline = Pipeline::from_config(config.root().child("preprocess"));
    config.check_all_used();
    RunContext ctx;
    ctx.threads = 2;
    ctx.progress = ProgressStyle::None;
    const auto features = pipeline.run(samples, ctx);
    ASSERT_EQ(features.size(), 2u);
    EXPECT_EQ(features.channels, expected.at(name).first);
    EXPECT_EQ(features.height, expected.at(name).second);
    EXPECT_EQ(features.width, expected.at(name).second);
    int groups_channels = 0;
    for (const auto& g : features.groups) groups_channels += g.channels;
    EXPECT_EQ(groups_channels, features.channels);
    for (const auto& x : features.inputs) {
      double energy = 0;
      for (float v : x) {
        ASSERT_TRUE(std::isfinite(v));
        energy += double(v) * v;
      }
      EXPECT_GT(energy, 0.0) << "all-zero features";
    }
  }
  EXPECT_EQ(seen, static_cast<int>(expected.size()));
}

}  // namespace
}  // namespace mer
