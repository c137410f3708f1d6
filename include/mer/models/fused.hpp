#pragma once
/// Fused layers: one op where LibTorch would run several, for the shallow networks of MER whose time goes
/// into memory traffic rather than arithmetic. STSTNet's 1,683 parameters touch a 256 × 16 × 30 × 30
/// activation ten times per training step (ReLU, batch norm, max-pool, forward and backward); fused, the
/// activation is computed a few samples at a time and never leaves the cache.
///
/// Each fused op has its reference beside it, the same computation as LibTorch's ops one by one: the
/// tests hold the two to float rounding (tests/models/fused_test.cpp), and the reference also serves the
/// inputs the fused kernel does not take (CUDA, double precision).
#include <torch/types.h>

namespace mer {

/// Geometry of conv → ReLU → batch norm → max-pool. The convolution has stride 1, no dilation, no groups.
struct ConvPoolGeometry {
  std::int64_t padding = 0;  ///< zeros added on each side before the convolution
  std::int64_t pool_kernel = 2, pool_stride = 2, pool_padding = 0;
};

/// Batch norm's tensors (BatchNorm2d's weight, bias, running_mean, running_var) and mode. All undefined:
/// no batch norm (conv → ReLU → max-pool). In training the batch statistics normalise and the running
/// ones are updated in place, with LibTorch's momentum rule and unbiased variance.
struct BatchNormState {
  torch::Tensor weight, bias, running_mean, running_var;
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
};

/// Whether the fused kernels take `x`: a float32 CPU tensor, and no TorchScript trace is being recorded
/// (a trace must see LibTorch's ops to replay them, so tracing takes the reference path).
bool fused_kernels_take(const torch::Tensor& x);

/// max_pool2d(batch_norm(relu(conv2d(x, weight, bias)))), [N, Cin, H, W] → [N, Cout, H', W'], in one
/// pass forward and one backward. Inputs the fused kernel takes (fused_kernels_take, float32 parameters)
/// go through it; anything else through conv_relu_bn_maxpool_reference. `bias` may be undefined.
torch::Tensor conv_relu_bn_maxpool(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                   const BatchNormState& bn, const ConvPoolGeometry& geometry);

/// Dropout (inverted: kept values scaled by 1 / (1 - p)); identity outside training or at p = 0. On
/// tensors the fused kernels take, the mask is built in one pass from xoshiro256** seeded by one draw of
/// LibTorch's default CPU generator (so torch::manual_seed makes it reproducible, as it does
/// torch::dropout); LibTorch's own draws from its mt19937 per element and converts to double, which cost
/// a sixth of STSTNet's fused training step. Same distribution, different stream: the masks differ from
/// torch::dropout's.
torch::Tensor fused_dropout(const torch::Tensor& x, double p, bool training);

/// The same with LibTorch's ops one by one.
torch::Tensor conv_relu_bn_maxpool_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                             const torch::Tensor& bias, const BatchNormState& bn,
                                             const ConvPoolGeometry& geometry);

}  // namespace mer
