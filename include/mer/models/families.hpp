#pragma once
/// Model families composed from YAML (survey §5.2), built from the blocks in <mer/models/blocks.hpp>.
///
/// single_stream — one backbone and a head on its inputs (groups stacked along channels, or one clip):
///   model:
///     type: single_stream
///     inputs: [flow, strain]
///     backbone: {type: conv, channels: [16, 32, 64], block: residual, attention: cbam, pool: max}
///     head: {hidden: [64], dropout: 0.5}          # or {type: capsule, capsule_dim: 8}
///
/// multi_stream — a backbone per named group (sizes may differ), fused:
///   model:
///     type: multi_stream
///     streams:
///       - {input: apex, backbone: {type: conv, channels: [16, 32]}}
///       - {input: flow, backbone: {type: conv, channels: [16, 32]}}
///     fusion: concat        # concat | sum | attention | bilinear (two streams)
///     depth: middle         # middle: fuse features, one head; late: a head per stream, scores averaged
///     shared: false         # one backbone for all streams (their shapes must match)
///
/// cascaded — a per-frame (or per-patch) CNN feeding a temporal or relational model:
///   model:
///     type: cascaded
///     input: clip           # a sequence group [T, C, H, W]; or an image with split: patches
///     split: frames         # frames | patches (patches: 4 → a 4×4 grid of tiles)
///     frame_backbone: {type: conv, channels: [16, 32]}
///     temporal: {type: lstm, hidden: 64, reduce: last}   # lstm | gru | tcn | transformer | gcn
///
/// multi_task — a trunk of any family above, the emotion head, and auxiliary heads by name:
///   model:
///     type: multi_task
///     trunk: {type: single_stream, backbone: {type: conv}}
///     tasks:
///       au: {hidden: [32]}  # multi-label action units; vocabulary from the training fold
///       embedding: {}       # the shared features as output "embedding" (for center/triplet/arcface losses)
///   Any family also accepts `tasks:`.
///
/// Backbones (`backbone.type`): conv (2-D, or 3-D on clips), resnet18, transformer (ViT), mlp.
#include <mer/core/registry.hpp>
#include <mer/models/blocks.hpp>
#include <mer/models/classifier.hpp>

#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mer {

/// A feature extractor: one input group's tensor [N, ...shape] → [N, out_features].
class Backbone : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  std::int64_t out_features = 0;
};
/// Built for a per-sample input shape; an empty shape reads and checks the options only.
using BackboneRegistry = Registry<Backbone, const std::vector<std::int64_t>&>;
const BackboneRegistry& builtin_backbones();
/// Builds `node` (type defaults to conv) for `shape`; a shape the backbone cannot take is a ConfigError.
std::shared_ptr<Backbone> build_backbone(const ConfigNode& node, const std::vector<std::int64_t>& shape);

/// A classification head: linear (hidden layers, dropout) or capsule (features split into primary capsules,
/// routed to one capsule per output; the log of each capsule's length is its score).
class HeadImpl : public torch::nn::Module {
 public:
  /// in <= 0: read and check the options only.
  HeadImpl(const ConfigNode& node, std::int64_t in, std::int64_t out);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::string type_;
  double dropout_ = 0;
  std::int64_t caps_dim_ = 8;
  std::vector<torch::nn::Linear> layers;
  Capsule capsule{nullptr};
};
TORCH_MODULE(Head);

/// What the families share: features → emotion head, plus auxiliary heads on the same features.
class FamilyImpl : public Classifier {
 public:
  using Classifier::forward;
  ModelOutput forward(const NamedInputs& inputs) override;
  /// [N, feature_dim] shared features.
  virtual torch::Tensor features(const NamedInputs& inputs) = 0;
  /// Adds the heads under `tasks` (au, embedding); ConfigError for an unknown task or an AU head without AUs.
  void add_aux_heads(const ConfigNode& tasks, const ModelSpec& spec);

  std::int64_t feature_dim = 0;
  Head head{nullptr};
  std::map<std::string, Head> aux_heads;

 protected:
  /// Set by features() of a late-fusion model: the averaged per-stream scores replace head(features).
  torch::Tensor late_logits_;

 private:
  bool embedding_ = false;
};

}  // namespace mer
