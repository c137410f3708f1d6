#pragma once
/// STSTNet: Shallow Triple Stream Three-dimensional CNN (Liong et al., FG 2019).
///
/// Input: 3 × 28 × 28 (u, v and optical strain of onset → apex). Three parallel 3×3 conv streams with
/// 3, 5 and 8 filters (padding 2), each ReLU → BatchNorm → 3×3/3 max-pool → dropout; concatenated to
/// 16 channels, 2×2 average pooling, one linear layer. With batch norm and 3 classes: 1,683 parameters.
///
///   model:
///     type: ststnet
///     inputs: [flow, strain]   # groups stacked along channels (default: every pipeline output)
///     batch_norm: true
///     dropout: 0.5
///     fused: true              # the fused CPU kernel (false: LibTorch's ops one by one)
#include <mer/core/config.hpp>
#include <mer/models/classifier.hpp>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace mer {

struct STSTNetOptions {
  STSTNetOptions(std::int64_t in_channels = 3, std::int64_t num_classes = 3)
      : in_channels_(in_channels), num_classes_(num_classes) {}
  /// Input channels (u, v, strain).
  TORCH_ARG(std::int64_t, in_channels);
  /// Output classes.
  TORCH_ARG(std::int64_t, num_classes);
  /// Input height and width (28 in the paper); the linear layer's size follows from it.
  TORCH_ARG(std::int64_t, input_size) = 28;
  /// Batch normalisation after each stream's ReLU.
  TORCH_ARG(bool, batch_norm) = true;
  /// Dropout probability after pooling.
  TORCH_ARG(double, dropout) = 0.5;
  /// Float32 CPU inputs run the three streams' conv → ReLU → BN → max-pool as one fused op
  /// (models/fused.hpp): same results to float rounding, 2.7x faster training on one core (docs/benchmarks.md);
  /// false: LibTorch's ops one by one.
  TORCH_ARG(bool, fused) = true;

 public:  // TORCH_ARG leaves the access at private.
  /// Reads inputs, batch_norm and dropout; channels, classes and size come from `spec`.
  static STSTNetOptions from_config(const ConfigNode& node, const ModelSpec& spec);
  /// The groups stacked into the input (from `inputs`).
  std::vector<std::string> inputs;
};

class STSTNetImpl : public ImageClassifier {
 public:
  explicit STSTNetImpl(const STSTNetOptions& options = {});
  torch::Tensor forward(torch::Tensor x) override;
  const STSTNetOptions& options() const { return options_; }

 private:
  torch::Tensor fused_streams(const torch::Tensor& x);

  STSTNetOptions options_;
  torch::nn::Conv2d stream3{nullptr}, stream5{nullptr}, stream8{nullptr};
  torch::nn::BatchNorm2d bn3{nullptr}, bn5{nullptr}, bn8{nullptr};
  torch::nn::Dropout dropout{nullptr};  // holds p and shows in the printed model; masks from fused_dropout
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(STSTNet);

}  // namespace mer
