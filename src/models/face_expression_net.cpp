// face-api's FaceExpressionNet (vladmandic/face-api 1.7.15, src/faceExpressionNet/FaceExpressionNet.ts,
// src/faceFeatureExtractor/{FaceFeatureExtractor,denseBlock}.ts, src/common/depthwiseSeparableConv.ts)
// and the importer of its tfjs weights. tests/models/face_expression_net_test.cpp checks the converted
// network against the package's own code on tfjs's CPU backend (tests/support/faceapi_reference.mjs).
#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/face_expression_net.hpp>
#include "detail/zoo.hpp"

#include <c10/util/Half.h>
#include <nlohmann/json.hpp>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>

#include <cstring>
#include <map>

namespace mer {

namespace F = torch::nn::functional;
namespace nn = torch::nn;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kFaceApiClasses = 7;
constexpr const char* kManifestName = "face_expression_model-weights_manifest.json";

// TensorFlow's 'same' padding: output ceil(in / stride); the total padding is split with the extra pixel
// at the bottom/right. For the stride-2 3×3 convs on even sizes that is (0, 1), which PyTorch's symmetric
// `padding` cannot express, so the pad is explicit.
torch::Tensor pad_same(const torch::Tensor& x, std::int64_t kernel, std::int64_t stride) {
  const auto total = [&](std::int64_t in) {
    const std::int64_t out = (in + stride - 1) / stride;
    return std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  };
  const auto th = total(x.size(2)), tw = total(x.size(3));
  if (th == 0 && tw == 0) return x;
  return F::pad(x, F::PadFuncOptions({tw / 2, tw - tw / 2, th / 2, th - th / 2}));
}

// tf.separableConv2d + bias: a per-channel 3×3 conv (stride s, no bias), then a 1×1 conv with the bias.
class SeparableConvImpl : public nn::Module {
 public:
  SeparableConvImpl(std::int64_t in, std::int64_t out, std::int64_t stride) : stride_(stride) {
    depthwise = register_module("depthwise", nn::Conv2d(nn::Conv2dOptions(in, in, 3).stride(stride).groups(in).bias(false)));
    pointwise = register_module("pointwise", nn::Conv2d(nn::Conv2dOptions(in, out, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return pointwise->forward(depthwise->forward(pad_same(x, 3, stride_))); }
  nn::Conv2d depthwise{nullptr}, pointwise{nullptr};

 private:
  std::int64_t stride_;
};
TORCH_MODULE(SeparableConv);

// denseBlock4: out1 = relu(conv0(x)); out_k = conv_k(relu(out1 + ... + out_{k-1})); result relu(sum).
// The first block's conv0 is a plain 3×3 conv on the RGB input, the others' separable.
class DenseBlockImpl : public nn::Module {
 public:
  DenseBlockImpl(std::int64_t in, std::int64_t out, bool first) {
    if (first) {
      plain0 = register_module("conv0", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2)));
    } else {
      sep0 = register_module("conv0", SeparableConv(in, out, 2));
    }
    for (int k = 1; k <= 3; ++k) convs.push_back(register_module("conv" + std::to_string(k), SeparableConv(out, out, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto sum = torch::relu(plain0 ? plain0->forward(pad_same(x, 3, 2)) : sep0->forward(x));
    for (auto& c : convs) sum = sum + c->forward(torch::relu(sum));
    return torch::relu(sum);
  }

 private:
  nn::Conv2d plain0{nullptr};
  SeparableConv sep0{nullptr};
  std::vector<SeparableConv> convs;
};
TORCH_MODULE(DenseBlock);

// FaceFeatureExtractor: [N, 3, H, W] normalised RGB → [N, 256] (the 7×7 average pool at 112×112).
class FaceApiBackboneImpl : public nn::Module {
 public:
  FaceApiBackboneImpl() {
    const std::int64_t widths[] = {3, 32, 64, 128, 256};
    for (int b = 0; b < 4; ++b)
      blocks.push_back(register_module("dense" + std::to_string(b), DenseBlock(widths[b], widths[b + 1], b == 0)));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& b : blocks) x = b->forward(x);
    // tf.avgPool([7, 7], [2, 2], 'valid') over the 7×7 map of a 112×112 input is its mean; a global mean
    // keeps other sizes meaningful.
    return x.mean({2, 3});
  }

 private:
  std::vector<DenseBlock> blocks;
};
TORCH_MODULE(FaceApiBackbone);

class FaceExpressionNetImpl : public ImageClassifier {
 public:
  FaceExpressionNetImpl(std::int64_t classes, bool bgr, double pixel_max, double dropout)
      : bgr_(bgr), pixel_max_(pixel_max), dropout_(dropout) {
    backbone = register_module("backbone", FaceApiBackbone());
    head = register_module("head", nn::Linear(256, classes));
  }
  using ImageClassifier::forward;
  torch::Tensor forward(torch::Tensor x) override {
    expect_shape(x, "face_expression_net", {-1, 3, -1, -1});
    if (bgr_) x = x.flip(1);
    // face-api: (rgb_0..255 - mean_rgb) / 255.
    const auto mean = torch::tensor({122.782f, 117.001f, 104.298f}, x.options()).view({1, 3, 1, 1});
    x = (x * static_cast<float>(255.0 / pixel_max_) - mean) / 255.0f;
    auto f = backbone->forward(x);
    if (dropout_ > 0) f = F::dropout(f, F::DropoutFuncOptions().p(dropout_).training(is_training()));
    return head->forward(f);
  }
  FaceApiBackbone backbone{nullptr};
  nn::Linear head{nullptr};

 private:
  bool bgr_;
  double pixel_max_, dropout_;
};

// ---------------------------------------------------------------- the tfjs weights

struct TfjsTensor {
  std::vector<std::int64_t> shape;
  torch::Tensor value;  // float32, in tfjs layout
};

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

// tf.io.decodeWeights for the dtypes face-api's manifests use: float32, or float32 stored quantised.
std::map<std::string, TfjsTensor> read_tfjs_weights(const fs::path& manifest_file, std::int64_t& quantised) {
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_file(manifest_file));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(detail::concat("'", manifest_file.string(), "' is not a tfjs weights manifest: ", e.what()));
  }
  MER_CHECK(manifest.is_array(), DataError, "'", manifest_file.string(), "' is not a tfjs weights manifest (expected a list of groups)");
  std::map<std::string, TfjsTensor> out;
  try {
    for (const auto& group : manifest) {
      // A group's shards are one byte stream cut into files; its weights follow each other in it.
      std::string bytes;
      for (const auto& p : group.at("paths")) bytes += read_file(manifest_file.parent_path() / p.get<std::string>());
      std::size_t at = 0;
      for (const auto& w : group.at("weights")) {
        const auto name = w.at("name").get<std::string>();
        const auto dtype = w.at("dtype").get<std::string>();
        MER_CHECK(dtype == "float32", DataError, "'", manifest_file.string(), "': tensor ", name, " is ", dtype,
                  "; face-api's expression model is float32");
        TfjsTensor t;
        t.shape = w.at("shape").get<std::vector<std::int64_t>>();
        const auto n = element_count(t.shape);
        std::vector<float> values(static_cast<std::size_t>(n));
        std::string stored = "float32";
        double scale = 1, min = 0;
        if (w.contains("quantization")) {
          const auto& q = w.at("quantization");
          stored = q.at("dtype").get<std::string>();
          if (stored != "float16") scale = q.at("scale").get<double>(), min = q.at("min").get<double>();
          ++quantised;
        }
        const std::size_t width = stored == "uint8" ? 1 : stored == "uint16" || stored == "float16" ? 2 : stored == "float32" ? 4 : 0;
        MER_CHECK(width > 0, DataError, "'", manifest_file.string(), "': tensor ", name, " is stored as ", stored,
                  " (known: float32, uint8, uint16, float16)");
        const std::size_t size = width * static_cast<std::size_t>(n);
        MER_CHECK(at + size <= bytes.size(), DataError, "'", manifest_file.string(), "': tensor ", name, " needs bytes ", at,
                  "..", at + size, " but the weight files hold ", bytes.size());
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
        for (std::size_t i = 0; i < values.size(); ++i) {
          // The arithmetic of tfjs's dequantisation (a JS double rounded to float32), so the weights are
          // bit-identical to the ones the original runs with. Little-endian, as tfjs writes them.
          if (stored == "uint8") {
            values[i] = static_cast<float>(p[i] * scale + min);
          } else if (stored == "uint16") {
            values[i] = static_cast<float>((p[2 * i] | (p[2 * i + 1] << 8)) * scale + min);
          } else if (stored == "float16") {
            values[i] = static_cast<float>(c10::Half(static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)), c10::Half::from_bits()));
          } else {
            std::memcpy(&values[i], p + 4 * i, 4);
          }
        }
        at += size;
        t.value = torch::from_blob(values.data(), {n}, torch::kFloat32).clone().view(t.shape);
        MER_CHECK(out.emplace(name, std::move(t)).second, DataError, "'", manifest_file.string(), "' lists tensor ", name, " twice");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(detail::concat("'", manifest_file.string(), "' is not a tfjs weights manifest: ", e.what()));
  }
  return out;
}

}  // namespace

FaceApiImport import_faceapi_expression(const fs::path& weights, const fs::path& out) {
  FaceApiImport report;
  report.manifest = fs::is_directory(weights) ? weights / kManifestName : weights;
  MER_CHECK(fs::is_regular_file(report.manifest), IoError, "no face-api weights manifest at '", report.manifest.string(),
            "' (expected ", kManifestName, "; scripts/fetch_media.sh fetches @vladmandic/face-api)");
  auto tensors = read_tfjs_weights(report.manifest, report.quantised);

  FaceExpressionNetImpl net(kFaceApiClasses, /*bgr=*/false, 255.0, 0.0);
  torch::NoGradGuard no_grad;
  std::map<std::string, bool> used;
  auto params = net.named_parameters();
  const auto take = [&](const std::string& tf_name, const std::string& mer_name, const std::vector<std::int64_t>& perm) {
    const auto it = tensors.find(tf_name);
    MER_CHECK(it != tensors.end(), DataError, "'", report.manifest.string(), "' has no tensor ", tf_name,
              ": it is not face-api's face_expression_model");
    auto* target = params.find(mer_name);
    MER_CHECK(target != nullptr, InternalError, "face_expression_net has no parameter ", mer_name);
    const auto value = perm.empty() ? it->second.value : it->second.value.permute(perm);
    MER_CHECK(value.sizes() == target->sizes(), DataError, "'", report.manifest.string(), "': ", tf_name, " has shape ",
              value.sizes(), " after conversion, but ", mer_name, " is ", target->sizes());
    target->copy_(value);
    used[tf_name] = true;
    report.parameters += value.numel();
  };
  // tfjs layouts: conv [h, w, in, out] and depthwise [h, w, in, multiplier] → [out|in, in|multiplier, h, w]
  // (the same permutation), dense [in, out] → [out, in].
  const std::vector<std::int64_t> conv = {3, 2, 0, 1}, depthwise = {2, 3, 0, 1}, dense = {1, 0};
  for (int b = 0; b < 4; ++b) {
    const auto tf = "dense" + std::to_string(b) + "/";
    const auto mer = "backbone.dense" + std::to_string(b) + ".";
    for (int k = 0; k < 4; ++k) {
      const auto c = "conv" + std::to_string(k);
      if (b == 0 && k == 0) {
        take(tf + c + "/filters", mer + c + ".weight", conv);
        take(tf + c + "/bias", mer + c + ".bias", {});
      } else {
        take(tf + c + "/depthwise_filter", mer + c + ".depthwise.weight", depthwise);
        take(tf + c + "/pointwise_filter", mer + c + ".pointwise.weight", conv);
        take(tf + c + "/bias", mer + c + ".pointwise.bias", {});
      }
    }
  }
  take("fc/weights", "head.weight", dense);
  take("fc/bias", "head.bias", {});
  for (const auto& kv : tensors)
    MER_CHECK(used.count(kv.first), DataError, "'", report.manifest.string(), "' holds tensor ", kv.first,
              ", which face_expression_net does not have: it is not face-api's face_expression_model");
  report.tensors = static_cast<std::int64_t>(used.size());

  torch::serialize::OutputArchive archive;
  net.save(archive);
  // External weights: trained by face-api's authors on macro-expression faces, never on a MER subject,
  // so model.init's honesty check (no test subject seen) holds for every fold. The note says so for people.
  archive.write("mer.seen_subjects", c10::IValue(std::string("[]")));
  archive.write("mer.source", c10::IValue("external: @vladmandic/face-api face_expression_model (tfjs), imported from " +
                                          report.manifest.string() + "; trained outside libmer, no MER subject seen"));
  archive.write("mer.spec",
                c10::IValue(nlohmann::json{{"inputs", {{{"name", "input"}, {"shape", {3, 112, 112}}, {"vector_field", false}}}},
                                           {"num_classes", kFaceApiClasses},
                                           {"num_action_units", 0}}
                                .dump()));
  archive.write("mer.config", c10::IValue(std::string(
                                  "# face-api's FaceExpressionNet with its own 7-way head (neutral, happy, sad, angry, "
                                  "fearful, disgusted, surprised) on 112x112 RGB 0..255\n"
                                  "model: {type: face_expression_net, channels: rgb, pixel_max: 255}\n")));
  write_atomic_with(out, [&](const fs::path& tmp) { archive.save_to(tmp.string()); });
  return report;
}

namespace detail {

void register_face_expression_net(ModelRegistry& registry, std::map<std::string, ModelInfo>& info) {
  registry.add(
      "face_expression_net",
      [](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto in = stacked_input(node, spec);
        const auto channels = node.get_choice("channels", "bgr", {"bgr", "rgb"});
        const double pixel_max = node.get<double>("pixel_max", 255.0);
        MER_CHECK(pixel_max > 0, ConfigError, node.where("pixel_max"), ": '", node.key_path("pixel_max"), "' must be > 0, got ", pixel_max);
        const double dropout = node.get<double>("dropout", 0.0);
        MER_CHECK(dropout >= 0 && dropout < 1, ConfigError, node.where("dropout"), ": '", node.key_path("dropout"),
                  "' must be in [0, 1), got ", dropout);
        if (spec.check_only) return nullptr;
        MER_CHECK(in.channels == 3, ConfigError, node.where(), ": face_expression_net takes one colour face (3 channels), but its inputs (",
                  fmt_names(in.names), ") give ", in.channels, "; use frames with color: color");
        MER_CHECK(in.height >= 16 && in.width >= 16, ConfigError, node.where(), ": face_expression_net needs at least 16x16 (four stride-2 blocks), got ",
                  in.height, "x", in.width, "; it was trained at 112x112");
        auto net = std::make_unique<FaceExpressionNetImpl>(spec.num_classes, channels == "bgr", pixel_max, dropout);
        net->set_input_names(in.names);
        return net;
      },
      "face-api's FaceExpressionNet (4 dense blocks of separable convs): 323,687 parameters at 3x112x112, 7 classes; "
      "mer model import-faceapi converts its FER-pretrained weights");
  info["face_expression_net"] = {"single_stream", "vladmandic/face-api src/faceExpressionNet/FaceExpressionNet.ts",
                                 ModelSpec::image(3, 112, 112, kFaceApiClasses), "{type: face_expression_net}"};
}

}  // namespace detail

}  // namespace mer
