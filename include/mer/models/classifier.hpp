#pragma once
/// Classifier: the interface every recognition network implements (LibTorch).
#include <mer/models/model.hpp>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace mer {

class Classifier : public torch::nn::Module {
 public:
  /// x: [N, C, H, W] float → logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

/// Number of trainable parameters.
std::int64_t count_parameters(const torch::nn::Module& module);

}  // namespace mer
