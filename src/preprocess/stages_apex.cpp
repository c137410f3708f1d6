// Apex spotting for samples whose annotation has no usable apex (SMIC has none; CASME II and SAMM have
// '/' and out-of-order apexes; see the datasets' missing_apex: estimate policy).
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>
#include <mer/preprocess/temporal.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <functional>
#include <numeric>

namespace mer {

namespace {
std::vector<double> raw_profile(const std::vector<cv::Mat>& frames) {
  MER_CHECK(frames.size() >= 2, ValueError, "apex spotting needs at least 2 frames, got ", frames.size());
  const cv::Mat& first = frames.front();
  const cv::Mat& last = frames.back();
  std::vector<double> d(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    MER_CHECK(frames[t].size() == first.size() && frames[t].type() == first.type(), ValueError,
              "apex spotting: frame ", t, " is ", frames[t].cols, "x", frames[t].rows, ", expected ", first.cols, "x",
              first.rows);
    // Onset and offset are both near-neutral, so the apex is the frame farthest from both.
    d[t] = cv::mean(cv::abs(frames[t] - first))[0] + cv::mean(cv::abs(frames[t] - last))[0];
  }
  return d;
}

std::vector<double> smoothed(const std::vector<double>& d) {
  // A 3-tap moving average keeps a single noisy frame from winning.
  std::vector<double> smooth(d.size());
  for (std::size_t t = 0; t < d.size(); ++t) {
    const std::size_t a = t == 0 ? 0 : t - 1, b = std::min(d.size() - 1, t + 1);
    double sum = 0;
    for (std::size_t k = a; k <= b; ++k) sum += d[k];
    smooth[t] = sum / double(b - a + 1);
  }
  return smooth;
}
}  // namespace

std::size_t spot_apex(const std::vector<cv::Mat>& frames) {
  const auto raw = raw_profile(frames);
  if (raw.size() <= 2) return raw.size() - 1;
  const auto smooth = smoothed(raw);
  // The smoothed profile finds the peak's neighbourhood (robust to one noisy frame); the raw profile then
  // picks the frame, since smoothing shifts the maximum of an asymmetric rise and fall. The apex lies
  // strictly between onset and offset.
  const auto coarse = static_cast<std::size_t>(std::max_element(smooth.begin() + 1, smooth.end() - 1) - smooth.begin());
  const std::size_t a = std::max<std::size_t>(1, coarse - 1), b = std::min(raw.size() - 2, coarse + 1);
  return static_cast<std::size_t>(std::max_element(raw.begin() + a, raw.begin() + b + 1) - raw.begin());
}

// ---------------------------------------------------------------- methods beyond frame difference

namespace {

// The 58 uniform 8-bit patterns (at most two 0/1 transitions around the circle) get codes 0..57 in
// increasing order, every other pattern 58: the mapping of Ojala et al. 2002 for P = 8.
const std::array<unsigned char, 256>& uniform_table() {
  static const std::array<unsigned char, 256> table = [] {
    std::array<unsigned char, 256> t{};
    unsigned char next = 0;
    for (int code = 0; code < 256; ++code) {
      int transitions = 0;
      for (int b = 0; b < 8; ++b) transitions += ((code >> b) & 1) != ((code >> ((b + 1) % 8)) & 1);
      t[static_cast<std::size_t>(code)] = transitions <= 2 ? next++ : 58;
    }
    return t;
  }();
  return table;
}

constexpr int kLbpBins = 59;

// The top-left corner of block (by, bx) when `size` pixels are cut into `blocks` near-equal parts.
int block_edge(int size, int blocks, int b) { return size * b / blocks; }

// Per-block normalised uniform-LBP histograms of one frame: blocks*blocks rows of 59 bins.
cv::Mat block_histograms(const cv::Mat& frame, int blocks) {
  const cv::Mat codes = uniform_lbp(frame);
  cv::Mat h(blocks * blocks, kLbpBins, CV_64F, cv::Scalar(0));
  for (int by = 0; by < blocks; ++by) {
    for (int bx = 0; bx < blocks; ++bx) {
      double* row = h.ptr<double>(by * blocks + bx);
      const int y0 = block_edge(codes.rows, blocks, by), y1 = block_edge(codes.rows, blocks, by + 1);
      const int x0 = block_edge(codes.cols, blocks, bx), x1 = block_edge(codes.cols, blocks, bx + 1);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) row[codes.at<unsigned char>(y, x)] += 1;
      const double n = double((y1 - y0) * (x1 - x0));
      if (n > 0)
        for (int k = 0; k < kLbpBins; ++k) row[k] /= n;
    }
  }
  return h;
}

// Moilanen et al. 2014, feature difference analysis: the current frame is compared with the average of
// the tail frame (k before) and head frame (k after); per block the chi-square distance of LBP
// histograms, and the frame's score is the mean of its largest third of block distances, because a
// micro-expression moves only a few face regions and averaging all blocks would drown them.
std::vector<double> feature_difference_profile(const std::vector<cv::Mat>& frames, const ApexSpotParams& p) {
  const int T = static_cast<int>(frames.size());
  const int k = p.interval > 0 ? p.interval : std::max(1, (T - 1) / 4);
  std::vector<cv::Mat> h(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) h[t] = block_histograms(frames[t], p.blocks);
  const int nblocks = p.blocks * p.blocks, top = std::max(1, nblocks / 3);
  std::vector<double> score(frames.size());
  std::vector<double> dist(static_cast<std::size_t>(nblocks));
  for (int t = 0; t < T; ++t) {
    const cv::Mat& tail = h[static_cast<std::size_t>(std::max(0, t - k))];
    const cv::Mat& head = h[static_cast<std::size_t>(std::min(T - 1, t + k))];
    const cv::Mat& cur = h[static_cast<std::size_t>(t)];
    for (int b = 0; b < nblocks; ++b) {
      double chi = 0;
      for (int bin = 0; bin < kLbpBins; ++bin) {
        const double c = cur.at<double>(b, bin), a = 0.5 * (tail.at<double>(b, bin) + head.at<double>(b, bin));
        if (c + a > 0) chi += (c - a) * (c - a) / (c + a);
      }
      dist[static_cast<std::size_t>(b)] = chi;
    }
    std::partial_sort(dist.begin(), dist.begin() + top, dist.end(), std::greater<double>());
    score[static_cast<std::size_t>(t)] = std::accumulate(dist.begin(), dist.begin() + top, 0.0) / top;
  }
  return score;
}

// Mean DIS flow magnitude (Kroeger et al. 2016) from the onset to each frame plus that from the offset:
// the apex is where the face is farthest from both neutral ends. Measuring from one end only would follow
// head drift, which grows steadily over the clip (the synthetic clips of `mer synth` put the maximum at
// the last frame); for a steady drift the two terms add up to about the same at every frame, as in
// frame_difference. DIS is the fastest dense method in OpenCV and the frames are small.
std::vector<double> flow_magnitude_profile(const std::vector<cv::Mat>& frames) {
  std::vector<cv::Mat> gray(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) frames[t].convertTo(gray[t], CV_8U);
  auto dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
  std::vector<double> score(frames.size(), 0.0);
  cv::Mat flow, uv[2], mag;
  for (const cv::Mat* reference : {&gray.front(), &gray.back()}) {
    for (std::size_t t = 0; t < frames.size(); ++t) {
      if (&gray[t] == reference) continue;
      dis->calc(*reference, gray[t], flow);
      cv::split(flow, uv);
      cv::magnitude(uv[0], uv[1], mag);
      score[t] += cv::mean(mag)[0];
    }
  }
  return score;
}

// Normalised frequency (cycles per sample, in [-0.5, 0.5)) of DFT bin k of n.
double bin_frequency(int k, int n) { return (k <= n / 2 ? double(k) : double(k - n)) / double(n); }

// After Li et al. 2018 (frequency-domain apex spotting): the region is cut into blocks; for each frame a
// window of `window` frames centred on it forms one volume per block, whose 3D FFT is high-pass filtered
// and the magnitudes summed; the frame with the most high-frequency energy is the apex. The volumes hold
// each frame's difference from a neutral reference, so the energy measures change from the neutral face
// rather than the face's own texture, which a shift leaves unchanged; the energies against the onset and
// against the offset are added, so that steady head drift (largest at the far end) cancels as in
// frame_difference. Windows at the clip's ends repeat the end frames. The 2D spectra of each frame's
// blocks are computed once and combined over time for each window.
std::vector<double> frequency_profile_from(const std::vector<cv::Mat>& frames, const ApexSpotParams& p,
                                           const cv::Mat& reference) {
  const int T = static_cast<int>(frames.size()), nb = p.blocks * p.blocks;
  const int rows = frames.front().rows, cols = frames.front().cols;
  // spectra[t][b]: 2D DFT (CV_32FC2) of block b of frame t minus the first frame.
  std::vector<std::vector<cv::Mat>> spectra(frames.size(), std::vector<cv::Mat>(static_cast<std::size_t>(nb)));
  std::vector<cv::Rect> rects;
  for (int by = 0; by < p.blocks; ++by)
    for (int bx = 0; bx < p.blocks; ++bx)
      rects.emplace_back(cv::Point(block_edge(cols, p.blocks, bx), block_edge(rows, p.blocks, by)),
                         cv::Point(block_edge(cols, p.blocks, bx + 1), block_edge(rows, p.blocks, by + 1)));
  cv::Mat diff;
  for (int t = 0; t < T; ++t) {
    cv::subtract(frames[static_cast<std::size_t>(t)], reference, diff, cv::noArray(), CV_32F);
    for (int b = 0; b < nb; ++b) {
      cv::dft(diff(rects[static_cast<std::size_t>(b)]).clone(), spectra[static_cast<std::size_t>(t)][static_cast<std::size_t>(b)],
              cv::DFT_COMPLEX_OUTPUT);
    }
  }
  const int w = std::min(p.window, T % 2 == 1 ? T : T - 1), half = w / 2;
  const double pi = std::acos(-1.0);
  std::vector<double> score(frames.size(), 0.0);
  for (int t = 0; t < T; ++t) {
    double energy = 0;
    for (int b = 0; b < nb; ++b) {
      const cv::Rect& r = rects[static_cast<std::size_t>(b)];
      for (int kt = 0; kt < w; ++kt) {
        const double ft = bin_frequency(kt, w);
        for (int y = 0; y < r.height; ++y) {
          const double fy = bin_frequency(y, r.height);
          for (int x = 0; x < r.width; ++x) {
            const double fx = bin_frequency(x, r.width);
            if (ft * ft + fy * fy + fx * fx <= p.cutoff * p.cutoff) continue;
            std::complex<double> z(0, 0);
            for (int m = 0; m < w; ++m) {
              const int tau = std::clamp(t - half + m, 0, T - 1);
              const auto& v = spectra[static_cast<std::size_t>(tau)][static_cast<std::size_t>(b)].at<cv::Vec2f>(y, x);
              z += std::complex<double>(v[0], v[1]) * std::polar(1.0, -2 * pi * kt * m / w);
            }
            energy += std::abs(z);
          }
        }
      }
    }
    score[static_cast<std::size_t>(t)] = energy;
  }
  return score;
}

std::vector<double> frequency_profile(const std::vector<cv::Mat>& frames, const ApexSpotParams& p) {
  auto score = frequency_profile_from(frames, p, frames.front());
  const auto back = frequency_profile_from(frames, p, frames.back());
  for (std::size_t t = 0; t < score.size(); ++t) score[t] += back[t];
  return score;
}

void check_frames(const std::vector<cv::Mat>& frames) {
  MER_CHECK(frames.size() >= 2, ValueError, "apex spotting needs at least 2 frames, got ", frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    MER_CHECK(frames[t].type() == CV_32FC1 && frames[t].size() == frames.front().size(), ValueError,
              "apex spotting: frame ", t, " is ", frames[t].cols, "x", frames[t].rows, " of type ", frames[t].type(),
              ", expected CV_32FC1 (", CV_32FC1, ") of ", frames.front().cols, "x", frames.front().rows,
              " (use spotting_frames)");
  }
}

}  // namespace

cv::Mat uniform_lbp(const cv::Mat& gray) {
  MER_CHECK(gray.channels() == 1 && gray.rows >= 3 && gray.cols >= 3, ValueError,
            "uniform_lbp: expected a single-channel image of at least 3x3, got ", gray.cols, "x", gray.rows, " with ",
            gray.channels(), " channels");
  cv::Mat g;
  gray.convertTo(g, CV_32F);
  const auto& table = uniform_table();
  cv::Mat codes(g.rows - 2, g.cols - 2, CV_8U);
  static const int dy[8] = {-1, -1, -1, 0, 1, 1, 1, 0}, dx[8] = {-1, 0, 1, 1, 1, 0, -1, -1};
  for (int y = 1; y < g.rows - 1; ++y) {
    for (int x = 1; x < g.cols - 1; ++x) {
      const float c = g.at<float>(y, x);
      int code = 0;
      for (int n = 0; n < 8; ++n) code |= (g.at<float>(y + dy[n], x + dx[n]) >= c) << n;
      codes.at<unsigned char>(y - 1, x - 1) = table[static_cast<std::size_t>(code)];
    }
  }
  return codes;
}

std::vector<cv::Mat> spotting_frames(const std::vector<cv::Mat>& frames, cv::Rect region, int width) {
  MER_CHECK(width >= 8, ValueError, "spotting_frames: width must be >= 8, got ", width);
  std::vector<cv::Mat> out;
  out.reserve(frames.size());
  for (const auto& frame : frames) {
    MER_CHECK(!frame.empty(), ValueError, "spotting_frames: frame ", out.size(), " is empty");
    cv::Mat gray = frame;
    if (frame.channels() == 3) cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
    if (frame.channels() == 4) cv::cvtColor(frame, gray, cv::COLOR_BGRA2GRAY);
    const cv::Rect r = region.area() > 0 ? region & cv::Rect(0, 0, gray.cols, gray.rows) : cv::Rect(0, 0, gray.cols, gray.rows);
    MER_CHECK(r.area() > 0, ValueError, "spotting_frames: region ", region, " lies outside the ", gray.cols, "x",
              gray.rows, " frame");
    const cv::Mat roi = gray(r);
    // Comparing small images is enough to find the peak and keeps long clips cheap.
    const double scale = std::min(1.0, double(width) / roi.cols);
    cv::Mat small;
    if (scale < 1.0) {
      cv::resize(roi, small, cv::Size(), scale, scale, cv::INTER_AREA);
    } else {
      small = roi;
    }
    cv::Mat f32;
    small.convertTo(f32, CV_32F);
    out.push_back(f32);
  }
  return out;
}

std::vector<double> apex_profile(const std::vector<cv::Mat>& frames, const ApexSpotParams& params) {
  check_frames(frames);
  if (params.method == "frame_difference") return raw_profile(frames);
  if (params.method == "flow_magnitude") return flow_magnitude_profile(frames);
  MER_CHECK(params.blocks >= 1, ValueError, "apex spotting: blocks must be >= 1, got ", params.blocks);
  MER_CHECK(frames.front().rows >= 3 * params.blocks && frames.front().cols >= 3 * params.blocks, ValueError,
            "apex spotting: ", frames.front().cols, "x", frames.front().rows, " frames are too small for ",
            params.blocks, "x", params.blocks, " blocks (need 3 pixels per block)");
  if (params.method == "frequency") {
    MER_CHECK(params.window >= 1 && params.window % 2 == 1, ValueError,
              "apex spotting: window must be odd and >= 1, got ", params.window);
    return frequency_profile(frames, params);
  }
  if (params.method == "feature_difference") return feature_difference_profile(frames, params);
  throw ValueError("apex spotting: unknown method '" + params.method +
                   "' (frame_difference, flow_magnitude, frequency, feature_difference)");
}

std::size_t spot_apex(const std::vector<cv::Mat>& frames, const ApexSpotParams& params) {
  if (params.method == "frame_difference") {
    check_frames(frames);
    return spot_apex(frames);
  }
  const auto score = apex_profile(frames, params);
  if (score.size() <= 2) return score.size() - 1;
  // The apex lies strictly between onset and offset.
  const auto best = static_cast<std::size_t>(std::max_element(score.begin() + 1, score.end() - 1) - score.begin());
  if (params.method != "frequency" || params.window == 1) return best;
  // A window's spectrum also holds the change inside the window (temporal frequencies), which is largest
  // on the steeper side of the peak and pulls the maximum there (measured: up to 2 frames with a window of
  // 5). As frame_difference does with its smoothing, the window finds the neighbourhood and each frame's
  // own spectrum (a window of one) picks the frame within one of it.
  ApexSpotParams single = params;
  single.window = 1;
  const std::size_t a = std::max<std::size_t>(1, best - 1), b = std::min(score.size() - 2, best + 1);
  const std::vector<cv::Mat> near(frames.begin() + static_cast<std::ptrdiff_t>(a),
                                  frames.begin() + static_cast<std::ptrdiff_t>(b) + 1);
  auto own = frequency_profile_from(near, single, frames.front());
  const auto back = frequency_profile_from(near, single, frames.back());
  for (std::size_t i = 0; i < own.size(); ++i) own[i] += back[i];
  return a + static_cast<std::size_t>(std::max_element(own.begin(), own.end()) - own.begin());
}

ApexSpotOptions ApexSpotOptions::from_config(const ConfigNode& node) {
  ApexSpotOptions o;
  o.method = node.get<std::string>("method", o.method);
  o.region = node.get<std::string>("region", o.region);
  o.width = node.get<int>("width", o.width);
  o.color = node.get<std::string>("color", o.color);
  o.override_annotated = node.get<bool>("override_annotated", o.override_annotated);
  node.check_choice("method", o.method, {"frame_difference", "flow_magnitude", "frequency", "feature_difference"});
  // Only the chosen method's parameters are read, so a stray one fails as an unknown key.
  if (o.method == "frequency" || o.method == "feature_difference") {
    o.blocks = node.get<int>("blocks", o.blocks);
    MER_CHECK(o.blocks >= 1 && o.blocks <= 16, ConfigError, node.where("blocks"), ": '", node.key_path("blocks"),
              "' must be in [1, 16], got ", o.blocks);
  }
  if (o.method == "frequency") {
    o.window = node.get<int>("window", o.window);
    MER_CHECK(o.window >= 1 && o.window % 2 == 1, ConfigError, node.where("window"), ": '", node.key_path("window"),
              "' must be odd and >= 1, got ", o.window);
    o.cutoff = node.get<double>("cutoff", o.cutoff);
    MER_CHECK(o.cutoff >= 0 && o.cutoff < 0.87, ConfigError, node.where("cutoff"), ": '", node.key_path("cutoff"),
              "' must be in [0, 0.87) (cycles per sample; 0.87 is the highest 3D radius), got ", o.cutoff);
  }
  if (o.method == "feature_difference") {
    o.interval = node.get<int>("interval", o.interval);
    MER_CHECK(o.interval >= 0, ConfigError, node.where("interval"), ": '", node.key_path("interval"),
              "' must be >= 0 (0: a quarter of the clip), got ", o.interval);
  }
  node.check_choice("region", o.region, {"face", "frame"});
  node.check_choice("color", o.color, {"gray", "color"});
  MER_CHECK(o.width >= 16, ConfigError, node.where("width"), ": '", node.key_path("width"), "' must be >= 16, got ",
            o.width);
  return o;
}

namespace {

class ApexSpotStage final : public Stage {
 public:
  explicit ApexSpotStage(ApexSpotOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "apex_spot"; }
  std::vector<std::string> reads() const override {
    return o_.region == "face" ? std::vector<std::string>{"face"} : std::vector<std::string>{};
  }
  std::vector<std::string> writes() const override { return {"apex", "apex_frame"}; }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {
        {"method", o_.method},
        {"region", o_.region},
        {"width", std::to_string(o_.width)},
        {"color", o_.color},
        {"override_annotated", o_.override_annotated ? "true" : "false"}};
    if (o_.method == "frequency" || o_.method == "feature_difference")
      opts.push_back({"blocks", std::to_string(o_.blocks)});
    if (o_.method == "frequency")
      opts.insert(opts.end(), {{"window", std::to_string(o_.window)}, {"cutoff", detail::fingerprint_value(o_.cutoff)}});
    if (o_.method == "feature_difference") opts.push_back({"interval", std::to_string(o_.interval)});
    // v2: spots on the item's "clip" when an earlier stage read it.
    return detail::stage_fingerprint(type(), "v3", opts);
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    int apex = sample.apex;
    if (apex < 0 || o_.override_annotated) {
      MER_CHECK(sample.offset > sample.onset, SampleError, "sample ", sample.id, ": onset ", sample.onset,
                " and offset ", sample.offset, " leave no frames to spot an apex in");
      cv::Rect roi;
      if (o_.region == "face") {
        const auto* f = item.at("face").ptr<float>(0);
        roi = cv::Rect(cv::Point(cvRound(f[0]), cvRound(f[1])), cv::Size(cvRound(f[2]), cvRound(f[3])));
      }
      ApexSpotParams params;
      params.method = o_.method;
      params.blocks = o_.blocks;
      params.window = o_.window;
      params.cutoff = o_.cutoff;
      params.interval = o_.interval;
      const std::vector<cv::Mat>* clip = clip_in_item(item);
      std::vector<cv::Mat> frames;
      if (clip) {
        // The clip an earlier frames stage read (perhaps aligned): no second decode. The face box is in
        // the coordinates of the frames as read; a box that does not fit the clip's frames means they were
        // cropped to the face already, and then the whole frame is the region.
        const cv::Rect bounds(0, 0, clip->front().cols, clip->front().rows);
        if ((roi & bounds) != roi) roi = cv::Rect();
        frames = spotting_frames(*clip, roi, o_.width);
      } else {
        std::vector<cv::Mat> read;
        for (int n = sample.onset; n <= sample.offset; ++n) {
          try {
            read.push_back(load_frame(sample, n, ColorMode::Gray));
          } catch (const DataError& e) {
            throw SampleError(e.what());
          }
        }
        frames = spotting_frames(read, roi, o_.width);
      }
      if (frames.size() < 2) {
        throw SampleError(detail::concat("sample ", sample.id, ": ", frames.size(),
                                         " frame in the clip, at least 2 are needed to spot an apex"));
      }
      const auto index = static_cast<int>(spot_apex(frames, params));
      apex = clip ? item.at("clip_frames").at<int>(0, index) : sample.onset + index;
    }
    // The apex entry comes from the item's clip when it holds that frame in the requested colour, so it has
    // been through whatever the clip has (registration, magnification) just like the clip's onset; else it is
    // read from disk, as the frames stage reads the onset.
    const std::vector<cv::Mat>* clip = clip_in_item(item);
    int in_clip = -1;
    if (clip && (clip->front().channels() == 3) == (o_.color == "color")) {
      const cv::Mat& numbers = item.at("clip_frames");
      for (int i = 0; i < static_cast<int>(numbers.total()); ++i) {
        if (numbers.at<int>(0, i) == apex) in_clip = i;
      }
    }
    if (in_clip >= 0) {
      item.set("apex", (*clip)[static_cast<std::size_t>(in_clip)].clone());
    } else {
      try {
        item.set("apex", load_frame(sample, apex, o_.color == "color" ? ColorMode::Color : ColorMode::Gray));
      } catch (const DataError& e) {
        throw SampleError(e.what());
      }
    }
    item.set("apex_frame", cv::Mat(1, 1, CV_32SC1, cv::Scalar(apex)));
  }

 private:
  // The item's clip when each of its frames still has its number in clip_frames (a frames stage with
  // clip: true, no interpolate since); nullptr otherwise, and onset..offset are read from disk.
  static const std::vector<cv::Mat>* clip_in_item(const Item& item) {
    if (!item.has_sequence("clip") || item.mats.count("clip_frames") == 0) return nullptr;
    const auto& clip = item.seq("clip");
    const cv::Mat& numbers = item.at("clip_frames");
    if (clip.empty() || numbers.total() != clip.size() || numbers.type() != CV_32SC1) return nullptr;
    return &clip;
  }

  ApexSpotOptions o_;
};

}  // namespace

std::unique_ptr<Stage> make_apex_spot_stage(ApexSpotOptions options) {
  return std::make_unique<ApexSpotStage>(std::move(options));
}

}  // namespace mer
