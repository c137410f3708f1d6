#pragma once
/// FeatureSet: the preprocessed network inputs of a dataset, one C×H×W float array per sample.
/// The hand-over between preprocessing (OpenCV) and learning (LibTorch); depends on neither.
#include <mer/meta/sample.hpp>

#include <vector>

namespace mer {

struct FeatureSet {
  int channels = 0, height = 0, width = 0;
  std::vector<SampleMeta> samples;          ///< samples that made it through preprocessing
  std::vector<std::vector<float>> inputs;   ///< inputs[i]: channels*height*width, channel-major
  std::vector<SkipRecord> skipped;          ///< samples that did not, with reasons
  std::vector<std::string> channel_names;   ///< e.g. {"u", "v", "strain"}
  std::size_t cache_hits = 0;               ///< samples served from the on-disk cache

  std::size_t size() const { return samples.size(); }
  std::size_t sample_size() const { return static_cast<std::size_t>(channels) * height * width; }
};

}  // namespace mer
