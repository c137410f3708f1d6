#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>
#include "detail/zoo.hpp"
#include <mer/models/model.hpp>
#include <mer/models/ststnet.hpp>

#include <map>
#include <memory>

namespace mer {

namespace {

std::map<std::string, ModelInfo>& info_table() {
  static std::map<std::string, ModelInfo> table;
  return table;
}

void register_all(ModelRegistry& registry, std::map<std::string, ModelInfo>& info) {
  registry.add(
      "ststnet",
      [](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        auto options = STSTNetOptions::from_config(node, spec);
        if (spec.check_only) return nullptr;
        return std::make_unique<STSTNetImpl>(options);
      },
      "Shallow Triple Stream 3D CNN (Liong et al., FG 2019): 3x28x28 u/v/strain input, 1,683 parameters");
  info["ststnet"] = {"multi_stream", "christy1206/STSTNet main.py", ModelSpec::image(3, 28, 28, 3), "{type: ststnet}"};
  detail::register_presets(registry, info);
  detail::register_families(registry, info);
  detail::register_torchscript_model(registry, info);
  detail::register_face_expression_net(registry, info);
}

}  // namespace

void register_builtin_models(ModelRegistry& registry) {
  std::map<std::string, ModelInfo> ignored;
  register_all(registry, ignored);
}

const ModelRegistry& builtin_models() {
  // Built once on first use and never modified, so sharing it is not shared mutable state.
  static const ModelRegistry registry = [] {
    ModelRegistry r("models");
    register_all(r, info_table());
    return r;
  }();
  return registry;
}

const ModelInfo& builtin_model_info(const std::string& name) {
  builtin_models();
  const auto it = info_table().find(name);
  if (it == info_table().end()) throw RegistryError("no built-in model named '" + name + "'");
  return it->second;
}

std::int64_t reference_parameters(const std::string& name) {
  const auto& info = builtin_model_info(name);
  const auto config = Config::from_string("model: " + info.config, "reference config of " + name);
  const auto model = builtin_models().build(config.root().child("model"), info.spec);
  return count_parameters(*model);
}

}  // namespace mer
