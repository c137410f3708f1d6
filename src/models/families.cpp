// Model families composed from YAML (survey §5.2): single_stream, multi_stream, cascaded and multi_task,
// assembled from registered backbones, fusions, temporal models and heads. The YAML that builds each is in
// include/mer/models/families.hpp; docs/model-zoo.md shows them in use.
#include <mer/core/error.hpp>
#include <mer/models/blocks.hpp>
#include <mer/models/classifier.hpp>
#include "detail/zoo.hpp"
#include <mer/models/families.hpp>

#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/dropout.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mer {

namespace F = torch::nn::functional;
namespace nn = torch::nn;

namespace {

std::string shape_text(const std::vector<std::int64_t>& s) { return fmt::format("[{}]", fmt::join(s, "x")); }

[[noreturn]] void bad(const ConfigNode& node, const std::string& key, const std::string& what) {
  throw ConfigError(detail::concat(node.where(key), ": '", node.key_path(key), "' ", what));
}

std::int64_t positive(const ConfigNode& node, const std::string& key, std::int64_t fallback) {
  const auto v = node.get<std::int64_t>(key, fallback);
  if (v <= 0) bad(node, key, detail::concat("must be > 0, got ", v));
  return v;
}

double probability(const ConfigNode& node, const std::string& key, double fallback) {
  const auto v = node.get<double>(key, fallback);
  if (!(v >= 0 && v < 1)) bad(node, key, detail::concat("must be in [0, 1), got ", v));
  return v;
}

// ---------------------------------------------------------------- backbones: [N, C, H, W] (or a clip) → [N, D]

// A convolutional stack: per stage a unit of the chosen block, optional attention, pooling; then global
// average pooling. For clips [N, T, C, H, W] with `3d: true` the units are 3-D convolutions.
class ConvBackboneImpl : public Backbone {
 public:
  ConvBackboneImpl(const ConfigNode& node, const std::vector<std::int64_t>& shape) {
    const auto channels = node.get<std::vector<std::int64_t>>("channels", {16, 32, 64});
    if (channels.empty()) bad(node, "channels", "must list at least one stage width");
    block_ = node.get_choice("block", "plain", {"plain", "residual", "inception", "multiscale", "rcl"});
    attention_ = node.get_choice("attention", "none", {"none", "se", "cbam", "nonlocal"});
    pool_ = node.get_choice("pool", "max", {"max", "avg", "none"});
    const auto kernel = positive(node, "kernel", 3);
    const auto activation = node.get<std::string>("activation", "relu");
    with_context("reading " + node.where("activation"), [&] { check_activation(activation); });
    const bool batch_norm = node.get<bool>("batch_norm", true);
    dropout_ = probability(node, "dropout", 0.0);
    three_d_ = shape.size() == 4;
    if (check_only(shape)) return;
    std::int64_t in = three_d_ ? shape[1] : shape[0];
    for (std::size_t s = 0; s < channels.size(); ++s) {
      const auto out = channels[s];
      if (out <= 0) bad(node, "channels", detail::concat("must hold widths > 0, got ", out));
      const auto name = "stage" + std::to_string(s + 1);
      nn::Sequential stage;
      if (three_d_) {
        stage->push_back(Conv3dUnit(Conv3dUnitOptions(in, out, kernel).batch_norm(batch_norm).activation(activation)));
      } else if (block_ == "plain") {
        stage->push_back(ConvUnit(ConvUnitOptions(in, out, kernel).batch_norm(batch_norm).bias(!batch_norm).activation(activation)));
      } else if (block_ == "residual") {
        stage->push_back(Residual(ResidualOptions(in, out)));
      } else if (block_ == "inception") {
        if (out % 4 != 0) bad(node, "channels", detail::concat("widths must be multiples of 4 for inception blocks, got ", out));
        const auto c = out / 4;
        stage->push_back(Inception(InceptionOptions(in, c, c, c, c, c, c)));
      } else if (block_ == "multiscale") {
        if (out % 4 != 0) bad(node, "channels", detail::concat("widths must be multiples of 4 for multiscale blocks, got ", out));
        stage->push_back(MultiScale(MultiScaleOptions(in, out / 4, {1, 3, 5, 7})));
      } else {  // rcl: a 1×1 projection to the width, then the recurrent layer
        stage->push_back(ConvUnit(ConvUnitOptions(in, out, 1).activation(activation)));
        stage->push_back(RecurrentConv(RecurrentConvOptions(out)));
      }
      if (!three_d_ && attention_ == "se") stage->push_back(SqueezeExcitation(SqueezeExcitationOptions(out).reduction(4)));
      if (!three_d_ && attention_ == "cbam") stage->push_back(CBAM(CBAMOptions(out).reduction(4)));
      if (!three_d_ && attention_ == "nonlocal") stage->push_back(NonLocal(NonLocalOptions(out)));
      stages.push_back(register_module(name, stage));
      in = out;
    }
    if (three_d_ && attention_ == "cbam") cbam = register_module("cbam", CBAM(CBAMOptions(in).reduction(4)));
    out_features = in;
  }
  torch::Tensor forward(torch::Tensor x) override {
    if (three_d_) x = x.permute({0, 2, 1, 3, 4});  // [N, T, C, H, W] → [N, C, T, H, W]
    for (auto& s : stages) {
      x = s->forward(x);
      const bool can_pool = x.size(-1) >= 2 && x.size(-2) >= 2;
      if (pool_ != "none" && can_pool) {
        if (three_d_) {
          x = pool_ == "max" ? F::max_pool3d(x, F::MaxPool3dFuncOptions({1, 2, 2})) : F::avg_pool3d(x, F::AvgPool3dFuncOptions({1, 2, 2}));
        } else {
          x = pool_ == "max" ? F::max_pool2d(x, F::MaxPool2dFuncOptions(2)) : F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
        }
      }
    }
    if (cbam) x = cbam->forward(x.mean(2));  // 3-D: attention over the time-averaged map
    auto y = x.flatten(2).mean(2);
    return F::dropout(y, F::DropoutFuncOptions().p(dropout_).training(is_training()));
  }

 private:
  static bool check_only(const std::vector<std::int64_t>& shape) { return shape.empty(); }
  std::string block_, attention_, pool_;
  double dropout_ = 0;
  bool three_d_ = false;
  std::vector<nn::Sequential> stages;
  CBAM cbam{nullptr};
};

// ResNet-18's body (no head): 512 features.
class ResNetBackboneImpl : public Backbone {
 public:
  ResNetBackboneImpl(const ConfigNode& node, const std::vector<std::int64_t>& shape) {
    const auto width = positive(node, "width", 64);
    if (shape.empty()) return;
    stem = register_module("stem", ConvUnit(ConvUnitOptions(shape[0], width, 7).stride(2).padding(3)));
    std::int64_t in = width;
    for (int l = 0; l < 4; ++l) {
      const auto out = width << l;
      nn::Sequential layer;
      layer->push_back(Residual(ResidualOptions(in, out).stride(l == 0 ? 1 : 2)));
      layer->push_back(Residual(ResidualOptions(out, out)));
      layers.push_back(register_module("layer" + std::to_string(l + 1), layer));
      in = out;
    }
    out_features = in;
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto y = F::max_pool2d(stem->forward(x), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    for (auto& l : layers) y = l->forward(y);
    return y.mean({2, 3});
  }
  ConvUnit stem{nullptr};
  std::vector<nn::Sequential> layers;
};

// A vision transformer: patch embedding, encoder, mean over tokens.
class TransformerBackboneImpl : public Backbone {
 public:
  TransformerBackboneImpl(const ConfigNode& node, const std::vector<std::int64_t>& shape) {
    const auto patch = positive(node, "patch", 7);
    const auto dim = positive(node, "dim", 64);
    const auto heads = positive(node, "heads", 4);
    const auto depth = positive(node, "depth", 2);
    if (dim % heads != 0) bad(node, "dim", detail::concat("must be a multiple of heads (", heads, "), got ", dim));
    if (shape.empty()) return;
    if (shape[1] % patch != 0 || shape[2] % patch != 0)
      bad(node, "patch", detail::concat("must divide the input size ", shape[1], "x", shape[2], ", got ", patch));
    embed = register_module("embed", PatchEmbedding(PatchEmbeddingOptions(shape[0], dim, patch)));
    encoder = register_module("encoder", Transformer(TransformerOptions(dim, heads, depth)
                                                         .max_tokens((shape[1] / patch) * (shape[2] / patch))));
    out_features = dim;
  }
  torch::Tensor forward(torch::Tensor x) override { return encoder->forward(embed->forward(x)).mean(1); }
  PatchEmbedding embed{nullptr};
  Transformer encoder{nullptr};
};

// Flatten and fully connected layers.
class MlpBackboneImpl : public Backbone {
 public:
  MlpBackboneImpl(const ConfigNode& node, const std::vector<std::int64_t>& shape) {
    const auto hidden = node.get<std::vector<std::int64_t>>("hidden", {128});
    dropout_ = probability(node, "dropout", 0.0);
    if (shape.empty()) return;
    std::int64_t in = 1;
    for (const auto s : shape) in *= s;
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      layers.push_back(register_module("fc" + std::to_string(i + 1), nn::Linear(in, hidden[i])));
      in = hidden[i];
    }
    out_features = in;
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto y = x.flatten(1);
    for (auto& l : layers) y = F::dropout(torch::relu(l->forward(y)), F::DropoutFuncOptions().p(dropout_).training(is_training()));
    return y;
  }
  double dropout_ = 0;
  std::vector<nn::Linear> layers;
};

const std::vector<std::string> kImageOnly = {"resnet18", "transformer"};

}  // namespace

const BackboneRegistry& builtin_backbones() {
  static const BackboneRegistry registry = [] {
    BackboneRegistry r("backbones");
    r.add("conv", [](const ConfigNode& n, const std::vector<std::int64_t>& s) -> BackboneRegistry::Product {
      return std::make_unique<ConvBackboneImpl>(n, s);
    }, "convolutional stack: channels, block (plain|residual|inception|multiscale|rcl), attention (none|se|cbam|nonlocal), pool; 3-D on clips");
    r.add("resnet18", [](const ConfigNode& n, const std::vector<std::int64_t>& s) -> BackboneRegistry::Product {
      return std::make_unique<ResNetBackboneImpl>(n, s);
    }, "ResNet-18 body (width 64), 512 features");
    r.add("transformer", [](const ConfigNode& n, const std::vector<std::int64_t>& s) -> BackboneRegistry::Product {
      return std::make_unique<TransformerBackboneImpl>(n, s);
    }, "vision transformer: patch, dim, heads, depth; mean over tokens");
    r.add("mlp", [](const ConfigNode& n, const std::vector<std::int64_t>& s) -> BackboneRegistry::Product {
      return std::make_unique<MlpBackboneImpl>(n, s);
    }, "flatten, fully connected layers (hidden)");
    return r;
  }();
  return registry;
}

std::shared_ptr<Backbone> build_backbone(const ConfigNode& node, const std::vector<std::int64_t>& shape) {
  const auto type = node.get<std::string>("type", "conv");
  if (!shape.empty()) {
    const bool image_only = std::find(kImageOnly.begin(), kImageOnly.end(), type) != kImageOnly.end();
    MER_CHECK(shape.size() == 3 || (shape.size() == 4 && !image_only) || type == "mlp", ConfigError, node.where(),
              ": backbone '", type, "' cannot take an input of shape ", shape_text(shape),
              shape.size() == 4 ? " (a clip: use a conv backbone, which becomes 3-D, or a cascaded model)" : "");
  }
  std::shared_ptr<Backbone> b(builtin_backbones().build(node, shape));
  MER_CHECK(shape.empty() || b->out_features > 0, InternalError, "backbone '", type, "' has no output width");
  return b;
}

// ---------------------------------------------------------------- heads

HeadImpl::HeadImpl(const ConfigNode& node, std::int64_t in, std::int64_t out) {
  type_ = node.get_choice("type", "linear", {"linear", "capsule"});
  const auto hidden = node.get<std::vector<std::int64_t>>("hidden", {});
  dropout_ = probability(node, "dropout", 0.0);
  if (type_ == "capsule") {
    // Read before the check-only return, so that every key is known when the model is only checked.
    const auto dim = positive(node, "capsule_dim", 8);
    const auto out_dim = positive(node, "out_dim", 16);
    const auto iterations = positive(node, "iterations", 3);
    if (in <= 0) return;
    MER_CHECK(in % dim == 0, ConfigError, node.where("capsule_dim"), ": a capsule head splits its ", in,
              " features into capsules of ", dim, "; choose a capsule_dim that divides ", in);
    caps_dim_ = dim;
    capsule = register_module("capsule", Capsule(CapsuleOptions(in / dim, dim, out, out_dim).iterations(iterations)));
    return;
  }
  if (in <= 0) return;  // check only
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    layers.push_back(register_module("fc" + std::to_string(i + 1), nn::Linear(in, hidden[i])));
    in = hidden[i];
  }
  layers.push_back(register_module("out", nn::Linear(in, out)));
}

torch::Tensor HeadImpl::forward(torch::Tensor x) {
  const auto drop = [&](const torch::Tensor& t) { return F::dropout(t, F::DropoutFuncOptions().p(dropout_).training(is_training())); };
  if (capsule) {
    // Capsule lengths are the class scores (Sabour et al.); as logits they pass through log so that
    // cross-entropy sees log-probability-like scores.
    const auto v = capsule->forward(squash(drop(x).view({x.size(0), -1, caps_dim_})));
    return (v.norm(2, -1) + 1e-8).log();
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    x = layers[i]->forward(drop(x));
    if (i + 1 < layers.size()) x = torch::relu(x);
  }
  return x;
}

// ---------------------------------------------------------------- families

ModelOutput FamilyImpl::forward(const NamedInputs& inputs) {
  ModelOutput out;
  const auto f = features(inputs);
  out.logits = late_logits_.defined() ? late_logits_ : head->forward(f);
  late_logits_ = torch::Tensor();
  for (auto& [name, h] : aux_heads) out.aux[name] = h->forward(f);
  if (embedding_) out.aux["embedding"] = f;
  return out;
}

void FamilyImpl::add_aux_heads(const ConfigNode& tasks, const ModelSpec& spec) {
  for (const auto& key : tasks.keys()) {
    const auto node = tasks.child(key);
    if (key == "embedding") {
      embedding_ = true;
      continue;
    }
    MER_CHECK(key == "au", ConfigError, tasks.where(key), ": unknown task '", key,
              "'; known tasks: au (multi-label action units), embedding (the shared features, for metric losses)");
    if (spec.check_only) {
      HeadImpl(node, 0, 0);
      continue;
    }
    MER_CHECK(spec.num_action_units > 0, ConfigError, tasks.where(key),
              ": the 'au' head needs action-unit annotations, but no training sample has a readable AU code "
              "(the dataset's table has no AU column, or its cells could not be read)");
    aux_heads.insert_or_assign(key, register_module("head_" + key, Head(node, feature_dim, spec.num_action_units)));
  }
}

namespace {

const InputSpec& group_of(const ModelSpec& spec, const std::string& name) { return *spec.find(name); }

// single_stream: one backbone on its inputs stacked along channels (or one clip group).
class SingleStreamImpl : public FamilyImpl {
 public:
  SingleStreamImpl(const ConfigNode& node, const ModelSpec& spec) {
    names_ = select_inputs(node, "inputs", spec);
    std::vector<std::int64_t> shape;
    if (!spec.check_only) {
      shape = group_of(spec, names_.front()).shape;
      if (names_.size() > 1) {
        const auto in = stacked_input(node, spec);
        shape = {in.channels, in.height, in.width};
      }
    }
    backbone = register_module("backbone", build_backbone(node.child("backbone"), shape));
    feature_dim = backbone->out_features;
    head = register_module("head", Head(node.child("head"), spec.check_only ? 0 : feature_dim, spec.num_classes));
    set_input_names(names_);
  }
  torch::Tensor features(const NamedInputs& inputs) override {
    std::vector<torch::Tensor> parts;
    for (const auto& n : names_) parts.push_back(input(inputs, n));
    return backbone->forward(parts.size() == 1 ? parts.front() : torch::cat(parts, 1));
  }
  std::vector<std::string> names_;
  std::shared_ptr<Backbone> backbone;
};

// multi_stream: a backbone per stream, features fused (middle) or per-stream scores averaged (late).
class MultiStreamImpl : public FamilyImpl {
 public:
  MultiStreamImpl(const ConfigNode& node, const ModelSpec& spec) {
    const auto streams = node.items("streams");
    MER_CHECK(streams.size() >= 2, ConfigError, node.where("streams"), ": a multi_stream model needs at least two ",
              "streams, each {input: GROUP, backbone: {...}}; got ", streams.size());
    fusion_ = node.get_choice("fusion", "concat", {"concat", "sum", "attention", "bilinear"});
    depth_ = node.get_choice("depth", "middle", {"middle", "late"});
    const bool shared = node.get<bool>("shared", false);
    std::vector<std::int64_t> widths;
    for (std::size_t i = 0; i < streams.size(); ++i) {
      const auto& s = streams[i];
      const auto names = select_inputs(s, "input", spec);
      MER_CHECK(names.size() == 1, ConfigError, s.where("input"), ": a stream reads one group, got ", names.size());
      names_.push_back(names.front());
      const auto shape = spec.check_only ? std::vector<std::int64_t>{} : group_of(spec, names.front()).shape;
      if (shared && i > 0) {
        MER_CHECK(spec.check_only || shape == group_of(spec, names_.front()).shape, ConfigError, s.where("input"),
                  ": shared weights need streams of one shape, but '", names.front(), "' is ", shape_text(shape),
                  " and '", names_.front(), "' is ", shape_text(group_of(spec, names_.front()).shape));
        backbones.push_back(backbones.front());
      } else {
        const auto b = build_backbone(shared ? streams.front().child("backbone") : s.child("backbone"), shape);
        backbones.push_back(register_module("stream" + std::to_string(i + 1), b));
      }
      widths.push_back(backbones.back()->out_features);
    }
    set_input_names(names_);
    if (fusion_ == "bilinear")
      MER_CHECK(streams.size() == 2, ConfigError, node.where("fusion"), ": bilinear fusion takes exactly two streams, got ",
                streams.size());
    const auto head_node = node.child("head");
    if (spec.check_only) {
      HeadImpl(head_node, 0, 0);
      return;
    }
    if (fusion_ == "sum" || fusion_ == "attention") {
      for (const auto w : widths)
        MER_CHECK(w == widths.front(), ConfigError, node.where("fusion"), ": '", fusion_,
                  "' fusion needs streams of one feature width, got ", fmt::format("{}", fmt::join(widths, ", ")));
    }
    if (depth_ == "late") {
      for (std::size_t i = 0; i < backbones.size(); ++i)
        stream_heads.push_back(register_module("head" + std::to_string(i + 1), Head(head_node, widths[i], spec.num_classes)));
      feature_dim = 0;
      for (const auto w : widths) feature_dim += w;
      head = register_module("head", Head(head_node, feature_dim, spec.num_classes));  // unused at depth late
      return;
    }
    if (fusion_ == "concat") {
      for (const auto w : widths) feature_dim += w;
    } else if (fusion_ == "bilinear") {
      feature_dim = widths[0] * widths[1];
    } else {
      feature_dim = widths.front();
      if (fusion_ == "attention") score = register_module("attention", nn::Linear(feature_dim, 1));
    }
    head = register_module("head", Head(head_node, feature_dim, spec.num_classes));
  }
  torch::Tensor features(const NamedInputs& inputs) override {
    std::vector<torch::Tensor> f;
    for (std::size_t i = 0; i < names_.size(); ++i) f.push_back(backbones[i]->forward(input(inputs, names_[i])));
    if (depth_ == "late") {
      std::vector<torch::Tensor> scores;
      for (std::size_t i = 0; i < f.size(); ++i) scores.push_back(stream_heads[i]->forward(f[i]));
      late_logits_ = torch::stack(scores, 0).mean(0);
      return torch::cat(f, 1);
    }
    if (fusion_ == "concat") return torch::cat(f, 1);
    if (fusion_ == "sum") return torch::stack(f, 0).sum(0);
    if (fusion_ == "bilinear") {
      // Outer product of the two streams' features, signed square root and L2 normalisation (lin2015bilinear).
      const auto outer = torch::bmm(f[0].unsqueeze(2), f[1].unsqueeze(1)).flatten(1);
      const auto root = torch::sign(outer) * (outer.abs() + 1e-12).sqrt();
      return root / (root.norm(2, 1, true) + 1e-12);
    }
    const auto stacked = torch::stack(f, 1);                     // [N, S, D]
    const auto weights = torch::softmax(score->forward(stacked), 1);  // [N, S, 1]
    return (weights * stacked).sum(1);
  }
  std::string fusion_, depth_;
  std::vector<std::string> names_;
  std::vector<std::shared_ptr<Backbone>> backbones;
  std::vector<Head> stream_heads;
  nn::Linear score{nullptr};
};

// cascaded: a per-frame (or per-patch) backbone whose features feed a temporal / relational model.
class CascadedImpl : public FamilyImpl {
 public:
  CascadedImpl(const ConfigNode& node, const ModelSpec& spec) {
    const auto names = select_inputs(node, "input", spec);
    MER_CHECK(names.size() == 1, ConfigError, node.where("input"), ": a cascaded model reads one group, got ", names.size());
    name_ = names.front();
    set_input_names(names);
    split_ = node.get_choice("split", "frames", {"frames", "patches"});
    grid_ = positive(node, "patches", 4);
    const auto temporal = node.child("temporal");
    temporal_ = temporal.get_choice("type", "lstm", {"lstm", "gru", "tcn", "transformer", "gcn"});
    const auto hidden = positive(temporal, "hidden", 64);
    const auto layers = positive(temporal, "layers", 1);
    const auto heads = positive(temporal, "heads", 4);
    const auto reduce = temporal.get_choice("reduce", "last", {"last", "mean"});
    std::vector<std::int64_t> unit_shape;
    if (!spec.check_only) {
      const auto& shape = group_of(spec, name_).shape;
      if (split_ == "frames") {
        MER_CHECK(shape.size() == 4, ConfigError, node.where("input"), ": split: frames needs a sequence group [T, C, H, W], but '",
                  name_, "' is ", shape_text(shape), " (use split: patches for an image, or a clip: true frames stage)");
        steps_ = shape[0];
        unit_shape = {shape[1], shape[2], shape[3]};
      } else {
        MER_CHECK(shape.size() == 3 && shape[1] % grid_ == 0 && shape[2] % grid_ == 0, ConfigError, node.where("patches"),
                  ": split: patches cuts an image [C, H, W] into patches x patches tiles, but '", name_, "' is ",
                  shape_text(shape), " and patches is ", grid_);
        steps_ = grid_ * grid_;
        unit_shape = {shape[0], shape[1] / grid_, shape[2] / grid_};
      }
    }
    backbone = register_module("frame_backbone", build_backbone(node.child("frame_backbone"), unit_shape));
    if (spec.check_only) {
      HeadImpl(node.child("head"), 0, 0);
      return;
    }
    const auto d = backbone->out_features;
    if (temporal_ == "lstm" || temporal_ == "gru") {
      recurrent = register_module("temporal", Recurrent(RecurrentOptions(d, hidden).cell(temporal_).layers(layers).reduce(reduce)));
      feature_dim = recurrent->out_features();
    } else if (temporal_ == "tcn") {
      std::int64_t in = d;
      for (std::int64_t l = 0; l < layers; ++l) {
        tcn.push_back(register_module("tcn" + std::to_string(l + 1), TemporalConv(TemporalConvOptions(in, hidden).dilation(1LL << l))));
        in = hidden;
      }
      feature_dim = hidden;
    } else if (temporal_ == "transformer") {
      MER_CHECK(d % heads == 0, ConfigError, temporal.where("heads"), ": the frame features (", d,
                ") must be a multiple of the transformer's heads (", heads, ")");
      encoder = register_module("temporal", Transformer(TransformerOptions(d, heads, layers).max_tokens(steps_)));
      feature_dim = d;
    } else {  // gcn: a path graph over frames, a grid graph over patches
      const auto adjacency = split_ == "patches" ? grid_adjacency(grid_, grid_) : grid_adjacency(1, steps_);
      std::int64_t in = d;
      for (std::int64_t l = 0; l < layers; ++l) {
        gcn.push_back(register_module("gcn" + std::to_string(l + 1), GraphConv(GraphConvOptions(in, hidden, adjacency))));
        in = hidden;
      }
      feature_dim = hidden;
    }
    mean_ = reduce == "mean";
    head = register_module("head", Head(node.child("head"), feature_dim, spec.num_classes));
  }
  torch::Tensor features(const NamedInputs& inputs) override {
    auto x = input(inputs, name_);
    const auto n = x.size(0);
    if (split_ == "patches") {
      // [N, C, H, W] → [N, g·g, C, H/g, W/g] in raster order.
      const auto c = x.size(1), ph = x.size(2) / grid_, pw = x.size(3) / grid_;
      x = x.view({n, c, grid_, ph, grid_, pw}).permute({0, 2, 4, 1, 3, 5}).reshape({n, grid_ * grid_, c, ph, pw});
    }
    const auto t = x.size(1);
    auto seq = backbone->forward(x.flatten(0, 1)).view({n, t, -1});  // [N, T, D]
    if (recurrent) return recurrent->forward(seq);
    if (encoder) {
      const auto y = encoder->forward(seq);
      return mean_ ? y.mean(1) : y.select(1, t - 1);
    }
    if (!tcn.empty()) {
      auto y = seq.transpose(1, 2);
      for (auto& b : tcn) y = b->forward(y);
      return mean_ ? y.mean(2) : y.select(2, t - 1);  // causal: the last step has seen the whole clip
    }
    for (auto& g : gcn) seq = torch::relu(g->forward(seq));
    return seq.mean(1);
  }
  std::string name_, split_, temporal_;
  std::int64_t grid_ = 4, steps_ = 0;
  bool mean_ = false;
  std::shared_ptr<Backbone> backbone;
  Recurrent recurrent{nullptr};
  Transformer encoder{nullptr};
  std::vector<TemporalConv> tcn;
  std::vector<GraphConv> gcn;
};

std::unique_ptr<FamilyImpl> build_family(const ConfigNode& node, const ModelSpec& spec) {
  const auto type = node.get_choice("type", "single_stream", {"single_stream", "multi_stream", "cascaded"});
  if (type == "multi_stream") return std::make_unique<MultiStreamImpl>(node, spec);
  if (type == "cascaded") return std::make_unique<CascadedImpl>(node, spec);
  return std::make_unique<SingleStreamImpl>(node, spec);
}

ModelRegistry::Product family_product(std::unique_ptr<FamilyImpl> f, const ConfigNode& node, const ModelSpec& spec) {
  if (node.has("tasks")) f->add_aux_heads(node.child("tasks"), spec);
  if (spec.check_only) return nullptr;
  return f;
}

}  // namespace

namespace detail {

void register_families(ModelRegistry& r, std::map<std::string, ModelInfo>& info) {
  r.add("single_stream", [](const ConfigNode& n, const ModelSpec& s) { return family_product(std::make_unique<SingleStreamImpl>(n, s), n, s); },
        "backbone + head on one input (groups stacked along channels, or one clip)");
  info["single_stream"] = {"single_stream", "libmer", ModelSpec::image(3, 28, 28, 3), "{type: single_stream}"};
  r.add("multi_stream", [](const ConfigNode& n, const ModelSpec& s) { return family_product(std::make_unique<MultiStreamImpl>(n, s), n, s); },
        "a backbone per input group, fusion concat|sum|attention|bilinear at depth middle|late, head");
  info["multi_stream"] = {"multi_stream", "libmer",
                          [] {
                            ModelSpec s;
                            s.inputs = {{"apex", {1, 28, 28}, false}, {"flow", {2, 28, 28}, true}};
                            return s;
                          }(),
                          "{type: multi_stream, streams: [{input: apex}, {input: flow}]}"};
  r.add("cascaded", [](const ConfigNode& n, const ModelSpec& s) { return family_product(std::make_unique<CascadedImpl>(n, s), n, s); },
        "per-frame (or per-patch) backbone, then lstm|gru|tcn|transformer|gcn, head");
  info["cascaded"] = {"cascaded", "libmer",
                      [] {
                        ModelSpec s;
                        s.inputs = {{"clip", {8, 1, 28, 28}, false}};
                        return s;
                      }(),
                      "{type: cascaded, input: clip}"};
  r.add("multi_task",
        [](const ConfigNode& n, const ModelSpec& s) -> ModelRegistry::Product {
          MER_CHECK(n.has("tasks"), ConfigError, n.where(), ": a multi_task model needs 'tasks' (au, embedding) beside its trunk");
          auto trunk = n.child("trunk");
          auto f = build_family(trunk, s);
          return family_product(std::move(f), n, s);
        },
        "shared trunk (a single_stream, multi_stream or cascaded config) + emotion head + tasks: au, embedding");
  info["multi_task"] = {"multi_task", "libmer",
                        [] {
                          ModelSpec s = ModelSpec::image(3, 28, 28, 3);
                          s.num_action_units = 12;
                          return s;
                        }(),
                        "{type: multi_task, trunk: {type: single_stream}, tasks: {au: {}}}"};
}

}  // namespace detail

}  // namespace mer
