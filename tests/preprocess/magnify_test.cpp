#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/preprocess/magnify.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/stage.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <functional>

namespace mer {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kFps = 30;

// Stages are built the way the CLI builds them: YAML through the registry, every key used.
std::unique_ptr<Stage> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "stage.yaml");
  auto stage = builtin_stages().build(config.root());
  config.check_all_used();
  return stage;
}

// A smooth random texture, mean 128, spread ~40 grey levels, kept as its spectrum so that sub-pixel shifts
// are exact (Fourier shift theorem): warpAffine and remap quantise positions to 1/32 px, too coarse for
// 0.25 px motions. Gaussian envelope sigma 4 px: the energy lies at wavelengths >= ~16 px, where a few
// pixels of magnified motion stay within EVM's linear range. Periodic, so shifting wraps cleanly.
class Texture {
 public:
  explicit Texture(int n = 96, double sigma = 4, int seed = 7) : n_(n) {
    cv::Mat noise(n, n, CV_32F);
    cv::RNG rng(static_cast<std::uint64_t>(seed));
    rng.fill(noise, cv::RNG::NORMAL, 0, 1);
    cv::dft(noise, spectrum_, cv::DFT_COMPLEX_OUTPUT);
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        const double u = freq(x), v = freq(y);
        spectrum_.at<cv::Vec2f>(y, x) *= static_cast<float>(std::exp(-2 * kPi * kPi * sigma * sigma * (u * u + v * v)));
      }
    }
    spectrum_.at<cv::Vec2f>(0, 0) = cv::Vec2f(0, 0);
    cv::Mat raw = parts(0, 0)[0];
    cv::Scalar mean, sd;
    cv::meanStdDev(raw, mean, sd);
    scale_ = 40.0 / sd[0];
  }

  /// The texture with its content moved by (dx, dy): out(x) = texture(x - d).
  cv::Mat shifted(double dx, double dy) const { return parts(dx, dy)[0]; }

  /// The (dx, dy) for which shifted(dx, dy) best fits `frame` on its centre (Gauss-Newton least squares with
  /// exact Fourier-shifted images and gradients): the effective motion of a magnified frame.
  cv::Point2d shift_of(const cv::Mat& frame) const {
    const cv::Rect centre(16, 16, n_ - 32, n_ - 32);
    cv::Mat f;
    frame.convertTo(f, CV_32F);
    double dx = 0, dy = 0;
    for (int it = 0; it < 5; ++it) {
      const auto p = parts(dx, dy);
      double a = 0, b = 0, c = 0, rx = 0, ry = 0;
      for (int y = centre.y; y < centre.br().y; ++y) {
        for (int x = centre.x; x < centre.br().x; ++x) {
          const double gx = p[1].at<float>(y, x), gy = p[2].at<float>(y, x);
          const double r = f.at<float>(y, x) - p[0].at<float>(y, x);
          a += gx * gx, b += gx * gy, c += gy * gy, rx += gx * r, ry += gy * r;
        }
      }
      // d/dd of texture(x - d) is minus its gradient, hence the sign.
      const double det = a * c - b * b;
      dx -= (c * rx - b * ry) / det;
      dy -= (a * ry - b * rx) / det;
    }
    return {dx, dy};
  }

 private:
  double freq(int k) const { return (k < n_ / 2 ? k : k - n_) / static_cast<double>(n_); }

  // {image, d/dx, d/dy} of the texture moved by (dx, dy).
  std::array<cv::Mat, 3> parts(double dx, double dy) const {
    cv::Mat s(n_, n_, CV_32FC2), sx(n_, n_, CV_32FC2), sy(n_, n_, CV_32FC2);
    // The shift's phase factor is separable: exp(-2 pi i (u dx + v dy)) = ex(u) ey(v).
    std::vector<std::complex<double>> ex(static_cast<std::size_t>(n_)), ey(static_cast<std::size_t>(n_));
    for (int k = 0; k < n_; ++k) {
      ex[static_cast<std::size_t>(k)] = std::polar(1.0, -2 * kPi * freq(k) * dx);
      ey[static_cast<std::size_t>(k)] = std::polar(1.0, -2 * kPi * freq(k) * dy);
    }
    for (int y = 0; y < n_; ++y) {
      const auto* in = spectrum_.ptr<cv::Vec2f>(y);
      for (int x = 0; x < n_; ++x) {
        const double u = freq(x), v = freq(y);
        const std::complex<double> z(in[x][0], in[x][1]);
        const std::complex<double> moved = z * ex[static_cast<std::size_t>(x)] * ey[static_cast<std::size_t>(y)];
        const std::complex<double> ddx = moved * std::complex<double>(0, 2 * kPi * u);
        const std::complex<double> ddy = moved * std::complex<double>(0, 2 * kPi * v);
        s.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(moved.real()), static_cast<float>(moved.imag()));
        sx.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(ddx.real()), static_cast<float>(ddx.imag()));
        sy.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(ddy.real()), static_cast<float>(ddy.imag()));
      }
    }
    std::array<cv::Mat, 3> out;
    const int flags = cv::DFT_INVERSE | cv::DFT_SCALE | cv::DFT_REAL_OUTPUT;
    cv::dft(s, out[0], flags);
    cv::dft(sx, out[1], flags);
    cv::dft(sy, out[2], flags);
    out[0].convertTo(out[0], CV_32F, scale_, 128);
    out[1] *= scale_;
    out[2] *= scale_;
    return out;
  }

  int n_;
  cv::Mat spectrum_;
  double scale_ = 1;
};

const Texture& texture() {
  static const Texture t;
  return t;
}

// A clip of `n` frames whose content moves horizontally by amplitude * sin(2 pi hz t / fps).
std::vector<cv::Mat> oscillating_clip(double amplitude, double hz, int n = 60) {
  std::vector<cv::Mat> clip;
  for (int t = 0; t < n; ++t) clip.push_back(texture().shifted(amplitude * std::sin(2 * kPi * hz * t / kFps), 0));
  return clip;
}

// Amplitude of the horizontal motion of the clip at `hz` (projection on sin and cos; the clips hold whole
// periods, so the projection is exact for a pure sinusoid).
double motion_amplitude(const std::vector<cv::Mat>& clip, double hz) {
  double s = 0, c = 0;
  const double n = static_cast<double>(clip.size());
  for (std::size_t t = 0; t < clip.size(); ++t) {
    const double x = texture().shift_of(clip[t]).x;
    const double w = 2 * kPi * hz * static_cast<double>(t) / kFps;
    s += x * std::sin(w), c += x * std::cos(w);
  }
  return 2 / n * std::hypot(s, c);
}

template <class E, class F>
std::string expect_throw(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

// ---------------------------------------------------------------- temporal band-pass

// Steady-state gain of the filter on a sinusoid of `hz`: 600 frames, measured over the last 300 (whole
// periods for the frequencies used) after the recursive filters' transients died out.
double measured_gain(const std::string& filter, double hz, double low, double high) {
  std::vector<cv::Mat> series;
  for (int t = 0; t < 600; ++t) series.emplace_back(1, 1, CV_32F, cv::Scalar(std::sin(2 * kPi * hz * t / kFps)));
  const auto band = temporal_bandpass(series, kFps, filter, low, high);
  double s = 0, c = 0;
  for (int t = 300; t < 600; ++t) {
    const double w = 2 * kPi * hz * t / kFps;
    s += band[static_cast<std::size_t>(t)].at<float>(0, 0) * std::sin(w);
    c += band[static_cast<std::size_t>(t)].at<float>(0, 0) * std::cos(w);
  }
  return 2.0 / 300 * std::hypot(s, c);
}

// The transfer functions the filters are meant to realise, evaluated on the unit circle.
std::complex<double> response(const std::string& filter, double hz, double low, double high) {
  const std::complex<double> zi = std::polar(1.0, -2 * kPi * hz / kFps);  // z^-1
  auto lowpass = [&](double fc) {
    if (filter == "butterworth") {
      const double K = std::tan(kPi * fc / kFps);
      return K * (1.0 + zi) / ((1 + K) + (K - 1) * zi);
    }
    const double r = 1 - std::exp(-2 * kPi * fc / kFps);
    return r / (1.0 - (1 - r) * zi);
  };
  return lowpass(high) - lowpass(low);
}

double analytic_gain(const std::string& filter, double hz, double low, double high) {
  return std::abs(response(filter, hz, low, high));
}

TEST(TemporalBandpass, IdealPassesTheBandAndRemovesEverythingElse) {
  EXPECT_NEAR(measured_gain("ideal", 2.0, 1.5, 2.5), 1.0, 1e-4);
  EXPECT_NEAR(measured_gain("ideal", 5.0, 1.5, 2.5), 0.0, 1e-4);
  EXPECT_NEAR(measured_gain("ideal", 0.5, 1.5, 2.5), 0.0, 1e-4);
}

TEST(TemporalBandpass, RecursiveFiltersMatchTheirTransferFunctions) {
  for (const std::string filter : {"butterworth", "iir"}) {
    for (const double hz : {0.5, 2.0, 8.0}) {
      const double got = measured_gain(filter, hz, 1.0, 4.0), want = analytic_gain(filter, hz, 1.0, 4.0);
      std::printf("[ measured ] %s gain at %.1f Hz (band 1-4 Hz): %.4f, transfer function %.4f\n", filter.c_str(), hz,
                  got, want);
      EXPECT_NEAR(got, want, 0.01) << filter << " at " << hz << " Hz";
    }
    // A band-pass: more gain in the band than well outside it.
    EXPECT_GT(measured_gain(filter, 2.0, 1.0, 4.0), 2 * measured_gain(filter, 0.1, 1.0, 4.0)) << filter;
  }
}

TEST(TemporalBandpass, RejectsBandsTheClipCannotHold) {
  const std::vector<cv::Mat> clip(10, cv::Mat(1, 1, CV_32F, cv::Scalar(0)));
  EXPECT_NE(expect_throw<ValueError>([&] { temporal_bandpass(clip, kFps, "ideal", 1, 15); }).find("Nyquist"),
            std::string::npos);
  EXPECT_NE(expect_throw<ValueError>([&] { temporal_bandpass(clip, kFps, "ideal", 0.5, 1.0); }).find("bins 3 Hz apart"),
            std::string::npos);
  EXPECT_NE(expect_throw<ValueError>([&] { temporal_bandpass({clip[0], clip[1]}, kFps, "iir", 1, 2); }).find("at least 3"),
            std::string::npos);
}

// ---------------------------------------------------------------- Eulerian

// Options under which every band gets the full alpha: lambda_c at the finest level's wavelength (4 px) and a
// residual of 3x3 px, so the measured ratio tests the filter and the pyramid, not the attenuation.
EulerianMagnifyOptions full_alpha(double low_hz, double high_hz) {
  EulerianMagnifyOptions o;
  o.alpha = 10;
  o.levels = 5;
  o.lambda_c = 4;
  o.low_hz = low_hz;
  o.high_hz = high_hz;
  return o;
}

TEST(MagnifyEulerian, AmplifiesAnInBandSubPixelMotionOnePlusAlphaTimes) {
  const auto clip = oscillating_clip(0.25, 2.0);
  const double before = motion_amplitude(clip, 2.0);
  const auto o = full_alpha(1.5, 2.5);
  const auto start = std::chrono::steady_clock::now();
  const auto out = magnify_eulerian(clip, kFps, o);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(out.size(), clip.size());
  EXPECT_EQ(out[0].type(), CV_32FC1);
  const double after = motion_amplitude(out, 2.0);
  std::printf("[ measured ] EVM (laplacian 5 levels, ideal 1.5-2.5 Hz, alpha 10, lambda_c 4) on 60 frames 96x96: "
              "amplitude %.4f -> %.4f px, ratio %.2f (want 11 +- 25%%), %.1f ms\n",
              before, after, after / before, ms);
  EXPECT_NEAR(before, 0.25, 0.005);
  // Below 11 by the first-order approximation itself: 2.75 px is close to lambda / 8 for the texture's
  // ~20 px wavelengths (the same clip at 0.05 px gives 10.9).
  EXPECT_NEAR(after / before, 11.0, 11.0 * 0.25);

  // With the default lambda_c = 16 px the two finest levels get less (alpha 1.75 and 4.5): less
  // magnification, on purpose, but still well above 1.
  EulerianMagnifyOptions d;
  d.low_hz = 1.5;
  d.high_hz = 2.5;
  const double attenuated = motion_amplitude(magnify_eulerian(clip, kFps, d), 2.0) / before;
  std::printf("[ measured ] EVM with default lambda_c 16, 4 levels: ratio %.2f\n", attenuated);
  EXPECT_LT(attenuated, after / before - 0.5);
  EXPECT_GT(attenuated, 5.0);
}

TEST(MagnifyEulerian, LeavesMotionOutsideTheBandAlone) {
  const auto clip = oscillating_clip(0.25, 2.0);
  const auto o = full_alpha(5, 8);
  const double ratio = motion_amplitude(magnify_eulerian(clip, kFps, o), 2.0) / motion_amplitude(clip, 2.0);
  std::printf("[ measured ] EVM band 5-8 Hz on a 2 Hz motion: ratio %.3f (want < 1.3)\n", ratio);
  EXPECT_LT(ratio, 1.3);
}

TEST(MagnifyEulerian, RecursiveFiltersAndGaussianPyramidAmplifyToo) {
  const auto clip = oscillating_clip(0.25, 2.0);
  const double before = motion_amplitude(clip, 2.0);
  for (const std::string filter : {"butterworth", "iir"}) {
    auto o = full_alpha(1.0, 4.0);
    o.filter = filter;
    const double ratio = motion_amplitude(magnify_eulerian(clip, kFps, o), 2.0) / before;
    // The band is the motion filtered by H, so the frame moves by delta + alpha H delta: amplitude
    // |1 + alpha H(2 Hz)| (H complex: these filters also shift the phase). The first frames carry the
    // filters' start-up, hence the same 25 % as for the ideal filter.
    const double expected = std::abs(1.0 + 10.0 * response(filter, 2.0, 1.0, 4.0));
    std::printf("[ measured ] EVM %s 1-4 Hz: ratio %.2f, |1 + alpha H(2 Hz)| = %.2f\n", filter.c_str(), ratio, expected);
    EXPECT_NEAR(ratio, expected, 0.25 * expected) << filter;
  }
  auto g = full_alpha(1.5, 2.5);
  g.pyramid = "gaussian";
  g.levels = 2;
  const double ratio = motion_amplitude(magnify_eulerian(clip, kFps, g), 2.0) / before;
  std::printf("[ measured ] EVM gaussian pyramid (2 levels): ratio %.2f\n", ratio);
  EXPECT_GT(ratio, 3.0);
}

TEST(MagnifyEulerian, ColourClipKeepsItsGreyContent) {
  // A grey texture as BGR: the chroma of the band is zero, so every channel gets the same magnification.
  std::vector<cv::Mat> colour;
  for (const auto& f : oscillating_clip(0.25, 2.0, 30)) {
    cv::Mat c;
    cv::cvtColor(f, c, cv::COLOR_GRAY2BGR);
    colour.push_back(c);
  }
  const auto out = magnify_eulerian(colour, kFps, full_alpha(1.5, 2.5));
  ASSERT_EQ(out[5].type(), CV_32FC3);
  cv::Mat ch[3];
  cv::split(out[5], ch);
  EXPECT_LT(cv::norm(ch[0], ch[2], cv::NORM_INF), 1e-3);
  cv::Mat in[3];
  cv::split(colour[5], in);
  EXPECT_GT(cv::norm(ch[0], in[0], cv::NORM_INF), 1.0);  // and it was magnified
}

TEST(MagnifyEulerian, RejectsFramesTooSmallForThePyramid) {
  const std::vector<cv::Mat> clip(10, cv::Mat(12, 12, CV_32F, cv::Scalar(0)));
  EulerianMagnifyOptions o;
  o.levels = 4;
  const auto what = expect_throw<ValueError>([&] { magnify_eulerian(clip, kFps, o); });
  EXPECT_NE(what.find("12x12 frames are too small for 4 pyramid levels"), std::string::npos) << what;
}

// ---------------------------------------------------------------- Lagrangian

TEST(MagnifyLagrangian, AmplifiesAKnownSubPixelShiftOnePlusAlphaTimes) {
  const cv::Mat base = texture().shifted(0, 0);
  const double dx = 0.3, dy = -0.2;
  const std::vector<cv::Mat> clip = {base, texture().shifted(dx / 2, dy / 2), texture().shifted(dx, dy)};
  for (const std::string source : {"each", "first"}) {
    LagrangianMagnifyOptions o;
    o.alpha = 10;
    o.source = source;
    const auto start = std::chrono::steady_clock::now();
    const auto out = magnify_lagrangian(clip, o);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto s = texture().shift_of(out[2]);
    std::printf("[ measured ] lagrangian (%s, DIS) of (0.3, -0.2) px, alpha 10: (%.3f, %.3f) px, want (3.3, -2.2) "
                "+- 15%%, %.1f ms\n",
                source.c_str(), s.x, s.y, ms);
    EXPECT_EQ(cv::norm(out[0], base, cv::NORM_INF), 0.0);
    EXPECT_NEAR(s.x, 11 * dx, 0.15 * 11 * dx) << source;
    EXPECT_NEAR(s.y, 11 * dy, 0.15 * 11 * std::abs(dy)) << source;
  }
  // Given flows instead of DIS: the warp itself is then all that can err.
  const cv::Mat flow(base.size(), CV_32FC2, cv::Scalar(dx, dy));
  LagrangianMagnifyOptions o;
  o.alpha = 10;
  const auto out = magnify_lagrangian({base, clip[2]}, o, {cv::Mat(), flow});
  const auto s = texture().shift_of(out[1]);
  std::printf("[ measured ] lagrangian with the true flow: (%.3f, %.3f) px\n", s.x, s.y);
  EXPECT_NEAR(s.x, 11 * dx, 0.03 * 11 * dx);
  EXPECT_NEAR(s.y, 11 * dy, 0.03 * 11 * std::abs(dy));
}

// ---------------------------------------------------------------- stage

Item clip_item(const std::vector<cv::Mat>& frames) {
  Item item;
  item.set_sequence("clip", frames);
  return item;
}

SampleMeta sample_at(double fps) {
  SampleMeta s;
  s.id = "test/s1/clip";
  s.fps = fps;
  return s;
}

TEST(MagnifyStage, KeepsEightBitClipsEightBitAndMagnifiesThem) {
  std::vector<cv::Mat> frames8;
  for (const auto& f : oscillating_clip(0.25, 2.0)) {
    cv::Mat g;
    f.convertTo(g, CV_8U);
    frames8.push_back(g);
  }
  const auto stage = build("{type: magnify, alpha: 10, low_hz: 1.5, high_hz: 2.5, levels: 5, lambda_c: 4}");
  EXPECT_EQ(stage->reads(), (std::vector<std::string>{"clip"}));
  EXPECT_EQ(stage->writes(), (std::vector<std::string>{"clip"}));
  auto item = clip_item(frames8);
  stage->apply(sample_at(kFps), item);
  const auto& out = item.seq("clip");
  ASSERT_EQ(out.size(), frames8.size());
  EXPECT_EQ(out[0].type(), CV_8UC1);
  const double ratio = motion_amplitude(out, 2.0) / motion_amplitude(frames8, 2.0);
  std::printf("[ measured ] magnify stage on an 8-bit clip: ratio %.2f\n", ratio);
  EXPECT_NEAR(ratio, 11.0, 11.0 * 0.25);

  // `output` keeps the original clip; lagrangian too stays 8-bit.
  const auto lag = build("{type: magnify, method: lagrangian, alpha: 4, output: magnified}");
  EXPECT_EQ(lag->writes(), (std::vector<std::string>{"magnified"}));
  auto item2 = clip_item({frames8[0], frames8[3]});
  lag->apply(sample_at(0), item2);  // no fps needed
  EXPECT_EQ(item2.seq("magnified")[1].type(), CV_8UC1);
  EXPECT_EQ(item2.seq("clip").size(), 2u);
}

TEST(MagnifyStage, FingerprintFollowsTheOptions) {
  const auto a = build("{type: magnify, alpha: 10}");
  EXPECT_EQ(a->fingerprint(), build("{type: magnify, alpha: 10.0}")->fingerprint());
  EXPECT_NE(a->fingerprint(), build("{type: magnify, alpha: 11}")->fingerprint());
  EXPECT_NE(a->fingerprint(), build("{type: magnify, alpha: 10, filter: iir}")->fingerprint());
  EXPECT_NE(a->fingerprint(), build("{type: magnify, alpha: 10, lambda_c: 20}")->fingerprint());
  EXPECT_NE(a->fingerprint(), build("{type: magnify, method: lagrangian, alpha: 10}")->fingerprint());
}

TEST(MagnifyStage, PerSampleProblemsAreSampleErrorsNamingTheSample) {
  const auto clip = oscillating_clip(0.1, 2.0, 30);
  const auto evm = build("{type: magnify, low_hz: 1, high_hz: 5}");
  auto check = [&](const Stage& stage, Item item, double fps, const std::string& want) {
    const auto what = expect_throw<SampleError>([&] { stage.apply(sample_at(fps), item); });
    EXPECT_NE(what.find(want), std::string::npos) << what;
    EXPECT_NE(what.find("test/s1/clip"), std::string::npos) << what;
  };
  check(*evm, clip_item(clip), 0, "no frame rate (fps)");
  check(*evm, clip_item({clip[0], clip[1]}), kFps, "needs a clip of at least 3");
  check(*evm, clip_item({}), kFps, "is empty");
  check(*evm, clip_item(clip), 9, "Nyquist frequency 4.5 Hz");
  // A 5-frame clip at 30 fps has bins 6 Hz apart: none in 1-5 Hz.
  check(*evm, clip_item({clip[0], clip[1], clip[2], clip[3], clip[4]}), kFps, "bins 6 Hz apart");
  const auto lag = build("{type: magnify, method: lagrangian}");
  check(*lag, clip_item({clip[0]}), kFps, "at least 2");
  // default_fps stands in for a sample without one.
  auto item = clip_item(clip);
  build("{type: magnify, low_hz: 1, high_hz: 5, default_fps: 30}")->apply(sample_at(0), item);
  EXPECT_EQ(item.seq("clip").size(), clip.size());
}

TEST(MagnifyStage, ConfigMistakesNameTheLine) {
  auto what = expect_throw<ConfigError>([] { build("type: magnify\nmethod: eulerian\n"); });
  EXPECT_NE(what.find("stage.yaml:2"), std::string::npos) << what;
  what = expect_throw<ConfigError>([] { build("type: magnify\nlow_hz: 3\nhigh_hz: 2\n"); });
  EXPECT_NE(what.find("stage.yaml:3"), std::string::npos) << what;
  what = expect_throw<ConfigError>([] { build("type: magnify\nhigh_hz: 20\ndefault_fps: 30\n"); });
  EXPECT_NE(what.find("Nyquist"), std::string::npos) << what;
  // EVM options under lagrangian are unknown keys, not silently ignored.
  what = expect_throw<ConfigError>([] { build("type: magnify\nmethod: lagrangian\nfilter: ideal\n"); });
  EXPECT_NE(what.find("stage.yaml:3"), std::string::npos) << what;
  what = expect_throw<ConfigError>([] { build("type: magnify\nattenuation: 2\n"); });
  EXPECT_NE(what.find("attenuation"), std::string::npos) << what;
}

TEST(MagnifyStage, RunsInAPipelineAfterAClipIsRead) {
  test::TempDir dir;
  SampleMeta s = sample_at(kFps);
  s.onset = 1, s.apex = 15, s.offset = 30;
  s.clip_dir = dir.path();
  s.frame_pattern = "img{}.png";
  const auto clip = oscillating_clip(0.25, 2.0, 30);
  for (int n = 1; n <= 30; ++n) {
    cv::Mat g;
    clip[static_cast<std::size_t>(n - 1)].convertTo(g, CV_8U);
    cv::imwrite(s.frame_path(n).string(), g);
  }
  const std::string yaml = R"(preprocess:
  outputs: [clip]
  stages:
    - {type: frames, frames: [], clip: true}
    - {type: magnify, method: evm, alpha: 10, low_hz: 1.5, high_hz: 2.5, levels: 5, lambda_c: 4}
    - {type: to_float, keys: [clip], scale: none}
)";
  const auto config = Config::from_string(yaml, "pre.yaml");
  const auto pipeline = Pipeline::from_config(config.root().child("preprocess"), builtin_stages());
  config.check_all_used();
  const Item item = pipeline.run_one(s);
  const auto& out = item.seq("clip");
  ASSERT_EQ(out.size(), 30u);
  EXPECT_EQ(out[0].type(), CV_32FC1);
  const double ratio = motion_amplitude(out, 2.0) / motion_amplitude(clip, 2.0);
  std::printf("[ measured ] frames -> magnify -> to_float pipeline: ratio %.2f\n", ratio);
  EXPECT_NEAR(ratio, 11.0, 11.0 * 0.25);

  // Without a clip the chain check fails when the pipeline is built.
  const auto bad = Config::from_string("preprocess:\n  outputs: [clip]\n  stages:\n    - {type: frames}\n"
                                       "    - {type: magnify}\n",
                                       "pre.yaml");
  const auto what = expect_throw<ConfigError>([&] { Pipeline::from_config(bad.root().child("preprocess")); });
  EXPECT_NE(what.find("pre.yaml:5"), std::string::npos) << what;
}

}  // namespace
}  // namespace mer
