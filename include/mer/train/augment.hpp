#pragma once
/// Training-time augmentation (survey §4.1): random geometric and photometric changes to copies of each
/// training batch, on tensors, after the feature cache. All options default to off.
///
///   train:
///     augment:
///       hflip: 0.5               # probability of a horizontal flip; u of every vector-field group is negated
///       rotate_deg: 10           # rotation drawn from [-10, 10] degrees; (u, v) vectors rotate with it
///       crop: [0.9, 1.0]         # random-resized crop: kept area fraction drawn from this range (aspect
///                                # kept), resized back; vector fields are multiplied by the zoom
///       translate_px: 2          # shift drawn from [-2, 2] pixels on each axis
///       brightness: 0.1          # offset drawn from [-0.1, 0.1]   } photometric_groups only
///       contrast: 0.1            # gain drawn from [0.9, 1.1] about } (image-like channels)
///                                # each channel's mean
///       photometric_groups: [apex]   # groups brightness/contrast apply to (default none)
///       noise_std: 0.01          # zero-mean Gaussian noise added to every channel
///
/// Geometry: one affine map per sample, content = F·R(θ)·zoom·(p − crop centre) + shift, resampled
/// bilinearly (grid_sample, zeros outside: "no motion" for flow and strain). Pixel coordinates have x to the
/// right and y down, so a positive angle turns +x towards +y: clockwise as displayed, and a (1, 0) field
/// rotated by 90° becomes (0, 1). Flow, strain magnitude and the like are physical quantities, which is why
/// brightness/contrast touch only the groups named in `photometric_groups` (checked: they must exist and not
/// be vector fields), while geometry moves every channel and rotates/flips/rescales displacement vectors.
///
/// Honesty guarantees:
///  - Trainer::fit applies it to training batches only; validation batches and Trainer::predict (hence the
///    test fold) never are augmented.
///  - It works on batch copies; the FeatureSet, and with it the feature cache, are never changed.
///  - Draws come from an RNG seeded by the fold seed and the epoch: the same seed gives the same run.
#include <mer/core/config.hpp>
#include <mer/features/feature_set.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

// Declared, not included: this header sits under trainer.hpp, which stays free of LibTorch's heavy headers.
// Callers of the tensor functions include LibTorch themselves (mer_learn's precompiled header does).
namespace at {
class Tensor;
}

namespace mer {

struct AugmentOptions {
  /// Probability of a horizontal flip per sample, in [0, 1].
  double hflip = 0.0;
  /// Largest rotation in degrees (uniform in [-rotate_deg, rotate_deg]), in [0, 180].
  double rotate_deg = 0.0;
  /// Area fraction range [min, max] of the random-resized crop, 0 < min <= max <= 1; [1, 1] is off.
  std::vector<double> crop = {1.0, 1.0};
  /// Largest shift in pixels on each axis (uniform in [-translate_px, translate_px]), >= 0.
  double translate_px = 0.0;
  /// Largest additive offset for photometric groups (uniform in [-brightness, brightness]), >= 0.
  double brightness = 0.0;
  /// Largest relative gain change for photometric groups (gain uniform in [1-contrast, 1+contrast]), in [0, 1].
  double contrast = 0.0;
  /// Groups (pipeline outputs) that brightness and contrast apply to; vector fields are refused.
  std::vector<std::string> photometric_groups;
  /// Standard deviation of the Gaussian noise added to every channel, >= 0.
  double noise_std = 0.0;

  /// Anything to do at all.
  bool enabled() const;
  /// ConfigError naming file:line for values out of range, and for brightness/contrast without
  /// photometric_groups (they would silently do nothing).
  static AugmentOptions from_config(const ConfigNode& node);
};

/// One sample's random draw, exposed so a known transform can be applied (tests, visualisation).
struct AugmentDraw {
  bool flip = false;
  double angle_deg = 0.0;              ///< positive turns +x towards +y (clockwise as displayed)
  double zoom = 1.0;                   ///< >= 1: the crop window's side is 1/zoom of the image's
  double crop_x = 0.0, crop_y = 0.0;   ///< crop window centre relative to the image centre, pixels
  double shift_x = 0.0, shift_y = 0.0; ///< translation of the content, pixels
  double brightness = 0.0;             ///< additive offset (photometric groups)
  double gain = 1.0;                   ///< contrast gain about each channel's mean (photometric groups)
};

class Augmenter {
 public:
  /// Checks the options (ValueError: they may be filled in code) and, when enabled, the features' groups:
  /// they must cover all channels, vector fields must have (u, v) pairs, photometric groups must exist
  /// and not be vector fields. Without groups a flow cannot be told from an image, so geometric
  /// augmentation of a FeatureSet without groups is refused rather than silently flipping u wrongly.
  Augmenter(AugmentOptions options, const FeatureSet& features);

  const AugmentOptions& options() const { return options_; }
  bool enabled() const { return options_.enabled(); }

  /// One sample's draw from `rng` (always the same number of draws, whatever is enabled).
  AugmentDraw draw(std::mt19937_64& rng) const;

  /// Augmented copy of `x` ([N, C, H, W] float, any device); `x` is not changed. draws.size() == N.
  /// Noise (if noise_std > 0) comes from a LibTorch CPU generator seeded with `noise_seed`.
  at::Tensor apply(const at::Tensor& x, const std::vector<AugmentDraw>& draws, std::uint64_t noise_seed) const;

  /// Draws for every sample of the batch, then a noise seed, from `rng`, and applies them.
  /// With everything off it returns `x` itself (bit-exact, no copy).
  at::Tensor operator()(const at::Tensor& x, std::mt19937_64& rng) const;

 private:
  AugmentOptions options_;
  int channels_ = 0, height_ = 0, width_ = 0;
  std::vector<int> u_channels_;                    ///< first channel of every (u, v) pair
  std::vector<std::pair<int, int>> photometric_;   ///< [first, first + count) channel ranges
};

}  // namespace mer
