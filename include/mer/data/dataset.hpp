#pragma once
/// Dataset: an annotated collection of clips read from a dataset's native layout.
///
/// An adapter reads the annotation table, applies the label map and quirk policies, and exposes
/// SampleMeta records whose frame paths follow the native layout. Frames are read on demand
/// (data/frames.hpp), never all at once.
///
///   dataset:
///     type: casme2
///     root: ${MER_DATA_ROOT}/CASME2
///     labels: {classes: [...], map: {...}}
#include <mer/core/config.hpp>
#include <mer/core/registry.hpp>
#include <mer/meta/label_map.hpp>
#include <mer/meta/sample.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mer {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  /// Samples kept after the label map and quirk policies, in table order.
  virtual const std::vector<SampleMeta>& samples() const = 0;
  virtual const LabelMap& labels() const = 0;
  /// Rows left out while loading (label not in the map, policy skip), with reasons.
  virtual const std::vector<SkipRecord>& excluded() const = 0;
};

using DatasetRegistry = Registry<Dataset>;
/// Adds every built-in adapter (casme, casme2, casme_sq, casme3, mmew, samm, smic, smic_e, megc2019, manifest); `mer list datasets` prints them.
void register_builtin_datasets(DatasetRegistry& registry);
const DatasetRegistry& builtin_datasets();

}  // namespace mer
