#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/version.hpp>
#include <mer/data/frames.hpp>
#include <mer/eval/predictions.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/temporal.hpp>
#include <mer/train/predict.hpp>
#include <mer/train/trainer.hpp>

#include "detail/checkpoint.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>
#include <torch/serialize.h>
#include <torch/utils.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace mer {
namespace fs = std::filesystem;

namespace {

// A folder of numbered frames → the clip folder, its file-name pattern and its first and last number.
struct FrameFolder {
  std::string pattern;
  int first = 0, last = 0, count = 0;
};

FrameFolder scan_frames(const fs::path& dir) {
  MER_CHECK(fs::is_directory(dir), DataError, "frame folder '", dir.string(), "' does not exist");
  static const std::set<std::string> image_ext = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"};
  static const std::regex numbered(R"(^(.*?)(\d+)(\.[A-Za-z]+)$)");
  FrameFolder f;
  std::string prefix, ext;
  std::set<std::size_t> widths;
  bool padded = false;
  std::vector<int> numbers;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto lower = e.path().extension().string();
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!image_ext.count(lower)) continue;
    const auto name = e.path().filename().string();
    std::smatch m;
    MER_CHECK(std::regex_match(name, m, numbered), DataError, "frame folder '", dir.string(), "': '", name,
              "' has no frame number before its extension (expected e.g. img12.jpg)");
    if (numbers.empty()) prefix = m[1], ext = m[3];
    MER_CHECK(m[1] == prefix && m[3] == ext, DataError, "frame folder '", dir.string(), "' mixes frame names ('", prefix,
              "N", ext, "' and '", name, "'); give a folder of one clip's frames");
    widths.insert(m[2].length());
    padded = padded || (m[2].length() > 1 && m[2].str()[0] == '0');
    numbers.push_back(std::stoi(m[2]));
  }
  MER_CHECK(numbers.size() >= 2, DataError, "frame folder '", dir.string(), "' has ", numbers.size(),
            " numbered frame images; a clip needs at least 2 (onset and apex)");
  MER_CHECK(!padded || widths.size() == 1, DataError, "frame folder '", dir.string(),
            "' mixes zero-padded and unpadded frame numbers");
  f.pattern = prefix + (padded ? "{:0" + std::to_string(*widths.begin()) + "}" : std::string("{}")) + ext;
  f.first = *std::min_element(numbers.begin(), numbers.end());
  f.last = *std::max_element(numbers.begin(), numbers.end());
  f.count = static_cast<int>(numbers.size());
  return f;
}

int count_video_frames(const fs::path& file) {
  MER_CHECK(fs::is_regular_file(file), DataError, "video '", file.string(), "' does not exist");
  cv::VideoCapture cap(file.string());
  MER_CHECK(cap.isOpened(), DataError, "video '", file.string(), "' cannot be opened (not a video OpenCV can decode)");
  // Container frame counts are estimates for some codecs; counting the decodable frames is exact.
  int n = 0;
  while (cap.grab()) ++n;
  MER_CHECK(n >= 2, DataError, "video '", file.string(), "' has ", n, " decodable frames; a clip needs at least 2 (onset and apex)");
  return n;
}

bool has_stage(const ConfigNode& preprocess, const std::string& type) {
  for (const auto& s : preprocess.items("stages"))
    if (s.get<std::string>("type", "") == type) return true;
  return false;
}

// The largest face in `image` by dlib's HOG, then OpenCV's Haar and LBP cascades (as detect_face's default
// fallback chain), so a clip the run's preprocessing could read is not refused here.
std::optional<cv::Rect> find_face(const cv::Mat& image) {
  if (auto f = HogFaceDetector().detect_largest(image)) return cv::Rect(f->box);
  for (const auto& [file, params] : {std::pair{kHaarFrontalFace, haar_frontal_params()}, std::pair{kLbpFrontalFace, lbp_frontal_params()}}) {
    if (!fs::exists(file)) continue;
    if (auto f = CascadeFaceDetector(file, params).detect_largest(image)) return cv::Rect(f->box);
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

std::string yaml_section(const std::string& yaml, const std::string& key) {
  const auto node = YAML::Load(yaml);
  if (!node[key]) return "";
  YAML::Emitter e;
  e << node[key];
  return e.c_str();
}

LoadedCheckpoint load_checkpoint(const fs::path& file) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error&) {
    throw DataError("'" + file.string() + "' is not a libmer checkpoint (LibTorch cannot read it)");
  }
  c10::IValue spec_value, config_value, subjects;
  MER_CHECK(archive.try_read("mer.spec", spec_value) && archive.try_read("mer.config", config_value), DataError, "'",
            file.string(), "' is not a libmer checkpoint (no mer.spec / mer.config)");
  LoadedCheckpoint c;
  c.config = config_value.toStringRef();
  if (archive.try_read("mer.seen_subjects", subjects)) {
    c.records_subjects = true;
    c.seen_subjects = nlohmann::json::parse(subjects.toStringRef()).get<std::vector<std::string>>();
  }
  const auto j = nlohmann::json::parse(spec_value.toStringRef());
  c.spec.inputs.clear();
  for (const auto& in : j["inputs"])
    c.spec.inputs.push_back(InputSpec{in["name"].get<std::string>(), in["shape"].get<std::vector<std::int64_t>>(), in["vector_field"].get<bool>()});
  c.spec.num_classes = j["num_classes"].get<std::int64_t>();
  c.spec.num_action_units = j["num_action_units"].get<std::int64_t>();
  const auto config = Config::from_string(c.config, file.string() + " (mer.config)");
  c.model = std::shared_ptr<Classifier>(builtin_models().build(config.root().child("model"), c.spec));
  try {
    c.model->load(archive);
  } catch (const c10::Error& e) {
    const std::string what = e.what();
    throw ConfigError("checkpoint '" + file.string() + "' does not fit the model its config builds: " + what.substr(0, what.find('\n')));
  }
  return c;
}

}  // namespace detail

namespace {

// The run's classes, in its order: from its predictions (any finished fold has them); DataError before
// the first fold has finished.
std::vector<std::string> run_classes(const fs::path& run_dir) {
  fs::path preds = run_dir / "predictions.csv";
  if (!fs::exists(preds) && fs::is_directory(run_dir / "folds"))
    for (const auto& e : fs::directory_iterator(run_dir / "folds"))
      if (e.path().extension() == ".csv") preds = e.path();
  MER_CHECK(fs::exists(preds), DataError, "run folder '", run_dir.string(), "' has no predictions yet (no finished fold)");
  return predictions_classes(preds);
}

// The checkpoint files of a run: "fit_all", one fold (its name as in predictions.csv), or "" for every
// fold's; DataError naming the run folder and what is missing.
std::vector<std::string> run_checkpoints(const fs::path& run_dir, const std::string& model) {
  std::vector<std::string> files;
  if (model == "fit_all") {
    files.push_back((run_dir / "fit_all.pt").string());
    MER_CHECK(fs::exists(files.back()), DataError, "run folder '", run_dir.string(),
              "' has no fit_all.pt; train it with `mer train --fit-all` (or `mer report merge --fit-all`)");
  } else if (!model.empty()) {
    auto stem = model;
    std::replace(stem.begin(), stem.end(), '/', '_');
    files.push_back((run_dir / "folds" / (stem + ".pt")).string());
    MER_CHECK(fs::exists(files.back()), DataError, "run folder '", run_dir.string(), "' has no model of fold '", model,
              "' (", files.back(), "); fold names are those of predictions.csv");
  } else {
    if (fs::is_directory(run_dir / "folds"))
      for (const auto& e : fs::directory_iterator(run_dir / "folds"))
        if (e.path().extension() == ".pt") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    MER_CHECK(!files.empty(), DataError, "run folder '", run_dir.string(),
              "' kept no fold models (folds/*.pt; runtime.checkpoints was none, or auto with a model over 20 M parameters)");
  }
  return files;
}

}  // namespace

PredictResult predict_clip(const fs::path& run_dir, const PredictRequest& req, const RunContext& ctx) {
  const auto config_file = run_dir / "config.resolved.yaml";
  MER_CHECK(fs::exists(config_file), DataError, "'", run_dir.string(), "' is not a libmer run folder (no config.resolved.yaml)");
  const auto config_text = read_file(config_file);
  const auto config = Config::load(config_file);
  const auto root = config.root();
  MER_CHECK(req.video.empty() != req.frames.empty(), ValueError, "give exactly one of a video file or a frame folder");
  torch::set_num_threads(ctx.threads);

  PredictResult r;
  r.classes = run_classes(run_dir);

  r.models = run_checkpoints(run_dir, req.model);

  // The clip as a sample.
  SampleMeta s;
  s.dataset = "input";
  s.subject = "input";
  int first = 0, last = 0;
  if (!req.video.empty()) {
    s.video = req.video;
    s.clip = req.video.stem().string();
    last = count_video_frames(req.video) - 1;
  } else {
    const auto f = scan_frames(req.frames);
    s.clip_dir = req.frames;
    s.frame_pattern = f.pattern;
    s.clip = req.frames.filename().empty() ? req.frames.parent_path().filename().string() : req.frames.filename().string();
    first = f.first;
    last = f.last;
  }
  s.id = "input/" + s.clip;
  s.source = (req.video.empty() ? req.frames : req.video).string();
  s.onset = req.onset >= 0 ? req.onset : first;
  s.offset = req.offset >= 0 ? req.offset : last;
  MER_CHECK(s.onset >= first && s.offset <= last && s.onset < s.offset, ValueError, "onset ", s.onset, " and offset ",
            s.offset, " must satisfy ", first, " <= onset < offset <= ", last, " (the frames of ", s.source, ")");
  MER_CHECK(req.apex < 0 || (req.apex >= s.onset && req.apex <= s.offset), ValueError, "apex ", req.apex,
            " is outside onset..offset (", s.onset, "..", s.offset, ")");

  // A clip without a face is refused here, whatever the run's no_face policy: a prediction on a frame
  // without a face would be noise with a confident-looking probability.
  const cv::Mat onset_frame = with_context("reading frame " + std::to_string(s.onset) + " of " + s.source,
                                           [&] { return load_frame(s, s.onset, ColorMode::Color); });
  const auto face = find_face(onset_frame);
  MER_CHECK(face.has_value(), DataError, "no face found in the onset frame (", s.onset, ") of ", s.source,
            " by dlib HOG, Haar or LBP");
  const auto preprocess = root.child("preprocess");
  if (req.apex >= 0) {
    s.apex = req.apex;
    r.apex_from = "given";
  } else if (has_stage(preprocess, "apex_spot")) {
    r.apex_from = "spotted by the run's apex_spot stage";
  } else {
    std::vector<cv::Mat> frames;
    for (int t = s.onset; t <= s.offset; ++t) frames.push_back(load_frame(s, t, ColorMode::Gray));
    s.apex = s.onset + static_cast<int>(spot_apex(spotting_frames(frames, *face, 64), ApexSpotParams{}));
    r.apex_from = "spotted (frame difference in the face)";
  }

  // The run's preprocessing, uncached (the clip is not part of any dataset).
  const auto pipeline = Pipeline::from_config(preprocess, all_stages());
  RunContext pctx = ctx;
  pctx.cache_dir.clear();
  pctx.progress = ProgressStyle::None;
  const FeatureSet features = with_context("preprocessing " + s.source, [&] { return pipeline.run({s}, pctx); });
  MER_CHECK(features.size() == 1, DataError, "preprocessing left out ", s.source, ": ",
            features.skipped.empty() ? std::string("no reason given") : features.skipped.front().reason);
  r.onset = s.onset, r.offset = s.offset;
  r.apex = features.samples.front().apex >= 0 ? features.samples.front().apex : s.apex;

  const Trainer trainer(TrainerOptions::from_config(root.child("train")));
  const auto run_model = detail::yaml_section(config_text, "model");
  r.probabilities.assign(r.classes.size(), 0.0);
  for (const auto& file : r.models) {
    const auto c = detail::load_checkpoint(file);
    MER_CHECK(detail::yaml_section(c.config, "model") == run_model, ConfigError, "checkpoint '", file,
              "' holds another model than the run's (its model: section differs from ", config_file.string(), ")");
    MER_CHECK(c.spec.num_classes == static_cast<std::int64_t>(r.classes.size()), ConfigError, "checkpoint '", file, "' predicts ",
              c.spec.num_classes, " classes, the run ", r.classes.size());
    const auto shapes = feature_group_shapes(features);
    for (std::size_t g = 0; g < c.spec.inputs.size(); ++g)
      MER_CHECK(g < shapes.size() && shapes[g].first == c.spec.inputs[g].name && shapes[g].second == c.spec.inputs[g].shape,
                DataError, "the clip's features do not have the shapes checkpoint '", file, "' was trained on (input '",
                c.spec.inputs[g].name, "')");
    auto& model = c.model;
    const auto p = trainer.predict(*model, features, {0}, ctx).front();
    for (std::size_t c = 0; c < p.size(); ++c) r.probabilities[c] += p[c] / static_cast<double>(r.models.size());
  }
  r.predicted = r.classes[static_cast<std::size_t>(std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin())];
  return r;
}

std::string predict_result_json(const PredictResult& r) {
  nlohmann::json j;
  j["classes"] = r.classes;
  for (std::size_t c = 0; c < r.classes.size(); ++c) j["probabilities"][r.classes[c]] = r.probabilities[c];
  j["predicted"] = r.predicted;
  j["models"] = r.models;
  j["onset"] = r.onset, j["apex"] = r.apex, j["offset"] = r.offset;
  j["apex_from"] = r.apex_from;
  return j.dump(2) + "\n";
}

ExportResult export_torchscript(const fs::path& run_dir, const std::string& fold, const fs::path& out) {
  MER_CHECK(!fold.empty(), ValueError, "export needs one model: a fold name (as in predictions.csv) or fit_all");
  const auto config_file = run_dir / "config.resolved.yaml";
  MER_CHECK(fs::exists(config_file), DataError, "'", run_dir.string(), "' is not a libmer run folder (no config.resolved.yaml)");
  const auto config_text = read_file(config_file);
  ExportResult r;
  r.checkpoint = run_checkpoints(run_dir, fold).front();
  auto c = detail::load_checkpoint(r.checkpoint);
  Classifier& model = *c.model;
  model.eval();
  // Weights become constants of the traced graph: the tracer refuses to bake in tensors that require grad.
  for (auto& p : model.parameters()) p.set_requires_grad(false);

  // The inputs the model reads, in its order, each as one sample of the shape it was trained on.
  const auto& wanted = model.input_names();
  for (const auto& in : c.spec.inputs)
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), in.name) != wanted.end()) r.inputs.push_back(in);
  if (!wanted.empty()) {
    std::sort(r.inputs.begin(), r.inputs.end(), [&](const InputSpec& a, const InputSpec& b) {
      return std::find(wanted.begin(), wanted.end(), a.name) < std::find(wanted.begin(), wanted.end(), b.name);
    });
  }
  MER_CHECK(!r.inputs.empty(), InternalError, "checkpoint '", r.checkpoint, "' names no input group");
  std::vector<std::string> argument_names;
  torch::jit::Stack example;
  torch::manual_seed(0);
  for (const auto& in : r.inputs) {
    std::vector<std::int64_t> shape = {1};
    shape.insert(shape.end(), in.shape.begin(), in.shape.end());
    example.emplace_back(torch::randn(shape));
    // Python argument names: the group names, with anything but letters, digits and _ replaced.
    std::string arg = in.name;
    for (auto& ch : arg)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    if (arg.empty() || std::isdigit(static_cast<unsigned char>(arg[0]))) arg = "x_" + arg;
    argument_names.push_back(arg);
  }
  const auto call = [&](const torch::jit::Stack& stack) {
    NamedInputs named;
    for (std::size_t i = 0; i < r.inputs.size(); ++i) named.emplace_back(r.inputs[i].name, stack[i].toTensor());
    return model.forward(named).logits;
  };
  const auto traced = torch_boundary("tracing " + r.checkpoint, [&] {
    torch::NoGradGuard no_grad;
    return torch::jit::tracer::trace(
               example, [&](torch::jit::Stack stack) -> torch::jit::Stack { return {call(stack)}; },
               [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false,
               /*force_outplace=*/false, nullptr, argument_names)
        .first->graph;
  });
  // A module whose forward is the traced graph, as torch.jit.trace makes one in Python.
  torch::jit::Module module(c10::QualifiedName("__torch__.libmer.ExportedModel"));
  traced->insertInput(0, "self")->setType(module._ivalue()->type());
  auto* forward = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), traced);
  module.type()->addMethod(forward);
  fs::create_directories(fs::absolute(out).parent_path());
  const auto tmp = out.string() + ".tmp";
  torch_boundary("saving " + out.string(), [&] { module.save(tmp); });
  fs::rename(tmp, out);

  // The file as Python will load it must give libmer's probabilities: checked on fresh random inputs, so
  // a model whose behaviour depends on its input in ways tracing cannot record fails here, not for the user.
  auto loaded = torch::jit::load(out.string());
  torch::jit::Stack probe;
  for (const auto& v : example) probe.emplace_back(torch::randn(v.toTensor().sizes()));
  {
    torch::NoGradGuard no_grad;
    const auto ours = torch::softmax(call(probe), 1);
    const auto theirs = torch::softmax(loaded.forward(std::vector<c10::IValue>(probe.begin(), probe.end())).toTensor(), 1);
    r.max_difference = (ours - theirs).abs().max().item<double>();
  }
  if (!(r.max_difference <= 1e-5)) {
    fs::remove(out);
    throw InternalError(detail::concat("the traced model of ", r.checkpoint, " differs from libmer's by ", r.max_difference,
                                       " in probability on a random input (its forward depends on its input in a way"
                                       " tracing cannot record); not exported"));
  }

  // The sidecar: what the inputs are and how the run made them, so the model can be fed from Python.
  nlohmann::json j;
  j["checkpoint"] = r.checkpoint;
  j["fold"] = fold;
  j["libmer"] = version();
  j["model"] = detail::yaml_section(config_text, "model");
  j["classes"] = run_classes(run_dir);
  for (std::size_t i = 0; i < r.inputs.size(); ++i)
    j["inputs"].push_back({{"argument", argument_names[i]}, {"group", r.inputs[i].name}, {"shape", r.inputs[i].shape},
                           {"vector_field", r.inputs[i].vector_field}});
  j["output"] = "logits [N, classes]; softmax over dim 1 gives the probabilities in the order of 'classes'";
  j["preprocess"] = detail::yaml_section(config_text, "preprocess");
  j["traced_max_probability_difference"] = r.max_difference;
  r.sidecar = out.string() + ".json";
  write_file_atomic(r.sidecar, j.dump(2) + "\n");
  return r;
}

}  // namespace mer
