// The two places libmer runs a user's TorchScript file (the one TU that compiles LibTorch's JIT headers):
// magnify_model, learning-based motion magnification (Oh et al. 2018; contract in <mer/models/stages.hpp>),
// and the `torchscript` model type, a network defined in Python trained by libmer's trainer.
#include <mer/core/error.hpp>
#include <mer/core/rng.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/stages.hpp>
#include "detail/zoo.hpp"


#include <fmt/format.h>
#include <fmt/ranges.h>
#include <opencv2/imgproc.hpp>
#include <torch/cuda.h>
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace mer {

namespace {

// A content hash of the model file: the fingerprint must change when the weights do, even if the path
// stays the same, or the cache would serve frames magnified by the old model.
std::string file_hash(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("magnify_model: cannot read '" + path.string() + "'");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(stable_hash(bytes)));
  return buf;
}

torch::jit::Module load_model(const MagnifyModelOptions& o) {
  try {
    auto module = torch::jit::load(o.model.string(), torch::Device(o.device));
    module.eval();
    if (!module.find_method("forward")) {
      throw ConfigError("magnify_model: TorchScript model '" + o.model.string() + "' has no forward method");
    }
    return module;
  } catch (const c10::Error& e) {
    throw ConfigError("magnify_model: cannot load TorchScript model '" + o.model.string() +
                      "': " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    if (dynamic_cast<const Error*>(&e)) throw;
    throw ConfigError("magnify_model: cannot load TorchScript model '" + o.model.string() + "': " + e.what());
  }
}

class MagnifyModelStage final : public Stage {
 public:
  explicit MagnifyModelStage(MagnifyModelOptions o)
      : o_(std::move(o)), module_(load_model(o_)), model_hash_(file_hash(o_.model)) {}
  std::string type() const override { return "magnify_model"; }
  std::vector<std::string> reads() const override { return {o_.sequence}; }
  std::vector<std::string> writes() const override { return {output()}; }
  std::string fingerprint() const override {
    return stage_fingerprint(type(), "v1",
                                     {{"model", o_.model.string()},
                                      {"model_hash", model_hash_},
                                      {"alpha", fingerprint_value(o_.alpha)},
                                      {"reference", o_.reference},
                                      {"device", o_.device},
                                      {"sequence", o_.sequence},
                                      {"output", output()}});
  }

  void apply(const SampleMeta& sample, Item& item) const override {
    const auto& clip = item.seq(o_.sequence);
    if (clip.size() < 2) {
      throw SampleError(detail::concat("magnify_model: sequence '", o_.sequence, "' of sample ", sample.id, " has ",
                                       clip.size(), " frame", clip.size() == 1 ? "" : "s",
                                       "; a clip of at least 2 is needed (read one with {type: frames, clip: true})"));
    }
    const cv::Mat& first = clip.front();
    if ((first.depth() != CV_8U && first.depth() != CV_32F) || (first.channels() != 1 && first.channels() != 3)) {
      throw InternalError(detail::concat("magnify_model: sequence '", o_.sequence, "' of sample ", sample.id,
                                         " must hold 8-bit or CV_32F frames with 1 or 3 channels, got type ",
                                         first.type()));
    }
    for (const auto& f : clip) {
      if (f.size() != first.size() || f.type() != first.type()) {
        throw SampleError(detail::concat("magnify_model: frames of sequence '", o_.sequence, "' of sample ", sample.id,
                                         " differ in size or type (", first.cols, "x", first.rows, " and ", f.cols, "x",
                                         f.rows, ")"));
      }
    }

    const torch::Device device(o_.device);
    // Inference only: no autograd graph, and the module may be called from several pipeline threads.
    c10::InferenceMode guard;
    const auto alpha = torch::full({1, 1, 1, 1}, static_cast<float>(o_.alpha), torch::dtype(torch::kFloat32).device(device));
    std::vector<cv::Mat> out;
    out.reserve(clip.size());
    out.push_back(first.clone());
    torch::Tensor first_tensor = to_tensor(first, device);
    torch::Tensor previous = first_tensor;
    for (std::size_t t = 1; t < clip.size(); ++t) {
      torch::Tensor frame = to_tensor(clip[t], device);
      const torch::Tensor& reference = o_.reference == "first" ? first_tensor : previous;
      torch::jit::IValue result;
      try {
        result = module_.forward({reference, frame, alpha});
      } catch (const c10::Error& e) {
        // Models often accept only some frame sizes (strides); that is a property of this sample's frames.
        throw SampleError(detail::concat("magnify_model: model '", o_.model.string(), "' failed on frame ", t,
                                         " (", first.cols, "x", first.rows, ") of sample ", sample.id, ": ",
                                         e.what_without_backtrace()));
      }
      out.push_back(to_mat(magnified_tensor(result, first), first));
      previous = frame;
    }
    item.set_sequence(output(), std::move(out));
  }

 private:
  std::string output() const { return o_.output.empty() ? o_.sequence : o_.output; }

  // 1x3xHxW RGB in [-1, 1], as the model contract says.
  static torch::Tensor to_tensor(const cv::Mat& frame, const torch::Device& device) {
    cv::Mat f;
    frame.convertTo(f, CV_MAKETYPE(CV_32F, frame.channels()), frame.depth() == CV_8U ? 2.0 / 255.0 : 2.0, -1.0);
    cv::Mat rgb;
    cv::cvtColor(f, rgb, f.channels() == 1 ? cv::COLOR_GRAY2RGB : cv::COLOR_BGR2RGB);
    // from_blob does not own the data: the permute + contiguous copy (and .to) does, before rgb dies.
    return torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kFloat32)
        .permute({0, 3, 1, 2})
        .contiguous()
        .to(device);
  }

  torch::Tensor magnified_tensor(const torch::jit::IValue& result, const cv::Mat& like) const {
    torch::Tensor y;
    if (result.isTensor()) {
      y = result.toTensor();
    } else if (result.isTuple() && !result.toTupleRef().elements().empty() &&
               result.toTupleRef().elements()[0].isTensor()) {
      y = result.toTupleRef().elements()[0].toTensor();
    } else if (result.isTensorList() && result.toTensorList().size() > 0) {
      y = result.toTensorList().get(0);
    } else {
      throw ConfigError(detail::concat("magnify_model: model '", o_.model.string(), "' returned a ",
                                       result.tagKind(), "; expected a 1x3xHxW tensor (or a tuple starting with one)"));
    }
    if (y.dim() != 4 || y.size(0) != 1 || y.size(1) != 3 || y.size(2) != like.rows || y.size(3) != like.cols) {
      throw ConfigError(detail::concat("magnify_model: model '", o_.model.string(), "' returned a tensor of shape ",
                                       y.sizes(), "; expected [1, 3, ", like.rows, ", ", like.cols, "]"));
    }
    return y;
  }

  // Back to the input's layout: [-1, 1] -> 0..255 (8-bit) or 0..1 (float), BGR or gray.
  static cv::Mat to_mat(const torch::Tensor& y, const cv::Mat& like) {
    const torch::Tensor hwc =
        y.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1).squeeze(0).permute({1, 2, 0}).contiguous();
    const cv::Mat rgb(like.rows, like.cols, CV_32FC3, hwc.data_ptr<float>());
    cv::Mat converted;
    cv::cvtColor(rgb, converted, like.channels() == 1 ? cv::COLOR_RGB2GRAY : cv::COLOR_RGB2BGR);
    cv::Mat out;
    if (like.depth() == CV_8U) {
      converted.convertTo(out, like.type(), 255.0 / 2.0, 255.0 / 2.0);
    } else {
      converted.convertTo(out, like.type(), 0.5, 0.5);
    }
    return out;
  }

  MagnifyModelOptions o_;
  // forward() is not const in the TorchScript API; the interpreter itself supports concurrent calls.
  mutable torch::jit::Module module_;
  std::string model_hash_;
};

}  // namespace

MagnifyModelOptions MagnifyModelOptions::from_config(const ConfigNode& node) {
  MagnifyModelOptions o;
  o.model = node.required_path("model");
  MER_CHECK(std::filesystem::is_regular_file(o.model), ConfigError, node.where("model"), ": '", node.key_path("model"),
            "' = '", o.model.string(), "' is not a file (a TorchScript model saved with torch.jit.save)");
  o.alpha = node.get("alpha", o.alpha);
  MER_CHECK(o.alpha >= 0 && o.alpha <= 1000 && std::isfinite(o.alpha), ConfigError, node.where("alpha"), ": '",
            node.key_path("alpha"), "' must be in [0, 1000], got ", o.alpha);
  o.reference = node.get("reference", o.reference);
  node.check_choice("reference", o.reference, {"first", "previous"});
  o.device = node.get("device", o.device);
  node.check_choice("device", o.device, {"cpu", "cuda"});
  MER_CHECK(o.device != "cuda" || torch::cuda::is_available(), ConfigError, node.where("device"), ": '",
            node.key_path("device"), "' is cuda but no CUDA device is available");
  o.sequence = node.get("sequence", o.sequence);
  o.output = node.get("output", o.output);
  return o;
}

std::unique_ptr<Stage> make_magnify_model_stage(MagnifyModelOptions options) {
  return std::make_unique<MagnifyModelStage>(std::move(options));
}

// ---------------------------------------------------------------- torchscript model

namespace {

// A TorchScript module trained as a Classifier. Its parameters and buffers are registered here under their
// own dotted names (through empty holder modules mirroring its submodules), sharing storage with the
// script module, so the optimiser, train.freeze, param_groups, model.init and checkpoints all see
// "fc.weight" as the Python author named it.
class TorchScriptClassifier final : public Classifier {
 public:
  TorchScriptClassifier(torch::jit::Module module, std::vector<std::string> arguments, std::string file)
      : module_(std::move(module)), arguments_(std::move(arguments)), file_(std::move(file)) {
    set_input_names(arguments_);
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) holder(p.name).register_parameter(leaf(p.name), p.value);
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) holder(b.name).register_buffer(leaf(b.name), b.value);
  }

  ModelOutput forward(const NamedInputs& inputs) override {
    std::vector<torch::jit::IValue> args;
    for (const auto& a : arguments_) args.emplace_back(input(inputs, a));
    const auto out = module_.forward(args);
    ModelOutput result;
    if (out.isTensor()) {
      result.logits = out.toTensor();
    } else if (out.isTuple() && !out.toTupleRef().elements().empty() && out.toTupleRef().elements()[0].isTensor()) {
      result.logits = out.toTupleRef().elements()[0].toTensor();
    } else if (out.isGenericDict()) {
      for (const auto& kv : out.toGenericDict()) {
        MER_CHECK(kv.key().isString() && kv.value().isTensor(), ValueError, "TorchScript model '", file_,
                  "' returned a dict that is not str -> Tensor");
        if (kv.key().toStringRef() == "logits") result.logits = kv.value().toTensor();
        else result.aux[kv.key().toStringRef()] = kv.value().toTensor();
      }
    }
    MER_CHECK(result.logits.defined(), ValueError, "TorchScript model '", file_,
              "' must return logits: a Tensor [N, classes], a tuple starting with it, or a dict with 'logits'");
    return result;
  }

  void train(bool on = true) override {
    Classifier::train(on);
    module_.train(on);
  }

 private:
  static std::string leaf(const std::string& name) { return name.substr(name.rfind('.') + 1); }
  torch::nn::Module& holder(const std::string& name) {
    torch::nn::Module* m = this;
    std::size_t start = 0;
    for (auto dot = name.find('.'); dot != std::string::npos; start = dot + 1, dot = name.find('.', start)) {
      const auto part = name.substr(start, dot - start);
      const auto children = m->named_children();
      if (const auto* child = children.find(part)) {
        m = child->get();
      } else {
        m = m->register_module(part, std::make_shared<torch::nn::Module>()).get();
      }
    }
    return *m;
  }

  torch::jit::Module module_;
  std::vector<std::string> arguments_;
  std::string file_;
};

}  // namespace

namespace detail {

void register_torchscript_model(ModelRegistry& registry, std::map<std::string, ModelInfo>& info) {
  registry.add(
      "torchscript",
      [](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        const auto file = node.required_path("file");
        MER_CHECK(std::filesystem::is_regular_file(file), ConfigError, node.where("file"), ": '", node.key_path("file"),
                  "' = '", file.string(), "' is not a file (a module saved with torch.jit.save)");
        torch::jit::Module module;
        try {
          module = torch::jit::load(file.string());
        } catch (const c10::Error& e) {
          const std::string what = e.what();
          throw ConfigError(node.where("file") + ": '" + file.string() + "' is not a TorchScript module: " + what.substr(0, what.find('\n')));
        }
        const auto forward = module.find_method("forward");
        MER_CHECK(forward.has_value(), ConfigError, node.where("file"), ": TorchScript module '", file.string(), "' has no forward method");
        // forward's arguments after self name the preprocessing outputs it takes, in order.
        std::vector<std::string> arguments;
        for (const auto& a : forward->function().getSchema().arguments())
          if (a.name() != "self") arguments.push_back(a.name());
        for (const auto& a : arguments)
          MER_CHECK(spec.find(a) != nullptr, ConfigError, node.where("file"), ": forward(", fmt::format("{}", fmt::join(arguments, ", ")),
                    ") of '", file.string(), "' takes '", a, "', which the preprocessing does not produce (",
                    spec.describe_inputs(), "; ", spec.inputs_where, "): name forward's arguments after preprocess.outputs");
        if (spec.check_only) return nullptr;
        return std::make_unique<TorchScriptClassifier>(std::move(module), std::move(arguments), file.string());
      },
      "a network from Python (torch.jit.script or trace, saved with torch.jit.save): file: net.pt; forward's "
      "arguments are the preprocessing outputs it takes, by name; returns logits (or a tuple / dict with them)");
  info["torchscript"] = {"user", "your TorchScript file", ModelSpec{}, ""};
}

}  // namespace detail

}  // namespace mer
