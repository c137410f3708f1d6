// The magnify stage: Eulerian or Lagrangian motion magnification of a clip (preprocess/magnify.hpp).
#include <mer/core/error.hpp>
#include <mer/preprocess/magnify.hpp>

#include "detail/stages.hpp"

#include <cmath>

namespace mer {

namespace {

using detail::fingerprint_value;
using detail::stage_fingerprint;

class MagnifyStage final : public Stage {
 public:
  explicit MagnifyStage(MagnifyOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "magnify"; }
  std::vector<std::string> reads() const override {
    std::vector<std::string> r = {o_.sequence};
    if (o_.method == "lagrangian" && !o_.flows.empty()) r.push_back(o_.flows);
    return r;
  }
  std::vector<std::string> writes() const override { return {output()}; }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {
        {"sequence", o_.sequence}, {"output", output()}, {"method", o_.method}};
    if (o_.method == "evm") {
      const auto& e = o_.evm;
      opts.insert(opts.end(), {{"pyramid", e.pyramid},
                               {"levels", std::to_string(e.levels)},
                               {"filter", e.filter},
                               {"low_hz", fingerprint_value(e.low_hz)},
                               {"high_hz", fingerprint_value(e.high_hz)},
                               {"alpha", fingerprint_value(e.alpha)},
                               {"lambda_c", fingerprint_value(e.lambda_c)},
                               {"attenuation", fingerprint_value(e.attenuation)},
                               {"chroma_attenuation", fingerprint_value(e.chroma_attenuation)},
                               {"default_fps", fingerprint_value(o_.default_fps)}});
    } else {
      const auto& g = o_.lagrangian;
      opts.insert(opts.end(), {{"alpha", fingerprint_value(g.alpha)},
                               {"source", g.source},
                               {"preset", g.preset},
                               {"flows", o_.flows}});
    }
    return stage_fingerprint(type(), "v1", opts);
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& clip = item.seq(o_.sequence);
    if (clip.empty()) {
      throw SampleError(detail::concat("magnify: sequence '", o_.sequence, "' of sample ", sample.id,
                                       " is empty (a clip of at least ", min_frames(), " frames is needed)"));
    }
    if (clip.size() < min_frames()) {
      throw SampleError(detail::concat("magnify: sequence '", o_.sequence, "' of sample ", sample.id, " has ",
                                       clip.size(), " frame", clip.size() == 1 ? "" : "s", "; ", o_.method,
                                       " needs a clip of at least ", min_frames(),
                                       " (read one with {type: frames, clip: true})"));
    }
    const int depth = clip.front().depth();
    if (depth != CV_8U && depth != CV_32F) {
      throw InternalError(detail::concat("magnify: sequence '", o_.sequence, "' of sample ", sample.id,
                                         " must hold 8-bit or CV_32F frames, got depth ", depth));
    }
    // Work in float; 8-bit clips come back 8-bit (rounded, saturated) so align, flow and apex_spot after
    // this stage see the frames they always see.
    std::vector<cv::Mat> frames;
    frames.reserve(clip.size());
    for (const auto& f : clip) {
      if (f.size() != clip.front().size() || f.type() != clip.front().type()) {
        throw SampleError(detail::concat("magnify: frames of sequence '", o_.sequence, "' of sample ", sample.id,
                                         " differ in size or type (", clip.front().cols, "x", clip.front().rows,
                                         " and ", f.cols, "x", f.rows, ")"));
      }
      cv::Mat g;
      f.convertTo(g, CV_MAKETYPE(CV_32F, f.channels()));
      frames.push_back(g);
    }

    std::vector<cv::Mat> out;
    try {
      if (o_.method == "evm") {
        out = magnify_eulerian(frames, fps_of(sample), o_.evm);
      } else {
        std::vector<cv::Mat> flows;
        if (!o_.flows.empty()) {
          if (!item.has_sequence(o_.flows)) {
            throw InternalError(detail::concat("magnify: item entry '", o_.flows, "' of sample ", sample.id,
                                               " must be a sequence of flows, one per frame"));
          }
          flows = item.seq(o_.flows);
        }
        out = magnify_lagrangian(frames, o_.lagrangian, flows);
      }
    } catch (const ValueError& e) {
      // Options were checked when the stage was built, so what is left is about this sample's clip
      // (too small for the pyramid, too short for the band, flows of another size).
      throw SampleError(detail::concat("magnify: sample ", sample.id, ": ", e.what()));
    }
    if (depth == CV_8U) {
      for (auto& f : out) f.convertTo(f, CV_MAKETYPE(CV_8U, f.channels()));
    }
    item.set_sequence(output(), std::move(out));
  }

 private:
  std::string output() const { return o_.output.empty() ? o_.sequence : o_.output; }
  std::size_t min_frames() const { return o_.method == "evm" ? 3 : 2; }

  double fps_of(const SampleMeta& sample) const {
    const double fps = sample.fps > 0 ? sample.fps : o_.default_fps;
    if (!(fps > 0)) {
      throw SampleError(detail::concat("magnify: sample ", sample.id,
                                       " has no frame rate (fps), which the temporal band-pass in Hz needs; set "
                                       "the dataset's fps or the stage's default_fps"));
    }
    if (o_.evm.high_hz >= fps / 2) {
      throw SampleError(detail::concat("magnify: sample ", sample.id, " is recorded at ", fps,
                                       " fps, so high_hz ", o_.evm.high_hz,
                                       " Hz is not below its Nyquist frequency ", fps / 2, " Hz"));
    }
    return fps;
  }

  MagnifyOptions o_;
};

void check_in(const ConfigNode& node, const std::string& key, double value, double lo, double hi) {
  MER_CHECK(value >= lo && value <= hi && std::isfinite(value), ConfigError, node.where(key), ": '",
            node.key_path(key), "' must be in [", lo, ", ", hi, "], got ", value);
}

}  // namespace

MagnifyOptions MagnifyOptions::from_config(const ConfigNode& node) {
  MagnifyOptions o;
  o.sequence = node.get("sequence", o.sequence);
  o.output = node.get("output", o.output);
  o.method = node.get("method", o.method);
  node.check_choice("method", o.method, {"evm", "lagrangian"});
  // Only the chosen method's options are read, so a `filter:` under `method: lagrangian` fails as an
  // unknown key instead of being silently ignored.
  if (o.method == "evm") {
    auto& e = o.evm;
    e.pyramid = node.get("pyramid", e.pyramid);
    node.check_choice("pyramid", e.pyramid, {"laplacian", "gaussian"});
    e.levels = node.get("levels", e.levels);
    check_in(node, "levels", e.levels, 1, 16);
    e.filter = node.get("filter", e.filter);
    node.check_choice("filter", e.filter, {"ideal", "butterworth", "iir"});
    e.low_hz = node.get("low_hz", e.low_hz);
    e.high_hz = node.get("high_hz", e.high_hz);
    check_in(node, "low_hz", e.low_hz, 0, 1e6);
    MER_CHECK(e.high_hz > e.low_hz && std::isfinite(e.high_hz), ConfigError, node.where("high_hz"), ": '",
              node.key_path("high_hz"), "' must be above low_hz = ", e.low_hz, ", got ", e.high_hz);
    e.alpha = node.get("alpha", e.alpha);
    check_in(node, "alpha", e.alpha, 0, 1000);
    e.lambda_c = node.get("lambda_c", e.lambda_c);
    MER_CHECK(e.lambda_c > 0 && std::isfinite(e.lambda_c), ConfigError, node.where("lambda_c"), ": '",
              node.key_path("lambda_c"), "' must be > 0 (pixels), got ", e.lambda_c);
    e.attenuation = node.get("attenuation", e.attenuation);
    check_in(node, "attenuation", e.attenuation, 0, 1);
    e.chroma_attenuation = node.get("chroma_attenuation", e.chroma_attenuation);
    check_in(node, "chroma_attenuation", e.chroma_attenuation, 0, 1);
    o.default_fps = node.get("default_fps", o.default_fps);
    check_in(node, "default_fps", o.default_fps, 0, 1e6);
    MER_CHECK(o.default_fps == 0 || e.high_hz < o.default_fps / 2, ConfigError, node.where("high_hz"), ": '",
              node.key_path("high_hz"), "' = ", e.high_hz, " Hz must be below default_fps / 2 = ",
              o.default_fps / 2, " Hz (Nyquist)");
  } else {
    auto& g = o.lagrangian;
    g.alpha = node.get("alpha", g.alpha);
    check_in(node, "alpha", g.alpha, 0, 1000);
    g.source = node.get("source", g.source);
    node.check_choice("source", g.source, {"each", "first"});
    g.preset = node.get("preset", g.preset);
    node.check_choice("preset", g.preset, {"ultrafast", "fast", "medium"});
    o.flows = node.get("flows", o.flows);
  }
  return o;
}

std::unique_ptr<Stage> make_magnify_stage(MagnifyOptions options) {
  return std::make_unique<MagnifyStage>(std::move(options));
}

}  // namespace mer
