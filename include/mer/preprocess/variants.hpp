#pragma once
/// Pipeline variants: the base preprocessing again with a few stage options changed. Each variant's
/// features are extra copies of the samples, which an experiment adds to its TRAINING folds only
/// (multi-ratio magnification, TIM lengths, another flow algorithm, ...):
///
///   preprocess:
///     stages: [...]
///     variants:
///       - {name: mag5, set: {magnify.alpha: 5}}       # <stage type>.<option>: the first stage of that type
///       - {name: mag20, set: {magnify.alpha: 20}}
///
/// A variant is built through the same Pipeline::from_config as the base, so every stage check runs on the
/// changed options; it is cached under its own fingerprint.
#include <mer/core/config.hpp>
#include <mer/preprocess/pipeline.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mer {

/// One `preprocess.variants` entry as written, its keys resolved to stage indices.
struct VariantSpec {
  std::string name;
  std::string where;                   ///< file:line of the entry, for messages
  std::vector<std::string> overrides;  ///< "preprocess.stages[<i>].<option>=<value>"
};

/// A built variant: the config copy its pipeline was read from (kept alive with it) and the pipeline.
struct PipelineVariant {
  std::string name, where;
  Config config;
  std::unique_ptr<Pipeline> pipeline;
};

/// Reads `variants` under the preprocess node (so it counts as used). ConfigError with the entry's line for
/// a bad or duplicate name, an empty `set`, a key that is not <stage type>.<option>, a stage type the
/// pipeline lacks (with "did you mean") or an attempt to change a stage's type.
std::vector<VariantSpec> read_variant_specs(const ConfigNode& preprocess);

/// Builds every variant from `written` (the config document as written, i.e. Config::dump() before any
/// reader filled in defaults, so switching e.g. flow.algorithm does not inherit the other algorithm's
/// filled-in options) with its overrides, through `registry`. ConfigError naming the variant for an
/// unknown option or bad value, and for a variant whose pipeline equals the base's or another variant's.
std::vector<PipelineVariant> build_variants(const std::string& written, const std::vector<VariantSpec>& specs,
                                            const Pipeline& base, const StageRegistry& registry);

}  // namespace mer
