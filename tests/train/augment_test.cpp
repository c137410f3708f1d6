#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/train/augment.hpp>

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn.h>

#include <chrono>
#include <cmath>
#include <random>
#include <string>

#include "support/model_checks.hpp"

namespace mer {
namespace {

using test::error_message;

// The shape of a flow + strain + apex pipeline: channels u, v (a vector field), strain, apex.
FeatureSet layout(int size) {
  FeatureSet f;
  f.channels = 4;
  f.height = f.width = size;
  f.channel_names = {"u", "v", "strain", "apex"};
  f.groups = {{"flow", 0, 2, true}, {"strain", 2, 1, false}, {"apex", 3, 1, false}};
  return f;
}

// [1, 4, n, n] batch from per-channel functions of the pixel-centred coordinates (x right, y down).
template <class Fn>
torch::Tensor batch(int n, Fn fn) {
  auto t = torch::empty({1, 4, n, n});
  auto a = t.accessor<float, 4>();
  const double c = (n - 1) / 2.0;
  for (int ch = 0; ch < 4; ++ch)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a[0][ch][i][j] = static_cast<float>(fn(ch, j - c, i - c));
  return t;
}

AugmentOptions everything() {
  AugmentOptions o;
  o.hflip = 0.5;
  o.rotate_deg = 10;
  o.crop = {0.8, 1.0};
  o.translate_px = 2;
  o.brightness = 0.2;
  o.contrast = 0.2;
  o.photometric_groups = {"apex"};
  o.noise_std = 0.05;
  return o;
}

TEST(AugmentOptions, DefaultsAreOffAndRecorded) {
  const auto config = Config::from_string("train: {augment: {}}");
  const auto o = AugmentOptions::from_config(config.root().child("train").child("augment"));
  EXPECT_FALSE(o.enabled());
  EXPECT_FALSE(AugmentOptions{}.enabled());
  const auto dump = config.dump();
  EXPECT_CONTAINS(dump, "hflip: 0");
  EXPECT_CONTAINS(dump, "noise_std: 0");
  EXPECT_CONTAINS(dump, "photometric_groups: []");
}

TEST(AugmentOptions, ReadsEveryKey) {
  const auto config = Config::from_string(
      "augment:\n  hflip: 0.5\n  rotate_deg: 10\n  crop: [0.9, 1.0]\n  translate_px: 2\n  brightness: 0.1\n"
      "  contrast: 0.2\n  photometric_groups: [apex]\n  noise_std: 0.01\n");
  const auto o = AugmentOptions::from_config(config.root().child("augment"));
  EXPECT_DOUBLE_EQ(o.hflip, 0.5);
  EXPECT_DOUBLE_EQ(o.rotate_deg, 10);
  EXPECT_EQ(o.crop, (std::vector<double>{0.9, 1.0}));
  EXPECT_DOUBLE_EQ(o.translate_px, 2);
  EXPECT_DOUBLE_EQ(o.brightness, 0.1);
  EXPECT_DOUBLE_EQ(o.contrast, 0.2);
  EXPECT_EQ(o.photometric_groups, (std::vector<std::string>{"apex"}));
  EXPECT_DOUBLE_EQ(o.noise_std, 0.01);
  EXPECT_TRUE(o.enabled());
  EXPECT_NO_THROW(config.check_all_used());
}

TEST(AugmentOptions, BadValuesNameKeyAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hflip: 1.5", "augment.hflip"},           {"rotate_deg: -1", "augment.rotate_deg"},
      {"crop: [0.9]", "augment.crop"},           {"crop: [1.0, 0.9]", "augment.crop"},
      {"crop: [0, 1]", "augment.crop"},          {"translate_px: -2", "augment.translate_px"},
      {"contrast: 2", "augment.contrast"},       {"noise_std: -0.1", "augment.noise_std"},
      {"brightness: 0.1", "augment.brightness"}};  // the last: no photometric_groups
  for (const auto& [yaml, key] : cases) {
    const auto config = Config::from_string("augment:\n  " + yaml + "\n", "sched.yaml");
    const auto msg = error_message<ConfigError>([&] { AugmentOptions::from_config(config.root().child("augment")); });
    EXPECT_CONTAINS(msg, "sched.yaml:2");
    EXPECT_CONTAINS(msg, "'" + key + "'");
  }
}

TEST(Augmenter, AllOffIsTheIdentityBitForBit) {
  FeatureSet no_groups = layout(8);
  no_groups.groups.clear();  // nothing to do, so nothing to check
  const Augmenter aug(AugmentOptions{}, no_groups);
  const auto x = torch::randn({3, 4, 8, 8});
  std::mt19937_64 rng(1);
  const auto y = aug(x, rng);
  EXPECT_TRUE(torch::equal(x, y));
  // Neutral draws through apply() give an exact copy too (geometry enabled, nothing drawn).
  AugmentOptions geometric = everything();
  geometric.noise_std = geometric.brightness = geometric.contrast = 0;
  const Augmenter no_noise(geometric, layout(8));
  const auto z = no_noise.apply(x, std::vector<AugmentDraw>(3), 0);
  EXPECT_TRUE(torch::equal(x, z));
  EXPECT_NE(z.data_ptr(), x.data_ptr());
}

TEST(Augmenter, HorizontalFlipMirrorsAndNegatesU) {
  // u = x ramp, v = y ramp, strain = x + 10 y, apex = x*y.
  const int n = 8;
  const auto x = batch(n, [](int ch, double px, double py) {
    return ch == 0 ? px : ch == 1 ? py : ch == 2 ? px + 10 * py : px * py;
  });
  AugmentOptions o;
  o.hflip = 1;
  const Augmenter aug(o, layout(n));
  AugmentDraw flip;
  flip.flip = true;
  const auto y = aug.apply(x, {flip}, 0);
  // Mirrored about the vertical axis (x -> -x), and u negated: u'(x) = -u(-x) = x. v, strain, apex mirrored.
  const auto expected = batch(n, [](int ch, double px, double py) {
    return ch == 0 ? -(-px) : ch == 1 ? py : ch == 2 ? -px + 10 * py : -px * py;
  });
  EXPECT_TRUE(torch::equal(y, expected)) << (y - expected).abs().max().item<float>();

  // The resampling path (a full turn forces it) agrees up to interpolation rounding.
  flip.angle_deg = 360;
  const auto resampled = aug.apply(x, {flip}, 0);
  const float err = (resampled - expected).abs().max().item<float>();
  RecordProperty("flip_resampled_max_error", std::to_string(err));
  EXPECT_LT(err, 1e-4f);
}

TEST(Augmenter, RotationBy90TurnsAUnitFieldAndTheContentClockwise) {
  // Convention (y down): +90° takes +x to +y, so the field (1, 0) becomes (0, 1), and a blob right of the
  // centre moves below it.
  const int n = 9;  // odd: the centre is a pixel
  const auto x = batch(n, [](int ch, double px, double py) {
    return ch == 0 ? 1.0 : ch == 1 ? 0.0 : (px == 3 && py == 0) ? 1.0 : 0.0;
  });
  AugmentOptions o;
  o.rotate_deg = 90;
  const Augmenter aug(o, layout(n));
  AugmentDraw d;
  d.angle_deg = 90;
  const auto y = aug.apply(x, {d}, 0);
  const auto interior = y.index({0, torch::indexing::Slice(), torch::indexing::Slice(1, n - 1),
                                 torch::indexing::Slice(1, n - 1)});
  const float u_err = interior[0].abs().max().item<float>();
  const float v_err = (interior[1] - 1).abs().max().item<float>();
  RecordProperty("rot90_u_max_abs", std::to_string(u_err));
  RecordProperty("rot90_v_max_error", std::to_string(v_err));
  EXPECT_LT(u_err, 1e-5f);
  EXPECT_LT(v_err, 1e-5f);
  const int c = n / 2;
  EXPECT_NEAR(y[0][2][c + 3][c].item<float>(), 1.0f, 1e-5f);  // below the centre
  EXPECT_NEAR(y[0][2][c][c + 3].item<float>(), 0.0f, 1e-5f);
  EXPECT_NEAR(y[0][2].sum().item<float>(), 1.0f, 1e-5f);
}

TEST(Augmenter, RadialFieldIsInvariantUnderRotationFlipAndZoom) {
  // w(p) = p is the one field every linear content map L leaves unchanged: L·w(L⁻¹q) = q. It checks that
  // the vectors turn by exactly the angle (and sign) the content does, at an arbitrary angle.
  const int n = 21;
  const auto x = batch(n, [](int ch, double px, double py) { return ch == 0 ? px : ch == 1 ? py : 0.0; });
  AugmentOptions o;
  o.rotate_deg = 180;
  o.hflip = 1;
  o.crop = {0.5, 1.0};
  const Augmenter aug(o, layout(n));
  for (const double angle : {30.0, -75.0}) {
    AugmentDraw d;
    d.angle_deg = angle;
    d.flip = angle < 0;
    d.zoom = 1.25;
    const auto y = aug.apply(x, {d}, 0);
    // Inside the disc that maps from within the image (radius 10 / 1.25 = 8 at the input side is safe).
    const auto r2 = x[0][0].square() + x[0][1].square();
    const auto inside = r2.le(7.0 * 7.0);
    const float err = ((y[0][0] - x[0][0]).abs() + (y[0][1] - x[0][1]).abs()).masked_select(inside).max().item<float>();
    RecordProperty("radial_max_error_" + std::to_string(static_cast<int>(angle)), std::to_string(err));
    EXPECT_LT(err, 1e-4f) << angle;
  }
}

TEST(Augmenter, CropZoomRescalesVectorsAndShiftMovesContent) {
  const int n = 12;
  const auto x = batch(n, [](int ch, double px, double py) {
    return ch == 0 ? 1.0 : ch == 1 ? 0.5 : ch == 2 ? px : py;
  });
  AugmentOptions o;
  o.crop = {0.5, 1.0};
  o.translate_px = 3;
  const Augmenter aug(o, layout(n));
  AugmentDraw zoom;
  zoom.zoom = 1.25;
  const auto y = aug.apply(x, {zoom}, 0);
  EXPECT_LT((y[0][0] - 1.25).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((y[0][1] - 0.625).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((y[0][2] - x[0][2] / 1.25).abs().max().item<float>(), 1e-4f);  // x ramp zoomed about the centre

  AugmentDraw shift;
  shift.shift_x = 2;  // content moves 2 px right; the 2 columns uncovered on the left are 0
  const auto s = aug.apply(x, {shift}, 0);
  using torch::indexing::Slice;
  EXPECT_LT((s[0][2].index({Slice(), Slice(2, n)}) - x[0][2].index({Slice(), Slice(0, n - 2)})).abs().max().item<float>(),
            1e-5f);
  EXPECT_LT(s[0][3].index({Slice(), Slice(0, 2)}).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((s[0][0].index({Slice(), Slice(2, n)}) - 1).abs().max().item<float>(), 1e-6f);  // no rescale
}

TEST(Augmenter, PhotometricChangesOnlyNamedImageGroups) {
  const int n = 10;
  const auto x = torch::rand({2, 4, n, n});
  AugmentOptions o;
  o.brightness = 0.3;
  o.contrast = 0.5;
  o.photometric_groups = {"apex"};
  const Augmenter aug(o, layout(n));
  AugmentDraw d;
  d.brightness = 0.25;
  d.gain = 1.5;
  const auto y = aug.apply(x, {d, AugmentDraw{}}, 0);
  EXPECT_TRUE(torch::equal(y.slice(1, 0, 3), x.slice(1, 0, 3)));  // flow and strain untouched
  const auto apex = x[0][3];
  const auto expected = (apex - apex.mean()) * 1.5 + apex.mean() + 0.25;
  EXPECT_LT((y[0][3] - expected).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((y[1] - x[1]).abs().max().item<float>(), 1e-6f);  // the second sample drew gain 1, offset 0

  o.photometric_groups = {"flow"};
  EXPECT_CONTAINS(error_message<ValueError>([&] { Augmenter(o, layout(n)); }), "'flow', a displacement field");
  o.photometric_groups = {"apx"};
  EXPECT_CONTAINS(error_message<ValueError>([&] { Augmenter(o, layout(n)); }), "did you mean 'apex'?");
}

TEST(Augmenter, NoiseHasTheRequestedSpreadAndIsSeeded) {
  AugmentOptions o;
  o.noise_std = 0.1;
  const Augmenter aug(o, layout(32));
  const auto x = torch::zeros({4, 4, 32, 32});
  const auto a = aug.apply(x, std::vector<AugmentDraw>(4), 7);
  const double sd = a.std().item<double>(), mean = a.mean().item<double>();
  RecordProperty("noise_std_measured", std::to_string(sd));
  EXPECT_NEAR(sd, 0.1, 0.005);  // 16384 values: the estimate's own spread is ~0.0006
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_TRUE(torch::equal(a, aug.apply(x, std::vector<AugmentDraw>(4), 7)));
  EXPECT_FALSE(torch::equal(a, aug.apply(x, std::vector<AugmentDraw>(4), 8)));
}

TEST(Augmenter, SameSeedSameBatchAndTheInputIsNotChanged) {
  const auto start = std::chrono::steady_clock::now();
  const Augmenter aug(everything(), layout(28));
  torch::manual_seed(3);
  const auto x = torch::randn({32, 4, 28, 28});
  const auto before = x.clone();
  std::mt19937_64 r1(42), r2(42), r3(43);
  const auto a = aug(x, r1), b = aug(x, r2), c = aug(x, r3);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / 3;
  RecordProperty("batch_32x4x28x28_ms", std::to_string(ms));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_FALSE(torch::equal(a, x));
  EXPECT_TRUE(torch::equal(x, before));
  // The draws are spread over their ranges.
  std::mt19937_64 r(5);
  int flips = 0;
  double max_angle = 0, min_zoom = 10, max_zoom = 0;
  for (int k = 0; k < 1000; ++k) {
    const auto d = aug.draw(r);
    flips += d.flip;
    max_angle = std::max(max_angle, std::abs(d.angle_deg));
    min_zoom = std::min(min_zoom, d.zoom);
    max_zoom = std::max(max_zoom, d.zoom);
    EXPECT_LE(std::abs(d.shift_x), 2.0);
    EXPECT_LE(std::abs(d.crop_x), (1 - 1 / d.zoom) * 28 / 2 + 1e-9);
  }
  EXPECT_NEAR(flips, 500, 60);  // binomial sd ~16
  EXPECT_GT(max_angle, 9.5);
  EXPECT_LE(max_angle, 10.0);
  EXPECT_GE(min_zoom, 1.0);
  EXPECT_LE(max_zoom, 1 / std::sqrt(0.8) + 1e-12);
  EXPECT_GT(max_zoom, 1.1);
}

TEST(Augmenter, SameBatchOnTheGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Augmenter aug(everything(), layout(28));
  torch::manual_seed(4);
  const auto x = torch::randn({8, 4, 28, 28});
  std::mt19937_64 r1(9), r2(9);
  const auto cpu = aug(x, r1);
  const auto gpu = aug(x.to(torch::kCUDA), r2);
  EXPECT_TRUE(gpu.is_cuda());
  EXPECT_LT((cpu - gpu.cpu()).abs().max().item<float>(), 1e-4f);  // the same draws and noise, other kernels
}

TEST(Augmenter, RefusesFeaturesItCannotInterpret) {
  FeatureSet f = layout(8);
  f.groups.clear();
  AugmentOptions o;
  o.hflip = 0.5;
  EXPECT_CONTAINS(error_message<ValueError>([&] { Augmenter(o, f); }), "has none");
  f = layout(8);
  f.groups[0].channels = 3;  // an odd vector field, overlapping strain
  EXPECT_THROW(Augmenter(o, f), ValueError);
  o.hflip = 2;  // filled in code, past from_config's checks
  EXPECT_CONTAINS(error_message<ValueError>([&] { Augmenter(o, layout(8)); }), "hflip must be in [0, 1]");
  const Augmenter ok(everything(), layout(8));
  std::mt19937_64 rng(1);
  EXPECT_THROW(ok(torch::zeros({1, 3, 8, 8}), rng), ValueError);
}

}  // namespace
}  // namespace mer
