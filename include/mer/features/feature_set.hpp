#pragma once
/// FeatureSet: the preprocessed network inputs of a dataset, one C×H×W float array per sample.
/// The hand-over between preprocessing (OpenCV) and learning (LibTorch); depends on neither.
#include <mer/meta/sample.hpp>

#include <cstdint>
#include <map>
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
  /// This group's own size; 0: the FeatureSet's height and width. Groups may differ in size (an apex image
  /// at 112 px beside a flow field at 28 px); each sample's array holds the groups one after the other.
  int height = 0, width = 0;
};

struct FeatureSet {
  /// channels: all groups' channels together; height, width: the first group's size (the size of every
  /// group when uniform()).
  int channels = 0, height = 0, width = 0;
  std::vector<SampleMeta> samples;          ///< samples that made it through preprocessing
  std::vector<std::vector<float>> inputs;   ///< inputs[i]: channels*height*width, channel-major
  std::vector<SkipRecord> skipped;          ///< samples that did not, with reasons
  std::vector<std::string> channel_names;   ///< e.g. {"u", "v", "strain"}
  std::vector<FeatureGroup> groups;         ///< the pipeline outputs, in order, covering all channels
  std::size_t cache_hits = 0;               ///< samples served from the on-disk cache
  /// notes[i]: what the stages recorded about samples[i] (Item::notes), e.g. which face detector served it;
  /// may be shorter than samples (samples appended later, such as variant copies, have none).
  std::vector<std::map<std::string, std::string>> notes;

  std::size_t size() const { return samples.size(); }
  int group_height(const FeatureGroup& g) const { return g.height > 0 ? g.height : height; }
  int group_width(const FeatureGroup& g) const { return g.width > 0 ? g.width : width; }
  std::size_t group_size(const FeatureGroup& g) const {
    return static_cast<std::size_t>(g.channels) * group_height(g) * group_width(g);
  }
  /// Values per sample: every group's channels x its height x width.
  std::size_t sample_size() const {
    if (groups.empty()) return static_cast<std::size_t>(channels) * height * width;
    std::size_t n = 0;
    for (const auto& g : groups) n += group_size(g);
    return n;
  }
  /// Where group `index` starts in a sample's array.
  std::size_t group_offset(std::size_t index) const {
    std::size_t n = 0;
    for (std::size_t k = 0; k < index && k < groups.size(); ++k) n += group_size(groups[k]);
    return n;
  }
  /// Every group has the set's height and width, so the groups stack as one C x H x W array.
  bool uniform() const {
    for (const auto& g : groups)
      if (group_height(g) != height || group_width(g) != width) return false;
    return true;
  }
  /// Per-sample shape of group `g` as a model sees it: {C, H, W}, or {T, C, H, W} for a sequence.
  std::vector<std::int64_t> group_shape(const FeatureGroup& g) const {
    if (g.frames > 0) return {g.frames, g.channels / g.frames, group_height(g), group_width(g)};
    return {g.channels, group_height(g), group_width(g)};
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
