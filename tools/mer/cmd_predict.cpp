#include "commands.hpp"

#include <mer/core/error.hpp>
#include <mer/train/predict.hpp>

#include <cstdio>

namespace mer::cli {

void add_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Classify a clip (video or frame folder) with a finished run's saved models");
  auto run = std::make_shared<std::string>();
  auto req = std::make_shared<PredictRequest>();
  auto video = std::make_shared<std::string>();
  auto frames = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto threads = std::make_shared<int>(0);
  cmd->add_option("--run", *run, "Run folder (its config.resolved.yaml and folds/*.pt)")->required();
  auto* v = cmd->add_option("--video", *video, "Video file of the clip");
  auto* f = cmd->add_option("--frames", *frames, "Folder of the clip's numbered frames (img12.jpg, ...)");
  v->excludes(f);
  cmd->add_option("--onset", req->onset, "Onset frame (default: the first)");
  cmd->add_option("--apex", req->apex, "Apex frame (default: spotted)");
  cmd->add_option("--offset", req->offset, "Offset frame (default: the last)");
  cmd->add_option("--fold", req->model,
                  "Use this fold's model (a fold name of predictions.csv) or fit_all (the --fit-all model); "
                  "default: the mean of every fold's model");
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  cmd->add_option("-j,--threads", *threads, "Threads (0: all cores)");
  cmd->callback([run, req, video, frames, json, threads] {
    MER_CHECK(!video->empty() || !frames->empty(), ValueError, "give the clip: --video FILE or --frames DIR");
    req->video = *video;
    req->frames = *frames;
    RunContext ctx;
    ctx.threads = RunContext::resolve_threads(*threads);
    const auto r = predict_clip(*run, *req, ctx);
    if (*json) {
      std::fputs(predict_result_json(r).c_str(), stdout);
      return;
    }
    std::printf("%s  (frames %d..%d, apex %d %s; %zu model%s)\n", r.predicted.c_str(), r.onset, r.offset, r.apex,
                r.apex_from.c_str(), r.models.size(), r.models.size() == 1 ? "" : "s averaged");
    for (std::size_t c = 0; c < r.classes.size(); ++c) std::printf("  %-14s %.4f\n", r.classes[c].c_str(), r.probabilities[c]);
  });
}

// `mer export`: a run's model as TorchScript for Python (torch.jit.load), with a JSON sidecar saying how
// to feed it.
void add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a finished run's model as a TorchScript file (+ JSON sidecar) for Python");
  auto run = std::make_shared<std::string>();
  auto fold = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("--run", *run, "Run folder")->required();
  cmd->add_option("--fold", *fold, "The fold whose model to export (a fold name of predictions.csv), or fit_all")->required();
  cmd->add_option("--torchscript", *out, "Output file (.pt); the sidecar goes to <file>.json")->required();
  cmd->callback([run, fold, out] {
    const auto r = export_torchscript(*run, *fold, *out);
    std::printf("wrote %s (from %s; forward(", out->c_str(), r.checkpoint.c_str());
    for (std::size_t i = 0; i < r.inputs.size(); ++i) {
      std::string shape = "N";
      for (const auto d : r.inputs[i].shape) shape += "x" + std::to_string(d);
      std::printf("%s%s [%s]", i ? ", " : "", r.inputs[i].name.c_str(), shape.c_str());
    }
    std::printf(") -> logits; matches libmer within %.1e) and %s\n", r.max_difference, r.sidecar.c_str());
  });
}

}  // namespace mer::cli
