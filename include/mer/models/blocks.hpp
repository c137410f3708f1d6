#pragma once
/// Building blocks of the surveyed MER networks (survey §5), as LibTorch modules: FooOptions, FooImpl,
/// TORCH_MODULE(Foo). Each states its input and output shapes; each is gradient-checked in double
/// precision in tests/models/blocks_test.cpp. Families (models/families.hpp) and presets compose them.
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mer {

/// Activation by name: relu, leaky_relu, gelu, elu, sigmoid, tanh, none. ValueError for another name.
torch::Tensor activate(const torch::Tensor& x, const std::string& name);
/// Checks an activation name (ValueError listing the known ones).
void check_activation(const std::string& name);

// ---------------------------------------------------------------- convolution units

struct ConvUnitOptions {
  ConvUnitOptions(std::int64_t in, std::int64_t out, std::int64_t kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);
  TORCH_ARG(std::int64_t, kernel);
  TORCH_ARG(std::int64_t, stride) = 1;
  /// -1: "same" for odd kernels at stride 1 (kernel / 2 · dilation).
  TORCH_ARG(std::int64_t, padding) = -1;
  TORCH_ARG(std::int64_t, dilation) = 1;
  TORCH_ARG(std::int64_t, groups) = 1;
  /// Conv bias; off by default when batch norm follows (the norm's shift makes it redundant).
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(bool, batch_norm) = true;
  TORCH_ARG(std::string, activation) = "relu";
  /// Some references put the activation before the norm (STSTNet, RCN-W): "conv_act_bn".
  TORCH_ARG(std::string, order) = "conv_bn_act";
};

/// Conv2d → BatchNorm2d → activation (or conv → act → BN). [N, in, H, W] → [N, out, H', W'].
class ConvUnitImpl : public torch::nn::Module {
 public:
  explicit ConvUnitImpl(const ConvUnitOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  ConvUnitOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvUnit);

/// Conv3d → BatchNorm3d → activation on clips [N, C, T, H, W] → [N, out, T', H', W'] (kernel k×k×k, or
/// temporal × spatial with `temporal_kernel`).
struct Conv3dUnitOptions {
  Conv3dUnitOptions(std::int64_t in, std::int64_t out, std::int64_t kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);
  TORCH_ARG(std::int64_t, kernel);
  /// Temporal kernel size; -1 = kernel.
  TORCH_ARG(std::int64_t, temporal_kernel) = -1;
  TORCH_ARG(std::int64_t, stride) = 1;
  TORCH_ARG(bool, batch_norm) = true;
  TORCH_ARG(std::string, activation) = "relu";
};
class Conv3dUnitImpl : public torch::nn::Module {
 public:
  explicit Conv3dUnitImpl(const Conv3dUnitOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  Conv3dUnitOptions options;
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d bn{nullptr};
};
TORCH_MODULE(Conv3dUnit);

// ---------------------------------------------------------------- residual (He et al. 2016)

/// Basic block: two 3×3 conv-BN with a skip (1×1 conv-BN projection when shape changes); torchvision's
/// layout, so a ResNet-18 built from it has torchvision's parameter count. [N, in, H, W] → [N, out, H/s, W/s].
struct ResidualOptions {
  ResidualOptions(std::int64_t in, std::int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);
  TORCH_ARG(std::int64_t, stride) = 1;
  /// Bottleneck: 1×1 reduce to out/expansion, 3×3, 1×1 expand (ResNet-50 style).
  TORCH_ARG(bool, bottleneck) = false;
  TORCH_ARG(std::int64_t, expansion) = 4;
};
class ResidualImpl : public torch::nn::Module {
 public:
  explicit ResidualImpl(const ResidualOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  ResidualOptions options;
  torch::nn::Sequential body{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Residual);

// ---------------------------------------------------------------- inception (Szegedy et al. 2015)

/// Four parallel branches concatenated: 1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3/1 max-pool → 1×1 (ReLU after each
/// conv). [N, in, H, W] → [N, c1 + c3 + c5 + pool_proj, H, W]. `last_relu` false leaves the 1×1 branch linear
/// (Off-TANet's Dual-Inception).
struct InceptionOptions {
  InceptionOptions(std::int64_t in, std::int64_t c1, std::int64_t c3_reduce, std::int64_t c3, std::int64_t c5_reduce,
                   std::int64_t c5, std::int64_t pool_proj)
      : in_(in), c1_(c1), c3_reduce_(c3_reduce), c3_(c3), c5_reduce_(c5_reduce), c5_(c5), pool_proj_(pool_proj) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, c1);
  TORCH_ARG(std::int64_t, c3_reduce);
  TORCH_ARG(std::int64_t, c3);
  TORCH_ARG(std::int64_t, c5_reduce);
  TORCH_ARG(std::int64_t, c5);
  TORCH_ARG(std::int64_t, pool_proj);
  TORCH_ARG(bool, one_by_one_relu) = true;
};
class InceptionImpl : public torch::nn::Module {
 public:
  explicit InceptionImpl(const InceptionOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  InceptionOptions options;
  torch::nn::Conv2d b1{nullptr}, b3_reduce{nullptr}, b3{nullptr}, b5_reduce{nullptr}, b5{nullptr}, pool_proj{nullptr};
};
TORCH_MODULE(Inception);

/// Multi-scale block (HyFeat-style): parallel convolutions with different kernel sizes ("same" padding),
/// each ConvUnit, concatenated. [N, in, H, W] → [N, out · kernels.size(), H, W].
struct MultiScaleOptions {
  MultiScaleOptions(std::int64_t in, std::int64_t out, std::vector<std::int64_t> kernels = {1, 3, 5, 7})
      : in_(in), out_(out), kernels_(std::move(kernels)) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);  ///< per branch
  TORCH_ARG(std::vector<std::int64_t>, kernels);
};
class MultiScaleImpl : public torch::nn::Module {
 public:
  explicit MultiScaleImpl(const MultiScaleOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  MultiScaleOptions options;
  std::vector<ConvUnit> branches;
};
TORCH_MODULE(MultiScale);

// ---------------------------------------------------------------- recurrent convolution (Liang & Hu 2015)

/// Recurrent convolutional layer as in the RCNs of Xia et al.: y = ff(x); then `steps` times
/// y = rr(x + y) with the *same* rr weights; ff = 1×1 conv-BN-ReLU, rr = 3×3 conv-BN-ReLU.
/// [N, C, H, W] → [N, C, H, W].
struct RecurrentConvOptions {
  explicit RecurrentConvOptions(std::int64_t channels) : channels_(channels) {}
  TORCH_ARG(std::int64_t, channels);
  TORCH_ARG(std::int64_t, steps) = 2;
};
class RecurrentConvImpl : public torch::nn::Module {
 public:
  explicit RecurrentConvImpl(const RecurrentConvOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  RecurrentConvOptions options;
  ConvUnit ff{nullptr}, rr{nullptr};
};
TORCH_MODULE(RecurrentConv);

// ---------------------------------------------------------------- attention

/// Squeeze-and-excitation (Hu et al. 2018): channel gates from global average pooling through a
/// bottleneck MLP. [N, C, H, W] → same.
struct SqueezeExcitationOptions {
  explicit SqueezeExcitationOptions(std::int64_t channels) : channels_(channels) {}
  TORCH_ARG(std::int64_t, channels);
  TORCH_ARG(std::int64_t, reduction) = 16;
};
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  explicit SqueezeExcitationImpl(const SqueezeExcitationOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  SqueezeExcitationOptions options;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

/// CBAM (Woo et al. 2018): channel attention (avg- and max-pooled descriptors through a shared MLP) then
/// spatial attention (a k×k conv over channel mean and max). [N, C, H, W] → same.
struct CBAMOptions {
  explicit CBAMOptions(std::int64_t channels) : channels_(channels) {}
  TORCH_ARG(std::int64_t, channels);
  TORCH_ARG(std::int64_t, reduction) = 16;
  TORCH_ARG(std::int64_t, spatial_kernel) = 7;
};
class CBAMImpl : public torch::nn::Module {
 public:
  explicit CBAMImpl(const CBAMOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  /// The two attention maps alone: channel [N, C, 1, 1] and spatial [N, 1, H, W] (for inspection).
  torch::Tensor channel_attention(const torch::Tensor& x);
  torch::Tensor spatial_attention(const torch::Tensor& x);
  CBAMOptions options;
  torch::nn::Conv2d mlp1{nullptr}, mlp2{nullptr}, spatial{nullptr};
};
TORCH_MODULE(CBAM);

/// Non-local block / self-attention over positions (Wang et al. 2018): every position attends to every
/// other through 1×1 query/key/value projections; the result is added back through a learned scale
/// `gamma` that starts at 0, so the block begins as the identity. [N, C, H, W] → same.
struct NonLocalOptions {
  explicit NonLocalOptions(std::int64_t channels) : channels_(channels) {}
  TORCH_ARG(std::int64_t, channels);
  /// Width of queries and keys; -1 = channels / 2 (at least 1).
  TORCH_ARG(std::int64_t, inner) = -1;
};
class NonLocalImpl : public torch::nn::Module {
 public:
  explicit NonLocalImpl(const NonLocalOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  NonLocalOptions options;
  torch::nn::Conv2d query{nullptr}, key{nullptr}, value{nullptr};
  torch::Tensor gamma;
};
TORCH_MODULE(NonLocal);

// ---------------------------------------------------------------- capsules (Sabour et al. 2017)

/// squash(s) = |s|² / (1 + |s|²) · s / (|s| + eps), along `dim`.
torch::Tensor squash(const torch::Tensor& s, std::int64_t dim = -1, double eps = 1e-8);

/// Capsule layer with routing by agreement: [N, in_caps, in_dim] → [N, out_caps, out_dim]. Each input
/// capsule predicts every output capsule through its own W (in_caps × out_caps × out_dim × in_dim, no bias);
/// `iterations` rounds of routing (coupling = softmax over output capsules of the logits b, b += û·v).
/// As in the MEGC2019 CapsuleNet, predictions are detached from the graph in all but the last round.
struct CapsuleOptions {
  CapsuleOptions(std::int64_t in_caps, std::int64_t in_dim, std::int64_t out_caps, std::int64_t out_dim)
      : in_caps_(in_caps), in_dim_(in_dim), out_caps_(out_caps), out_dim_(out_dim) {}
  TORCH_ARG(std::int64_t, in_caps);
  TORCH_ARG(std::int64_t, in_dim);
  TORCH_ARG(std::int64_t, out_caps);
  TORCH_ARG(std::int64_t, out_dim);
  TORCH_ARG(std::int64_t, iterations) = 3;
};
class CapsuleImpl : public torch::nn::Module {
 public:
  explicit CapsuleImpl(const CapsuleOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  CapsuleOptions options;
  torch::Tensor weight;
};
TORCH_MODULE(Capsule);

// ---------------------------------------------------------------- graphs (Kipf & Welling 2017)

/// Symmetrically normalised adjacency with self loops: D^-1/2 (A + I) D^-1/2, for a square 0/1 or weighted A.
torch::Tensor normalized_adjacency(const torch::Tensor& adjacency);
/// A grid graph of rows × cols nodes (4-neighbourhood), e.g. for patches or RoIs laid out on a grid.
torch::Tensor grid_adjacency(std::int64_t rows, std::int64_t cols);
/// The 68-point landmark graph: consecutive points of each facial contour (jaw, brows, nose, eyes, lips)
/// are joined, closed contours closed.
torch::Tensor landmark_adjacency68();
/// Co-occurrence adjacency of multi-label targets [N, A] (0/1): A_ij = P(j | i) estimated on those rows
/// (pass the training fold's only), thresholded at `threshold` (entries below become 0), diagonal 0.
torch::Tensor cooccurrence_adjacency(const torch::Tensor& targets, double threshold = 0.0);

/// Graph convolution over a fixed adjacency: X' = Â X W + b. [N, nodes, in] → [N, nodes, out]; Â is the
/// normalised adjacency, stored as a buffer (saved with the model, not trained).
struct GraphConvOptions {
  GraphConvOptions(std::int64_t in, std::int64_t out, torch::Tensor adjacency)
      : in_(in), out_(out), adjacency_(std::move(adjacency)) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);
  TORCH_ARG(torch::Tensor, adjacency);
  TORCH_ARG(bool, normalize) = true;
};
class GraphConvImpl : public torch::nn::Module {
 public:
  explicit GraphConvImpl(const GraphConvOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear linear{nullptr};
  torch::Tensor adjacency;
};
TORCH_MODULE(GraphConv);

// ---------------------------------------------------------------- sequences

/// Temporal convolution block (Bai et al. 2018): two dilated causal Conv1d with ReLU and a residual
/// (1×1 when widths differ). [N, in, T] → [N, out, T]; output t depends on inputs ≤ t only.
struct TemporalConvOptions {
  TemporalConvOptions(std::int64_t in, std::int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, out);
  TORCH_ARG(std::int64_t, kernel) = 3;
  TORCH_ARG(std::int64_t, dilation) = 1;
};
class TemporalConvImpl : public torch::nn::Module {
 public:
  explicit TemporalConvImpl(const TemporalConvOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  TemporalConvOptions options;
  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr}, residual{nullptr};
};
TORCH_MODULE(TemporalConv);

/// LSTM or GRU over [N, T, in] → [N, hidden]: the last step's output, or the mean over steps.
struct RecurrentOptions {
  RecurrentOptions(std::int64_t in, std::int64_t hidden) : in_(in), hidden_(hidden) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, hidden);
  TORCH_ARG(std::string, cell) = "lstm";     ///< lstm | gru
  TORCH_ARG(std::int64_t, layers) = 1;
  TORCH_ARG(bool, bidirectional) = false;    ///< output width 2·hidden
  TORCH_ARG(std::string, reduce) = "last";   ///< last | mean
};
class RecurrentImpl : public torch::nn::Module {
 public:
  explicit RecurrentImpl(const RecurrentOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t out_features() const { return options.hidden() * (options.bidirectional() ? 2 : 1); }
  RecurrentOptions options;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::GRU gru{nullptr};
};
TORCH_MODULE(Recurrent);

/// Patch embedding (Dosovitskiy et al. 2021): a patch×patch conv with stride patch.
/// [N, C, H, W] → tokens [N, (H/patch)·(W/patch), dim].
struct PatchEmbeddingOptions {
  PatchEmbeddingOptions(std::int64_t in, std::int64_t dim, std::int64_t patch) : in_(in), dim_(dim), patch_(patch) {}
  TORCH_ARG(std::int64_t, in);
  TORCH_ARG(std::int64_t, dim);
  TORCH_ARG(std::int64_t, patch);
};
class PatchEmbeddingImpl : public torch::nn::Module {
 public:
  explicit PatchEmbeddingImpl(const PatchEmbeddingOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbedding);

/// Transformer encoder (Vaswani et al. 2017), pre-norm: tokens [N, L, dim] (+ learned positional
/// embedding of max_tokens) → `depth` × (x + MHSA(LN x); x + MLP(LN x)) → LN → [N, L, dim].
struct TransformerOptions {
  TransformerOptions(std::int64_t dim, std::int64_t heads, std::int64_t depth)
      : dim_(dim), heads_(heads), depth_(depth) {}
  TORCH_ARG(std::int64_t, dim);
  TORCH_ARG(std::int64_t, heads);
  TORCH_ARG(std::int64_t, depth);
  TORCH_ARG(std::int64_t, mlp_ratio) = 4;
  TORCH_ARG(double, dropout) = 0.0;
  /// Learned positional embedding for up to this many tokens; 0 = none.
  TORCH_ARG(std::int64_t, max_tokens) = 0;
};
class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const TransformerOptions& o);
  torch::Tensor forward(const torch::Tensor& tokens);
  TransformerOptions options;
  torch::Tensor position;
  std::vector<torch::nn::LayerNorm> norm1, norm2;
  std::vector<torch::nn::Linear> qkv, proj, mlp1, mlp2;
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(Transformer);

}  // namespace mer
