// Published MER networks, re-implemented from the layer tables of their reference code (docs/model-zoo.md
// says which reference each follows, and tests/models/zoo_test.cpp checks every parameter count exactly at
// the reference input and 3 classes). Layer sizes that depend on the input are computed from it, so a
// preset also runs at other sizes where the architecture allows.
#include <mer/core/error.hpp>
#include <mer/models/blocks.hpp>
#include <mer/models/classifier.hpp>
#include "detail/zoo.hpp"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

#include <cmath>

namespace mer::detail {

namespace F = torch::nn::functional;
namespace nn = torch::nn;

namespace {

double dropout_option(const ConfigNode& node, double fallback) {
  const double p = node.get<double>("dropout", fallback);
  MER_CHECK(p >= 0 && p < 1, ConfigError, node.where("dropout"), ": '", node.key_path("dropout"),
            "' must be in [0, 1), got ", p);
  return p;
}

// ================================================================ OFF-ApexNet

// Two-stream OFF-ApexNet as in PRICAI2021-Off-TANet models/off_apexnet.py (gan2019off): u and v each through
// conv 5×5 (6) → max-pool 2 → conv 5×5 (16) → max-pool 2, concatenated, FC 1024 → 1024 → classes. The
// reference has no activation after the convs; `conv_activation: relu` adds one (same parameters).
class OffApexNetImpl : public ImageClassifier {
 public:
  OffApexNetImpl(std::int64_t side_h, std::int64_t side_w, std::int64_t classes, double dropout, std::string act)
      : act_(std::move(act)) {
    const auto stream = [&](const std::string& n) {
      return std::make_pair(register_module(n + "_conv1", nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2))),
                            register_module(n + "_conv2", nn::Conv2d(nn::Conv2dOptions(6, 16, 5).padding(2))));
    };
    std::tie(u1, u2) = stream("u");
    std::tie(v1, v2) = stream("v");
    const std::int64_t flat = 16 * (side_h / 4) * (side_w / 4);
    fc1 = register_module("fc1", nn::Linear(2 * flat, 1024));
    fc2 = register_module("fc2", nn::Linear(1024, 1024));
    fc3 = register_module("fc3", nn::Linear(1024, classes));
    drop = register_module("dropout", nn::Dropout(dropout));
    h_ = side_h;
    w_ = side_w;
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "off_apexnet", {-1, 2, h_, w_});
    const auto pool = F::MaxPool2dFuncOptions(2);
    const auto stream = [&](nn::Conv2d& a, nn::Conv2d& b, const torch::Tensor& in) {
      auto y = F::max_pool2d(activate(a->forward(in), act_), pool);
      return F::max_pool2d(activate(b->forward(y), act_), pool).flatten(1);
    };
    auto y = torch::cat({stream(u1, u2, x.narrow(1, 0, 1)), stream(v1, v2, x.narrow(1, 1, 1))}, 1);
    y = drop->forward(torch::relu(fc1->forward(y)));
    y = drop->forward(torch::relu(fc2->forward(y)));
    return fc3->forward(y);
  }

 private:
  std::string act_;
  std::int64_t h_, w_;
  nn::Conv2d u1{nullptr}, u2{nullptr}, v1{nullptr}, v2{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  nn::Dropout drop{nullptr};
};

// Single-stream OFF-ApexNet as in tvaranka/meb OffApexNet: a 2-channel conv 3×3 (6) → ReLU → pool →
// conv 3×3 (16) → ReLU → pool → dropout → FC 1024 → dropout → classes.
class OffApexNetMebImpl : public ImageClassifier {
 public:
  OffApexNetMebImpl(std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t classes, double dropout)
      : c_(c), h_(h), w_(w) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(c, 6, 3).padding(1)));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(6, 16, 3).padding(1)));
    fc1 = register_module("fc1", nn::Linear(16 * (h / 4) * (w / 4), 1024));
    fc2 = register_module("fc2", nn::Linear(1024, classes));
    drop = register_module("dropout", nn::Dropout(dropout));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "off_apexnet_meb", {-1, c_, h_, w_});
    const auto pool = F::MaxPool2dFuncOptions(2);
    auto y = F::max_pool2d(torch::relu(conv1->forward(x)), pool);
    y = F::max_pool2d(torch::relu(conv2->forward(y)), pool).flatten(1);
    y = drop->forward(torch::relu(fc1->forward(drop->forward(y))));
    return fc2->forward(y);
  }

 private:
  std::int64_t c_, h_, w_;
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};
  nn::Dropout drop{nullptr};
};

// ================================================================ Dual-Inception

// Dual-Inception (zhou2019dual) as in PRICAI2021-Off-TANet models/dual_inception.py: u and v (1 channel
// each) through Inception(6) → pool 2 → Inception(16) → pool 2; the 1×1 branch has no ReLU there.
class DualInceptionImpl : public ImageClassifier {
 public:
  DualInceptionImpl(std::int64_t h, std::int64_t w, std::int64_t classes) : h_(h), w_(w) {
    const auto inception = [](std::int64_t in, std::int64_t c) {
      return Inception(InceptionOptions(in, c, c, c, c, c, c).one_by_one_relu(false));
    };
    u1 = register_module("u_inception1", inception(1, 6));
    u2 = register_module("u_inception2", inception(24, 16));
    v1 = register_module("v_inception1", inception(1, 6));
    v2 = register_module("v_inception2", inception(24, 16));
    fc1 = register_module("fc1", nn::Linear(2 * 64 * (h / 4) * (w / 4), 1024));
    fc2 = register_module("fc2", nn::Linear(1024, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "dual_inception", {-1, 2, h_, w_});
    const auto pool = F::MaxPool2dFuncOptions(2);
    const auto stream = [&](Inception& a, Inception& b, const torch::Tensor& in) {
      return F::max_pool2d(b->forward(F::max_pool2d(a->forward(in), pool)), pool).flatten(1);
    };
    auto y = torch::cat({stream(u1, u2, x.narrow(1, 0, 1)), stream(v1, v2, x.narrow(1, 1, 1))}, 1);
    return fc2->forward(torch::relu(fc1->forward(y)));
  }

 private:
  std::int64_t h_, w_;
  Inception u1{nullptr}, u2{nullptr}, v1{nullptr}, v2{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};
};

// ================================================================ SSSNet

// MEB's shallow single-stream network (tvaranka/meb SSSNet): conv 5×5 (32) → ReLU → pool 3/3 → BN →
// dropout2d → conv 3×3 (64) → ReLU → pool 2 → BN → dropout2d → FC 256 → dropout → classes.
class SSSNetImpl : public ImageClassifier {
 public:
  SSSNetImpl(std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t classes, double dropout)
      : c_(c), h_(h), w_(w), p_(dropout) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(c, 32, 5)));
    bn1 = register_module("bn1", nn::BatchNorm2d(32));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3)));
    bn2 = register_module("bn2", nn::BatchNorm2d(64));
    const auto side = [](std::int64_t s) { return (((s - 4) / 3) - 2) / 2; };
    MER_CHECK(side(h) >= 1 && side(w) >= 1, ValueError, "sssnet needs inputs of at least 14x14, got ", h, "x", w);
    fc1 = register_module("fc1", nn::Linear(64 * side(h) * side(w), 256));
    fc2 = register_module("fc2", nn::Linear(256, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "sssnet", {-1, c_, h_, w_});
    const auto d2 = [&](const torch::Tensor& t) { return F::dropout2d(t, F::Dropout2dFuncOptions().p(p_).training(is_training())); };
    auto y = d2(bn1->forward(F::max_pool2d(torch::relu(conv1->forward(x)), F::MaxPool2dFuncOptions(3).stride(3))));
    y = d2(bn2->forward(F::max_pool2d(torch::relu(conv2->forward(y)), F::MaxPool2dFuncOptions(2))));
    y = torch::relu(fc1->forward(y.flatten(1)));
    return fc2->forward(F::dropout(y, F::DropoutFuncOptions().p(p_).training(is_training())));
  }

 private:
  std::int64_t c_, h_, w_;
  double p_;
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Linear fc1{nullptr}, fc2{nullptr};
};

// ================================================================ RCNs

// Parameter-free-attention recurrent convolutional networks (xia2020revealing), following
// ParameterFreeRCNs-MicroExpressionRec MeNets.py with 64 feature maps and pool size 7 (its trainer's
// defaults). Variants: A (stem, attention, recurrent conv), S (stem, dense block), W (wide three-branch
// stem, recurrent conv), P (two-branch stem, attention, dense block), C (attention on the input, wide stem,
// dense block). The reference builds modules it never uses (S: the dense block's third conv; P: that conv
// and a whole recurrent block; C: that conv and an embedding block); `keep_unused: true` (default) keeps
// them so the parameter counts match the reference; false drops them (S 55,747, P 52,675, C 52,675).
class RCNImpl : public ImageClassifier {
 public:
  RCNImpl(char variant, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t classes, bool keep_unused)
      : v_(variant), c_(c), h_(h), w_(w) {
    constexpr std::int64_t fm = 64;
    const auto unit = [](std::int64_t in, std::int64_t out, std::int64_t k) {
      return ConvUnit(ConvUnitOptions(in, out, k).padding(k / 2).bias(true));
    };
    if (v_ == 'A' || v_ == 'S') {
      stem.push_back(register_module("stem", ConvUnit(ConvUnitOptions(c, fm, 5).padding(0).bias(true))));
    } else if (v_ == 'W' || v_ == 'C') {
      const auto branch = [&](std::int64_t out, std::int64_t dil) {
        return ConvUnit(ConvUnitOptions(c, out, 3).stride(3).padding(dil).dilation(dil).bias(true).order("conv_act_bn"));
      };
      stem.push_back(register_module("stem1", branch(32, 1)));
      stem.push_back(register_module("stem2", branch(16, 2)));
      stem.push_back(register_module("stem3", branch(16, 3)));
    } else {  // P
      const auto branch = [&](std::int64_t dil) {
        return ConvUnit(ConvUnitOptions(c, 32, 3).padding(dil).dilation(dil).bias(true).order("conv_act_bn"));
      };
      stem.push_back(register_module("stem1", branch(1)));
      stem.push_back(register_module("stem2", branch(3)));
    }
    if (v_ == 'A' || v_ == 'W') {
      rcl = register_module("rcl", RecurrentConv(RecurrentConvOptions(fm)));
    } else {
      dense1 = register_module("dense1", unit(fm, fm, 1));
      dense2 = register_module("dense2", unit(fm, fm, 3));
      if (keep_unused) {
        register_module("unused_dense3", unit(fm, fm, 3));
        if (v_ == 'P') register_module("unused_rcl", RecurrentConv(RecurrentConvOptions(fm)));
        if (v_ == 'C') {
          register_module("unused_embedding1", unit(fm, fm, 1));
          register_module("unused_embedding2", unit(fm, fm, 3));
        }
      }
    }
    classifier = register_module("classifier", nn::Linear(fm * 7 * 7, classes));
    for (auto& m : modules(false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
        if (conv->bias.defined()) nn::init::zeros_(conv->bias);
      }
    }
    nn::init::normal_(classifier->weight, 0.0, 0.01);
    nn::init::zeros_(classifier->bias);
  }

  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, std::string("rcn_") + static_cast<char>(std::tolower(v_)), {-1, c_, h_, w_});
    const auto drop = [&](const torch::Tensor& t) { return F::dropout(t, F::DropoutFuncOptions().p(0.5).training(is_training())); };
    const auto pool7 = [](const torch::Tensor& t) { return F::adaptive_avg_pool2d(t, F::AdaptiveAvgPool2dFuncOptions(7)); };
    torch::Tensor attention;
    if (v_ == 'C') attention = class_attention(pool7(x), true);
    torch::Tensor y;
    if (v_ == 'A' || v_ == 'S') {
      y = drop(F::max_pool2d(stem[0]->forward(x), F::MaxPool2dFuncOptions(2)));
    } else {
      std::vector<torch::Tensor> parts;
      for (auto& s : stem) {
        auto p = s->forward(x);
        if (v_ == 'P') p = F::max_pool2d(p, F::MaxPool2dFuncOptions(3).stride(3).padding(1));
        parts.push_back(drop(p));
      }
      y = torch::cat(parts, 1);
    }
    if (v_ == 'A' || v_ == 'P') attention = class_attention(pool7(y), false);
    if (v_ == 'C') {
      y = y * F::interpolate(attention, F::InterpolateFuncOptions()
                                            .size(std::vector<std::int64_t>{y.size(2), y.size(3)})
                                            .mode(torch::kNearest));
    }
    if (rcl) {
      y = rcl->forward(y);
    } else {
      const auto a = dense1->forward(y);
      const auto b = dense2->forward(y + a);
      const auto e = dense2->forward(y + a + b);
      y = dense2->forward(y + a + b + e);
    }
    y = pool7(drop(F::max_pool2d(y, F::MaxPool2dFuncOptions(2))));
    if (v_ == 'A' || v_ == 'P') y = y * attention;
    return classifier->forward(y.flatten(1));
  }

 private:
  // Parameter-free spatial attention from the classifier's weights W [K, 64·7·7]: for each class a map
  // mean_c(W_k ⊙ l), min-max normalised per sample, averaged over classes → [N, 1, 7, 7]. On the input
  // (variant C) W_k is first averaged over its 64 maps, so it applies to any channel count.
  torch::Tensor class_attention(const torch::Tensor& l, bool on_input) {
    const auto k = classifier->weight.size(0);
    auto w = classifier->weight.view({k, -1, 7, 7});
    if (on_input) w = w.mean(1, true);
    const auto cam = (w.unsqueeze(0) * l.unsqueeze(1)).mean(2);  // [N, K, 7, 7]
    const auto lo = cam.amin({2, 3}, true), hi = cam.amax({2, 3}, true);
    return ((cam - lo) / (hi - lo + 1e-12)).mean(1, true);
  }

  char v_;
  std::int64_t c_, h_, w_;
  std::vector<ConvUnit> stem;
  RecurrentConv rcl{nullptr};
  ConvUnit dense1{nullptr}, dense2{nullptr};
  nn::Linear classifier{nullptr};
};

// ================================================================ ResNet-18, VGG

// ResNet-18 (he2016deep) in torchvision's layout with a `classes`-way head: 11,178,051 parameters at 3 classes.
class ResNet18Impl : public ImageClassifier {
 public:
  ResNet18Impl(std::int64_t c, std::int64_t classes) : c_(c) {
    stem = register_module("stem", ConvUnit(ConvUnitOptions(c, 64, 7).stride(2).padding(3)));
    const std::int64_t widths[] = {64, 128, 256, 512};
    std::int64_t in = 64;
    for (int l = 0; l < 4; ++l) {
      nn::Sequential layer;
      layer->push_back(Residual(ResidualOptions(in, widths[l]).stride(l == 0 ? 1 : 2)));
      layer->push_back(Residual(ResidualOptions(widths[l], widths[l])));
      layers.push_back(register_module("layer" + std::to_string(l + 1), layer));
      in = widths[l];
    }
    fc = register_module("fc", nn::Linear(512, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "resnet18", {-1, c_, -1, -1});
    auto y = F::max_pool2d(stem->forward(x), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    for (auto& l : layers) y = l->forward(y);
    return fc->forward(y.mean({2, 3}));
  }

 private:
  std::int64_t c_;
  ConvUnit stem{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear fc{nullptr};
};

// VGG (simonyan2015very) in torchvision's layout (no batch norm, adaptive 7×7 pooling, FC 4096 → 4096 →
// classes): depth 11 → 128,778,627 parameters at 3 classes, 16 → 134,272,835.
class VGGImpl : public ImageClassifier {
 public:
  VGGImpl(std::int64_t c, std::int64_t classes, int depth, double dropout) : c_(c) {
    const std::vector<std::int64_t> cfg11 = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    const std::vector<std::int64_t> cfg16 = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    std::int64_t in = c;
    for (const auto width : depth == 16 ? cfg16 : cfg11) {
      if (width == 0) {
        features->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
      } else {
        features->push_back(ConvUnit(ConvUnitOptions(in, width, 3).bias(true).batch_norm(false)));
        in = width;
      }
    }
    register_module("features", features);
    classifier->push_back(nn::Linear(512 * 7 * 7, 4096));
    classifier->push_back(nn::Functional(torch::relu));
    classifier->push_back(nn::Dropout(dropout));
    classifier->push_back(nn::Linear(4096, 4096));
    classifier->push_back(nn::Functional(torch::relu));
    classifier->push_back(nn::Dropout(dropout));
    classifier->push_back(nn::Linear(4096, classes));
    register_module("classifier", classifier);
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "vgg", {-1, c_, -1, -1});
    auto y = F::adaptive_avg_pool2d(features->forward(x), F::AdaptiveAvgPool2dFuncOptions(7));
    return classifier->forward(y.flatten(1));
  }

 private:
  std::int64_t c_;
  nn::Sequential features, classifier;
};

// ================================================================ Off-TANet

// Off-TANet, net_type 'ta' (PRICAI2021-Off-TANet models/off_tanet.py): a 7×7/2 stem, two residual
// blocks, an attention block (CBAM-style channel and spatial attention, then a 4-head self-attention
// whose scores add a fixed positional table) and a 3-layer head. The positional table is libmer's
// reading of the reference (a sinusoid table T with P = T + Tᵀ per channel); it has no parameters.
class OffTANetImpl : public ImageClassifier {
 public:
  OffTANetImpl(std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t classes, double dropout)
      : c_(c), h_(h), w_(w), p_(dropout) {
    MER_CHECK(h % 16 == 0 && w % 16 == 0 && h == w, ValueError, "off_tanet needs a square input whose side is a ",
              "multiple of 16 (112 in the reference), got ", h, "x", w);
    stem = register_module("stem", ConvUnit(ConvUnitOptions(c, 8, 7).stride(2).padding(3).bias(true).order("conv_act_bn")));
    make_res("res1", 8, 18, res1);
    make_res("res2", 18, 28, res2);
    shortcut = register_module("eres_shortcut", nn::Conv2d(nn::Conv2dOptions(28, 8, 1)));
    eres_in = register_module("eres_in", ConvUnit(ConvUnitOptions(28, 28, 3).bias(true)));
    ca1 = register_module("ca1", nn::Conv2d(nn::Conv2dOptions(28, 1, 1).bias(false)));
    ca2 = register_module("ca2", nn::Conv2d(nn::Conv2dOptions(1, 28, 1).bias(false)));
    sa = register_module("sa", nn::Conv2d(nn::Conv2dOptions(2, 1, 3).padding(1).bias(false)));
    for (int head = 0; head < 4; ++head) {
      const auto n = "head" + std::to_string(head);
      q.push_back(register_module(n + "_q", nn::Conv2d(nn::Conv2dOptions(28, 7, 1))));
      k.push_back(register_module(n + "_k", nn::Conv2d(nn::Conv2dOptions(28, 7, 1))));
      v.push_back(register_module(n + "_v", nn::Conv2d(nn::Conv2dOptions(28, 7, 1))));
    }
    eres_out = register_module("eres_out", ConvUnit(ConvUnitOptions(28, 8, 3).bias(true)));
    const std::int64_t side = h / 16;
    fc1 = register_module("fc1", nn::Linear(8 * side * side, 64));
    fc2 = register_module("fc2", nn::Linear(64, 64));
    fc3 = register_module("fc3", nn::Linear(64, classes));
    // Positional table for the attention map side (h / 8).
    const std::int64_t s = h / 8;
    auto table = torch::empty({7, s, s});
    auto t = table.accessor<float, 3>();
    for (std::int64_t ch = 0; ch < 7; ++ch)
      for (std::int64_t i = 0; i < s; ++i)
        for (std::int64_t j = 0; j < s; ++j) {
          const double angle = static_cast<double>(i * s + j) / std::pow(10000.0, static_cast<double>(ch) / 7.0);
          t[ch][i][j] = static_cast<float>(ch % 2 == 0 ? std::sin(angle) : std::cos(angle));
        }
    position = register_buffer("position", table + table.transpose(1, 2));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "off_tanet", {-1, c_, h_, w_});
    auto y = res(res1, stem->forward(x));
    y = res(res2, y);
    const auto x0 = shortcut->forward(y);
    y = eres_in->forward(y);
    const auto mlp = [&](const torch::Tensor& d) { return ca2->forward(torch::relu(ca1->forward(d))); };
    y = y * torch::sigmoid(mlp(y.mean({2, 3}, true)) + mlp(y.amax({2, 3}, true)));
    y = y * torch::sigmoid(sa->forward(torch::cat({y.mean(1, true), y.amax(1, true)}, 1)));
    std::vector<torch::Tensor> heads;
    const auto pos = position.to(y.dtype());
    for (std::size_t h = 0; h < q.size(); ++h) {
      const auto qq = q[h]->forward(y), kk = k[h]->forward(y), vv = v[h]->forward(y);  // [N, 7, s, s]
      const auto score = torch::matmul(qq, kk.transpose(2, 3)) + torch::matmul(qq, pos.transpose(1, 2));
      const auto att = torch::softmax(score.flatten(2), -1).view_as(score);
      heads.push_back(att * vv);
    }
    y = eres_out->forward(torch::cat(heads, 1));
    y = F::max_pool2d(y + x0, F::MaxPool2dFuncOptions(2)).flatten(1);
    const auto drop = [&](const torch::Tensor& t) { return F::dropout(t, F::DropoutFuncOptions().p(p_).training(is_training())); };
    y = drop(torch::relu(fc1->forward(y)));
    y = drop(torch::relu(fc2->forward(y)));
    return fc3->forward(y);
  }

 private:
  struct Res {
    ConvUnit a{nullptr}, b{nullptr};
    nn::Conv2d skip{nullptr};
  };
  void make_res(const std::string& name, std::int64_t in, std::int64_t out, Res& r) {
    r.a = register_module(name + "_a", ConvUnit(ConvUnitOptions(in, out, 3).bias(true)));
    r.b = register_module(name + "_b", ConvUnit(ConvUnitOptions(out, out, 3).bias(true)));
    r.skip = register_module(name + "_skip", nn::Conv2d(nn::Conv2dOptions(in, out, 1)));
  }
  static torch::Tensor res(Res& r, const torch::Tensor& x) {
    return F::max_pool2d(r.b->forward(r.a->forward(x)) + r.skip->forward(x), F::MaxPool2dFuncOptions(2));
  }
  std::int64_t c_, h_, w_;
  double p_;
  ConvUnit stem{nullptr}, eres_in{nullptr}, eres_out{nullptr};
  Res res1, res2;
  nn::Conv2d shortcut{nullptr}, ca1{nullptr}, ca2{nullptr}, sa{nullptr};
  std::vector<nn::Conv2d> q, k, v;
  nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  torch::Tensor position;
};

// ================================================================ HTNet

// Layer norm over the channel axis of NCHW maps (biased variance), as HTNet's ChanLN.
class ChannelNormImpl : public nn::Module {
 public:
  explicit ChannelNormImpl(std::int64_t dim) {
    g = register_parameter("g", torch::ones({1, dim, 1, 1}));
    b = register_parameter("b", torch::zeros({1, dim, 1, 1}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto mean = x.mean(1, true);
    const auto var = (x - mean).pow(2).mean(1, true);
    return (x - mean) / (var + 1e-5).sqrt() * g + b;
  }
  torch::Tensor g, b;
};
TORCH_MODULE(ChannelNorm);

// One HTNet transformer level on NCHW maps with 1×1 convolutions: x += pos; depth × (x + Attn(LN x);
// x + FF(LN x)). Inner width heads·(dim / heads), as the reference computes it (255 for dim 256, 3 heads).
class HTLevelImpl : public nn::Module {
 public:
  HTLevelImpl(std::int64_t dim, std::int64_t heads, std::int64_t depth, std::int64_t seq_len, std::int64_t mlp_mult)
      : heads_(heads), dh_(dim / heads) {
    const std::int64_t inner = heads * dh_;
    pos = register_parameter("pos_emb", torch::randn({seq_len}));
    for (std::int64_t l = 0; l < depth; ++l) {
      const auto p = "layer" + std::to_string(l) + "_";
      ln1.push_back(register_module(p + "ln1", ChannelNorm(dim)));
      qkv.push_back(register_module(p + "to_qkv", nn::Conv2d(nn::Conv2dOptions(dim, 3 * inner, 1).bias(false))));
      out.push_back(register_module(p + "to_out", nn::Conv2d(nn::Conv2dOptions(inner, dim, 1))));
      ln2.push_back(register_module(p + "ln2", ChannelNorm(dim)));
      ff1.push_back(register_module(p + "ff1", nn::Conv2d(nn::Conv2dOptions(dim, mlp_mult * dim, 1))));
      ff2.push_back(register_module(p + "ff2", nn::Conv2d(nn::Conv2dOptions(mlp_mult * dim, dim, 1))));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    const auto b = x.size(0), h = x.size(2), w = x.size(3), len = h * w;
    // One learned offset per position of the block (a single scalar at the reference configuration).
    MER_CHECK(len == pos.size(0), InternalError, "htnet level of ", pos.size(0), " positions got ", len);
    x = x + pos.view({1, 1, h, w});
    for (std::size_t l = 0; l < qkv.size(); ++l) {
      const auto parts = qkv[l]->forward(ln1[l]->forward(x)).view({b, 3, heads_, dh_, len});
      const auto q = parts.select(1, 0).transpose(2, 3), k = parts.select(1, 1), v = parts.select(1, 2).transpose(2, 3);
      const auto att = torch::softmax(torch::matmul(q, k) * std::pow(static_cast<double>(dh_), -0.5), -1);
      const auto mixed = torch::matmul(att, v).transpose(2, 3).reshape({b, heads_ * dh_, h, w});
      x = x + out[l]->forward(mixed);
      x = x + ff2[l]->forward(F::gelu(ff1[l]->forward(ln2[l]->forward(x))));
    }
    return x;
  }

 private:
  std::int64_t heads_, dh_;
  torch::Tensor pos;
  std::vector<ChannelNorm> ln1, ln2;
  std::vector<nn::Conv2d> qkv, out, ff1, ff2;
};
TORCH_MODULE(HTLevel);

// HTNet (wang2024htnet) as in wangzhifengharrison/HTNet Model.py: 7×7 patches embedded by a 1×1 conv,
// three hierarchy levels (dims 256, 512, 1024; heads 3, 6, 12; depths 2, 2, 10), each a transformer within
// blocks followed by an aggregation conv 3×3 → ChanLN → max-pool 3/2. At the reference configuration
// (28 px, patch 7) the token sequence has length 1 at every level, so attention reduces to to_out(v) and
// spatial mixing happens only in the aggregation convs; libmer keeps that, with the reference's shapes
// and its count of 139,582,982 parameters. The four-crop input tiling is preprocessing, not part of it.
class HTNetImpl : public ImageClassifier {
 public:
  HTNetImpl(std::int64_t c, std::int64_t side, std::int64_t classes, std::int64_t patch, std::int64_t dim,
            std::int64_t heads, std::vector<std::int64_t> depths)
      : c_(c), side_(side), patch_(patch) {
    MER_CHECK(side % patch == 0, ValueError, "htnet needs an input side divisible by its patch size (", patch,
              "), got ", side);
    const std::int64_t grid = side / patch, levels = static_cast<std::int64_t>(depths.size());
    const std::int64_t block = grid >> (levels - 1);
    MER_CHECK(block >= 1, ValueError, "htnet: ", grid, "x", grid, " patches are too few for ", levels, " levels");
    block_ = block;
    embed = register_module("patch_embed", nn::Conv2d(nn::Conv2dOptions(patch * patch * c, dim, 1)));
    std::int64_t d = dim, h = heads;
    for (std::int64_t l = 0; l < levels; ++l) {
      const auto n = "level" + std::to_string(l);
      this->levels.push_back(register_module(n, HTLevel(d, h, depths[static_cast<std::size_t>(l)], block * block, 4)));
      if (l + 1 < levels) {
        agg_conv.push_back(register_module(n + "_aggregate", nn::Conv2d(nn::Conv2dOptions(d, 2 * d, 3).padding(1))));
        agg_norm.push_back(register_module(n + "_aggregate_norm", ChannelNorm(2 * d)));
        d *= 2;
        h *= 2;
      }
    }
    norm = register_module("norm", ChannelNorm(d));
    fc = register_module("fc", nn::Linear(d, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "htnet", {-1, c_, side_, side_});
    const auto n = x.size(0), g = side_ / patch_;
    // b c (h p1) (w p2) -> b (p1 p2 c) h w
    auto y = x.view({n, c_, g, patch_, g, patch_}).permute({0, 3, 5, 1, 2, 4}).reshape({n, patch_ * patch_ * c_, g, g});
    y = embed->forward(y);
    for (std::size_t l = 0; l < levels.size(); ++l) {
      const auto ch = y.size(1), s = y.size(2), nb = s / block_;
      // Split into nb×nb blocks of block_×block_ tokens; each block is its own sequence.
      auto blocks = y.view({n, ch, nb, block_, nb, block_}).permute({0, 2, 4, 1, 3, 5}).reshape({n * nb * nb, ch, block_, block_});
      blocks = levels[l]->forward(blocks);
      y = blocks.view({n, nb, nb, ch, block_, block_}).permute({0, 3, 1, 4, 2, 5}).reshape({n, ch, s, s});
      if (l < agg_conv.size()) {
        y = agg_norm[l]->forward(agg_conv[l]->forward(y));
        y = F::max_pool2d(y, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
      }
    }
    return fc->forward(norm->forward(y).mean({2, 3}));
  }

 private:
  std::int64_t c_, side_, patch_, block_ = 1;
  nn::Conv2d embed{nullptr};
  std::vector<HTLevel> levels;
  std::vector<nn::Conv2d> agg_conv;
  std::vector<ChannelNorm> agg_norm;
  ChannelNorm norm{nullptr};
  nn::Linear fc{nullptr};
};

// ---------------------------------------------------------------- registration

// Reads the stacked input and checks the channel count a preset is defined for (-1: any).
StackedInput preset_input(const ConfigNode& node, const ModelSpec& spec, const std::string& name, std::int64_t channels) {
  auto in = stacked_input(node, spec);
  if (!spec.check_only && channels > 0) {
    MER_CHECK(in.channels == channels, ConfigError, node.where(), ": model '", name, "' takes ", channels,
              " stacked channels, but its inputs (", fmt_names(in.names), ") give ", in.channels);
  }
  return in;
}

}  // namespace

std::string fmt_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void register_presets(ModelRegistry& r, std::map<std::string, ModelInfo>& info) {
  const auto add = [&](const std::string& name, ModelRegistry::Factory f, std::string help, ModelInfo i) {
    r.add(name, std::move(f), std::move(help));
    info[name] = std::move(i);
  };
  const auto wrap = [](auto net, const StackedInput& in) -> ModelRegistry::Product {
    net->set_input_names(in.names);
    return net;
  };

  add("off_apexnet",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "off_apexnet", 2);
        const double p = dropout_option(node, 0.5);
        const auto act = node.get_choice("conv_activation", "none", {"none", "relu"});
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<OffApexNetImpl>(in.height, in.width, spec.num_classes, p, act), in);
      },
      "OFF-ApexNet, two 1-channel streams (u, v) as in PRICAI2021-Off-TANet: 2,664,475 parameters at 2x28x28",
      {"multi_stream", "ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet models/off_apexnet.py",
       ModelSpec::image(2, 28, 28, 3), "{type: off_apexnet}"});
  add("off_apexnet_meb",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "off_apexnet_meb", -1);
        const double p = dropout_option(node, 0.5);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<OffApexNetMebImpl>(in.channels, in.height, in.width, spec.num_classes, p), in);
      },
      "OFF-ApexNet, one 2-channel stream as in tvaranka/meb: 807,909 parameters at 2x28x28",
      {"single_stream", "tvaranka/meb meb/models/me_networks.py OffApexNet", ModelSpec::image(2, 28, 28, 3),
       "{type: off_apexnet_meb}"});
  add("dual_inception",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "dual_inception", 2);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<DualInceptionImpl>(in.height, in.width, spec.num_classes), in);
      },
      "Dual-Inception, u and v streams as in PRICAI2021-Off-TANet: 6,449,867 parameters at 2x28x28",
      {"multi_stream", "ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet models/dual_inception.py",
       ModelSpec::image(2, 28, 28, 3), "{type: dual_inception}"});
  add("sssnet",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "sssnet", -1);
        const double p = dropout_option(node, 0.5);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<SSSNetImpl>(in.channels, in.height, in.width, spec.num_classes, p), in);
      },
      "MEB's shallow single-stream network: 1,349,251 parameters at 3x64x64",
      {"single_stream", "tvaranka/meb meb/models/me_networks.py SSSNet", ModelSpec::image(3, 64, 64, 3),
       "{type: sssnet}"});
  for (const char v : {'A', 'S', 'W', 'P', 'C'}) {
    const std::string name = std::string("rcn_") + static_cast<char>(std::tolower(v));
    add(name,
        [wrap, v, name](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
          const auto in = preset_input(node, spec, name, -1);
          const bool keep = node.get<bool>("keep_unused", true);
          if (spec.check_only) return nullptr;
          return wrap(std::make_unique<RCNImpl>(v, in.channels, in.height, in.width, spec.num_classes, keep), in);
        },
        std::string("RCN-") + v + " (Xia et al. 2020), 64 feature maps, pool size 7",
        {"single_stream", "xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec MeNets.py",
         ModelSpec::image(3, 60, 60, 3), "{type: " + name + "}"});
  }
  add("resnet18",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "resnet18", -1);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<ResNet18Impl>(in.channels, spec.num_classes), in);
      },
      "ResNet-18 (torchvision layout): 11,178,051 parameters at 3x224x224",
      {"single_stream", "torchvision resnet18 with a 3-way fc (davidnvq/me_recognition baseline)",
       ModelSpec::image(3, 224, 224, 3), "{type: resnet18}"});
  add("vgg",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "vgg", -1);
        const auto depth = node.get_choice("depth", "11", {"11", "16"});
        const double p = dropout_option(node, 0.5);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<VGGImpl>(in.channels, spec.num_classes, std::stoi(depth), p), in);
      },
      "VGG-11 or VGG-16 (torchvision layout): 128,778,627 parameters (depth 11) at 3x224x224",
      {"single_stream", "torchvision vgg11 with a 3-way classifier (davidnvq/me_recognition baseline)",
       ModelSpec::image(3, 224, 224, 3), "{type: vgg}"});
  add("off_tanet",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "off_tanet", -1);
        const double p = dropout_option(node, 0.5);
        if (spec.check_only) return nullptr;
        return wrap(std::make_unique<OffTANetImpl>(in.channels, in.height, in.width, spec.num_classes, p), in);
      },
      "Off-TANet (net_type 'ta'): 59,403 parameters at 3x112x112",
      {"single_stream", "ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet models/off_tanet.py",
       ModelSpec::image(3, 112, 112, 3), "{type: off_tanet}"});
  add("htnet",
      [wrap](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = preset_input(node, spec, "htnet", -1);
        const auto patch = node.get<std::int64_t>("patch", 7);
        const auto dim = node.get<std::int64_t>("dim", 256);
        const auto heads = node.get<std::int64_t>("heads", 3);
        const auto depths = node.get<std::vector<std::int64_t>>("depths", {2, 2, 10});
        MER_CHECK(patch > 0 && dim > 0 && heads > 0 && !depths.empty(), ConfigError, node.where(),
                  ": htnet needs patch, dim, heads > 0 and at least one level in depths");
        if (spec.check_only) return nullptr;
        MER_CHECK(in.height == in.width, ConfigError, node.where(), ": htnet needs a square input, got ", in.height,
                  "x", in.width);
        return wrap(std::make_unique<HTNetImpl>(in.channels, in.height, spec.num_classes, patch, dim, heads, depths), in);
      },
      "HTNet (image 28, patch 7, dim 256, heads 3, depths 2/2/10): 139,582,982 parameters at 3x28x28",
      {"transformer", "wangzhifengharrison/HTNet Model.py", ModelSpec::image(3, 28, 28, 3), "{type: htnet}"});
}

}  // namespace mer::detail
