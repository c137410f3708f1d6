// Motion magnification of clips: Eulerian (Wu et al. 2012) and Lagrangian (flow re-warping).
#include <mer/preprocess/magnify.hpp>

#include <mer/core/error.hpp>

#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <cmath>

namespace mer {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Every frame CV_32F with `channels` in {1, 3} (0 = any), one size and type, at least `min_frames`.
void check_clip(const std::vector<cv::Mat>& frames, const char* what, std::size_t min_frames, bool colour_or_gray) {
  MER_CHECK(!frames.empty(), ValueError, what, ": the clip is empty");
  MER_CHECK(frames.size() >= min_frames, ValueError, what, ": needs a clip of at least ", min_frames,
            " frames, got ", frames.size());
  const cv::Mat& first = frames.front();
  MER_CHECK(!first.empty() && first.depth() == CV_32F, ValueError, what, ": frames must be CV_32F, got ",
            first.empty() ? std::string("an empty frame") : detail::concat("depth ", first.depth()));
  MER_CHECK(!colour_or_gray || first.channels() == 1 || first.channels() == 3, ValueError, what,
            ": frames must have 1 or 3 channels, got ", first.channels());
  for (std::size_t t = 1; t < frames.size(); ++t) {
    MER_CHECK(frames[t].size() == first.size() && frames[t].type() == first.type(), ValueError, what, ": frame ", t,
              " is ", frames[t].cols, "x", frames[t].rows, " type ", frames[t].type(), " but frame 0 is ", first.cols,
              "x", first.rows, " type ", first.type(), " (every frame of a clip must have one size and type)");
  }
}

void check_band(double fps, const std::string& filter, double low_hz, double high_hz) {
  MER_CHECK(fps > 0 && std::isfinite(fps), ValueError, "temporal band-pass: fps must be > 0, got ", fps);
  MER_CHECK(filter == "ideal" || filter == "butterworth" || filter == "iir", ValueError,
            "temporal band-pass: filter must be ideal, butterworth or iir, got '", filter, "'");
  MER_CHECK(low_hz >= 0 && low_hz < high_hz, ValueError, "temporal band-pass: needs 0 <= low_hz < high_hz, got low_hz ",
            low_hz, ", high_hz ", high_hz);
  // Above Nyquist the band does not exist in the sampled clip, and the bilinear transform's tan() blows up.
  MER_CHECK(high_hz < fps / 2, ValueError, "temporal band-pass: high_hz ", high_hz,
            " Hz must be below the Nyquist frequency fps / 2 = ", fps / 2, " Hz");
}

// A flat, continuous CV_32FC1 view of one frame's pixels (all channels), as one row.
cv::Mat as_row(const cv::Mat& m) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  return c.reshape(1, 1);
}

// Band-passes each column of `series` (T rows = time, one column per pixel and channel) in place.
void bandpass_rows(cv::Mat& series, double fps, const std::string& filter, double low_hz, double high_hz) {
  const int T = series.rows;
  if (filter == "ideal") {
    // Wu et al.'s ideal filter: the spectrum of each pixel's series with the bins outside the band zeroed.
    // Bin k and T-k are the same |frequency| (conjugate pair), so both are kept or dropped together and
    // the inverse stays real.
    cv::Mat by_pixel = series.t();
    cv::Mat spectrum;
    cv::dft(by_pixel, spectrum, cv::DFT_ROWS | cv::DFT_COMPLEX_OUTPUT);
    for (int k = 0; k < T; ++k) {
      const double f = std::min(k, T - k) * fps / T;
      if (f < low_hz || f > high_hz) spectrum.col(k).setTo(cv::Scalar::all(0));
    }
    cv::dft(spectrum, by_pixel, cv::DFT_ROWS | cv::DFT_INVERSE | cv::DFT_REAL_OUTPUT | cv::DFT_SCALE);
    series = by_pixel.t();
    return;
  }
  // Both recursive filters are the difference of two first-order low-passes (cut-offs high_hz and low_hz),
  // as in Wu et al.'s real-time variants. They start in the steady state of the first frame, so the band
  // starts at zero instead of ringing from a zero initial state.
  cv::Mat fast = series.row(0).clone(), slow = series.row(0).clone(), prev = series.row(0).clone();
  cv::Mat x, fast_next, slow_next;
  auto first_order = [&](const cv::Mat& xn, const cv::Mat& xprev, cv::Mat& y, double fc) {
    if (filter == "butterworth") {
      // First-order Butterworth low-pass by the bilinear transform with pre-warping, K = tan(pi fc / fs):
      // y[n] = (K x[n] + K x[n-1] - (K - 1) y[n-1]) / (1 + K); unit gain at 0 Hz, -3 dB at fc.
      const double K = std::tan(kPi * fc / fps);
      cv::Mat s;
      cv::add(xn, xprev, s);
      cv::addWeighted(s, K / (1 + K), y, -(K - 1) / (1 + K), 0, y);
    } else {
      // Exponential smoothing y += r (x - y) with r = 1 - exp(-2 pi fc / fs): the sampled RC low-pass
      // whose time constant is 1 / (2 pi fc).
      const double r = 1 - std::exp(-2 * kPi * fc / fps);
      cv::addWeighted(xn, r, y, 1 - r, 0, y);
    }
  };
  series.row(0).setTo(cv::Scalar::all(0));
  for (int t = 1; t < T; ++t) {
    x = series.row(t).clone();
    first_order(x, prev, fast, high_hz);
    first_order(x, prev, slow, low_hz);
    cv::Mat row = series.row(t);
    cv::subtract(fast, slow, row);
    x.copyTo(prev);
  }
}

// Copies frames into a T x (pixels * channels) CV_32F matrix, one frame a row.
cv::Mat stack_rows(const std::vector<cv::Mat>& frames) {
  const int n = static_cast<int>(frames.front().total() * frames.front().channels());
  cv::Mat series(static_cast<int>(frames.size()), n, CV_32F);
  for (std::size_t t = 0; t < frames.size(); ++t) as_row(frames[t]).copyTo(series.row(static_cast<int>(t)));
  return series;
}

// Row t of `series` as a frame shaped like `like`.
cv::Mat unstack_row(const cv::Mat& series, int t, const cv::Mat& like) {
  return series.row(t).clone().reshape(like.channels(), like.rows);
}

// Sizes of the pyramid levels 0 (full) .. levels, as cv::pyrDown makes them.
std::vector<cv::Size> pyramid_sizes(cv::Size full, int levels) {
  std::vector<cv::Size> sizes = {full};
  for (int l = 0; l < levels; ++l) {
    const cv::Size s = sizes.back();
    sizes.emplace_back((s.width + 1) / 2, (s.height + 1) / 2);
  }
  return sizes;
}

// Upsamples `m` level by level from sizes[from] back to sizes[0].
cv::Mat upsample_to_full(cv::Mat m, const std::vector<cv::Size>& sizes, int from) {
  for (int l = from - 1; l >= 0; --l) {
    cv::Mat up;
    cv::pyrUp(m, up, sizes[static_cast<std::size_t>(l)]);
    m = up;
  }
  return m;
}

// The 3x3 BGR -> BGR matrix that scales the chroma (I, Q of NTSC YIQ) of a colour by `c` and keeps its
// luma: inv(M) diag(1, c, c) M. Everything before it is linear and per channel, so applying it to the
// band equals the paper's filtering in YIQ.
cv::Mat chroma_scaling(double c) {
  // YIQ from B, G, R (the usual RGB -> YIQ rows with the columns in OpenCV's BGR order).
  const cv::Mat m = (cv::Mat_<double>(3, 3) << 0.114, 0.587, 0.299,   //
                     -0.322, -0.274, 0.596,                           //
                     0.312, -0.523, 0.211);
  const cv::Mat d = (cv::Mat_<double>(3, 3) << 1, 0, 0, 0, c, 0, 0, 0, c);
  return m.inv() * d * m;
}

}  // namespace

std::vector<cv::Mat> temporal_bandpass(const std::vector<cv::Mat>& frames, double fps, const std::string& filter,
                                       double low_hz, double high_hz) {
  check_clip(frames, "temporal band-pass", 3, false);
  check_band(fps, filter, low_hz, high_hz);
  const int T = static_cast<int>(frames.size());
  if (filter == "ideal") {
    bool any = false;
    for (int k = 0; k <= T / 2 && !any; ++k) any = k * fps / T >= low_hz && k * fps / T <= high_hz;
    MER_CHECK(any, ValueError, "temporal band-pass: no frequency of a ", T, "-frame clip at ", fps, " fps (bins ",
              fps / T, " Hz apart) lies in [", low_hz, ", ", high_hz, "] Hz; the ideal filter needs a longer clip or a wider band");
  }
  cv::Mat series = stack_rows(frames);
  bandpass_rows(series, fps, filter, low_hz, high_hz);
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  for (int t = 0; t < T; ++t) out.push_back(unstack_row(series, t, frames.front()));
  return out;
}

std::vector<cv::Mat> magnify_eulerian(const std::vector<cv::Mat>& frames, double fps,
                                      const EulerianMagnifyOptions& o) {
  check_clip(frames, "Eulerian magnification", 3, true);
  MER_CHECK(o.pyramid == "laplacian" || o.pyramid == "gaussian", ValueError,
            "Eulerian magnification: pyramid must be laplacian or gaussian, got '", o.pyramid, "'");
  MER_CHECK(o.levels >= 1 && o.levels <= 16, ValueError, "Eulerian magnification: levels must be in [1, 16], got ",
            o.levels);
  MER_CHECK(o.alpha >= 0 && std::isfinite(o.alpha), ValueError, "Eulerian magnification: alpha must be >= 0, got ",
            o.alpha);
  MER_CHECK(o.lambda_c > 0 && std::isfinite(o.lambda_c), ValueError,
            "Eulerian magnification: lambda_c must be > 0, got ", o.lambda_c);
  MER_CHECK(o.attenuation >= 0 && o.attenuation <= 1, ValueError,
            "Eulerian magnification: attenuation must be in [0, 1], got ", o.attenuation);
  MER_CHECK(o.chroma_attenuation >= 0 && o.chroma_attenuation <= 1, ValueError,
            "Eulerian magnification: chroma_attenuation must be in [0, 1], got ", o.chroma_attenuation);
  const cv::Mat& first = frames.front();
  const auto sizes = pyramid_sizes(first.size(), o.levels);
  MER_CHECK(std::min(sizes.back().width, sizes.back().height) >= 2, ValueError, "Eulerian magnification: ",
            first.cols, "x", first.rows, " frames are too small for ", o.levels, " pyramid levels (the coarsest is ",
            sizes.back().width, "x", sizes.back().height, "; it must keep 2 pixels a side)");
  // The band-pass checks (and the ideal filter's bin check) are temporal_bandpass's: run them once here,
  // before the pyramids are built, on a 1-pixel stand-in clip.
  temporal_bandpass(std::vector<cv::Mat>(frames.size(), cv::Mat(1, 1, CV_32F, cv::Scalar(0))), fps, o.filter,
                    o.low_hz, o.high_hz);

  const int T = static_cast<int>(frames.size());
  const bool colour = first.channels() == 3;
  std::vector<cv::Mat> out(frames.size());

  if (o.pyramid == "gaussian") {
    // Colour / pulse amplification: only the coarsest level, where the sensor noise is averaged away.
    std::vector<cv::Mat> coarse;
    coarse.reserve(frames.size());
    for (const auto& f : frames) {
      cv::Mat g = f;
      for (int l = 0; l < o.levels; ++l) {
        cv::Mat down;
        cv::pyrDown(g, down, sizes[static_cast<std::size_t>(l) + 1]);
        g = down;
      }
      coarse.push_back(g);
    }
    cv::Mat series = stack_rows(coarse);
    bandpass_rows(series, fps, o.filter, o.low_hz, o.high_hz);
    series *= o.alpha;
    const cv::Mat chroma = colour ? chroma_scaling(o.chroma_attenuation) : cv::Mat();
    for (int t = 0; t < T; ++t) {
      cv::Mat band = upsample_to_full(unstack_row(series, t, coarse.front()), sizes, o.levels);
      if (colour) cv::transform(band, band, chroma);
      cv::add(frames[static_cast<std::size_t>(t)], band, out[static_cast<std::size_t>(t)]);
    }
    return out;
  }

  // Laplacian: levels 0 .. levels-1 are band-pass levels, the residual below them is left alone (it
  // carries the illumination; Wu et al.'s code leaves the lowest band unamplified too).
  // Per-level amplification (Wu et al. 2012, Sec. 3, Fig. 8): with δ the displacement at which alpha just
  // meets the bound (1 + alpha) δ = lambda_c / 8, a level of representative wavelength λ may be amplified by
  // at most λ / (8 δ) - 1 = (1 + alpha) λ / lambda_c - 1, which falls linearly below lambda_c.
  std::vector<double> level_alpha(static_cast<std::size_t>(o.levels));
  for (int l = 0; l < o.levels; ++l) {
    const double lambda = std::ldexp(1.0, l + 2);  // band l holds wavelengths of 2^(l+1) .. 2^(l+2) px
    level_alpha[static_cast<std::size_t>(l)] =
        lambda >= o.lambda_c ? o.alpha
                             : std::min(o.alpha, o.attenuation * std::max(0.0, (1 + o.alpha) * lambda / o.lambda_c - 1));
  }
  // One T x pixels matrix per level so that each pixel's series is filtered as a whole.
  std::vector<cv::Mat> series(static_cast<std::size_t>(o.levels));
  std::vector<cv::Mat> like(static_cast<std::size_t>(o.levels));
  for (int t = 0; t < T; ++t) {
    cv::Mat g = frames[static_cast<std::size_t>(t)];
    for (int l = 0; l < o.levels; ++l) {
      const auto lu = static_cast<std::size_t>(l);
      cv::Mat down, up, band;
      cv::pyrDown(g, down, sizes[lu + 1]);
      cv::pyrUp(down, up, sizes[lu]);
      cv::subtract(g, up, band);
      if (t == 0) {
        series[lu].create(T, static_cast<int>(band.total() * band.channels()), CV_32F);
        like[lu] = band;
      }
      as_row(band).copyTo(series[lu].row(t));
      g = down;
    }
  }
  for (int l = 0; l < o.levels; ++l) {
    const auto lu = static_cast<std::size_t>(l);
    if (level_alpha[lu] == 0) {
      series[lu].setTo(cv::Scalar::all(0));
      continue;
    }
    bandpass_rows(series[lu], fps, o.filter, o.low_hz, o.high_hz);
    series[lu] *= level_alpha[lu];
  }
  const cv::Mat chroma = colour ? chroma_scaling(o.chroma_attenuation) : cv::Mat();
  for (int t = 0; t < T; ++t) {
    // Collapse the amplified band pyramid (zero residual) and add it to the frame.
    cv::Mat acc = unstack_row(series.back(), t, like.back());
    for (int l = o.levels - 2; l >= 0; --l) {
      const auto lu = static_cast<std::size_t>(l);
      cv::Mat up;
      cv::pyrUp(acc, up, sizes[lu]);
      cv::add(up, unstack_row(series[lu], t, like[lu]), acc);
    }
    if (colour) cv::transform(acc, acc, chroma);
    cv::add(frames[static_cast<std::size_t>(t)], acc, out[static_cast<std::size_t>(t)]);
  }
  return out;
}

std::vector<cv::Mat> magnify_lagrangian(const std::vector<cv::Mat>& frames, const LagrangianMagnifyOptions& o,
                                        const std::vector<cv::Mat>& flows) {
  check_clip(frames, "Lagrangian magnification", 2, true);
  MER_CHECK(o.alpha >= 0 && std::isfinite(o.alpha), ValueError, "Lagrangian magnification: alpha must be >= 0, got ",
            o.alpha);
  MER_CHECK(o.source == "each" || o.source == "first", ValueError,
            "Lagrangian magnification: source must be each or first, got '", o.source, "'");
  MER_CHECK(o.preset == "ultrafast" || o.preset == "fast" || o.preset == "medium", ValueError,
            "Lagrangian magnification: preset must be ultrafast, fast or medium, got '", o.preset, "'");
  const cv::Size size = frames.front().size();
  if (!flows.empty()) {
    MER_CHECK(flows.size() == frames.size(), ValueError, "Lagrangian magnification: ", flows.size(), " flows for ",
              frames.size(), " frames (one per frame expected, flows[0] ignored)");
    for (std::size_t t = 1; t < flows.size(); ++t) {
      MER_CHECK(flows[t].type() == CV_32FC2 && flows[t].size() == size, ValueError, "Lagrangian magnification: flow ",
                t, " must be CV_32FC2 ", size.width, "x", size.height, ", got type ", flows[t].type(), " ",
                flows[t].cols, "x", flows[t].rows);
    }
  }

  // DIS works on 8-bit gray; one affine map for the whole clip keeps brightness constancy between frames.
  std::vector<cv::Mat> gray;
  if (flows.empty()) {
    double lo = 0, hi = 0;
    for (std::size_t t = 0; t < frames.size(); ++t) {
      double a = 0, b = 0;
      cv::minMaxLoc(frames[t].reshape(1), &a, &b);
      lo = t == 0 ? a : std::min(lo, a);
      hi = t == 0 ? b : std::max(hi, b);
    }
    const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
    for (const auto& f : frames) {
      cv::Mat g = f, g8;
      if (f.channels() == 3) cv::cvtColor(f, g, cv::COLOR_BGR2GRAY);
      g.convertTo(g8, CV_8U, scale, -lo * scale);
      gray.push_back(g8);
    }
  }
  const int preset = o.preset == "ultrafast" ? cv::DISOpticalFlow::PRESET_ULTRAFAST
                     : o.preset == "fast"    ? cv::DISOpticalFlow::PRESET_FAST
                                             : cv::DISOpticalFlow::PRESET_MEDIUM;
  // One DIS object per call: it keeps buffers between calls, and this function may run on several threads.
  cv::Ptr<cv::DISOpticalFlow> dis = flows.empty() ? cv::DISOpticalFlow::create(preset) : nullptr;

  // Backward warping: magnified frame t at q samples the source at q - k * flow(q), k = alpha for frame t
  // (already moved by flow) or 1 + alpha for frame 0. Using the flow at q rather than at the (unknown)
  // source point is exact for uniform motion and a second-order error for smooth motion.
  const double k = o.source == "each" ? o.alpha : 1 + o.alpha;
  std::vector<cv::Mat> out(frames.size());
  out[0] = frames[0].clone();
  cv::Mat map(size, CV_32FC2);
  for (std::size_t t = 1; t < frames.size(); ++t) {
    cv::Mat flow;
    if (flows.empty()) {
      dis->calc(gray[0], gray[t], flow);
    } else {
      flow = flows[t];
    }
    for (int y = 0; y < size.height; ++y) {
      const auto* f = flow.ptr<cv::Vec2f>(y);
      auto* m = map.ptr<cv::Vec2f>(y);
      for (int x = 0; x < size.width; ++x) {
        m[x] = cv::Vec2f(static_cast<float>(x - k * f[x][0]), static_cast<float>(y - k * f[x][1]));
      }
    }
    const cv::Mat& src = o.source == "each" ? frames[t] : frames[0];
    cv::remap(src, out[t], map, cv::noArray(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  }
  return out;
}

}  // namespace mer
