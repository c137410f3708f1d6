#pragma once
/// Models are built by name for the data they will see: the pipeline's named outputs (each group with its
/// own per-sample shape) and the class count. This header is Torch-free so the CLI and the experiment can
/// list and check models without paying for LibTorch headers; models/classifier.hpp has the Torch side.
///
/// Every model reads the groups it needs by name from its config, e.g.
///   model: {type: ststnet, inputs: [flow, strain]}          # stacked along channels: u, v, strain
///   model: {type: multi_stream, streams: [{input: apex, ...}, {input: flow, ...}]}
/// and a name the preprocessing does not produce is a ConfigError naming both config lines, raised while
/// the experiment is built (ModelSpec::check_only), before any frame is read.
#include <mer/core/registry.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mer {

/// One named network input as the data provides it.
struct InputSpec {
  std::string name;
  /// Per-sample shape: {C, H, W} for an image group, {T, C, H, W} for a sequence (a clip), {K, 2} for
  /// points. Empty while only the name is known (check_only).
  std::vector<std::int64_t> shape;
  /// (u, v) displacement fields: flips and rotations must transform the vectors.
  bool vector_field = false;
  bool is_image() const { return shape.size() == 3; }
  bool is_sequence() const { return shape.size() == 4; }
};

/// What the data dictates about a model.
struct ModelSpec {
  /// The pipeline's outputs in pipeline order.
  std::vector<InputSpec> inputs = {{"input", {3, 28, 28}, false}};
  std::int64_t num_classes = 3;
  /// Size of the action-unit vocabulary of the training fold (multi-task AU heads); 0 when unknown.
  std::int64_t num_action_units = 0;
  /// Where the inputs come from in the config ("casme2.yaml:14"), for messages.
  std::string inputs_where;
  /// Read and check every option and input name, build nothing (the factory returns nullptr): how the
  /// experiment validates a model before preprocessing, when only the output names are known.
  bool check_only = false;

  /// One image group called "input" of C×H×W.
  static ModelSpec image(std::int64_t channels, std::int64_t height, std::int64_t width, std::int64_t num_classes);
  /// The group called `name`, or nullptr.
  const InputSpec* find(const std::string& name) const;
  /// "flow [2x28x28], strain [1x28x28]" (names only while shapes are unknown).
  std::string describe_inputs() const;
};

/// The input groups named by `node[key]` (a list of names, or one name), checked against `spec`: a name
/// the data does not provide is a ConfigError naming node.where(key), the known groups and where they are
/// configured. Absent key: `fallback` (empty fallback = every group in pipeline order).
std::vector<std::string> select_inputs(const ConfigNode& node, const std::string& key, const ModelSpec& spec,
                                       const std::vector<std::string>& fallback = {});

/// Groups stacked along channels into one C×H×W tensor, the input of single-tensor networks (STSTNet's
/// u, v, strain). Reads `inputs` from `node` (default: every group). Unless spec.check_only, the groups
/// must be images of one H×W: anything else is a ConfigError naming the model and the offending group.
struct StackedInput {
  std::vector<std::string> names;
  std::int64_t channels = 0, height = 0, width = 0;
};
StackedInput stacked_input(const ConfigNode& node, const ModelSpec& spec);

class Classifier;  // models/classifier.hpp
using ModelRegistry = Registry<Classifier, const ModelSpec&>;

/// What `mer list models` shows beside a registered name.
struct ModelInfo {
  std::string family;     ///< single_stream, multi_stream, cascaded, multi_task
  std::string reference;  ///< the repository / paper it follows, as in its header
  /// The reference configuration: the input it was published for, 3 classes, and the model options
  /// (YAML) that build it; parameter counts in listings and tests are taken there.
  ModelSpec spec;
  std::string config = "{}";  ///< empty: no reference configuration (torchscript: the user's own file)
};

/// Adds every built-in model and preset (ststnet, off_apexnet, rcn_a, resnet18, htnet, single_stream, ...).
void register_builtin_models(ModelRegistry& registry);
const ModelRegistry& builtin_models();
/// Facts about a built-in model for listings; throws RegistryError for an unknown name.
const ModelInfo& builtin_model_info(const std::string& name);
/// Trainable parameters of the built-in model `name` in its reference configuration (builds it).
std::int64_t reference_parameters(const std::string& name);

}  // namespace mer
