// STSTNet (Liong et al., FG 2019), following the authors' PyTorch release: each stream is
// conv → ReLU → BN → max-pool → dropout, i.e. batch norm sits *after* the ReLU, as in the paper's code.
#include <mer/models/ststnet.hpp>

#include <mer/core/error.hpp>
#include <mer/models/fused.hpp>

#include <torch/nn/functional/pooling.h>

#include <sstream>

namespace mer {

namespace {

// Every stream: conv 3×3 with padding 2, then max-pool 3/3 with padding 1 (the authors' code).
constexpr std::int64_t kKernel = 3;
constexpr ConvPoolGeometry kStream{2, 3, 3, 1};

// Side of the pooled map that feeds the linear layer: conv (S → S+2), max-pool (floor((S+2 + 2 - 3) / 3)
// + 1), average-pool 2/2 (floor(·/2)). 28 → 30 → 10 → 5.
std::int64_t pooled_side(std::int64_t size) {
  const std::int64_t conv = size + 2 * kStream.padding - kKernel + 1;
  const std::int64_t max_pooled = (conv + 2 * kStream.pool_padding - kStream.pool_kernel) / kStream.pool_stride + 1;
  return max_pooled / 2;
}

constexpr std::int64_t kStreamChannels = 3 + 5 + 8;

}  // namespace

STSTNetOptions STSTNetOptions::from_config(const ConfigNode& node, const ModelSpec& spec) {
  const auto in = stacked_input(node, spec);
  MER_CHECK(spec.check_only || in.height == in.width, ConfigError, node.where(), ": STSTNet needs square inputs, got ",
            in.height, "x", in.width, " (height x width)");
  STSTNetOptions options(spec.check_only ? 3 : in.channels, spec.num_classes);
  options.inputs = in.names;
  if (!spec.check_only) options.input_size(in.height);
  options.batch_norm(node.get<bool>("batch_norm", options.batch_norm()));
  const double dropout = node.get<double>("dropout", options.dropout());
  // Dropout of 1 zeroes every feature, so the network could not learn at all.
  if (!(dropout >= 0.0 && dropout < 1.0)) {
    throw ConfigError(detail::concat(node.where("dropout"), ": '", node.key_path("dropout"),
                                     "' must be in [0, 1), got ", dropout));
  }
  options.dropout(dropout);
  options.fused(node.get<bool>("fused", options.fused()));
  return options;
}

STSTNetImpl::STSTNetImpl(const STSTNetOptions& options) : options_(options) {
  set_input_names(options.inputs);
  MER_CHECK(options.in_channels() > 0, ValueError, "STSTNet in_channels must be > 0, got ", options.in_channels());
  MER_CHECK(options.num_classes() >= 2, ValueError, "STSTNet needs at least 2 classes, got ", options.num_classes());
  MER_CHECK(pooled_side(options.input_size()) >= 1, ValueError, "STSTNet input_size must be >= 2, got ",
            options.input_size());
  MER_CHECK(options.dropout() >= 0.0 && options.dropout() < 1.0, ValueError, "STSTNet dropout must be in [0, 1), got ",
            options.dropout());

  const auto conv = [&](std::int64_t filters) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), filters, kKernel).padding(kStream.padding));
  };
  stream3 = register_module("stream3", conv(3));
  stream5 = register_module("stream5", conv(5));
  stream8 = register_module("stream8", conv(8));
  if (options.batch_norm()) {
    bn3 = register_module("bn3", torch::nn::BatchNorm2d(3));
    bn5 = register_module("bn5", torch::nn::BatchNorm2d(5));
    bn8 = register_module("bn8", torch::nn::BatchNorm2d(8));
  }
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout()));
  const std::int64_t side = pooled_side(options.input_size());
  fc = register_module("fc", torch::nn::Linear(kStreamChannels * side * side, options.num_classes()));
}

torch::Tensor STSTNetImpl::forward(torch::Tensor x) {
  const std::int64_t c = options_.in_channels(), s = options_.input_size();
  if (x.dim() != 4 || x.size(1) != c || x.size(2) != s || x.size(3) != s) {
    std::ostringstream got;
    got << x.sizes();
    throw ValueError(detail::concat("STSTNet expects input [N, ", c, ", ", s, ", ", s, "], got ", got.str()));
  }
  MER_CHECK(x.is_floating_point(), ValueError, "STSTNet expects a floating-point input, got ", x.scalar_type());

  namespace F = torch::nn::functional;
  const auto pool = F::MaxPool2dFuncOptions(kStream.pool_kernel).stride(kStream.pool_stride).padding(kStream.pool_padding);
  torch::Tensor y;
  if (options_.fused() && fused_kernels_take(x)) {
    y = fused_streams(x);
  } else {
    const auto stream = [&](torch::nn::Conv2d& conv, torch::nn::BatchNorm2d& bn) {
      auto y = torch::relu(conv->forward(x));
      if (bn) y = bn->forward(y);
      return F::max_pool2d(y, pool);
    };
    y = torch::cat({stream(stream3, bn3), stream(stream5, bn5), stream(stream8, bn8)}, 1);
  }
  // Each stream's pooled maps get dropout; one call on the concatenation is the same (element-wise, iid)
  // and draws the same mask on both paths.
  y = fused_dropout(y, dropout->options.p(), is_training());
  y = F::avg_pool2d(y, F::AvgPool2dFuncOptions(2).stride(2));
  return fc->forward(y.flatten(1));
}

// The three streams share their input and geometry, so they run as one fused conv → ReLU → BN → pool of
// 16 channels (the parameters concatenated; autograd splits the gradients back), in the op-by-op path's
// channel order.
torch::Tensor STSTNetImpl::fused_streams(const torch::Tensor& x) {
  const auto cat = [](std::initializer_list<torch::Tensor> parts) { return torch::cat(std::vector<torch::Tensor>(parts)); };
  BatchNormState bn;
  if (bn3) {
    bn.weight = cat({bn3->weight, bn5->weight, bn8->weight});
    bn.bias = cat({bn3->bias, bn5->bias, bn8->bias});
    bn.running_mean = cat({bn3->running_mean, bn5->running_mean, bn8->running_mean});
    bn.running_var = cat({bn3->running_var, bn5->running_var, bn8->running_var});
    bn.training = is_training();
    bn.momentum = bn3->options.momentum().value_or(0.1);
    bn.eps = bn3->options.eps();
  }
  const auto y = conv_relu_bn_maxpool(x, cat({stream3->weight, stream5->weight, stream8->weight}),
                                      cat({stream3->bias, stream5->bias, stream8->bias}), bn, kStream);
  if (bn3 && bn.training) {  // what BatchNorm2d::forward does to its buffers
    torch::NoGradGuard no_grad;
    std::int64_t at = 0;
    for (auto* norm : {&bn3, &bn5, &bn8}) {
      const auto c = (*norm)->options.num_features();
      (*norm)->running_mean.copy_(bn.running_mean.narrow(0, at, c));
      (*norm)->running_var.copy_(bn.running_var.narrow(0, at, c));
      (*norm)->num_batches_tracked += 1;
      at += c;
    }
  }
  return y;
}

}  // namespace mer
