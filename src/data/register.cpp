#include <mer/data/casme2.hpp>
#include <mer/data/dataset.hpp>

namespace mer {

void register_builtin_datasets(DatasetRegistry& registry) {
  registry.add(
      "casme2",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<Casme2Dataset>(Casme2Options::from_config(node));
      },
      "CASME II in its native layout (CASME2_RAW_selected or Cropped + the coding table as CSV)");
}

}  // namespace mer
