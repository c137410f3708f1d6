#include <mer/data/dataset.hpp>

namespace mer {

const DatasetRegistry& builtin_datasets() {
  // Filled once, on first use, and never changed afterwards: shared read-only state, not a global
  // that components mutate.
  static const DatasetRegistry registry = [] {
    DatasetRegistry r("datasets");
    register_builtin_datasets(r);
    return r;
  }();
  return registry;
}

}  // namespace mer
