#pragma once
/// Preprocessing stages that need LibTorch, and the registry of every stage (built-in + these).
/// Torch-free header: the CLI lists stages without paying for LibTorch headers.
///
/// magnify_model: learning-based motion magnification (oh2018learning) with a user-supplied TorchScript
/// model, on a clip (the sequence "clip" of {type: frames, clip: true}):
///
///   - {type: frames, frames: [onset, apex], color: color, clip: true}
///   - {type: magnify_model, model: "${MODELS}/magnet.pt", alpha: 10, reference: first}
///
/// Model contract (what the TorchScript module's forward must accept and return):
///   forward(reference, frame, alpha) -> magnified frame
///   reference, frame: float32 tensors 1x3xHxW, RGB, values in [-1, 1] (8-bit v -> v / 127.5 - 1; float
///                     frames are taken to be in [0, 1] -> 2 v - 1; gray frames are repeated to 3 channels)
///   alpha:            float32 tensor 1x1x1x1, the amplification factor
///   returns:          a float tensor 1x3xHxW in [-1, 1] (values outside are clipped), or a tuple/list whose
///                     first element is that tensor (Oh et al.'s network also returns its representations).
/// Frame 0 is passed through unchanged; frame t > 0 is forward(reference_t, frame_t, alpha) with
/// reference_t = frame 0 (reference: first, the paper's static mode) or input frame t-1 (reference:
/// previous, the paper's dynamic mode, which magnifies frame-to-frame velocity). The output has the
/// input's size, channel count and depth (8-bit stays 8-bit; gray output is the model's RGB converted to gray).
#include <mer/core/config.hpp>
#include <mer/preprocess/stage.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace mer {

struct MagnifyModelOptions {
  /// TorchScript file (torch.jit.save / torch::jit::Module::save); ${VAR} is expanded.
  std::filesystem::path model;
  /// Amplification factor passed to the model.
  double alpha = 10.0;
  /// "first" (static mode: every frame against frame 0) or "previous" (dynamic mode: against frame t-1).
  std::string reference = "first";
  /// "cpu" or "cuda" (cuda must be available when the stage is built).
  std::string device = "cpu";
  /// The sequence magnified; the sequence written (empty = replace `sequence`).
  std::string sequence = "clip";
  std::string output = "";
  /// Reads the options; ConfigError naming node.where(key) for a missing model file or a bad value.
  static MagnifyModelOptions from_config(const ConfigNode& node);
};
/// Loads the model (torch::jit::load). ConfigError naming the file when it cannot be loaded.
std::unique_ptr<Stage> make_magnify_model_stage(MagnifyModelOptions options);

/// Adds magnify_model.
void register_learn_stages(StageRegistry& registry);
/// builtin_stages() plus register_learn_stages(), built once on first use: what experiments and
/// `mer list stages` use.
const StageRegistry& all_stages();

}  // namespace mer
