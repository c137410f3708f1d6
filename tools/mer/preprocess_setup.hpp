#pragma once
// What `mer preprocess`, `mer bench preprocess` and `mer cache prune --keep-config` read from an experiment
// config: the runtime, preprocess and (optionally) dataset sections. The model, train and protocol
// sections are not read, so a config whose model is still being written can already be preprocessed;
// a typo inside the sections read is still an error.
#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/data/dataset.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/variants.hpp>
#include <mer/train/experiment.hpp>

#include <memory>

namespace mer::cli {

struct PreprocessSetup {
  Config config;
  RuntimeOptions runtime;
  std::unique_ptr<Pipeline> pipeline;
  std::vector<PipelineVariant> variants;  ///< preprocess.variants, built like the base pipeline
  std::unique_ptr<Dataset> dataset;  ///< null when loaded without the dataset
};

/// Loads `args.config` with its overrides; builds the pipeline and its variants through the registry of
/// every stage (all_stages()) and, when `with_dataset`, the dataset (which reads its table).
PreprocessSetup load_preprocess_setup(const ConfigArgs& args, bool with_dataset);

/// The runtime cache_dir of a config without one: the default of RuntimeOptions (${HOME}/.cache/mer/features).
std::filesystem::path default_cache_dir();

}  // namespace mer::cli
