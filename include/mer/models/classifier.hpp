#pragma once
/// Classifier: the interface every recognition network implements (LibTorch).
///
/// A model takes the batch's input groups by name, each [N, ...group shape] (an image group [N, C, H, W],
/// a clip [N, T, C, H, W]), and returns emotion logits plus named auxiliary outputs that configured losses
/// consume (`au` logits for multi-label action units, `embedding` for metric losses, `domain` logits).
#include <mer/core/error.hpp>
#include <mer/models/model.hpp>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <mer/core/config.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mer {

/// The batch's input groups in pipeline order.
using NamedInputs = std::vector<std::pair<std::string, torch::Tensor>>;

/// The tensor of group `name`; ValueError naming the groups present when it is missing.
const torch::Tensor& input(const NamedInputs& inputs, const std::string& name);

struct ModelOutput {
  torch::Tensor logits;                         ///< [N, num_classes]
  std::map<std::string, torch::Tensor> aux;     ///< e.g. "au" [N, A], "embedding" [N, D]
};

class Classifier : public torch::nn::Module {
 public:
  virtual ModelOutput forward(const NamedInputs& inputs) = 0;
  /// The groups this model reads (the Trainer assembles only these); empty = every group.
  const std::vector<std::string>& input_names() const { return input_names_; }
  void set_input_names(std::vector<std::string> names) { input_names_ = std::move(names); }

 private:
  std::vector<std::string> input_names_;
};

/// A network on one C×H×W tensor: its input groups (input_names(), or every group given) concatenated
/// along channels in that order. Most published MER networks are of this kind (STSTNet's u, v, strain).
class ImageClassifier : public Classifier {
 public:
  using Classifier::forward;
  ModelOutput forward(const NamedInputs& inputs) override;
  /// x: [N, C, H, W] → logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

/// LibTorch errors are not libmer's: runs f and turns a c10::Error into an InternalError "LibTorch failed
/// while <what>: ...", keeping the message without LibTorch's C++ backtrace.
template <class F>
auto torch_boundary(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw InternalError(detail::concat("LibTorch failed while ", what, ": ", e.what_without_backtrace()));
  }
}

/// Number of trainable parameters.
std::int64_t count_parameters(const torch::nn::Module& module);

/// Checks a network's input tensor: `dims` sizes, -1 accepting any (the batch size is always free), e.g.
/// {-1, 3, 28, 28}. ValueError "<model> expects input [N, 3, 28, 28], got [..]" otherwise, so a shape
/// mistake never surfaces as an unexplained LibTorch error deep inside a layer.
void expect_shape(const torch::Tensor& x, const std::string& model, const std::vector<std::int64_t>& dims);

}  // namespace mer

namespace mer {

/// The model as a tree, one line per module: its path (as in checkpoints), type and trainable
/// parameters, then the outputs of one forward pass (eval mode, a batch of 2 random inputs of `spec`'s
/// shapes) — what `mer model summary` prints.
std::string describe_model(Classifier& model, const ModelSpec& spec);

}  // namespace mer

namespace mer {

/// Initial weights from a checkpoint, by parameter name (fine-tuning; survey §5.3):
///   model:
///     init:
///       checkpoint: runs/pre/fit_all.pt   # a libmer checkpoint (folds/<fold>.pt, fit_all.pt); "{fold}" in the
///                                         # path becomes the fold's file stem (runs/pre/folds/{fold}.pt);
///                                         # ${VAR} expands as in every path (${MER_MODELS}/faceapi_expression.pt)
///       strict: false                     # true: every model tensor must come from the checkpoint, and every
///                                         # checkpoint tensor must be used (skipped ones excepted)
///       skip: ["fc.*"]                    # globs: left as initialised (e.g. a head for other classes)
struct InitOptions {
  std::string checkpoint;
  bool strict = false;
  std::vector<std::string> skip;
  std::string where;  ///< the config line, for messages
  /// model.init, if present (ConfigError naming the line for a bad value).
  static std::optional<InitOptions> from_config(const ConfigNode& model_node);
};

struct InitReport {
  std::vector<std::string> loaded;   ///< model tensors (parameters and buffers) copied from the checkpoint
  std::vector<std::string> skipped;  ///< model tensors matching a skip pattern, left as initialised
  std::vector<std::string> missing;  ///< model tensors the checkpoint lacks, left as initialised
  std::vector<std::string> unused;   ///< checkpoint tensors no model tensor took
  /// libmer checkpoints: the subjects (group keys) whose samples trained or validated the model; empty for
  /// a checkpoint that does not say.
  std::vector<std::string> seen_subjects;
  bool records_subjects = false;
  std::string summary() const;  ///< "loaded 12, skipped 2 (fc.*), newly initialised 0, unused 0"
};

/// Copies the checkpoint's tensors into `model` by name. ConfigError naming both shapes when a tensor's shape
/// differs (unless skipped), naming the tensors under strict; DataError when the file is not a libmer
/// checkpoint.
InitReport load_initial_weights(Classifier& model, const std::filesystem::path& file, const InitOptions& options);

}  // namespace mer
