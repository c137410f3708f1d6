// Training-time augmentation on tensors (survey §4.1, li2022survey in docs/references.bib).
//
// Geometry is one affine map per sample applied with affine_grid + grid_sample (the sampling of spatial
// transformers, Jaderberg et al. 2015, jaderberg2015spatial), which handles flip, rotation, crop-and-resize
// and shift in one bilinear resampling instead of four. Displacement fields need more than resampling: the vectors themselves live
// in the image plane, so the linear part of the content map is applied to every (u, v) pair too —
// otherwise a flipped face would show its left-moving brow as moving right, and the label-bearing motion
// pattern would be inconsistent with the geometry the network sees.
//
// Random numbers: per-sample parameters come from the caller's std::mt19937_64 through an explicit
// 53-bit conversion (std::uniform_real_distribution differs between standard libraries), the noise from a
// LibTorch CPU generator seeded from the same stream and moved to the device, so a run is reproducible on
// CPU and GPU alike.
#include <mer/train/augment.hpp>

#include <mer/core/error.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace mer {

namespace {

constexpr double kPi = 3.14159265358979323846;

[[noreturn]] void bad_option(const ConfigNode& node, const std::string& key, const std::string& expected,
                             const std::string& got) {
  throw ConfigError(detail::concat(node.where(key), ": '", node.key_path(key), "' must be ", expected, ", got ", got));
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Value checks shared by from_config (ConfigError with the line) and the Augmenter (ValueError: options
// filled in code). Returns "" when fine, else the option's name and what it must be.
std::string range_problem(const AugmentOptions& o) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!(finite(o.hflip) && o.hflip >= 0 && o.hflip <= 1)) return detail::concat("hflip must be in [0, 1], got ", o.hflip);
  if (!(finite(o.rotate_deg) && o.rotate_deg >= 0 && o.rotate_deg <= 180))
    return detail::concat("rotate_deg must be in [0, 180], got ", o.rotate_deg);
  if (o.crop.size() != 2 || !(o.crop[0] > 0 && o.crop[0] <= o.crop[1] && o.crop[1] <= 1))
    return detail::concat("crop must be [min, max] with 0 < min <= max <= 1, got ", o.crop.size(), " values",
                          o.crop.size() == 2 ? detail::concat(" [", o.crop[0], ", ", o.crop[1], "]") : std::string());
  if (!(finite(o.translate_px) && o.translate_px >= 0))
    return detail::concat("translate_px must be a finite number >= 0, got ", o.translate_px);
  if (!(finite(o.brightness) && o.brightness >= 0))
    return detail::concat("brightness must be a finite number >= 0, got ", o.brightness);
  if (!(finite(o.contrast) && o.contrast >= 0 && o.contrast <= 1))
    return detail::concat("contrast must be in [0, 1], got ", o.contrast);
  if (!(finite(o.noise_std) && o.noise_std >= 0))
    return detail::concat("noise_std must be a finite number >= 0, got ", o.noise_std);
  return {};
}

bool photometric(const AugmentOptions& o) { return o.brightness > 0 || o.contrast > 0; }

bool moves(const AugmentDraw& d) {
  return d.angle_deg != 0 || d.zoom != 1 || d.crop_x != 0 || d.crop_y != 0 || d.shift_x != 0 || d.shift_y != 0;
}

// Linear part of the content map, L = F·R(θ)·zoom, row-major [l00, l01, l10, l11] in pixel units.
std::array<double, 4> linear_part(const AugmentDraw& d) {
  const double a = d.angle_deg * kPi / 180.0, c = std::cos(a), s = std::sin(a), f = d.flip ? -1.0 : 1.0;
  return {f * c * d.zoom, -f * s * d.zoom, s * d.zoom, c * d.zoom};
}

// The 2x3 matrix affine_grid wants: output → input in normalised coordinates (align_corners=false, where
// the normalised coordinate of a pixel-centred coordinate x is 2x/W). With the content map
// q = L(p − c) + t, the input point is p = L⁻¹(q − t) + c.
std::array<double, 6> sampling_matrix(const AugmentDraw& d, int height, int width) {
  const auto l = linear_part(d);
  const double det = l[0] * l[3] - l[1] * l[2];
  const double i00 = l[3] / det, i01 = -l[1] / det, i10 = -l[2] / det, i11 = l[0] / det;
  const double w = width, h = height;
  const double ox = d.crop_x - (i00 * d.shift_x + i01 * d.shift_y);
  const double oy = d.crop_y - (i10 * d.shift_x + i11 * d.shift_y);
  return {i00, i01 * h / w, 2.0 * ox / w, i10 * w / h, i11, 2.0 * oy / h};
}

}  // namespace

bool AugmentOptions::enabled() const {
  return hflip > 0 || rotate_deg > 0 || (crop.size() == 2 && crop[0] < 1) || translate_px > 0 || brightness > 0 ||
         contrast > 0 || noise_std > 0;
}

AugmentOptions AugmentOptions::from_config(const ConfigNode& node) {
  AugmentOptions o;
  o.hflip = node.get<double>("hflip", o.hflip);
  if (!(o.hflip >= 0 && o.hflip <= 1)) bad_option(node, "hflip", "a probability in [0, 1]", detail::concat(o.hflip));
  o.rotate_deg = node.get<double>("rotate_deg", o.rotate_deg);
  if (!(o.rotate_deg >= 0 && o.rotate_deg <= 180))
    bad_option(node, "rotate_deg", "in [0, 180] degrees", detail::concat(o.rotate_deg));
  o.crop = node.get<std::vector<double>>("crop", o.crop);
  if (o.crop.size() != 2 || !(o.crop[0] > 0 && o.crop[0] <= o.crop[1] && o.crop[1] <= 1)) {
    std::string got;
    for (const double v : o.crop) got += (got.empty() ? "" : ", ") + detail::concat(v);
    bad_option(node, "crop", "[min, max] area fractions with 0 < min <= max <= 1", "[" + got + "]");
  }
  o.translate_px = node.get<double>("translate_px", o.translate_px);
  if (!(o.translate_px >= 0 && std::isfinite(o.translate_px)))
    bad_option(node, "translate_px", "a finite number of pixels >= 0", detail::concat(o.translate_px));
  o.brightness = node.get<double>("brightness", o.brightness);
  if (!(o.brightness >= 0 && std::isfinite(o.brightness)))
    bad_option(node, "brightness", "a finite number >= 0", detail::concat(o.brightness));
  o.contrast = node.get<double>("contrast", o.contrast);
  if (!(o.contrast >= 0 && o.contrast <= 1)) bad_option(node, "contrast", "in [0, 1]", detail::concat(o.contrast));
  o.photometric_groups = node.get<std::vector<std::string>>("photometric_groups", o.photometric_groups);
  if (photometric(o) && o.photometric_groups.empty()) {
    const std::string key = o.brightness > 0 ? "brightness" : "contrast";
    throw ConfigError(detail::concat(node.where(key), ": '", node.key_path(key),
                                     "' applies only to the groups in 'photometric_groups', which is empty; name the "
                                     "image-like outputs (e.g. [apex]) or set it to 0"));
  }
  o.noise_std = node.get<double>("noise_std", o.noise_std);
  if (!(o.noise_std >= 0 && std::isfinite(o.noise_std)))
    bad_option(node, "noise_std", "a finite number >= 0", detail::concat(o.noise_std));
  return o;
}

Augmenter::Augmenter(AugmentOptions options, const FeatureSet& features)
    : options_(std::move(options)), channels_(features.channels), height_(features.height), width_(features.width) {
  const auto problem = range_problem(options_);
  MER_CHECK(problem.empty(), ValueError, "AugmentOptions: ", problem);
  if (!options_.enabled()) return;
  MER_CHECK(features.uniform(), ValueError, "augmentation transforms the pipeline outputs together and needs them at "
            "one size; resize them alike (or train without train.augment)");
  MER_CHECK(channels_ > 0 && height_ > 0 && width_ > 0, ValueError, "augmentation needs the features' shape, got ",
            channels_, "x", height_, "x", width_);
  MER_CHECK(!features.groups.empty(), ValueError,
            "augmentation needs the FeatureSet's groups to tell displacement fields (whose u a flip negates) from "
            "images; this FeatureSet has none");
  int next = 0;
  for (const auto& g : features.groups) {
    MER_CHECK(g.first_channel == next && g.channels > 0, ValueError, "FeatureSet group '", g.name, "' covers channels [",
              g.first_channel, ", ", g.first_channel + g.channels, "), expected groups to cover the ", channels_,
              " channels in order from ", next);
    if (g.vector_field) {
      MER_CHECK(g.channels % 2 == 0, ValueError, "vector-field group '", g.name, "' has ", g.channels,
                " channels, expected (u, v) pairs");
      for (int c = g.first_channel; c < g.first_channel + g.channels; c += 2) u_channels_.push_back(c);
    }
    next = g.first_channel + g.channels;
  }
  MER_CHECK(next == channels_, ValueError, "FeatureSet groups cover ", next, " of its ", channels_, " channels");
  if (photometric(options_)) {
    for (const auto& name : options_.photometric_groups) {
      const FeatureGroup* g = features.group(name);
      if (!g) {
        std::vector<std::string> known;
        for (const auto& k : features.groups) known.push_back(k.name);
        std::string msg = detail::concat("augment.photometric_groups names '", name, "', which is not a pipeline output");
        if (const auto hint = nearest(name, known); !hint.empty()) msg += " (did you mean '" + hint + "'?)";
        msg += "; outputs:";
        for (const auto& k : known) msg += " " + k;
        throw ValueError(msg);
      }
      MER_CHECK(!g->vector_field, ValueError, "augment.photometric_groups names '", name,
                "', a displacement field: brightness and contrast would change its motion, not its appearance");
      photometric_.emplace_back(g->first_channel, g->first_channel + g->channels);
    }
  }
}

AugmentDraw Augmenter::draw(std::mt19937_64& rng) const {
  // Nine draws whatever is enabled, so switching one option on does not reshuffle the others' values.
  double u[9];
  for (double& v : u) v = uniform01(rng);
  const auto& o = options_;
  AugmentDraw d;
  d.flip = u[0] < o.hflip;
  d.angle_deg = (2 * u[1] - 1) * o.rotate_deg;
  if (o.crop[0] < 1) {
    // The window keeps the aspect ratio, so one zoom applies to both axes and to the vectors.
    const double area = o.crop[0] + u[2] * (o.crop[1] - o.crop[0]);
    const double side = std::sqrt(area);
    d.zoom = 1.0 / side;
    d.crop_x = (2 * u[3] - 1) * (1 - side) * width_ / 2;
    d.crop_y = (2 * u[4] - 1) * (1 - side) * height_ / 2;
  }
  d.shift_x = (2 * u[5] - 1) * o.translate_px;
  d.shift_y = (2 * u[6] - 1) * o.translate_px;
  d.brightness = (2 * u[7] - 1) * o.brightness;
  d.gain = 1 + (2 * u[8] - 1) * o.contrast;
  return d;
}

at::Tensor Augmenter::apply(const at::Tensor& x, const std::vector<AugmentDraw>& draws, std::uint64_t noise_seed) const {
  namespace F = torch::nn::functional;
  MER_CHECK(x.dim() == 4 && x.size(1) == channels_ && x.size(2) == height_ && x.size(3) == width_ &&
                x.scalar_type() == torch::kFloat,
            ValueError, "Augmenter expects a float batch [N, ", channels_, ", ", height_, ", ", width_, "], got ",
            x.sizes(), " ", x.scalar_type());
  const auto n = x.size(0);
  MER_CHECK(static_cast<std::int64_t>(draws.size()) == n, ValueError, "Augmenter got ", draws.size(),
            " draws for a batch of ", n);
  torch::NoGradGuard no_grad;
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  torch::Tensor y;
  const bool any_move = std::any_of(draws.begin(), draws.end(), moves);
  const bool any_flip = std::any_of(draws.begin(), draws.end(), [](const AugmentDraw& d) { return d.flip; });
  if (any_move) {
    auto theta = torch::empty({n, 2, 3}, cpu);
    auto* t = theta.data_ptr<float>();
    for (std::int64_t k = 0; k < n; ++k) {
      const auto m = sampling_matrix(draws[static_cast<std::size_t>(k)], height_, width_);
      for (int j = 0; j < 6; ++j) t[k * 6 + j] = static_cast<float>(m[static_cast<std::size_t>(j)]);
    }
    const auto grid = F::affine_grid(theta.to(x.device()), {n, channels_, height_, width_}, /*align_corners=*/false);
    y = F::grid_sample(x, grid,
                       F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  } else if (any_flip) {
    // A flip alone is an exact permutation of pixels; indexing keeps it exact where resampling would round.
    auto mask = torch::empty({n, 1, 1, 1}, torch::TensorOptions().dtype(torch::kBool));
    auto* m = mask.data_ptr<bool>();
    for (std::int64_t k = 0; k < n; ++k) m[k] = draws[static_cast<std::size_t>(k)].flip;
    y = torch::where(mask.to(x.device()), x.flip({3}), x);
  } else {
    y = x.clone();
  }

  if ((any_move || any_flip) && !u_channels_.empty()) {
    // The vectors follow the content: (u, v) at the new place is L·(u, v).
    auto l = torch::empty({4, n, 1, 1}, cpu);
    auto* lp = l.data_ptr<float>();
    for (std::int64_t k = 0; k < n; ++k) {
      const auto m = linear_part(draws[static_cast<std::size_t>(k)]);
      for (int j = 0; j < 4; ++j) lp[j * n + k] = static_cast<float>(m[static_cast<std::size_t>(j)]);
    }
    l = l.to(x.device());
    for (const int c : u_channels_) {
      const auto u = y.select(1, c).clone(), v = y.select(1, c + 1).clone();
      y.select(1, c).copy_(l[0] * u + l[1] * v);
      y.select(1, c + 1).copy_(l[2] * u + l[3] * v);
    }
  }

  if (!photometric_.empty()) {
    auto gain = torch::empty({n, 1, 1, 1}, cpu), offset = torch::empty({n, 1, 1, 1}, cpu);
    for (std::int64_t k = 0; k < n; ++k) {
      gain.data_ptr<float>()[k] = static_cast<float>(draws[static_cast<std::size_t>(k)].gain);
      offset.data_ptr<float>()[k] = static_cast<float>(draws[static_cast<std::size_t>(k)].brightness);
    }
    gain = gain.to(x.device());
    offset = offset.to(x.device());
    for (const auto& [first, last] : photometric_) {
      auto part = y.slice(1, first, last);
      const auto mean = part.mean({2, 3}, /*keepdim=*/true);
      part.copy_((part - mean) * gain + mean + offset);
    }
  }

  if (options_.noise_std > 0) {
    auto gen = at::detail::createCPUGenerator(noise_seed);
    const auto noise = torch::randn({n, channels_, height_, width_}, gen, cpu);
    y.add_(noise.to(x.device()), options_.noise_std);
  }
  return y;
}

at::Tensor Augmenter::operator()(const at::Tensor& x, std::mt19937_64& rng) const {
  if (!enabled()) return x;
  std::vector<AugmentDraw> draws;
  draws.reserve(static_cast<std::size_t>(x.size(0)));
  for (std::int64_t k = 0; k < x.size(0); ++k) draws.push_back(draw(rng));
  return apply(x, draws, rng());
}

}  // namespace mer
