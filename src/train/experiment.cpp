#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/rng.hpp>
#include <mer/core/version.hpp>
#include <mer/data/dataset.hpp>
#include <mer/eval/folds.hpp>
#include <mer/eval/megc_log.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/meta/table.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/pipeline.hpp>
#include <mer/preprocess/variants.hpp>
#include <mer/train/experiment.hpp>
#include <mer/train/trainer.hpp>

#include "detail/checkpoint.hpp"
#include <mer/viz/confusion_plot.hpp>
#include <mer/viz/curves_plot.hpp>

#include <dlib/revision.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>
#include <opencv2/core/version.hpp>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/serialize.h>
#include <torch/version.h>

#include <algorithm>
#include <functional>
#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <unordered_map>

namespace mer {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- runtime

RuntimeOptions RuntimeOptions::from_config(const ConfigNode& node) {
  RuntimeOptions o;
  o.seed = node.get<std::uint64_t>("seed", o.seed);
  o.threads = node.get<int>("threads", o.threads);
  o.device = node.get<std::string>("device", o.device);
  o.runs_dir = node.get_path("runs_dir", o.runs_dir.string());
  o.cache_dir = node.get_path("cache_dir", "${HOME}/.cache/mer/features");
  o.progress = node.get<std::string>("progress", o.progress);
  o.checkpoints = node.get_choice("checkpoints", o.checkpoints, {"auto", "all", "none"});
  o.workers = node.get<int>("workers", o.workers);
  MER_CHECK(o.workers >= 0 && o.workers <= 256, ConfigError, node.where("workers"), ": runtime.workers must be in 0..256, got ", o.workers);
  MER_CHECK(o.device == "cpu" || o.device == "cuda", ConfigError, node.where("device"),
            ": runtime.device must be cpu or cuda, got '", o.device, "'");
  MER_CHECK(o.device == "cpu" || torch::cuda::is_available(), ConfigError, node.where("device"),
            ": runtime.device is cuda but no CUDA device is available");
  with_context("reading runtime.progress at " + node.where("progress"), [&] { parse_progress_style(o.progress); });
  return o;
}

int RuntimeOptions::resolved_workers(int folds) const {
  if (device != "cpu" || folds <= 1) return 1;
  const int cores = RunContext::resolve_threads(threads);
  return std::max(1, std::min(workers == 0 ? cores : workers, folds));
}

RunContext RuntimeOptions::context() const {
  RunContext ctx;
  ctx.threads = RunContext::resolve_threads(threads);
  ctx.seed = seed;
  ctx.device = device;
  ctx.cache_dir = cache_dir;
  ctx.progress = parse_progress_style(progress);
  return ctx;
}

// ---------------------------------------------------------------- pipeline variants

namespace {

// Runs every variant over the dataset and appends its copies of the base's samples to `features` (after
// the base samples, whose indices the folds use). Returns, per base sample, the indices of its copies.
std::vector<std::vector<std::size_t>> append_variants(FeatureSet& features, const std::vector<PipelineVariant>& variants,
                                                      const std::vector<SampleMeta>& samples, const RunContext& ctx) {
  std::vector<std::vector<std::size_t>> copies(features.size());
  if (variants.empty()) return copies;
  std::unordered_map<std::string, std::size_t> base_index;
  for (std::size_t i = 0; i < features.size(); ++i) base_index.emplace(features.samples[i].id, i);
  const auto shape = [](const FeatureSet& f) {
    return detail::concat(f.channels, "x", f.height, "x", f.width, " (", fmt::format("{}", fmt::join(f.channel_names, ", ")),
                          ")");
  };
  for (const auto& v : variants) {
    auto vf = with_context("preprocessing variant '" + v.name + "'", [&] { return v.pipeline->run(samples, ctx); });
    if (vf.size() == 0) {
      logger()->warn("preprocess variant '{}': no sample survived ({} skipped); it adds nothing", v.name,
                     vf.skipped.size());
      continue;
    }
    MER_CHECK(vf.channels == features.channels && vf.height == features.height && vf.width == features.width &&
                  vf.channel_names == features.channel_names,
              ConfigError, v.where, ": preprocess variant '", v.name, "' gives features of ", shape(vf),
              " but the base pipeline's are ", shape(features), "; a variant must keep the network input's shape");
    std::size_t added = 0;
    for (std::size_t j = 0; j < vf.size(); ++j) {
      // A sample the base pipeline skipped is in no fold, so its copy has nothing to join.
      const auto it = base_index.find(vf.samples[j].id);
      if (it == base_index.end()) continue;
      SampleMeta s = vf.samples[j];
      s.id += "#" + v.name;
      copies[it->second].push_back(features.size());
      features.samples.push_back(std::move(s));
      features.inputs.push_back(std::move(vf.inputs[j]));
      ++added;
    }
    logger()->info("preprocess variant '{}': {} sample copies ({} from cache, {} skipped by the variant)", v.name,
                   added, vf.cache_hits, vf.skipped.size());
  }
  return copies;
}

std::string describe_augmentation(const AugmentOptions& a, const std::vector<PipelineVariant>& variants) {
  std::vector<std::string> parts;
  if (a.hflip > 0) parts.push_back(fmt::format("hflip {}", a.hflip));
  if (a.rotate_deg > 0) parts.push_back(fmt::format("rotate ±{} deg", a.rotate_deg));
  if (a.crop[0] < 1) parts.push_back(fmt::format("crop area [{}, {}]", a.crop[0], a.crop[1]));
  if (a.translate_px > 0) parts.push_back(fmt::format("translate ±{} px", a.translate_px));
  if (a.brightness > 0) parts.push_back(fmt::format("brightness ±{}", a.brightness));
  if (a.contrast > 0) parts.push_back(fmt::format("contrast ±{}", a.contrast));
  if (a.brightness > 0 || a.contrast > 0) parts.push_back(fmt::format("on {}", fmt::join(a.photometric_groups, ", ")));
  if (a.noise_std > 0) parts.push_back(fmt::format("noise std {}", a.noise_std));
  for (const auto& v : variants) parts.push_back("variant " + v.name);
  return fmt::format("augmentation (training samples only): {}", fmt::join(parts, ", "));
}

}  // namespace

// ---------------------------------------------------------------- experiment

struct Experiment::State {
  Config config;
  std::string name;
  RuntimeOptions runtime;
  std::unique_ptr<Dataset> dataset;
  std::unique_ptr<Pipeline> pipeline;
  std::string protocol_name;
  std::unique_ptr<Protocol> protocol;
  ConfigNode model_node;
  std::string model_type;
  TrainerOptions train;
  std::vector<PipelineVariant> variants;
  /// protocol.select_on_test: also report the optimistic numbers (epoch chosen per fold on its test data).
  bool select_on_test = false;
  /// protocol.repeats: the whole protocol run this many times with derived seeds.
  int repeats = 1;
  /// model.init: each fold's model starts from a checkpoint's weights.
  std::optional<InitOptions> init;
  /// pretrain: a dataset (e.g. macro-expressions) the model is first trained on, with its own schedule.
  std::unique_ptr<Dataset> pretrain_dataset;
  std::optional<TrainerOptions> pretrain_train;
  /// protocol.transductive (cross-database only): the test database's samples, unlabelled, join the
  /// domain losses during training.
  bool transductive = false;
};

namespace {
const char* const kOptimisticStamp = "optimistic: epochs chosen on the test subject";
const char* const kTransductiveStamp =
    "transductive: the test database's samples were used, without their labels, by the domain losses in training";
}

Experiment::Experiment(std::unique_ptr<State> state) : state_(std::move(state)) {}
Experiment::~Experiment() = default;
Experiment::Experiment(Experiment&&) noexcept = default;
const std::string& Experiment::name() const { return state_->name; }
const RuntimeOptions& Experiment::runtime() const { return state_->runtime; }
// The name goes into the resolved config, so that the file alone rebuilds the same experiment (`mer report
// merge`, `mer predict`, `mer train --config run/config.resolved.yaml`).
std::string Experiment::resolved_config() const {
  const auto& st = *state_;
  return st.config.root().has("name") ? st.config.dump() : "name: " + nlohmann::json(st.name).dump() + "\n" + st.config.dump();
}

bool same_experiment(const std::string& a, const std::string& b) {
  const auto normal = [](const std::string& yaml) {
    auto node = YAML::Load(yaml);
    if (node["runtime"])
      for (const char* key : {"threads", "workers", "progress"}) node["runtime"].remove(key);
    YAML::Emitter e;
    e << node;
    return std::string(e.c_str());
  };
  return normal(a) == normal(b);
}

RunOptions::Shard RunOptions::Shard::parse(const std::string& spec) {
  const auto slash = spec.find('/');
  Shard s;
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < spec.size() &&
            spec.find_first_not_of("0123456789/") == std::string::npos && spec.find('/', slash + 1) == std::string::npos;
  if (ok) {
    s.index = std::stoi(spec.substr(0, slash));
    s.count = std::stoi(spec.substr(slash + 1));
    ok = s.count >= 1 && s.index >= 1 && s.index <= s.count;
  }
  MER_CHECK(ok, ValueError, "shard '", spec, "' is not i/n with 1 <= i <= n (e.g. --shard 2/4 runs the second of four shares of the folds)");
  return s;
}

Experiment Experiment::from_config(const Config& config) {
  // The document as written, before readers fill in defaults: preprocess variants are rebuilt from it, so a
  // variant switching e.g. flow.algorithm does not inherit the other algorithm's filled-in parameters.
  const auto written = config.dump();
  const auto root = config.root();
  const std::string stem = config.file().empty() ? "experiment" : config.file().stem().string();
  auto name = root.get<std::string>("name", stem);
  // Runs go to <runs_dir>/<name>-<timestamp>/: a name with a path in it would write elsewhere ("../x", "/x").
  MER_CHECK(!name.empty() && name != "." && name != ".." && name.find_first_of("/\\") == std::string::npos &&
                std::all_of(name.begin(), name.end(), [](unsigned char c) { return c >= 32 && c != 127; }),
            ConfigError, root.where("name"), ": 'name' must be a plain name without '/' (runs go to runtime.runs_dir/<name>-<time>/), got '",
            name, "'");
  auto runtime = RuntimeOptions::from_config(root.child("runtime"));
  // Cheap, purely syntactic sections first; the dataset (which reads its table and checks files) last.
  auto pipeline = std::make_unique<Pipeline>(Pipeline::from_config(root.child("preprocess"), all_stages()));
  auto variant_specs = read_variant_specs(root.child("preprocess"));
  const auto protocol_node = root.child("protocol");
  // Read here, not by a protocol: any protocol can be run in the optimistic mode papers used.
  const bool select_on_test = protocol_node.get<bool>("select_on_test", false);
  const int repeats = protocol_node.get<int>("repeats", 1);
  MER_CHECK(repeats >= 1 && repeats <= 100, ConfigError, protocol_node.where("repeats"), ": 'protocol.repeats' must be in 1..100, got ",
            repeats);
  // Transductive domain adaptation sees the test data (never its labels) while training: allowed only
  // where the test side is another database, and stamped on every output.
  const bool transductive = protocol_node.get<bool>("transductive", false);
  auto protocol = builtin_protocols().build(protocol_node);
  auto model_node = root.child("model");
  // Every model option and input group is read and checked now, against the names the preprocessing will
  // produce, before any frame is read; shapes are checked when the fold's model is built for the features.
  {
    ModelSpec names_only;
    names_only.check_only = true;
    names_only.inputs.clear();
    for (const auto& out : pipeline->options().outputs) names_only.inputs.push_back(InputSpec{out, {}, false});
    names_only.inputs_where = "preprocess.outputs at " + root.child("preprocess").where("outputs");
    builtin_models().build(model_node, names_only);
  }
  auto init = InitOptions::from_config(model_node);
  auto train = TrainerOptions::from_config(root.child("train"));
  if (transductive) {
    MER_CHECK(protocol_node.get<std::string>("type", "") == "lodo", ConfigError, protocol_node.where("transductive"),
              ": protocol.transductive uses the test side's samples, unlabelled, for domain adaptation; it is allowed only "
              "for cross-database evaluation (type: lodo), where the test side is another database, not for '",
              protocol_node.get<std::string>("type", ""), "'");
    bool domain_loss = false;
    for (const auto& l : train.losses) {
      const auto type = l.get<std::string>("type", "");
      domain_loss = domain_loss || type == "domain_adversarial" || type == "coral";
    }
    MER_CHECK(domain_loss, ConfigError, protocol_node.where("transductive"),
              ": protocol.transductive needs a domain loss in train.losses (domain_adversarial or coral) to use the unlabelled samples");
  }
  {
    bool distill_loss = false;
    for (const auto& l : train.losses)
      distill_loss = distill_loss || l.get<std::string>("type", "") == "distill" || l.get<std::string>("type", "") == "hint";
    const auto where = root.child("train").where(train.distill_teacher.empty() ? "losses" : "distill");
    MER_CHECK(distill_loss == !train.distill_teacher.empty(), ConfigError, where,
              distill_loss ? ": the distill and hint losses need train.distill.teacher (a run folder or a checkpoint)"
                           : ": train.distill.teacher is set but train.losses has no {type: distill} or {type: hint} term to use it");
  }
  // A typo anywhere else is reported before the dataset touches the disk.
  // pretrain: {dataset: ..., train: ...}: its schedule now, its dataset with the main one below.
  std::optional<TrainerOptions> pretrain_train;
  if (root.has("pretrain")) {
    const auto p = root.child("pretrain");
    MER_CHECK(!init, ConfigError, p.where(), ": pretrain and model.init both set the initial weights; keep one");
    pretrain_train = TrainerOptions::from_config(p.has("train") ? p.child("train") : root.child("train"));
    MER_CHECK(pretrain_train->distill_teacher.empty(), ConfigError, p.where("train"), ": pretraining does not distil");
  }
  config.check_all_used({"dataset", "pretrain"});  // pretrain.dataset, like dataset, is read below
  // After that check, so a typo in the preprocess section is reported against the file, not a variant's copy.
  auto variants = build_variants(written, variant_specs, *pipeline, all_stages());
  auto dataset = builtin_datasets().build(root.child("dataset"));
  std::unique_ptr<Dataset> pretrain_dataset;
  if (pretrain_train) {
    pretrain_dataset = builtin_datasets().build(root.child("pretrain").child("dataset"));
    MER_CHECK(pretrain_dataset->labels().classes() == dataset->labels().classes(), ConfigError,
              root.child("pretrain").where("dataset"), ": the pretraining data's classes (",
              fmt::format("{}", fmt::join(pretrain_dataset->labels().classes(), ", ")), ") must be the target's (",
              fmt::format("{}", fmt::join(dataset->labels().classes(), ", ")), "): map its emotions with labels: in pretrain.dataset");
  }
  config.check_all_used();

  auto st = std::make_unique<State>(State{config, name, runtime, std::move(dataset), std::move(pipeline),
                                          protocol_node.required<std::string>("type"), std::move(protocol), model_node,
                                          model_node.required<std::string>("type"), train,
                                          std::move(variants), select_on_test, repeats, std::move(init),
                                          std::move(pretrain_dataset), std::move(pretrain_train), transductive});
  return Experiment(std::move(st));
}

namespace {

std::string env_json(const Experiment& e, const RunContext& ctx) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  nlohmann::json j;
  j["libmer"] = version();
  j["git_commit"] = git_commit();
  j["libtorch"] = TORCH_VERSION;
  j["opencv"] = CV_VERSION;
  j["dlib"] = std::to_string(DLIB_MAJOR_VERSION) + "." + std::to_string(DLIB_MINOR_VERSION) + "." +
              std::to_string(DLIB_PATCH_VERSION);
  j["seed"] = ctx.seed;
  j["threads"] = ctx.threads;
  j["device"] = ctx.device;
  j["started"] = stamp;
  j["name"] = e.name();
  return j.dump(2) + "\n";
}

std::vector<Prediction> fold_predictions(const FeatureSet& features, const Fold& fold,
                                         const std::vector<std::vector<float>>& probs) {
  std::vector<Prediction> preds;
  for (std::size_t k = 0; k < fold.test.size(); ++k) {
    const auto& s = features.samples[fold.test[k]];
    const auto& p = probs[k];
    const int pred = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    preds.push_back(Prediction{s.id, s.group_key(), fold.name, s.label, pred, p});
  }
  return preds;
}

// A fold's model and what rebuilds it: the resolved config and the input spec, in one archive written
// atomically (so an interrupted write never leaves a half checkpoint).
void save_checkpoint(Classifier& model, const ModelSpec& spec, const std::string& config, const std::vector<std::string>& seen_subjects,
                     const fs::path& file) {
  torch::serialize::OutputArchive archive;
  model.save(archive);
  // Which subjects the model learnt from (training and validation): a later model.init from this file is
  // refused for a fold that tests one of them.
  archive.write("mer.seen_subjects", c10::IValue(nlohmann::json(seen_subjects).dump()));
  nlohmann::json j;
  for (const auto& in : spec.inputs) j["inputs"].push_back({{"name", in.name}, {"shape", in.shape}, {"vector_field", in.vector_field}});
  j["num_classes"] = spec.num_classes;
  j["num_action_units"] = spec.num_action_units;
  archive.write("mer.spec", c10::IValue(j.dump()));
  archive.write("mer.config", c10::IValue(config));
  const auto tmp = file.string() + ".tmp";
  archive.save_to(tmp);
  fs::rename(tmp, file);
}

// folds/<fold>.json: the fit's per-epoch log and the selected epoch.
std::string history_json(const std::vector<EpochLog>& history, std::size_t train_samples, std::size_t val_samples) {
  nlohmann::json h;
  for (const auto& e : history) {
    nlohmann::json row = {{"epoch", e.epoch}, {"lr", e.lr}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy}};
    if (e.val_loss) row["val_loss"] = *e.val_loss;
    if (e.val_accuracy) row["val_accuracy"] = *e.val_accuracy;
    if (e.val_uf1) row["val_uf1"] = *e.val_uf1;
    for (const auto& [name, v] : e.train_terms) row["train_" + name] = v;
    h["history"].push_back(row);
    if (e.selected) h["selected_epoch"] = e.epoch;
  }
  h["epochs_run"] = history.size();
  h["train_samples"] = train_samples;
  h["val_samples"] = val_samples;
  return h.dump(1) + "\n";
}

std::vector<std::string> subjects_of(const FeatureSet& features, const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  std::set<std::string> keys;
  for (const auto* v : {&a, &b})
    for (const std::size_t i : *v) keys.insert(features.samples[i].group_key());
  return {keys.begin(), keys.end()};
}

// The first of a fold's test subjects that a checkpoint learnt from (its recorded seen subjects), if any:
// the one honesty rule of model.init, pretraining and distillation teachers.
std::optional<std::string> seen_test_subject(const std::vector<std::string>& seen_subjects, const FeatureSet& features,
                                             const std::vector<std::size_t>& test) {
  const std::set<std::string> seen(seen_subjects.begin(), seen_subjects.end());
  for (const std::size_t i : test)
    if (seen.count(features.samples[i].group_key())) return features.samples[i].group_key();
  return std::nullopt;
}

// model.init for one fold: the checkpoint ("{fold}" → the fold's file stem) loaded by name, and refused if
// it learnt from a subject this fold tests.
void initialise(Classifier& model, const InitOptions& init, const std::string& fold_stem, const FeatureSet& features,
                const std::vector<std::size_t>& test, bool log) {
  std::string path = init.checkpoint;
  if (const auto at = path.find("{fold}"); at != std::string::npos) path.replace(at, 6, fold_stem);
  const auto report = load_initial_weights(model, path, init);
  if (report.records_subjects) {
    const auto seen = seen_test_subject(report.seen_subjects, features, test);
    MER_CHECK(!seen, ConfigError, init.where, ": checkpoint '", path, "' was trained on subject ", seen.value_or(""),
              ", whom fold ", fold_stem,
              " tests: its predictions would not be honest. Use a checkpoint trained without that subject, e.g. the "
              "matching fold of a run (checkpoint: RUN/folds/{fold}.pt)");
  } else if (log) {
    logger()->warn("{}: checkpoint '{}' does not record its training subjects; that it never saw a test subject is "
                   "your responsibility", init.where, path);
  }
  if (log) logger()->info("model.init from {}: {}", path, report.summary());
}

// train.distill: the teacher's logits for one fold's training and validation samples. The teacher is the
// matching fold of a run folder, or one checkpoint; it is refused if it learnt from a subject this fold
// tests (or, not recording its subjects, unless the config says it is external). It sees the samples
// through its own preprocessing (cached), unaugmented; variant copies get their base sample's targets.
class Teacher {
 public:
  Teacher(const TrainerOptions& o, const Dataset& dataset, const RunContext& ctx) : options_(o) {
    const fs::path source(o.distill_teacher);
    MER_CHECK(fs::exists(source), ConfigError, "train.distill.teacher '", source.string(), "' does not exist");
    const fs::path config_file = fs::is_directory(source) ? source / "config.resolved.yaml" : fs::path();
    std::string config;
    if (!config_file.empty()) {
      MER_CHECK(fs::exists(config_file), ConfigError, "train.distill.teacher '", source.string(),
                "' is a folder but not a libmer run (no config.resolved.yaml)");
      config = read_file(config_file);
    } else {
      config = detail::load_checkpoint(source).config;
    }
    const auto parsed = Config::from_string(config, "teacher config");
    const auto pipeline = Pipeline::from_config(parsed.root().child("preprocess"), all_stages());
    logger()->info("distillation: the teacher's preprocessing ({}) over {} samples", pipeline.fingerprint().substr(0, 12),
                   dataset.samples().size());
    features_ = with_context("preprocessing for the teacher", [&] { return pipeline.run(dataset.samples(), ctx); });
    for (std::size_t i = 0; i < features_.size(); ++i) index_.emplace(features_.samples[i].id, i);
  }

  SoftTargets fold_targets(const std::string& fold_stem, const FeatureSet& features, const std::vector<std::size_t>& train,
                           const std::vector<std::size_t>& val, const std::vector<std::size_t>& test, const Trainer& trainer,
                           const RunContext& ctx, bool log) const {
    const fs::path source(options_.distill_teacher);
    const auto file = !fs::is_directory(source) ? source
                      : fold_stem == "fit_all" ? source / "fit_all.pt" : source / "folds" / (fold_stem + ".pt");
    MER_CHECK(fs::exists(file), ConfigError, "train.distill.teacher: run folder '", source.string(), "' has no model of fold ",
              fold_stem, " (", file.string(), "); the teacher run must use the same protocol and keep its checkpoints");
    auto c = detail::load_checkpoint(file);
    if (c.records_subjects) {
      const auto seen = seen_test_subject(c.seen_subjects, features, test);
      MER_CHECK(!seen, ConfigError, "train.distill.teacher '", file.string(), "' was trained on subject ", seen.value_or(""),
                ", whom fold ", fold_stem, " tests: its soft targets would carry the test labels. Use a run folder of the same protocol");
    } else {
      MER_CHECK(options_.distill_external, ConfigError, "train.distill.teacher '", file.string(),
                "' does not record which subjects trained it; set train.distill.external: true if it never saw this dataset");
    }
    std::vector<std::size_t> wanted = train;
    wanted.insert(wanted.end(), val.begin(), val.end());
    std::vector<std::size_t> mine;
    for (const std::size_t i : wanted) {
      auto id = features.samples[i].id;
      id = id.substr(0, id.find('#'));  // a variant copy: its base sample
      const auto it = index_.find(id);
      MER_CHECK(it != index_.end(), DataError, "train.distill: the teacher's preprocessing left out sample ", id,
                " (see its skipped list); the student cannot learn it from the teacher");
      mine.push_back(it->second);
    }
    // The teacher's logits, and the outputs the hint losses match.
    std::vector<std::string> hinted;
    for (const auto& l : options_.losses)
      if (l.get<std::string>("type", "") == "hint") hinted.push_back(l.get<std::string>("teacher_output", l.get<std::string>("output", "embedding")));
    auto outs = with_context("running the teacher " + file.string(), [&] { return trainer.outputs(*c.model, features_, mine, ctx, hinted); });
    SoftTargets targets;
    for (const auto& [name, rows] : outs)
      for (std::size_t k = 0; k < wanted.size(); ++k)
        (name == "logits" ? targets.logits : targets.outputs[name]).emplace(wanted[k], rows[k]);
    if (log) logger()->info("distillation: teacher {} ({} classes{}) for fold {}", file.string(), outs.at("logits").front().size(),
                            hinted.empty() ? "" : ", hints on " + fmt::format("{}", fmt::join(hinted, ", ")), fold_stem);
    return targets;
  }

 private:
  TrainerOptions options_;
  FeatureSet features_;
  std::unordered_map<std::string, std::size_t> index_;
};

std::string fold_file(const std::string& fold) {
  std::string f = fold;
  std::replace(f.begin(), f.end(), '/', '_');
  return "folds/" + f + ".csv";
}


}  // namespace

ExperimentResult Experiment::run(const RunDir& run_dir, const RunContext& ctx, const RunOptions& options) const {
  const auto& st = *state_;
  const auto t0 = std::chrono::steady_clock::now();
  torch::set_num_threads(ctx.threads);
  const auto shard_tag = options.shard ? fmt::format("shard-{}-of-{}", options.shard->index, options.shard->count) : std::string();
  // Two processes writing one run folder (or one shard of it) would interleave folds and reports.
  const RunLock lock(run_dir, shard_tag.empty() ? "run.lock" : shard_tag + ".lock",
                     shard_tag.empty() ? "run folder '" + run_dir.path().string() + "'"
                                       : shard_tag + " of run folder '" + run_dir.path().string() + "'");

  // A run folder belongs to one config: resuming it with another would mix two experiments.
  const auto resolved = resolved_config();
  if (run_dir.has("config.resolved.yaml") && !same_experiment(read_file(run_dir.file("config.resolved.yaml")), resolved))
    throw ConfigError("run folder '" + run_dir.path().string() +
                      "' holds a run of a different config; choose another --run-dir");
  MER_CHECK(!options.merge || run_dir.has("config.resolved.yaml"), DataError, "run folder '", run_dir.path().string(),
            "' has no config.resolved.yaml: nothing to merge");
  if (!run_dir.has("config.resolved.yaml")) run_dir.write("config.resolved.yaml", resolved);
  if (!options.merge) run_dir.write(shard_tag.empty() ? "env.json" : "env." + shard_tag + ".json", env_json(*this, ctx));

  const auto& labels = st.dataset->labels();
  logger()->info("{}: {} samples of {} ({} classes: {}), {} excluded by the dataset", st.name,
                 st.dataset->samples().size(), st.dataset->name(), labels.num_classes(),
                 fmt::join(labels.classes(), ", "), st.dataset->excluded().size());

  const auto pre_t0 = std::chrono::steady_clock::now();
  FeatureSet features = with_context("preprocessing", [&] { return st.pipeline->run(st.dataset->samples(), ctx); });
  const double preprocess_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pre_t0).count();
  std::vector<SkipRecord> skipped = st.dataset->excluded();
  skipped.insert(skipped.end(), features.skipped.begin(), features.skipped.end());
  run_dir.write("skipped.csv", skipped_to_csv(skipped));
  // Which detector found each sample's face (detect_face's fallback chain), so a face taken from a fallback
  // or the whole frame is on record.
  std::map<std::string, int> faces_by;
  {
    std::string csv;
    for (std::size_t i = 0; i < features.notes.size(); ++i)
      if (const auto it = features.notes[i].find("face_detector"); it != features.notes[i].end()) {
        csv += features.samples[i].id + "," + it->second + "\n";
        ++faces_by[it->second];
      }
    if (!csv.empty()) run_dir.write("faces.csv", "sample_id,face_detector\n" + csv);
  }
  MER_CHECK(features.size() > 0, DataError, "no sample survived preprocessing (", skipped.size(),
            " skipped; see skipped.csv in ", run_dir.path().string(), ")");

  // With repeats, the whole protocol again with a seed derived per repeat (fold assignment, validation
  // subjects and training seeds all differ); fold names get an "r<k>/" prefix.
  std::vector<Fold> folds;
  for (int r = 1; r <= st.repeats; ++r) {
    auto fr = st.protocol->folds(features.samples, st.repeats == 1 ? ctx.seed : derive_seed(ctx.seed, "repeat" + std::to_string(r)));
    for (auto& f : fr) {
      if (st.repeats > 1) f.name = "r" + std::to_string(r) + "/" + f.name;
      folds.push_back(std::move(f));
    }
  }
  {
    // Every class must be trainable somewhere; the folds' class counts are logged so uneven splits show.
    std::vector<int> trained(static_cast<std::size_t>(labels.num_classes()), 0);
    for (const auto& fold : folds) {
      std::vector<int> test_counts(trained.size(), 0);
      for (const auto i : fold.train) ++trained[static_cast<std::size_t>(features.samples[i].label)];
      for (const auto i : fold.test) ++test_counts[static_cast<std::size_t>(features.samples[i].label)];
      std::string counts;
      for (std::size_t c = 0; c < trained.size(); ++c) counts += fmt::format("{}{} {}", c ? ", " : "", labels.classes()[c], test_counts[c]);
      logger()->debug("fold {}: {} train, {} val, {} test ({})", fold.name, fold.train.size(), fold.val.size(),
                      fold.test.size(), counts);
    }
    for (std::size_t c = 0; c < trained.size(); ++c)
      MER_CHECK(trained[c] > 0, DataError, "class '", labels.classes()[c], "' has no training sample in any fold of protocol ",
                st.protocol_name, "; drop it from the label map or use another protocol");
    logger()->info("{}: {} folds", st.protocol_name, folds.size());
  }
  // Variant copies go after the base samples the folds index; copies[i] lists sample i's copies.
  const std::size_t n_samples = features.size();
  const auto copies = append_variants(features, st.variants, st.dataset->samples(), ctx);
  ModelSpec spec;
  spec.inputs.clear();
  for (const auto& [name, shape] : feature_group_shapes(features)) {
    const FeatureGroup* g = features.group(name);
    spec.inputs.push_back(InputSpec{name, shape, g && g->vector_field});
  }
  spec.num_classes = labels.num_classes();
  spec.inputs_where = "preprocess.outputs at " + st.config.root().child("preprocess").where("outputs");
  const Trainer trainer(st.train);
  // Pretraining (survey §5.3, macro -> micro): the pretraining samples through the same preprocessing. When
  // they share no subject with the target data (subjects are dataset-qualified), one model pretrained on
  // all of them serves every fold (pretrain.pt); otherwise each fold pretrains without its test subjects'
  // samples (pretrain/<fold>.pt). Folds start from it through model.init's loader, whose subject check
  // holds either way.
  FeatureSet pretrain_features;
  bool pretrain_shared = false;
  const auto pretrained = [&](const std::string& fold_stem, const std::vector<std::size_t>& test) -> std::string {
    const std::string file = pretrain_shared ? "pretrain.pt" : "pretrain/" + fold_stem + ".pt";
    if (run_dir.has(file)) return run_dir.file(file).string();
    std::set<std::string> excluded;
    for (const std::size_t i : test) excluded.insert(features.samples[i].group_key());
    std::vector<std::size_t> indices;
    for (std::size_t i = 0; i < pretrain_features.size(); ++i)
      if (!excluded.count(pretrain_features.samples[i].group_key())) indices.push_back(i);
    MER_CHECK(!indices.empty(), DataError, "pretraining for fold ", fold_stem, ": no pretraining sample is left once its test subjects' are removed");
    const auto seed = derive_seed(ctx.seed, pretrain_shared ? std::string("pretrain") : "pretrain/" + fold_stem);
    torch::manual_seed(seed);
    ModelSpec pspec = spec;
    pspec.num_action_units = 0;
    auto model = std::shared_ptr<Classifier>(builtin_models().build(st.model_node, pspec));
    logger()->info("pretraining{} on {} samples of {} ({} epochs)", pretrain_shared ? "" : " for fold " + fold_stem,
                   indices.size(), st.pretrain_dataset->name(), st.pretrain_train->epochs);
    const auto history = Trainer(*st.pretrain_train).fit(*model, pretrain_features, indices, {}, seed, ctx);
    fs::create_directories(run_dir.path() / "pretrain");
    run_dir.write(file.substr(0, file.size() - 3) + ".json", history_json(history, indices.size(), 0));
    save_checkpoint(*model, pspec, resolved, subjects_of(pretrain_features, indices, {}), run_dir.file(file));
    return run_dir.file(file).string();
  };
  if (st.pretrain_dataset) {
    pretrain_features = with_context("preprocessing the pretraining data", [&] { return st.pipeline->run(st.pretrain_dataset->samples(), ctx); });
    MER_CHECK(pretrain_features.size() > 0, DataError, "no pretraining sample survived preprocessing");
    MER_CHECK(feature_group_shapes(pretrain_features) == feature_group_shapes(features), DataError,
              "the pretraining data's features differ in shape from the target's");
    std::set<std::string> target;
    for (const auto& smp : features.samples) target.insert(smp.group_key());
    pretrain_shared = true;
    for (const auto& smp : pretrain_features.samples) pretrain_shared = pretrain_shared && !target.count(smp.group_key());
    logger()->info("pretraining data: {} samples of {}; {}", pretrain_features.size(), st.pretrain_dataset->name(),
                   pretrain_shared ? "no subject in common with the target data: one pretrained model for every fold"
                                   : "subjects in common with the target data: pretrained again for each fold without its test subjects");
    if (pretrain_shared) pretrained("", {});  // before any worker starts, so that they share it
  }
  // Variants are preprocessed (and a shared pretraining done) here too, so that workers find them.
  if (options.prepare_only) {
    ExperimentResult prepared;
    prepared.run_dir = run_dir.path();
    prepared.folds_total = static_cast<int>(folds.size());
    prepared.preprocess_seconds = preprocess_seconds;
    prepared.complete = false;
    return prepared;
  }
  std::unique_ptr<Teacher> teacher;
  if (!st.train.distill_teacher.empty() && !options.merge) teacher = std::make_unique<Teacher>(st.train, *st.dataset, ctx);

  ExperimentResult result;
  result.run_dir = run_dir.path();
  result.preprocess_seconds = preprocess_seconds;
  result.model_type = st.model_type;
  std::vector<Prediction> all, all_optimistic;
  std::vector<int> optimistic_epochs;
  std::int64_t n_params = 0;
  // A shard trains folds k with k % n == i - 1 (round robin keeps shares even when folds differ in size
  // along the protocol's order); the others it only reads if another shard has finished them.
  const auto mine = [&](std::size_t k) {
    return !options.merge && (!options.shard || static_cast<int>(k % static_cast<std::size_t>(options.shard->count)) == options.shard->index - 1);
  };
  std::size_t n_mine = 0;
  for (std::size_t k = 0; k < folds.size(); ++k) n_mine += mine(k);
  if (options.shard)
    logger()->info("{}: {} of the {} folds ({})", shard_tag, n_mine, folds.size(), st.protocol_name);
  result.folds_total = static_cast<int>(folds.size());
  std::vector<std::string> missing;
  // A merge trains nothing: no progress display to show.
  Progress progress(st.protocol_name + " folds", n_mine, n_mine == 0 ? ProgressStyle::None : ctx.progress);
  for (std::size_t k = 0; k < folds.size(); ++k) {
    const auto& fold = folds[k];
    const auto file = fold_file(fold.name);
    const auto optimistic_file = file.substr(0, file.size() - 4) + ".optimistic.csv";
    const bool done = run_dir.has(file) && (!st.select_on_test || run_dir.has(optimistic_file));
    if (options.max_folds > 0 && result.folds_run >= options.max_folds) {
      missing.push_back(fold.name);
      continue;
    }
    if (!done && !mine(k)) {
      missing.push_back(fold.name);
      continue;
    }
    if (done) {
      auto done = read_predictions(run_dir.file(file), labels.classes());
      all.insert(all.end(), done.begin(), done.end());
      if (st.select_on_test) {
        auto opt = read_predictions(run_dir.file(optimistic_file), labels.classes());
        all_optimistic.insert(all_optimistic.end(), opt.begin(), opt.end());
      }
      ++result.folds_resumed;
      if (mine(k)) progress.tick();
      continue;
    }
    const auto fold_t0 = std::chrono::steady_clock::now();
    with_context("training fold " + fold.name, [&] {
      // Each fold gets its own seed from the base seed and its name: results do not depend on which
      // folds ran before (resume gives the same numbers as an uninterrupted run).
      const auto seed = derive_seed(ctx.seed, fold.name);
      torch::manual_seed(seed);
      // A multi-task model's AU head covers the AUs coded in this fold's training samples only.
      ModelSpec fold_spec = spec;
      fold_spec.num_action_units = static_cast<std::int64_t>(training_action_units(features, fold.train).size());
      auto model = std::shared_ptr<Classifier>(builtin_models().build(st.model_node, fold_spec));
      if (st.init) {
        const auto stem = fs::path(file).stem().string();
        initialise(*model, *st.init, stem, features, fold.test, result.folds_run == 0);
      }
      if (st.pretrain_dataset) {
        const auto stem = fs::path(file).stem().string();
        InitOptions from_pretraining;
        from_pretraining.checkpoint = pretrained(stem, fold.test);
        from_pretraining.where = "pretrain";
        initialise(*model, from_pretraining, stem, features, fold.test, result.folds_run == 0);
      }
      n_params = count_parameters(*model);
      // Benchmarks only: eval mode draws no random numbers and updates nothing, but runs need not pay for it.
      if (options.max_folds > 0 && result.forward_flops_per_sample == 0)
        result.forward_flops_per_sample = trainer.forward_flops(*model, features, fold.train.front(), ctx);
      // Copies of this fold's training samples only: never of its validation or test samples.
      auto train = fold.train;
      for (const std::size_t i : fold.train) train.insert(train.end(), copies[i].begin(), copies[i].end());
      if (!st.variants.empty()) {
        logger()->info("fold {}: {} training samples + {} variant copies", fold.name, fold.train.size(),
                       train.size() - fold.train.size());
      }
      // Optimistic mode only: the test subject's predictions after every epoch, kept aside. The honest path
      // below never reads them (eval-mode prediction draws no random numbers, so the fit is unchanged).
      std::vector<std::vector<std::vector<float>>> per_epoch;
      std::function<void(const EpochLog&)> on_epoch;
      if (st.select_on_test)
        on_epoch = [&](const EpochLog&) { per_epoch.push_back(trainer.predict(*model, features, fold.test, ctx)); };
      SoftTargets soft;
      if (teacher)
        soft = teacher->fold_targets(fs::path(file).stem().string(), features, train, fold.val, fold.test, trainer, ctx,
                                     result.folds_run == 0);
      const auto history = trainer.fit(*model, features, train, fold.val, seed, ctx, on_epoch, teacher ? &soft : nullptr,
                                       st.transductive ? fold.test : std::vector<std::size_t>{});
      // The fit's selected epoch (the last, or the best on the training side's validation subjects): the
      // test subject plays no part in choosing it. Its history goes beside its predictions.
      run_dir.write(file.substr(0, file.size() - 4) + ".json", history_json(history, train.size(), fold.val.size()));
      const auto probs = trainer.predict(*model, features, fold.test, ctx);
      const auto preds = fold_predictions(features, fold, probs);
      int correct = 0;
      for (const auto& p : preds) correct += p.pred_label == p.true_label;
      if (st.select_on_test) {
        // The epoch with the best test accuracy (the earliest among equals), as the papers did per subject.
        std::size_t best = 0, best_correct = 0;
        for (std::size_t e = 0; e < per_epoch.size(); ++e) {
          std::size_t c = 0;
          for (const auto& p : fold_predictions(features, fold, per_epoch[e])) c += p.pred_label == p.true_label;
          if (e == 0 || c > best_correct) best = e, best_correct = c;
        }
        const auto opt = fold_predictions(features, fold, per_epoch[best]);
        run_dir.write(optimistic_file, predictions_to_csv(opt, labels.classes()));
        all_optimistic.insert(all_optimistic.end(), opt.begin(), opt.end());
        optimistic_epochs.push_back(static_cast<int>(best) + 1);
      }
      const bool keep = st.runtime.checkpoints == "all" || (st.runtime.checkpoints == "auto" && n_params <= 20'000'000);
      if (keep) {
        fs::create_directories(run_dir.path() / "folds");
        save_checkpoint(*model, fold_spec, resolved, subjects_of(features, train, fold.val), run_dir.file(file.substr(0, file.size() - 4) + ".pt"));
      }
      run_dir.write(file, predictions_to_csv(preds, labels.classes()));
      const auto& last = history.back();
      logger()->debug("fold {}: {}/{} correct; last epoch train loss {:.3f} acc {:.3f}", fold.name, correct,
                      preds.size(), last.train_loss, last.train_accuracy);
      all.insert(all.end(), preds.begin(), preds.end());
      const auto bs = static_cast<std::int64_t>(st.train.batch_size);
      result.fold_timings.push_back({fold.name, 0.0, train.size(),
                                     static_cast<std::int64_t>(history.size()) * ((static_cast<std::int64_t>(train.size()) + bs - 1) / bs),
                                     static_cast<int>(history.size())});
    });
    result.fold_timings.back().seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - fold_t0).count();
    ++result.folds_run;
    progress.tick();
  }
  progress.finish();
  result.parameters = n_params;
  if (options.max_folds > 0) {
    result.complete = false;
    return result;
  }
  if (!missing.empty()) {
    result.folds_missing = static_cast<int>(missing.size());
    MER_CHECK(!options.merge, DataError, "run folder '", run_dir.path().string(), "' lacks ", missing.size(), " of the ",
              folds.size(), " folds (", fmt::format("{}", fmt::join(missing.begin(), missing.begin() + std::min<std::ptrdiff_t>(3, static_cast<std::ptrdiff_t>(missing.size())), ", ")),
              missing.size() > 3 ? ", ..." : "", "); run the shards that train them before merging");
    logger()->info("{}: done ({} folds trained, {} of {} folds still missing in the run folder; `mer report merge {}` "
                   "writes the report once every shard has finished)",
                   shard_tag, result.folds_run, missing.size(), folds.size(), run_dir.path().string());
    result.complete = false;
    return result;
  }
  run_dir.write("predictions.csv", predictions_to_csv(all, labels.classes()));
  // A composite's predictions also go out in the MEGC2019 organisers' log format.
  {
    std::set<std::string> sources;
    for (const auto& p : all) sources.insert(source_of(p.sample_id));
    if (sources.size() > 1) run_dir.write("megc2019_log.txt", megc_log(all));
  }

  auto scores = score_predictions(all, labels.classes());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SummaryInfo info;
  info.title = st.name;
  info.protocol = st.protocol_name;
  info.skipped = skipped;
  info.facts = {
      "dataset: " + st.dataset->name() + ", " + std::to_string(n_samples) + " samples, " +
          std::to_string(folds.size()) + " folds, classes: " + fmt::format("{}", fmt::join(labels.classes(), ", ")),
      "input: " + fmt::format("{}", fmt::join(features.channel_names, ", ")) + " at " + std::to_string(features.height) +
          "x" + std::to_string(features.width) + " (preprocessing " + st.pipeline->fingerprint().substr(0, 12) + ", " +
          std::to_string(features.cache_hits) + " samples from cache)",
      "model: " + st.model_type + " (" + std::to_string(n_params) + " parameters), fresh per fold",
      "training: " + std::to_string(st.train.epochs) + " epochs " +
          (st.train.select == "last" && st.train.patience == 0
               ? std::string("(fixed budget, last epoch used)")
               : "(epoch chosen by " + st.train.select +
                     (st.train.patience > 0 ? ", early stopping patience " + std::to_string(st.train.patience) : std::string()) +
                     " on validation subjects of the training side; see folds/*.json)") +
          ", batch " +
          std::to_string(st.train.batch_size) + ", " + st.train.optimizer + " lr " + fmt::format("{}", st.train.lr),
      "seed " + std::to_string(ctx.seed) + ", " + std::to_string(ctx.threads) + " threads, " + ctx.device +
          ", libmer " + version() + " (" + git_commit() + ")",
      fmt::format("wall time {:.1f} s ({} folds run, {} resumed)", seconds, result.folds_run, result.folds_resumed)};
  if (!faces_by.empty()) {
    std::string f;
    for (const auto& [detector, n] : faces_by) f += (f.empty() ? "" : ", ") + std::to_string(n) + " by " + detector;
    info.facts.push_back("faces: " + f + " (faces.csv)");
  }
  if (st.train.augment.enabled() || !st.variants.empty())
    info.facts.push_back(describe_augmentation(st.train.augment, st.variants));
  if (st.pretrain_dataset)
    info.facts.push_back(fmt::format("pretrained on {} samples of {} ({} epochs), {} (pretrain*.json)", pretrain_features.size(),
                                     st.pretrain_dataset->name(), st.pretrain_train->epochs,
                                     pretrain_shared ? "one model for all folds: no subject in common"
                                                     : "again for each fold without its test subjects: subjects in common"));
  if (st.init) info.facts.push_back("initial weights: " + st.init->checkpoint + " (model.init)");
  if (!st.train.distill_teacher.empty()) info.facts.push_back("distilled from the teacher " + st.train.distill_teacher);
  // Learning curves from every fold's history (resumed folds included).
  {
    const auto curves = read_fold_curves(run_dir.path());
    if (!curves.empty()) {
      info.images.emplace_back("learning_curves.png", "Learning curves");
      write_learning_curves_png(run_dir.file("learning_curves.png"), curves,
                                (st.select_on_test ? std::string(kOptimisticStamp) + " - " : std::string()) +
                                    (st.transductive ? std::string("transductive - ") : std::string()) + st.name +
                                    ": " + st.model_type + ", " + std::to_string(curves.size()) + " folds");
    }
  }
  nlohmann::json repeat_json;
  if (st.repeats > 1) {
    // Each repeat scored on its own (pooled over its folds), then mean and standard deviation over repeats.
    std::vector<double> u, a, c;
    for (int r = 1; r <= st.repeats; ++r) {
      const auto prefix = "r" + std::to_string(r) + "/";
      std::vector<Prediction> pr;
      for (const auto& p : all)
        if (p.fold.compare(0, prefix.size(), prefix) == 0) pr.push_back(p);
      const auto sr = score_predictions(pr, labels.classes());
      u.push_back(sr.uf1.value_or(0));
      a.push_back(sr.uar.value_or(0));
      c.push_back(sr.accuracy.value_or(0));
      repeat_json["per_repeat"].push_back({{"repeat", r}, {"uf1", u.back()}, {"uar", a.back()}, {"accuracy", c.back()}});
    }
    const auto mean_sd = [](const std::vector<double>& v) {
      double m = 0, q = 0;
      for (const double x : v) m += x;
      m /= static_cast<double>(v.size());
      for (const double x : v) q += (x - m) * (x - m);
      return std::make_pair(m, std::sqrt(q / static_cast<double>(v.size() - 1)));
    };
    const auto [mu, su] = mean_sd(u);
    const auto [ma, sa] = mean_sd(a);
    const auto [mc, sc] = mean_sd(c);
    repeat_json["repeats"] = st.repeats;
    repeat_json["uf1_mean"] = mu, repeat_json["uf1_std"] = su;
    repeat_json["uar_mean"] = ma, repeat_json["uar_std"] = sa;
    repeat_json["accuracy_mean"] = mc, repeat_json["accuracy_std"] = sc;
    scores.notes.push_back(fmt::format("{} repeats of the protocol (derived seeds): UF1 {:.3f} ± {:.3f}, UAR {:.3f} ± {:.3f}, "
                                       "accuracy {:.3f} ± {:.3f} (mean ± sd over repeats; the pooled figures below count "
                                       "every sample once per repeat)",
                                       st.repeats, mu, su, ma, sa, mc, sc));
  }
  if (st.transductive) {
    scores.notes.push_back(kTransductiveStamp);
    info.facts.push_back(kTransductiveStamp);
  }
  if (st.select_on_test) scores.notes.push_back(std::string("this run also reports optimistic numbers (") +
                                               kOptimisticStamp + "); the numbers here are the honest ones");
  write_report(run_dir, scores, info);
  if (st.repeats > 1) {
    auto metrics = nlohmann::json::parse(read_file(run_dir.file("metrics.json")));
    metrics["repeats"] = repeat_json;
    run_dir.write("metrics.json", metrics.dump(2) + "\n");
  }
  if (st.select_on_test) {
    auto optimistic = score_predictions(all_optimistic, labels.classes());
    optimistic.notes.push_back(kOptimisticStamp);
    run_dir.write("predictions_optimistic.csv", predictions_to_csv(all_optimistic, labels.classes()));
    if (run_dir.has("megc2019_log.txt"))
      run_dir.write("megc2019_log_optimistic.txt", std::string("# ") + kOptimisticStamp + "\n" + megc_log(all_optimistic));
    auto metrics = nlohmann::json::parse(read_file(run_dir.file("metrics.json")));
    metrics["optimistic"] = nlohmann::json::parse(metrics_to_json(optimistic));
    metrics["optimistic"]["stamp"] = kOptimisticStamp;
    run_dir.write("metrics.json", metrics.dump(2) + "\n");
    SummaryInfo opt_info = info;
    opt_info.title = std::string(kOptimisticStamp) + " - " + info.title;
    run_dir.write("summary.md", summary_markdown(scores, info) + "\n---\n\n" + summary_markdown(optimistic, opt_info));
    auto f = [](const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : std::string("n/a"); };
    write_confusion_png(run_dir.file("confusion_optimistic.png"), optimistic.confusion, optimistic.classes,
                        std::string(kOptimisticStamp) + ": UF1 " + f(optimistic.uf1) + "  UAR " + f(optimistic.uar));
    logger()->warn("{}: UF1 {} UAR {} (honest: UF1 {} UAR {})", kOptimisticStamp, f(optimistic.uf1), f(optimistic.uar),
                   f(scores.uf1), f(scores.uar));
    result.optimistic = std::move(optimistic);
  }
  if (options.fit_all) {
    // The deployable model: every sample trains it, with the protocol's own schedule. Its numbers are the
    // protocol's above; this model has no test data of its own, so it reports none.
    with_context("training the all-data model (--fit-all)", [&] {
      Fold all_data{"fit_all", {}, {}, {}};
      for (std::size_t i = 0; i < n_samples; ++i) all_data.train.push_back(i);
      ValidationOptions::from_config(st.config.root().child("protocol")).split(features.samples, all_data, ctx.seed);
      const auto seed = derive_seed(ctx.seed, "fit_all");
      torch::manual_seed(seed);
      ModelSpec all_spec = spec;
      all_spec.num_action_units = static_cast<std::int64_t>(training_action_units(features, all_data.train).size());
      auto model = std::shared_ptr<Classifier>(builtin_models().build(st.model_node, all_spec));
      if (st.init) initialise(*model, *st.init, "fit_all", features, {}, true);
      if (st.pretrain_dataset) {
        InitOptions from_pretraining;
        from_pretraining.checkpoint = pretrained("fit_all", {});
        from_pretraining.where = "pretrain";
        initialise(*model, from_pretraining, "fit_all", features, {}, true);
      }
      auto train = all_data.train;
      for (const std::size_t i : all_data.train) train.insert(train.end(), copies[i].begin(), copies[i].end());
      logger()->info("fit_all: training on {} samples ({} validation)", train.size(), all_data.val.size());
      SoftTargets soft;
      if (teacher) soft = teacher->fold_targets("fit_all", features, train, all_data.val, {}, trainer, ctx, true);
      const auto history = trainer.fit(*model, features, train, all_data.val, seed, ctx, {}, teacher ? &soft : nullptr);
      run_dir.write("fit_all.json", history_json(history, train.size(), all_data.val.size()));
      save_checkpoint(*model, all_spec, resolved, subjects_of(features, train, all_data.val), run_dir.file("fit_all.pt"));
      logger()->info("fit_all: model saved to {}", run_dir.file("fit_all.pt").string());
    });
  }
  result.scores = std::move(scores);
  result.skipped = std::move(skipped);
  return result;
}

void write_report(const RunDir& run_dir, const RunScores& scores, const SummaryInfo& info) {
  run_dir.write("metrics.json", metrics_to_json(scores));
  run_dir.write("summary.md", summary_markdown(scores, info));
  run_dir.write("skipped.csv", skipped_to_csv(info.skipped));
  auto f = [](const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : std::string("n/a"); };
  write_confusion_png(run_dir.file("confusion.png"), scores.confusion, scores.classes,
                      info.title + " - " + info.protocol + " pooled: UF1 " + f(scores.uf1) + "  UAR " + f(scores.uar));
}

RunScores rescore_run(const fs::path& dir) {
  MER_CHECK(fs::is_directory(dir), IoError, "run folder '", dir.string(), "' does not exist");
  const auto run_dir = RunDir::at(dir);
  std::vector<Prediction> preds;
  std::vector<std::string> classes;
  if (run_dir.has("predictions.csv")) {
    classes = predictions_classes(run_dir.file("predictions.csv"));
    preds = read_predictions(run_dir.file("predictions.csv"), classes);
  } else {
    // An interrupted run: score the folds it finished, and say so.
    std::vector<fs::path> files;
    if (fs::is_directory(dir / "folds"))
      for (const auto& e : fs::directory_iterator(dir / "folds"))
        if (e.path().extension() == ".csv") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    MER_CHECK(!files.empty(), DataError, "run folder '", dir.string(),
              "' has no predictions.csv and no finished folds (folds/*.csv)");
    classes = predictions_classes(files.front());
    for (const auto& f : files) {
      auto p = read_predictions(f, classes);
      preds.insert(preds.end(), p.begin(), p.end());
    }
  }
  auto scores = score_predictions(preds, classes);
  SummaryInfo info;
  info.title = dir.filename().string();
  info.protocol = "loso";
  if (run_dir.has("config.resolved.yaml")) {
    const auto cfg = Config::load(run_dir.file("config.resolved.yaml"));
    if (cfg.root().has("protocol")) info.protocol = cfg.root().child("protocol").get<std::string>("type", "loso");
  }
  if (!run_dir.has("predictions.csv"))
    scores.notes.push_back("partial run: scored from " + std::to_string(scores.folds.size()) + " finished folds only");
  if (run_dir.has("skipped.csv")) {
    const auto t = Table::read(run_dir.file("skipped.csv"));
    for (const auto& row : t.rows) info.skipped.push_back(SkipRecord{row.at(0), row.at(1), row.at(2)});
  }
  info.facts.push_back("re-scored from saved predictions by `mer eval --run`");
  write_report(run_dir, scores, info);
  return scores;
}

}  // namespace mer
