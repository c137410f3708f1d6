#pragma once
/// Classifying a new clip with a finished run's saved models (`mer predict`): the clip goes through the
/// run's own preprocessing (from its config.resolved.yaml), then through one fold's model, the all-data
/// model (fit_all.pt) or every fold's model with their probabilities averaged.
///
/// Torch-free on purpose: the CLI includes this header only.
#include <mer/core/run_context.hpp>
#include <mer/models/model.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct PredictRequest {
  /// Exactly one: a video file (frames are 0-based indices into it) or a folder of numbered frame images
  /// (img12.jpg, 006_00051.jpg, ...: one common prefix and extension, a frame number between).
  std::filesystem::path video, frames;
  /// Frame numbers; < 0: onset = the first frame, offset = the last, and the apex spotted — by the run's
  /// apex_spot stage when its preprocessing has one, otherwise by frame differences inside the face
  /// detected in the onset frame (as the apex_spot stage does with region: face).
  int onset = -1, apex = -1, offset = -1;
  /// Which saved model: a fold's name (as in predictions.csv, e.g. "casme2/sub01"), "fit_all" (the
  /// `--fit-all` model), or "" for the mean of every fold's model.
  std::string model;
};

struct PredictResult {
  std::vector<std::string> classes;
  std::vector<double> probabilities;  ///< one per class, summing to 1
  std::string predicted;              ///< the most probable class
  std::vector<std::string> models;    ///< the checkpoint files used
  int onset = -1, apex = -1, offset = -1;
  std::string apex_from;              ///< "given", "spotted by the run's apex_spot stage", "spotted (frame difference in the face)"
};

/// DataError for a clip that cannot be classified (unreadable video, no face, too few frames, a frame folder
/// without numbered images) or a run without checkpoints; ConfigError for a checkpoint that holds a model
/// other than the run's. Each message names the file.
PredictResult predict_clip(const std::filesystem::path& run_dir, const PredictRequest& request, const RunContext& ctx);

/// What `mer export` wrote.
struct ExportResult {
  std::string checkpoint;          ///< the model exported
  std::vector<InputSpec> inputs;   ///< the forward's arguments, in order (per-sample shapes)
  std::string sidecar;             ///< <out>.json
  double max_difference = 0;       ///< probabilities of the saved file against libmer's, on a random input
};

/// Writes one of a run's models (a fold's, or "fit_all") as a traced TorchScript file that Python loads
/// with torch.jit.load: forward(<one tensor per input group, [N, ...shape]>) -> logits. Beside it
/// <out>.json names the classes, the inputs (argument, group, shape) and the run's preprocessing section.
/// The saved file is loaded back and checked against libmer's own forward (probabilities within 1e-5 on a
/// random input), else InternalError and nothing is kept. DataError for a missing run, fold or checkpoint.
ExportResult export_torchscript(const std::filesystem::path& run_dir, const std::string& fold,
                                const std::filesystem::path& out);

/// The result as JSON: {"classes": [...], "probabilities": {class: p}, "predicted", "models", "onset",
/// "apex", "offset", "apex_from"}.
std::string predict_result_json(const PredictResult& r);

}  // namespace mer
