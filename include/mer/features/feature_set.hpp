#pragma once
/// FeatureSet: the preprocessed network inputs of a dataset, one C×H×W float array per sample.
/// The hand-over between preprocessing (OpenCV) and learning (LibTorch); depends on neither.
#include <mer/meta/sample.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mer {

/// One named network input (a pipeline output such as "flow" or "apex") and where its channels sit in
/// every sample's array; multi-stream models pick their streams by these names.
struct FeatureGroup {
  std::string name;
  int first_channel = 0;
  int channels = 0;
  /// The channels are (u, v) pairs of a displacement field (from CV_32FC2 entries): a horizontal flip must
  /// negate u, a rotation must rotate the vectors.
  bool vector_field = false;
  /// A sequence output (a clip) of this many frames, stored frame after frame (each frame's channels in
  /// turn): the model sees it as [T, channels / T, H, W]. 0 for a single image.
  int frames = 0;
};

struct FeatureSet {
  int channels = 0, height = 0, width = 0;
  std::vector<SampleMeta> samples;          ///< samples that made it through preprocessing
  std::vector<std::vector<float>> inputs;   ///< inputs[i]: channels*height*width, channel-major
  std::vector<SkipRecord> skipped;          ///< samples that did not, with reasons
  std::vector<std::string> channel_names;   ///< e.g. {"u", "v", "strain"}
  std::vector<FeatureGroup> groups;         ///< the pipeline outputs, in order, covering all channels
  std::size_t cache_hits = 0;               ///< samples served from the on-disk cache

  std::size_t size() const { return samples.size(); }
  std::size_t sample_size() const { return static_cast<std::size_t>(channels) * height * width; }
  /// Per-sample shape of group `g` as a model sees it: {C, H, W}, or {T, C, H, W} for a sequence.
  std::vector<std::int64_t> group_shape(const FeatureGroup& g) const {
    if (g.frames > 0) return {g.frames, g.channels / g.frames, height, width};
    return {g.channels, height, width};
  }
  /// The group called `name`, or nullptr.
  const FeatureGroup* group(const std::string& name) const {
    for (const auto& g : groups) {
      if (g.name == name) return &g;
    }
    return nullptr;
  }
};

}  // namespace mer
