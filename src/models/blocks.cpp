// Building blocks; papers in docs/references.bib (he2016deep, szegedy2015going, liang2015recurrent,
// xia2020revealing, hu2018squeeze, woo2018cbam, wang2018nonlocal, sabour2017dynamic, kipf2017semi,
// bai2018empirical, vaswani2017attention, dosovitskiy2021image).
#include <mer/core/error.hpp>
#include <mer/models/blocks.hpp>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>

#include <cmath>

namespace mer {

namespace F = torch::nn::functional;

namespace {
const std::vector<std::string> kActivations = {"relu", "leaky_relu", "gelu", "elu", "sigmoid", "tanh", "none"};
}

void check_activation(const std::string& name) {
  for (const auto& a : kActivations)
    if (a == name) return;
  std::string known;
  for (const auto& a : kActivations) known += " " + a;
  throw ValueError("unknown activation '" + name + "'; known:" + known);
}

torch::Tensor activate(const torch::Tensor& x, const std::string& name) {
  if (name == "relu") return torch::relu(x);
  if (name == "leaky_relu") return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.01));
  if (name == "gelu") return F::gelu(x);
  if (name == "elu") return F::elu(x);
  if (name == "sigmoid") return torch::sigmoid(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "none") return x;
  check_activation(name);
  return x;
}

// ---------------------------------------------------------------- convolution units

ConvUnitImpl::ConvUnitImpl(const ConvUnitOptions& o) : options(o) {
  check_activation(o.activation());
  MER_CHECK(o.order() == "conv_bn_act" || o.order() == "conv_act_bn", ValueError,
            "ConvUnit order must be conv_bn_act or conv_act_bn, got '", o.order(), "'");
  const std::int64_t pad = o.padding() >= 0 ? o.padding() : (o.kernel() / 2) * o.dilation();
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.out(), o.kernel())
                                                       .stride(o.stride())
                                                       .padding(pad)
                                                       .dilation(o.dilation())
                                                       .groups(o.groups())
                                                       .bias(o.bias())));
  if (o.batch_norm()) bn = register_module("bn", torch::nn::BatchNorm2d(o.out()));
}

torch::Tensor ConvUnitImpl::forward(const torch::Tensor& x) {
  auto y = conv->forward(x);
  if (options.order() == "conv_act_bn") {
    y = activate(y, options.activation());
    return bn ? bn->forward(y) : y;
  }
  if (bn) y = bn->forward(y);
  return activate(y, options.activation());
}

Conv3dUnitImpl::Conv3dUnitImpl(const Conv3dUnitOptions& o) : options(o) {
  check_activation(o.activation());
  const std::int64_t kt = o.temporal_kernel() > 0 ? o.temporal_kernel() : o.kernel();
  conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(o.in(), o.out(), {kt, o.kernel(), o.kernel()})
                                                       .stride(o.stride())
                                                       .padding({kt / 2, o.kernel() / 2, o.kernel() / 2})
                                                       .bias(!o.batch_norm())));
  if (o.batch_norm()) bn = register_module("bn", torch::nn::BatchNorm3d(o.out()));
}

torch::Tensor Conv3dUnitImpl::forward(const torch::Tensor& x) {
  auto y = conv->forward(x);
  if (bn) y = bn->forward(y);
  return activate(y, options.activation());
}

// ---------------------------------------------------------------- residual

ResidualImpl::ResidualImpl(const ResidualOptions& o) : options(o) {
  auto unit = [](std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, const char* act) {
    return ConvUnit(ConvUnitOptions(in, out, k).stride(stride).activation(act));
  };
  torch::nn::Sequential b;
  if (o.bottleneck()) {
    MER_CHECK(o.expansion() > 0 && o.out() % o.expansion() == 0, ValueError, "a bottleneck's out (", o.out(),
              ") must be a multiple of its expansion (", o.expansion(), ")");
    const std::int64_t mid = o.out() / o.expansion();
    b->push_back(unit(o.in(), mid, 1, 1, "relu"));
    b->push_back(unit(mid, mid, 3, o.stride(), "relu"));
    b->push_back(unit(mid, o.out(), 1, 1, "none"));
  } else {
    b->push_back(unit(o.in(), o.out(), 3, o.stride(), "relu"));
    b->push_back(unit(o.out(), o.out(), 3, 1, "none"));
  }
  body = register_module("body", b);
  if (o.stride() != 1 || o.in() != o.out()) {
    downsample = register_module("downsample", torch::nn::Sequential(unit(o.in(), o.out(), 1, o.stride(), "none")));
  }
}

torch::Tensor ResidualImpl::forward(const torch::Tensor& x) {
  return torch::relu(body->forward(x) + (downsample ? downsample->forward(x) : x));
}

// ---------------------------------------------------------------- inception

InceptionImpl::InceptionImpl(const InceptionOptions& o) : options(o) {
  auto conv = [](std::int64_t in, std::int64_t out, std::int64_t k) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2));
  };
  b1 = register_module("b1", conv(o.in(), o.c1(), 1));
  b3_reduce = register_module("b3_reduce", conv(o.in(), o.c3_reduce(), 1));
  b3 = register_module("b3", conv(o.c3_reduce(), o.c3(), 3));
  b5_reduce = register_module("b5_reduce", conv(o.in(), o.c5_reduce(), 1));
  b5 = register_module("b5", conv(o.c5_reduce(), o.c5(), 5));
  pool_proj = register_module("pool_proj", conv(o.in(), o.pool_proj(), 1));
}

torch::Tensor InceptionImpl::forward(const torch::Tensor& x) {
  auto one = b1->forward(x);
  if (options.one_by_one_relu()) one = torch::relu(one);
  const auto three = torch::relu(b3->forward(torch::relu(b3_reduce->forward(x))));
  const auto five = torch::relu(b5->forward(torch::relu(b5_reduce->forward(x))));
  const auto pooled = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  const auto pool = torch::relu(pool_proj->forward(pooled));
  return torch::cat({one, three, five, pool}, 1);
}

MultiScaleImpl::MultiScaleImpl(const MultiScaleOptions& o) : options(o) {
  MER_CHECK(!o.kernels().empty(), ValueError, "a multi-scale block needs at least one kernel size");
  for (const auto k : o.kernels()) {
    MER_CHECK(k > 0 && k % 2 == 1, ValueError, "multi-scale kernel sizes must be odd and > 0, got ", k);
    branches.push_back(register_module("k" + std::to_string(k), ConvUnit(ConvUnitOptions(o.in(), o.out(), k))));
  }
}

torch::Tensor MultiScaleImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> outs;
  for (auto& b : branches) outs.push_back(b->forward(x));
  return torch::cat(outs, 1);
}

// ---------------------------------------------------------------- recurrent convolution

RecurrentConvImpl::RecurrentConvImpl(const RecurrentConvOptions& o) : options(o) {
  MER_CHECK(o.steps() >= 1, ValueError, "a recurrent convolution needs steps >= 1, got ", o.steps());
  ff = register_module("ff", ConvUnit(ConvUnitOptions(o.channels(), o.channels(), 1).bias(true)));
  rr = register_module("rr", ConvUnit(ConvUnitOptions(o.channels(), o.channels(), 3).bias(true)));
}

torch::Tensor RecurrentConvImpl::forward(const torch::Tensor& x) {
  auto y = ff->forward(x);
  for (std::int64_t t = 0; t < options.steps(); ++t) y = rr->forward(x + y);
  return y;
}

// ---------------------------------------------------------------- attention

SqueezeExcitationImpl::SqueezeExcitationImpl(const SqueezeExcitationOptions& o) : options(o) {
  const std::int64_t hidden = std::max<std::int64_t>(1, o.channels() / o.reduction());
  fc1 = register_module("fc1", torch::nn::Linear(o.channels(), hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, o.channels()));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  const auto s = x.mean({2, 3});
  const auto g = torch::sigmoid(fc2->forward(torch::relu(fc1->forward(s))));
  return x * g.unsqueeze(-1).unsqueeze(-1);
}

CBAMImpl::CBAMImpl(const CBAMOptions& o) : options(o) {
  const std::int64_t hidden = std::max<std::int64_t>(1, o.channels() / o.reduction());
  mlp1 = register_module("mlp1", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), hidden, 1).bias(false)));
  mlp2 = register_module("mlp2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, o.channels(), 1).bias(false)));
  spatial = register_module("spatial", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 1, o.spatial_kernel())
                                                             .padding(o.spatial_kernel() / 2)
                                                             .bias(false)));
}

torch::Tensor CBAMImpl::channel_attention(const torch::Tensor& x) {
  const auto mlp = [&](const torch::Tensor& d) { return mlp2->forward(torch::relu(mlp1->forward(d))); };
  return torch::sigmoid(mlp(x.mean({2, 3}, true)) + mlp(x.amax({2, 3}, true)));
}

torch::Tensor CBAMImpl::spatial_attention(const torch::Tensor& x) {
  return torch::sigmoid(spatial->forward(torch::cat({x.mean(1, true), x.amax(1, true)}, 1)));
}

torch::Tensor CBAMImpl::forward(const torch::Tensor& x) {
  const auto y = x * channel_attention(x);
  return y * spatial_attention(y);
}

NonLocalImpl::NonLocalImpl(const NonLocalOptions& o) : options(o) {
  const std::int64_t inner = o.inner() > 0 ? o.inner() : std::max<std::int64_t>(1, o.channels() / 2);
  query = register_module("query", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), inner, 1)));
  key = register_module("key", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), inner, 1)));
  value = register_module("value", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), o.channels(), 1)));
  gamma = register_parameter("gamma", torch::zeros({1}));
}

torch::Tensor NonLocalImpl::forward(const torch::Tensor& x) {
  const auto n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  const auto q = query->forward(x).flatten(2).transpose(1, 2);  // [N, HW, inner]
  const auto k = key->forward(x).flatten(2);                     // [N, inner, HW]
  const auto v = value->forward(x).flatten(2);                   // [N, C, HW]
  const auto attention = torch::softmax(torch::bmm(q, k) / std::sqrt(static_cast<double>(k.size(1))), -1);
  const auto out = torch::bmm(v, attention.transpose(1, 2)).view({n, c, x.size(2), x.size(3)});
  (void)hw;
  return x + gamma * out;
}

// ---------------------------------------------------------------- capsules

torch::Tensor squash(const torch::Tensor& s, std::int64_t dim, double eps) {
  const auto sq = (s * s).sum(dim, true);
  return sq / (1 + sq) * s / (sq.sqrt() + eps);
}

CapsuleImpl::CapsuleImpl(const CapsuleOptions& o) : options(o) {
  MER_CHECK(o.iterations() >= 1, ValueError, "capsule routing needs iterations >= 1, got ", o.iterations());
  weight = register_parameter("weight",
                              0.01 * torch::randn({o.in_caps(), o.out_caps(), o.out_dim(), o.in_dim()}));
}

torch::Tensor CapsuleImpl::forward(const torch::Tensor& x) {
  // û[n, i, j] = W[i, j] u[n, i]: [N, in, out, out_dim]
  const auto u_hat = torch::einsum("ijdk,nik->nijd", {weight, x});
  const auto detached = u_hat.detach();
  auto b = torch::zeros({x.size(0), options.in_caps(), options.out_caps()}, x.options());
  torch::Tensor v;
  for (std::int64_t r = 0; r < options.iterations(); ++r) {
    const bool last = r + 1 == options.iterations();
    const auto c = torch::softmax(b, 2);
    const auto& u = last ? u_hat : detached;
    v = squash((c.unsqueeze(-1) * u).sum(1), -1);  // [N, out, out_dim]
    if (!last) b = b + (detached * v.unsqueeze(1)).sum(-1);
  }
  return v;
}

// ---------------------------------------------------------------- graphs

torch::Tensor normalized_adjacency(const torch::Tensor& adjacency) {
  MER_CHECK(adjacency.dim() == 2 && adjacency.size(0) == adjacency.size(1), ValueError,
            "an adjacency matrix must be square, got ", adjacency.sizes());
  const auto a = adjacency.to(torch::kDouble) + torch::eye(adjacency.size(0), torch::kDouble);
  const auto d = a.sum(1).pow(-0.5);
  return (d.unsqueeze(1) * a * d.unsqueeze(0)).to(torch::kFloat);
}

torch::Tensor grid_adjacency(std::int64_t rows, std::int64_t cols) {
  auto a = torch::zeros({rows * cols, rows * cols});
  auto acc = a.accessor<float, 2>();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto i = r * cols + c;
      if (c + 1 < cols) acc[i][i + 1] = acc[i + 1][i] = 1;
      if (r + 1 < rows) acc[i][i + cols] = acc[i + cols][i] = 1;
    }
  return a;
}

torch::Tensor landmark_adjacency68() {
  auto a = torch::zeros({68, 68});
  auto acc = a.accessor<float, 2>();
  const auto chain = [&](int from, int to, bool closed) {
    for (int i = from; i < to; ++i) acc[i][i + 1] = acc[i + 1][i] = 1;
    if (closed) acc[from][to] = acc[to][from] = 1;
  };
  chain(0, 16, false);   // jaw
  chain(17, 21, false);  // right brow
  chain(22, 26, false);  // left brow
  chain(27, 30, false);  // nose bridge
  chain(31, 35, false);  // nostrils
  acc[30][33] = acc[33][30] = 1;
  chain(36, 41, true);  // right eye
  chain(42, 47, true);  // left eye
  chain(48, 59, true);  // outer lips
  chain(60, 67, true);  // inner lips
  return a;
}

torch::Tensor cooccurrence_adjacency(const torch::Tensor& targets, double threshold) {
  MER_CHECK(targets.dim() == 2, ValueError, "co-occurrence needs targets [N, A], got ", targets.sizes());
  const auto t = targets.to(torch::kDouble);
  const auto joint = t.transpose(0, 1).mm(t);              // [A, A]: count(i and j)
  const auto count = joint.diagonal().clamp_min(1.0);       // count(i)
  auto p = joint / count.unsqueeze(1);                      // P(j | i)
  p = torch::where(p >= threshold, p, torch::zeros_like(p));
  p.fill_diagonal_(0.0);
  return p.to(torch::kFloat);
}

GraphConvImpl::GraphConvImpl(const GraphConvOptions& o) {
  MER_CHECK(o.adjacency().defined(), ValueError, "a graph convolution needs an adjacency matrix");
  adjacency = register_buffer("adjacency", o.normalize() ? normalized_adjacency(o.adjacency()) : o.adjacency().to(torch::kFloat));
  linear = register_module("linear", torch::nn::Linear(o.in(), o.out()));
}

torch::Tensor GraphConvImpl::forward(const torch::Tensor& x) {
  MER_CHECK(x.dim() == 3 && x.size(1) == adjacency.size(0), ValueError, "a graph convolution over ", adjacency.size(0),
            " nodes expects [N, ", adjacency.size(0), ", features], got ", x.sizes());
  return torch::matmul(adjacency.to(x.dtype()), linear->forward(x));
}

// ---------------------------------------------------------------- sequences

TemporalConvImpl::TemporalConvImpl(const TemporalConvOptions& o) : options(o) {
  auto conv = [&](std::int64_t in) {
    return torch::nn::Conv1d(torch::nn::Conv1dOptions(in, o.out(), o.kernel()).dilation(o.dilation()));
  };
  conv1 = register_module("conv1", conv(o.in()));
  conv2 = register_module("conv2", conv(o.out()));
  if (o.in() != o.out()) residual = register_module("residual", torch::nn::Conv1d(torch::nn::Conv1dOptions(o.in(), o.out(), 1)));
}

torch::Tensor TemporalConvImpl::forward(const torch::Tensor& x) {
  // Causal: pad only on the left, so output t sees inputs <= t.
  const std::int64_t pad = (options.kernel() - 1) * options.dilation();
  const auto causal = [&](torch::nn::Conv1d& c, const torch::Tensor& in) {
    return c->forward(F::pad(in, F::PadFuncOptions({pad, 0})));
  };
  const auto y = torch::relu(causal(conv2, torch::relu(causal(conv1, x))));
  return torch::relu(y + (residual ? residual->forward(x) : x));
}

RecurrentImpl::RecurrentImpl(const RecurrentOptions& o) : options(o) {
  MER_CHECK(o.cell() == "lstm" || o.cell() == "gru", ValueError, "recurrent cell must be lstm or gru, got '", o.cell(), "'");
  MER_CHECK(o.reduce() == "last" || o.reduce() == "mean", ValueError, "recurrent reduce must be last or mean, got '",
            o.reduce(), "'");
  if (o.cell() == "lstm") {
    lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(o.in(), o.hidden())
                                                       .num_layers(o.layers())
                                                       .batch_first(true)
                                                       .bidirectional(o.bidirectional())));
  } else {
    gru = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(o.in(), o.hidden())
                                                    .num_layers(o.layers())
                                                    .batch_first(true)
                                                    .bidirectional(o.bidirectional())));
  }
}

torch::Tensor RecurrentImpl::forward(const torch::Tensor& x) {
  MER_CHECK(x.dim() == 3, ValueError, "a recurrent layer expects [N, T, features], got ", x.sizes());
  const auto out = lstm ? std::get<0>(lstm->forward(x)) : std::get<0>(gru->forward(x));
  return options.reduce() == "mean" ? out.mean(1) : out.select(1, out.size(1) - 1);
}

PatchEmbeddingImpl::PatchEmbeddingImpl(const PatchEmbeddingOptions& o) {
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.dim(), o.patch()).stride(o.patch())));
}

torch::Tensor PatchEmbeddingImpl::forward(const torch::Tensor& x) { return proj->forward(x).flatten(2).transpose(1, 2); }

TransformerImpl::TransformerImpl(const TransformerOptions& o) : options(o) {
  MER_CHECK(o.heads() > 0 && o.dim() % o.heads() == 0, ValueError, "transformer dim (", o.dim(),
            ") must be a multiple of heads (", o.heads(), ")");
  if (o.max_tokens() > 0) position = register_parameter("position", 0.02 * torch::randn({1, o.max_tokens(), o.dim()}));
  for (std::int64_t l = 0; l < o.depth(); ++l) {
    const auto p = "layer" + std::to_string(l) + "_";
    norm1.push_back(register_module(p + "norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()}))));
    qkv.push_back(register_module(p + "qkv", torch::nn::Linear(o.dim(), 3 * o.dim())));
    proj.push_back(register_module(p + "proj", torch::nn::Linear(o.dim(), o.dim())));
    norm2.push_back(register_module(p + "norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()}))));
    mlp1.push_back(register_module(p + "mlp1", torch::nn::Linear(o.dim(), o.mlp_ratio() * o.dim())));
    mlp2.push_back(register_module(p + "mlp2", torch::nn::Linear(o.mlp_ratio() * o.dim(), o.dim())));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim()})));
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens) {
  MER_CHECK(tokens.dim() == 3 && tokens.size(2) == options.dim(), ValueError, "a transformer of width ", options.dim(),
            " expects tokens [N, L, ", options.dim(), "], got ", tokens.sizes());
  auto x = tokens;
  const auto n = x.size(0), len = x.size(1), h = options.heads(), dh = options.dim() / options.heads();
  if (position.defined()) {
    MER_CHECK(len <= options.max_tokens(), ValueError, "the transformer's positional embedding covers ",
              options.max_tokens(), " tokens, got ", len);
    x = x + position.narrow(1, 0, len);
  }
  const auto drop = [&](const torch::Tensor& t) { return F::dropout(t, F::DropoutFuncOptions().p(options.dropout()).training(is_training())); };
  for (std::size_t l = 0; l < qkv.size(); ++l) {
    const auto parts = qkv[l]->forward(norm1[l]->forward(x)).view({n, len, 3, h, dh}).permute({2, 0, 3, 1, 4});
    const auto q = parts[0], k = parts[1], v = parts[2];  // [N, h, L, dh]
    const auto att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(dh)), -1);
    const auto mixed = torch::matmul(att, v).transpose(1, 2).reshape({n, len, options.dim()});
    x = x + drop(proj[l]->forward(mixed));
    x = x + drop(mlp2[l]->forward(F::gelu(mlp1[l]->forward(norm2[l]->forward(x)))));
  }
  return norm->forward(x);
}

}  // namespace mer
