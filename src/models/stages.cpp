#include <mer/models/stages.hpp>

namespace mer {

void register_learn_stages(StageRegistry& registry) {
  registry.add(
      "magnify_model",
      [](const ConfigNode& c) { return make_magnify_model_stage(MagnifyModelOptions::from_config(c)); },
      "learning-based motion magnification of a clip with a TorchScript model (Oh et al. 2018) -> clip");
}

const StageRegistry& all_stages() {
  // Built once on first use and never modified afterwards, so sharing it between threads is safe.
  static const StageRegistry registry = [] {
    StageRegistry r("stage");
    register_builtin_stages(r);
    register_learn_stages(r);
    return r;
  }();
  return registry;
}

}  // namespace mer
