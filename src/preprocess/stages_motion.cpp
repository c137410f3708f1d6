// Stages that measure and reshape motion between frames: flow, strain, flow_polar, resize, to_float.
#include <mer/core/error.hpp>

#include "detail/stages.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/optflow.hpp>
#include <opencv2/video/tracking.hpp>

#include <cmath>

namespace mer {

namespace {

using detail::fingerprint_value;
using detail::stage_fingerprint;

cv::Mat to_gray8(const cv::Mat& m, const std::string& name, const SampleMeta& sample) {
  if (m.depth() != CV_8U) {
    throw InternalError(detail::concat("flow: item entry '", name, "' of sample ", sample.id,
                                       " must be an 8-bit frame, got depth ", m.depth()));
  }
  if (m.channels() == 1) return m;
  cv::Mat g;
  cv::cvtColor(m, g, m.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  return g;
}

// ---------------------------------------------------------------- flow

class FlowStage final : public Stage {
 public:
  explicit FlowStage(FlowOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "flow"; }
  std::vector<std::string> reads() const override { return {o_.from, o_.to}; }
  std::vector<std::string> writes() const override { return {o_.output}; }
  std::string fingerprint() const override {
    std::vector<std::pair<std::string, std::string>> opts = {
        {"algorithm", o_.algorithm}, {"from", o_.from}, {"to", o_.to}, {"output", o_.output}};
    if (o_.algorithm == "tvl1") {
      opts.insert(opts.end(), {{"tau", fingerprint_value(o_.tau)},
                               {"lambda", fingerprint_value(o_.lambda)},
                               {"theta", fingerprint_value(o_.theta)},
                               {"nscales", std::to_string(o_.nscales)},
                               {"warps", std::to_string(o_.warps)},
                               {"epsilon", fingerprint_value(o_.epsilon)},
                               {"inner_iterations", std::to_string(o_.inner_iterations)},
                               {"outer_iterations", std::to_string(o_.outer_iterations)},
                               {"scale_step", fingerprint_value(o_.scale_step)}});
    } else if (o_.algorithm == "farneback") {
      opts.insert(opts.end(), {{"levels", std::to_string(o_.levels)},
                               {"pyr_scale", fingerprint_value(o_.pyr_scale)},
                               {"win_size", std::to_string(o_.win_size)},
                               {"iterations", std::to_string(o_.iterations)},
                               {"poly_n", std::to_string(o_.poly_n)},
                               {"poly_sigma", fingerprint_value(o_.poly_sigma)}});
    } else if (o_.algorithm == "dis") {
      opts.push_back({"preset", o_.preset});
    } else {
      opts.insert(opts.end(), {{"grid_step", std::to_string(o_.grid_step)},
                               {"neighbors", std::to_string(o_.neighbors)},
                               {"sigma", fingerprint_value(o_.sigma)},
                               {"post_process", o_.post_process ? "true" : "false"},
                               {"fgs_lambda", fingerprint_value(o_.fgs_lambda)},
                               {"fgs_sigma", fingerprint_value(o_.fgs_sigma)}});
      if (o_.algorithm == "rlof") {
        opts.insert(opts.end(), {{"levels", std::to_string(o_.levels)},
                                 {"interpolation", o_.interpolation},
                                 {"forward_backward", fingerprint_value(o_.forward_backward)},
                                 {"support_region", o_.support_region}});
      }
    }
    return stage_fingerprint(type(), "v1", opts);
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    const cv::Mat a = to_gray8(item.at(o_.from), o_.from, sample);
    const cv::Mat b = to_gray8(item.at(o_.to), o_.to, sample);
    if (a.size() != b.size()) {
      throw SampleError(detail::concat("flow: frames '", o_.from, "' (", a.cols, "x", a.rows, ") and '", o_.to, "' (",
                                       b.cols, "x", b.rows, ") of sample ", sample.id, " differ in size"));
    }
    // The algorithm objects keep per-call buffers, so each call gets its own: creating them is cheap
    // next to the solve, and it keeps apply() safe to run on several threads.
    cv::Mat flow(a.size(), CV_32FC2, cv::Scalar::all(0));
    if (o_.algorithm == "tvl1") {
      // Median filtering 5 and gamma 0 are OpenCV's defaults; the useInitialFlow=false start is zero flow.
      auto tvl1 = cv::optflow::DualTVL1OpticalFlow::create(o_.tau, o_.lambda, o_.theta, o_.nscales, o_.warps,
                                                           o_.epsilon, o_.inner_iterations, o_.outer_iterations,
                                                           o_.scale_step);
      tvl1->calc(a, b, flow);
    } else if (o_.algorithm == "farneback") {
      auto fb = cv::FarnebackOpticalFlow::create(o_.levels, o_.pyr_scale, false, o_.win_size, o_.iterations, o_.poly_n,
                                                 o_.poly_sigma);
      fb->calc(a, b, flow);
    } else if (o_.algorithm == "dense_lk") {
      cv::optflow::calcOpticalFlowSparseToDense(a, b, flow, o_.grid_step, o_.neighbors, static_cast<float>(o_.sigma),
                                                o_.post_process, static_cast<float>(o_.fgs_lambda),
                                                static_cast<float>(o_.fgs_sigma));
    } else if (o_.algorithm == "rlof") {
      rlof(a, b, flow);
    } else {
      const int preset = o_.preset == "ultrafast" ? cv::DISOpticalFlow::PRESET_ULTRAFAST
                         : o_.preset == "fast"    ? cv::DISOpticalFlow::PRESET_FAST
                                                  : cv::DISOpticalFlow::PRESET_MEDIUM;
      auto dis = cv::DISOpticalFlow::create(preset);
      dis->calc(a, b, flow);
    }
    item.set(o_.output, flow);
  }

 private:
  void rlof(const cv::Mat& a, const cv::Mat& b, cv::Mat& flow) const {
    auto param = cv::optflow::RLOFOpticalFlowParameter::create();
    param->setMaxLevel(o_.levels - 1);
    param->setSupportRegionType(o_.support_region == "cross" ? cv::optflow::SR_CROSS : cv::optflow::SR_FIXED);
    // The cross-based support region segments by colour and OpenCV requires 3-channel 8-bit input for
    // it (rlofflow.hpp); grey frames are replicated into three equal channels, which changes nothing
    // else. The edge-aware interpolators take the same guide image. EPIC's lambda (100) and the RIC
    // superpixel settings (15, SLICO) keep OpenCV's defaults: RIC is not offered, and lambda barely
    // matters next to k and sigma at these sizes.
    cv::Mat a3, b3;
    cv::cvtColor(a, a3, cv::COLOR_GRAY2BGR);
    cv::cvtColor(b, b3, cv::COLOR_GRAY2BGR);
    cv::optflow::calcOpticalFlowDenseRLOF(
        a3, b3, flow, param, static_cast<float>(o_.forward_backward), cv::Size(o_.grid_step, o_.grid_step),
        o_.interpolation == "epic" ? cv::optflow::INTERP_EPIC : cv::optflow::INTERP_GEO, o_.neighbors,
        static_cast<float>(o_.sigma), 100.f, 15, 100, o_.post_process, static_cast<float>(o_.fgs_lambda),
        static_cast<float>(o_.fgs_sigma));
  }

  FlowOptions o_;
};

// ---------------------------------------------------------------- strain

// d/dx of one channel: central differences inside, one-sided at the first and last column (as
// numpy.gradient does), so an affine field has its exact derivative everywhere.
void gradient(const cv::Mat& f, cv::Mat& fx, cv::Mat& fy) {
  const int rows = f.rows, cols = f.cols;
  fx.create(rows, cols, CV_32F);
  fy.create(rows, cols, CV_32F);
  for (int y = 0; y < rows; ++y) {
    const float* r = f.ptr<float>(y);
    float* ox = fx.ptr<float>(y);
    if (cols == 1) {
      ox[0] = 0;
    } else {
      ox[0] = r[1] - r[0];
      ox[cols - 1] = r[cols - 1] - r[cols - 2];
      for (int x = 1; x < cols - 1; ++x) ox[x] = 0.5f * (r[x + 1] - r[x - 1]);
    }
    float* oy = fy.ptr<float>(y);
    if (rows == 1) {
      std::fill(oy, oy + cols, 0.f);
      continue;
    }
    const int y0 = y == 0 ? 0 : y - 1, y1 = y == rows - 1 ? rows - 1 : y + 1;
    const float* up = f.ptr<float>(y0);
    const float* dn = f.ptr<float>(y1);
    const float inv = 1.f / static_cast<float>(y1 - y0);
    for (int x = 0; x < cols; ++x) oy[x] = (dn[x] - up[x]) * inv;
  }
}

/// Optical strain (Liong et al. 2019, STSTNet; after Shreve et al. 2011): treating the flow (u, v) as a
/// displacement field, the infinitesimal strain tensor is eps = 1/2 (grad w + grad w^T), i.e.
/// eps_xx = du/dx, eps_yy = dv/dy, eps_xy = eps_yx = 1/2 (du/dy + dv/dx), and the strain magnitude is
/// its Frobenius norm |eps| = sqrt(eps_xx^2 + eps_yy^2 + 2 eps_xy^2) = sqrt(ux^2 + vy^2 + 1/2 (uy + vx)^2)
/// (the two forms are the same: 2 * (1/2 (uy + vx))^2 = 1/2 (uy + vx)^2). Unlike the flow itself it is
/// zero for rigid translation, which is why it isolates skin deformation from residual head motion.
class StrainStage final : public Stage {
 public:
  explicit StrainStage(StrainOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "strain"; }
  std::vector<std::string> reads() const override { return {o_.flow}; }
  std::vector<std::string> writes() const override { return {"strain"}; }
  std::string fingerprint() const override { return stage_fingerprint(type(), "v1", {{"flow", o_.flow}}); }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& flow = item.at(o_.flow);
    if (flow.type() != CV_32FC2) {
      throw InternalError(detail::concat("strain: item entry '", o_.flow, "' of sample ", sample.id,
                                         " must be CV_32FC2, got type ", flow.type()));
    }
    cv::Mat uv[2];
    cv::split(flow, uv);
    cv::Mat ux, uy, vx, vy;
    gradient(uv[0], ux, uy);
    gradient(uv[1], vx, vy);
    cv::Mat strain(flow.size(), CV_32F);
    for (int y = 0; y < flow.rows; ++y) {
      const float *a = ux.ptr<float>(y), *b = uy.ptr<float>(y), *c = vx.ptr<float>(y), *d = vy.ptr<float>(y);
      float* o = strain.ptr<float>(y);
      for (int x = 0; x < flow.cols; ++x) {
        const float shear = b[x] + c[x];
        o[x] = std::sqrt(a[x] * a[x] + d[x] * d[x] + 0.5f * shear * shear);
      }
    }
    item.set("strain", strain);
  }

 private:
  StrainOptions o_;
};

// ---------------------------------------------------------------- resize

class ResizeStage final : public Stage {
 public:
  explicit ResizeStage(ResizeOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "resize"; }
  std::vector<std::string> reads() const override { return o_.keys; }
  std::vector<std::string> writes() const override { return o_.keys; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"keys", fingerprint_value(o_.keys)},
                              {"size", std::to_string(o_.size)},
                              {"interpolation", o_.interpolation},
                              {"rescale_vectors", o_.rescale_vectors ? "true" : "false"}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    for (const auto& key : o_.keys) {
      auto frames = item.frames(key);
      for (auto& frame : frames) frame = resized(frame, key, sample);
      item.set_frames(key, std::move(frames));
    }
  }

 private:
  cv::Mat resized(const cv::Mat& in, const std::string& key, const SampleMeta& sample) const {
    if (in.empty()) {
      throw InternalError(detail::concat("resize: item entry '", key, "' of sample ", sample.id, " is empty"));
    }
    cv::Mat out;
    cv::resize(in, out, cv::Size(o_.size, o_.size), 0, 0, o_.interpolation == "area" ? cv::INTER_AREA : cv::INTER_LINEAR);
    // Flow is a displacement in pixels of the grid it was measured on. Shrinking the grid without
    // scaling the vectors would leave them in the old units: a 1 px motion at 128x128 is 0.22 px at
    // 28x28, and a network fed unscaled vectors would see motions inconsistent with the image content.
    // By the item convention every 2-channel float entry is such a displacement field.
    if (o_.rescale_vectors && out.channels() == 2 && out.depth() == CV_32F) {
      const double sx = static_cast<double>(o_.size) / in.cols, sy = static_cast<double>(o_.size) / in.rows;
      cv::multiply(out, cv::Scalar(sx, sy), out);
    }
    return out;
  }

  ResizeOptions o_;
};

// ---------------------------------------------------------------- to_float

class ToFloatStage final : public Stage {
 public:
  explicit ToFloatStage(ToFloatOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "to_float"; }
  std::vector<std::string> reads() const override { return o_.keys; }
  std::vector<std::string> writes() const override { return o_.keys; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1", {{"keys", fingerprint_value(o_.keys)}, {"scale", o_.scale}});
  }
  void apply(const SampleMeta& /*sample*/, Item& item) const override {
    for (const auto& key : o_.keys) {
      auto frames = item.frames(key);
      const double unit = frames.front().depth() == CV_8U && o_.scale == "unit" ? 1.0 / 255.0 : 1.0;
      for (auto& f : frames) f.convertTo(f, CV_MAKETYPE(CV_32F, f.channels()), unit);
      if (o_.scale == "standardize") {
        // One mean and deviation over the whole entry: per-frame statistics would erase the motion.
        double sum = 0, sq = 0, n = 0;
        for (const auto& f : frames) {
          sum += cv::sum(f)[0] + cv::sum(f)[1] + cv::sum(f)[2] + cv::sum(f)[3];
          sq += f.dot(f);
          n += static_cast<double>(f.total() * f.channels());
        }
        const double mean = sum / n, sd = std::sqrt(std::max(sq / n - mean * mean, 0.0));
        const double inv = sd > 1e-12 ? 1.0 / sd : 1.0;
        for (auto& f : frames) f.convertTo(f, f.type(), inv, -mean * inv);
      }
      item.set_frames(key, std::move(frames));
    }
  }

 private:
  ToFloatOptions o_;
};

// ---------------------------------------------------------------- flow_polar

// Magnitude and direction of the flow as separate maps: the inputs of orientation-histogram features
// (HOOF, Chaudhry et al. 2009; MDMO, Liu et al. 2016; Bi-WOOF, Liong et al. 2018) and of networks that
// take them as channels (OFF-ApexNet, Gan et al. 2019). Computed per pixel with std::atan2 rather than
// cv::cartToPolar, whose angles are only accurate to about 0.3 degrees.
class FlowPolarStage final : public Stage {
 public:
  explicit FlowPolarStage(FlowPolarOptions o) : o_(std::move(o)) {}
  std::string type() const override { return "flow_polar"; }
  std::vector<std::string> reads() const override { return {o_.flow}; }
  std::vector<std::string> writes() const override {
    if (o_.orientation_encoding == "angle") return {o_.magnitude, o_.orientation};
    return {o_.magnitude, o_.orientation + "_sin", o_.orientation + "_cos"};
  }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                             {{"flow", o_.flow},
                              {"orientation_encoding", o_.orientation_encoding},
                              {"magnitude", o_.magnitude},
                              {"orientation", o_.orientation}});
  }
  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& flow = item.at(o_.flow);
    if (flow.type() != CV_32FC2) {
      throw InternalError(detail::concat("flow_polar: item entry '", o_.flow, "' of sample ", sample.id,
                                         " must be CV_32FC2, got type ", flow.type()));
    }
    const bool angle = o_.orientation_encoding == "angle";
    cv::Mat mag(flow.size(), CV_32F), a(flow.size(), CV_32F), b;
    if (!angle) b.create(flow.size(), CV_32F);
    for (int y = 0; y < flow.rows; ++y) {
      const auto* w = flow.ptr<cv::Vec2f>(y);
      float *m = mag.ptr<float>(y), *pa = a.ptr<float>(y), *pb = angle ? nullptr : b.ptr<float>(y);
      for (int x = 0; x < flow.cols; ++x) {
        const double u = w[x][0], v = w[x][1], n = std::hypot(u, v);
        m[x] = static_cast<float>(n);
        if (angle) {
          pa[x] = static_cast<float>(std::atan2(v, u));
        } else {
          // No motion has no direction: 0 in both, rather than an arbitrary unit vector.
          const bool moving = n > 1e-6;
          pa[x] = moving ? static_cast<float>(v / n) : 0.f;
          pb[x] = moving ? static_cast<float>(u / n) : 0.f;
        }
      }
    }
    item.set(o_.magnitude, mag);
    if (angle) {
      item.set(o_.orientation, a);
    } else {
      item.set(o_.orientation + "_sin", a);
      item.set(o_.orientation + "_cos", b);
    }
  }

 private:
  FlowPolarOptions o_;
};

void check_positive(const ConfigNode& node, const std::string& key, double value) {
  MER_CHECK(value > 0 && std::isfinite(value), ConfigError, node.where(key), ": '", node.key_path(key),
            "' must be > 0, got ", value);
}

}  // namespace

// ---------------------------------------------------------------- options

FlowOptions FlowOptions::from_config(const ConfigNode& node) {
  FlowOptions o;
  o.algorithm = node.get("algorithm", o.algorithm);
  node.check_choice("algorithm", o.algorithm, {"tvl1", "farneback", "dis", "dense_lk", "rlof"});
  o.from = node.get("from", o.from);
  o.to = node.get("to", o.to);
  MER_CHECK(o.from != o.to, ConfigError, node.where("to"), ": flow needs two different frames, got from = to = '",
            o.from, "'");
  o.output = node.get("output", o.output);
  MER_CHECK(!o.output.empty() && o.output != o.from && o.output != o.to, ConfigError, node.where("output"), ": '",
            node.key_path("output"), "' must name a new entry (not '", o.from, "' or '", o.to, "'), got '",
            o.output, "'");
  // Only the chosen algorithm's parameters are read: a `tau:` under `algorithm: dis` then fails as an
  // unknown key instead of being silently ignored, and the resolved config shows what actually ran.
  if (o.algorithm == "tvl1") {
    o.tau = node.get("tau", o.tau);
    o.lambda = node.get("lambda", o.lambda);
    o.theta = node.get("theta", o.theta);
    o.nscales = node.get("nscales", o.nscales);
    o.warps = node.get("warps", o.warps);
    o.epsilon = node.get("epsilon", o.epsilon);
    o.inner_iterations = node.get("inner_iterations", o.inner_iterations);
    o.outer_iterations = node.get("outer_iterations", o.outer_iterations);
    o.scale_step = node.get("scale_step", o.scale_step);
    check_positive(node, "tau", o.tau);
    check_positive(node, "lambda", o.lambda);
    check_positive(node, "theta", o.theta);
    check_positive(node, "epsilon", o.epsilon);
    check_positive(node, "nscales", o.nscales);
    check_positive(node, "warps", o.warps);
    check_positive(node, "inner_iterations", o.inner_iterations);
    check_positive(node, "outer_iterations", o.outer_iterations);
    MER_CHECK(o.scale_step > 0 && o.scale_step < 1, ConfigError, node.where("scale_step"), ": '",
              node.key_path("scale_step"), "' must be in (0, 1), got ", o.scale_step);
  } else if (o.algorithm == "farneback") {
    o.levels = node.get("levels", o.levels);
    o.pyr_scale = node.get("pyr_scale", o.pyr_scale);
    o.win_size = node.get("win_size", o.win_size);
    o.iterations = node.get("iterations", o.iterations);
    o.poly_n = node.get("poly_n", o.poly_n);
    o.poly_sigma = node.get("poly_sigma", o.poly_sigma);
    check_positive(node, "levels", o.levels);
    check_positive(node, "win_size", o.win_size);
    check_positive(node, "iterations", o.iterations);
    check_positive(node, "poly_sigma", o.poly_sigma);
    MER_CHECK(o.pyr_scale > 0 && o.pyr_scale < 1, ConfigError, node.where("pyr_scale"), ": '",
              node.key_path("pyr_scale"), "' must be in (0, 1), got ", o.pyr_scale);
    MER_CHECK(o.poly_n == 5 || o.poly_n == 7, ConfigError, node.where("poly_n"), ": '", node.key_path("poly_n"),
              "' must be 5 or 7, got ", o.poly_n);
  } else if (o.algorithm == "dis") {
    o.preset = node.get("preset", o.preset);
    node.check_choice("preset", o.preset, {"ultrafast", "fast", "medium"});
  } else {
    o.grid_step = node.get("grid_step", o.grid_step);
    o.neighbors = node.get("neighbors", o.neighbors);
    o.sigma = node.get("sigma", o.sigma);
    o.post_process = node.get("post_process", o.post_process);
    o.fgs_lambda = node.get("fgs_lambda", o.fgs_lambda);
    o.fgs_sigma = node.get("fgs_sigma", o.fgs_sigma);
    check_positive(node, "grid_step", o.grid_step);
    check_positive(node, "neighbors", o.neighbors);
    check_positive(node, "sigma", o.sigma);
    check_positive(node, "fgs_lambda", o.fgs_lambda);
    check_positive(node, "fgs_sigma", o.fgs_sigma);
    if (o.algorithm == "rlof") {
      o.levels = node.get("levels", o.levels);
      check_positive(node, "levels", o.levels);
      o.interpolation = node.get("interpolation", o.interpolation);
      node.check_choice("interpolation", o.interpolation, {"epic", "geo"});
      o.forward_backward = node.get("forward_backward", o.forward_backward);
      MER_CHECK(o.forward_backward >= 0 && std::isfinite(o.forward_backward), ConfigError,
                node.where("forward_backward"), ": '", node.key_path("forward_backward"),
                "' must be >= 0 (0 = no check), got ", o.forward_backward);
      o.support_region = node.get("support_region", o.support_region);
      node.check_choice("support_region", o.support_region, {"cross", "fixed"});
    }
  }
  return o;
}

StrainOptions StrainOptions::from_config(const ConfigNode& node) {
  StrainOptions o;
  o.flow = node.get("flow", o.flow);
  return o;
}

ResizeOptions ResizeOptions::from_config(const ConfigNode& node) {
  ResizeOptions o;
  o.keys = node.get("keys", o.keys);
  MER_CHECK(!o.keys.empty(), ConfigError, node.where("keys"), ": '", node.key_path("keys"),
            "' must list at least one entry");
  o.size = node.get("size", o.size);
  MER_CHECK(o.size >= 1 && o.size <= 4096, ConfigError, node.where("size"), ": '", node.key_path("size"),
            "' must be in [1, 4096], got ", o.size);
  o.interpolation = node.get("interpolation", o.interpolation);
  node.check_choice("interpolation", o.interpolation, {"area", "linear"});
  o.rescale_vectors = node.get("rescale_vectors", o.rescale_vectors);
  return o;
}

std::unique_ptr<Stage> make_flow_stage(FlowOptions options) { return std::make_unique<FlowStage>(std::move(options)); }
std::unique_ptr<Stage> make_strain_stage(StrainOptions options) {
  return std::make_unique<StrainStage>(std::move(options));
}
std::unique_ptr<Stage> make_resize_stage(ResizeOptions options) {
  return std::make_unique<ResizeStage>(std::move(options));
}

ToFloatOptions ToFloatOptions::from_config(const ConfigNode& node) {
  ToFloatOptions o;
  o.keys = node.get("keys", o.keys);
  MER_CHECK(!o.keys.empty(), ConfigError, node.where("keys"), ": '", node.key_path("keys"), "' must list at least one entry");
  o.scale = node.get("scale", o.scale);
  node.check_choice("scale", o.scale, {"unit", "standardize", "none"});
  return o;
}

FlowPolarOptions FlowPolarOptions::from_config(const ConfigNode& node) {
  FlowPolarOptions o;
  o.flow = node.get("flow", o.flow);
  o.orientation_encoding = node.get("orientation_encoding", o.orientation_encoding);
  node.check_choice("orientation_encoding", o.orientation_encoding, {"angle", "sincos"});
  o.magnitude = node.get("magnitude", o.magnitude);
  o.orientation = node.get("orientation", o.orientation);
  MER_CHECK(!o.magnitude.empty() && !o.orientation.empty() && o.magnitude != o.orientation && o.magnitude != o.flow &&
                o.orientation != o.flow,
            ConfigError, node.where("orientation"), ": '", node.key_path("magnitude"), "' ('", o.magnitude, "') and '",
            node.key_path("orientation"), "' ('", o.orientation, "') must name two new entries, distinct from '",
            o.flow, "'");
  return o;
}

std::unique_ptr<Stage> make_flow_polar_stage(FlowPolarOptions options) {
  return std::make_unique<FlowPolarStage>(std::move(options));
}

std::unique_ptr<Stage> make_to_float_stage(ToFloatOptions options) {
  return std::make_unique<ToFloatStage>(std::move(options));
}

}  // namespace mer
