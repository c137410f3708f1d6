#pragma once
// A libmer checkpoint (folds/<fold>.pt, fit_all.pt) read back as a model: what `mer predict` and a
// distillation teacher need. Written by Experiment::run (save_checkpoint in experiment.cpp).
#include <mer/models/classifier.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mer::detail {

struct LoadedCheckpoint {
  std::shared_ptr<Classifier> model;  ///< built from the checkpoint's own model config, weights loaded
  ModelSpec spec;
  std::string config;                 ///< the resolved config of the run that trained it
  std::vector<std::string> seen_subjects;
  bool records_subjects = false;
};

/// DataError when the file is not a libmer checkpoint; ConfigError when its weights do not fit the model
/// its own config builds.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& file);

/// The YAML of one top-level section ("model", "preprocess") of a config text, "" if absent: to compare
/// what two runs' configs say about one thing.
std::string yaml_section(const std::string& yaml, const std::string& key);

}  // namespace mer::detail
