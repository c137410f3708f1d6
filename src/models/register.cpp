#include <mer/models/model.hpp>
#include <mer/models/ststnet.hpp>

#include <memory>

namespace mer {

void register_builtin_models(ModelRegistry& registry) {
  registry.add(
      "ststnet",
      [](const ConfigNode& node, const ModelSpec& spec) -> ModelRegistry::Product {
        return std::make_unique<STSTNetImpl>(STSTNetOptions::from_config(node, spec));
      },
      "Shallow Triple Stream 3D CNN (Liong et al., FG 2019): 3x28x28 u/v/strain input, 1,683 parameters");
}

const ModelRegistry& builtin_models() {
  // Built once on first use and never modified, so sharing it is not shared mutable state.
  static const ModelRegistry registry = [] {
    ModelRegistry r("models");
    register_builtin_models(r);
    return r;
  }();
  return registry;
}

}  // namespace mer
