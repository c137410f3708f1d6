#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/face_expression_net.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/train/trainer.hpp>

#include <cstdio>

namespace mer::cli {

namespace {

struct ModelArgs {
  ConfigArgs config;
  std::string model;                // a type or inline YAML, without --config
  std::vector<std::string> inputs;  // name=CxHxW
  int classes = 3;
};

// "flow=2x28x28" → {"flow", {2, 28, 28}}
InputSpec parse_input(const std::string& text) {
  const auto eq = text.find('=');
  MER_CHECK(eq != std::string::npos && eq > 0, ConfigError, "--input '", text, "' must be NAME=CxHxW (or TxCxHxW)");
  InputSpec in{text.substr(0, eq), {}, false};
  std::string rest = text.substr(eq + 1);
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    const auto x = rest.find('x', pos);
    const auto part = rest.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    try {
      in.shape.push_back(std::stoll(part));
    } catch (const std::exception&) {
      throw ConfigError("--input '" + text + "': '" + part + "' is not a size");
    }
    MER_CHECK(in.shape.back() > 0, ConfigError, "--input '", text, "': sizes must be > 0");
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  MER_CHECK(in.shape.size() == 3 || in.shape.size() == 4, ConfigError, "--input '", text,
            "' needs 3 sizes (CxHxW) or 4 (TxCxHxW)");
  return in;
}

}  // namespace

void add_model(CLI::App& app) {
  auto* cmd = app.add_subcommand("model", "Inspect models, import pretrained weights");
  cmd->require_subcommand(1);
  auto* summary = cmd->add_subcommand(
      "summary", "The model's layer tree with parameters and its outputs, for a config's actual inputs (from the "
                 "first sample of its dataset) or for --model with --input shapes");
  auto a = std::make_shared<ModelArgs>();
  summary->add_option("--config", a->config.config, "Experiment config (YAML)");
  summary->add_option("--set", a->config.set, "Override a config value: a.b=value (repeatable)");
  summary->add_option("--model", a->model, "A model type or inline YAML ({type: multi_stream, ...}) instead of --config");
  summary->add_option("--input", a->inputs, "An input group NAME=CxHxW or NAME=TxCxHxW (with --model; repeatable)");
  summary->add_option("--classes", a->classes, "Number of classes (with --model)")->capture_default_str();
  summary->callback([a] {
    ModelSpec spec;
    spec.inputs.clear();
    Config config = Config::from_string("{}");
    ConfigNode node = config.root();
    if (!a->config.config.empty()) {
      MER_CHECK(a->model.empty() && a->inputs.empty(), ConfigError, "give either --config or --model with --input");
      config = Config::load(a->config.config, a->config.overrides());
      const auto root = config.root();
      // The shapes come from preprocessing one real sample exactly as a run would.
      const auto pipeline = Pipeline::from_config(root.child("preprocess"), all_stages());
      const auto dataset = builtin_datasets().build(root.child("dataset"));
      MER_CHECK(!dataset->samples().empty(), DataError, "the dataset of ", a->config.config, " has no sample");
      RunContext ctx;
      ctx.threads = 1;
      ctx.progress = ProgressStyle::None;
      const auto features = pipeline.run({dataset->samples().front()}, ctx);
      MER_CHECK(features.size() == 1, DataError, "preprocessing the first sample (", dataset->samples().front().id,
                ") failed; run mer preprocess for details");
      for (const auto& [name, shape] : feature_group_shapes(features)) spec.inputs.push_back(InputSpec{name, shape, false});
      spec.num_classes = dataset->labels().num_classes();
      spec.num_action_units = static_cast<std::int64_t>(training_action_units(features, {0}).size());
      node = root.child("model");
    } else {
      MER_CHECK(!a->model.empty() && !a->inputs.empty(), ConfigError,
                "give --config, or --model with at least one --input NAME=CxHxW");
      const std::string yaml = a->model.find('{') == std::string::npos ? "{type: " + a->model + "}" : a->model;
      config = Config::from_string("model: " + yaml, "--model");
      node = config.root().child("model");
      for (const auto& t : a->inputs) spec.inputs.push_back(parse_input(t));
      spec.num_classes = a->classes;
      spec.num_action_units = 12;
    }
    auto model = builtin_models().build(node, spec);
    std::fputs(describe_model(*model, spec).c_str(), stdout);
  });

  auto* faceapi = cmd->add_subcommand(
      "import-faceapi",
      "Convert face-api's FER-pretrained face_expression_model (npm @vladmandic/face-api, tfjs weights) into a "
      "libmer checkpoint for model.init of face_expression_net (docs/model-zoo.md)");
  auto weights = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  faceapi->add_option("--weights", *weights, "The package's model/ folder or its face_expression_model-weights_manifest.json")
      ->required();
  faceapi->add_option("--out", *out, "The checkpoint to write (.pt)")->required();
  faceapi->callback([weights, out] {
    const auto r = import_faceapi_expression(*weights, *out);
    std::printf("imported %lld tensors (%lld stored quantised), %lld parameters from %s\nwrote %s\n",
                static_cast<long long>(r.tensors), static_cast<long long>(r.quantised), static_cast<long long>(r.parameters),
                r.manifest.string().c_str(), out->c_str());
  });
}

}  // namespace mer::cli
