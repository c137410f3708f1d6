#pragma once
/// Models are built by name for a given input shape and class count. This header is Torch-free so the
/// CLI can list models without paying for LibTorch headers; models/classifier.hpp has the Torch side.
#include <mer/core/registry.hpp>

#include <cstdint>

namespace mer {

/// What the data dictates about a model: input C×H×W and the number of classes.
struct ModelSpec {
  std::int64_t in_channels = 3, height = 28, width = 28, num_classes = 3;
};

class Classifier;  // models/classifier.hpp
using ModelRegistry = Registry<Classifier, const ModelSpec&>;

/// Adds ststnet.
void register_builtin_models(ModelRegistry& registry);
const ModelRegistry& builtin_models();

}  // namespace mer
