// The one training loop.
//
// Reproducibility contract: fit() seeds LibTorch's generators with `seed` before anything random it does
// (dropout masks) and draws the epoch shuffles from its own std::mt19937_64, so two fits with the same
// seed, thread count, device and initial weights give bit-identical models. The initial weights are the
// caller's: LibTorch initialises parameters when a module is *constructed*, so the caller seeds
// (torch::manual_seed(seed)) before building the model — the Experiment does exactly that with the
// fold's seed, then calls fit with the same seed.
//
// The LibTorch intra-op thread count and the global seed are process-wide in LibTorch; fit() and
// predict() set them from the RunContext on every call instead of assuming someone else did.
#include <mer/train/trainer.hpp>

#include <mer/core/error.hpp>
#include <mer/core/glob.hpp>
#include <mer/core/log.hpp>
#include <mer/core/rng.hpp>
#include <mer/eval/metrics.hpp>
#include <mer/meta/action_units.hpp>
#include <mer/models/classifier.hpp>
#include <mer/train/losses.hpp>

#include <ATen/Context.h>
#include <dlfcn.h>
#include <malloc.h>
#include <ATen/record_function.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/utils.h>

#include <algorithm>
#include <mutex>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>

namespace mer {

namespace {

const std::vector<std::string> kOptimizers = {"adam", "adamw", "sgd", "rmsprop"};

[[noreturn]] void bad_option(const ConfigNode& node, const std::string& key, const std::string& expected,
                             const std::string& got) {
  throw ConfigError(detail::concat(node.where(key), ": '", node.key_path(key), "' must be ", expected, ", got ", got));
}

template <class T>
std::string str(const T& v) {
  return detail::concat(v);
}

// Uniform integer in [0, n) by rejection, so the shuffle is the same with every standard library
// (std::shuffle and std::uniform_int_distribution are implementation-defined).
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const auto max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - max % n;  // a multiple of n
  std::uint64_t r;
  do r = rng();
  while (r >= limit);
  return r % n;
}

void fisher_yates(std::vector<std::size_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

torch::Device resolve_device(const std::string& name) {
  std::optional<torch::Device> device;
  try {
    device.emplace(name);
  } catch (const c10::Error&) {
    throw ValueError(detail::concat("device '", name, "' is not one LibTorch knows (cpu, cuda, cuda:<index>)"));
  }
  if (device->is_cuda()) {
    MER_CHECK(torch::cuda::is_available(), ValueError, "device '", name,
              "' was requested but this LibTorch build sees no CUDA device; use device: cpu");
    // cuDNN picks convolution algorithms by timing and some are non-deterministic; the Trainer promises
    // identical results for identical seeds, which is worth more here than the speed.
    at::globalContext().setBenchmarkCuDNN(false);
    at::globalContext().setDeterministicCuDNN(true);
  } else {
    MER_CHECK(device->is_cpu(), ValueError, "device '", name, "' is not supported; use cpu or cuda");
  }
  return *device;
}

// TrainerOptions can be filled in code, bypassing from_config's checks; a zero batch size would loop
// forever, so the loop checks what it relies on.
void check_options(const TrainerOptions& o) {
  MER_CHECK(o.epochs > 0, ValueError, "TrainerOptions.epochs must be > 0, got ", o.epochs);
  MER_CHECK(o.batch_size > 0, ValueError, "TrainerOptions.batch_size must be > 0, got ", o.batch_size);
  MER_CHECK(o.lr > 0 && std::isfinite(o.lr), ValueError, "TrainerOptions.lr must be a finite number > 0, got ", o.lr);
}

void set_threads(const RunContext& ctx) {
  MER_CHECK(ctx.threads >= 1, ValueError, "RunContext.threads must be >= 1 (resolve it first), got ", ctx.threads);
  // Debian's LibTorch starts with one intra-op thread; the run's setting wins either way.
  torch::set_num_threads(ctx.threads);
  // OpenBLAS (Debian's libblas.so.3 after setup) keeps its own thread pool, which set_num_threads does not
  // reach; its idle threads spin, so with several fold workers they would steal the workers' cores.
  using SetThreads = void (*)(int);
  if (const auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(ctx.threads);
  // Each training step allocates and frees its activations (megabytes). glibc serves blocks that large
  // with mmap and trims the heap on free, so every step page-faults its memory back in: measured on STSTNet
  // (batch 256), a third of the CPU time went to the kernel with two fold workers. Keeping freed memory in
  // the heap removes that (the process keeps its peak, which it reaches every step anyway).
  static std::once_flag malloc_tuned;
  std::call_once(malloc_tuned, [] {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's maximum
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  });
}

// "flow [2x28x28], strain [1x28x28]" for messages.
std::string describe_groups(const FeatureSet& f) {
  std::string out;
  for (const auto& [name, shape] : feature_group_shapes(f)) {
    out += (out.empty() ? "" : ", ") + name + " [";
    for (std::size_t k = 0; k < shape.size(); ++k) out += (k ? "x" : "") + std::to_string(shape[k]);
    out += "]";
  }
  return out;
}

// Checks that every sample in `indices` exists and has an input of the FeatureSet's declared size.
void check_inputs(const FeatureSet& f, const std::vector<std::size_t>& indices, const char* what) {
  MER_CHECK(f.channels > 0 && f.height > 0 && f.width > 0, ValueError, "FeatureSet has no input shape (",
            f.channels, "x", f.height, "x", f.width, ")");
  MER_CHECK(f.inputs.size() == f.samples.size(), DataError, "FeatureSet has ", f.samples.size(), " samples but ",
            f.inputs.size(), " inputs");
  const std::size_t expected = f.sample_size();
  for (const std::size_t i : indices) {
    MER_CHECK(i < f.size(), ValueError, what, " index ", i, " is out of range (FeatureSet has ", f.size(),
              " samples)");
    MER_CHECK(f.inputs[i].size() == expected, DataError, "sample '", f.samples[i].id, "' has ", f.inputs[i].size(),
              " input values, expected ", expected, " (", f.channels, "x", f.height, "x", f.width, ")");
  }
}

void check_labels(const FeatureSet& f, const std::vector<std::size_t>& indices, std::int64_t num_classes) {
  for (const std::size_t i : indices) {
    const int label = f.samples[i].label;
    MER_CHECK(label >= 0 && label < num_classes, DataError, "sample '", f.samples[i].id, "' has label ", label,
              ", expected a class index in [0, ", num_classes, ")");
  }
}

// The groups a batch is cut into: every group of the FeatureSet (one "input" group covering all channels
// for a set built without groups), with its per-sample shape.
struct GroupSlice {
  std::string name;
  std::int64_t first = 0, channels = 0;
  std::size_t offset = 0, size = 0;  // where the group sits in a sample's array, and its number of values
  std::vector<std::int64_t> shape;  // per sample
};

std::vector<GroupSlice> group_slices(const FeatureSet& f) {
  std::vector<GroupSlice> out;
  std::size_t k = 0;
  for (const auto& [name, shape] : feature_group_shapes(f)) {
    const FeatureGroup* g = f.group(name);
    std::size_t size = 1;
    for (const auto d : shape) size *= static_cast<std::size_t>(d);
    out.push_back({name, g ? g->first_channel : 0, g ? g->channels : f.channels, f.group_offset(k++), size, shape});
  }
  return out;
}

// The model's groups copied straight from the samples' arrays: how groups of different sizes are batched.
NamedInputs group_batches(const FeatureSet& f, const std::size_t* idx, std::size_t n,
                          const std::vector<GroupSlice>& slices, const std::vector<std::string>& wanted) {
  NamedInputs out;
  for (const auto& g : slices) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), g.name) == wanted.end()) continue;
    std::vector<std::int64_t> shape = {static_cast<std::int64_t>(n)};
    shape.insert(shape.end(), g.shape.begin(), g.shape.end());
    auto t = torch::empty(shape, torch::kFloat);
    float* dst = t.data_ptr<float>();
    for (std::size_t k = 0; k < n; ++k)
      std::memcpy(dst + k * g.size, f.inputs[idx[k]].data() + g.offset, g.size * sizeof(float));
    out.emplace_back(g.name, t);
  }
  return out;
}

// [n, C, H, W] float batch of features.inputs[idx[0..n)]: every group stacked as the cache stores them.
torch::Tensor stacked_batch(const FeatureSet& f, const std::size_t* idx, std::size_t n) {
  auto x = torch::empty({static_cast<std::int64_t>(n), f.channels, f.height, f.width}, torch::kFloat);
  float* dst = x.data_ptr<float>();
  const std::size_t size = f.sample_size();
  for (std::size_t k = 0; k < n; ++k) std::memcpy(dst + k * size, f.inputs[idx[k]].data(), size * sizeof(float));
  return x;
}

// The model's groups cut from a stacked batch: image groups [n, C, H, W], sequences [n, T, C, H, W].
NamedInputs split_groups(const torch::Tensor& x, const std::vector<GroupSlice>& slices,
                         const std::vector<std::string>& wanted) {
  NamedInputs out;
  for (const auto& g : slices) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), g.name) == wanted.end()) continue;
    std::vector<std::int64_t> shape = {x.size(0)};
    shape.insert(shape.end(), g.shape.begin(), g.shape.end());
    out.emplace_back(g.name, x.narrow(1, g.first, g.channels).reshape(shape));
  }
  return out;
}

torch::Tensor label_batch(const FeatureSet& f, const std::size_t* idx, std::size_t n, const torch::Device& device) {
  auto y = torch::empty({static_cast<std::int64_t>(n)}, torch::kLong);
  auto* dst = y.data_ptr<std::int64_t>();
  for (std::size_t k = 0; k < n; ++k) dst[k] = f.samples[idx[k]].label;
  return y.to(device);
}

// Everything a fit needs to turn sample indices into model inputs and loss targets.
struct Batcher {
  const FeatureSet& f;
  std::vector<GroupSlice> slices;
  std::vector<std::string> wanted;
  std::vector<int> au_vocabulary;  // empty: no AU targets
  torch::Device device;
  /// Each sample's AU targets over the vocabulary, parsed once per fit (not once per batch and epoch).
  std::map<std::size_t, ActionUnitTargets> au_targets;
  const SoftTargets* teacher = nullptr;
  /// Domain index per dataset name (the training samples' datasets, sorted).
  std::map<std::string, std::int64_t> domain_of;

  void set_action_units(std::vector<int> vocabulary, const std::vector<std::size_t>& train,
                        const std::vector<std::size_t>& val) {
    au_vocabulary = std::move(vocabulary);
    for (const auto* indices : {&train, &val})
      for (const std::size_t i : *indices) au_targets.emplace(i, action_unit_targets(f.samples[i].action_units, au_vocabulary));
  }

  NamedInputs inputs(const std::size_t* idx, std::size_t n, const Augmenter* augment, std::mt19937_64* rng) const {
    if (!f.uniform()) {
      auto batch = group_batches(f, idx, n, slices, wanted);
      for (auto& kv : batch) kv.second = kv.second.to(device);
      return batch;  // the Augmenter refuses groups of different sizes when it is built
    }
    auto x = stacked_batch(f, idx, n);
    if (augment) x = (*augment)(x, *rng);
    return split_groups(x.to(device), slices, wanted);
  }
  // Each row's domain index (its dataset's), -1 for a dataset that is not a domain.
  torch::Tensor domains(const std::size_t* idx, std::size_t n) const {
    auto d = torch::empty({static_cast<std::int64_t>(n)}, torch::kLong);
    auto* out = d.data_ptr<std::int64_t>();
    for (std::size_t r = 0; r < n; ++r) {
      const auto it = domain_of.find(f.samples[idx[r]].dataset);
      out[r] = it == domain_of.end() ? -1 : it->second;
    }
    return d.to(device);
  }
  LossTargets targets(const std::size_t* idx, std::size_t n) const {
    LossTargets t;
    t.labels = label_batch(f, idx, n, device);
    if (!au_vocabulary.empty()) {
      const auto a = static_cast<std::int64_t>(au_vocabulary.size());
      auto values = torch::zeros({static_cast<std::int64_t>(n), a});
      auto known = torch::zeros({static_cast<std::int64_t>(n)}, torch::kBool);
      float* v = values.data_ptr<float>();
      bool* kn = known.data_ptr<bool>();
      for (std::size_t k = 0; k < n; ++k) {
        const auto& target = au_targets.at(idx[k]);
        kn[k] = target.known;
        std::copy(target.values.begin(), target.values.end(), v + k * static_cast<std::size_t>(a));
      }
      t.action_units = values.to(device);
      t.action_units_known = known.to(device);
    }
    if (!domain_of.empty()) t.domains = domains(idx, n);
    if (teacher) {
      // The teacher's logits, and its named outputs for hint losses, row by row.
      const auto gather = [&](const std::unordered_map<std::size_t, std::vector<float>>& per_sample, const std::string& what) {
        const auto k = static_cast<std::int64_t>(per_sample.begin()->second.size());
        auto m = torch::empty({static_cast<std::int64_t>(n), k});
        float* out = m.data_ptr<float>();
        for (std::size_t r = 0; r < n; ++r) {
          const auto it = per_sample.find(idx[r]);
          MER_CHECK(it != per_sample.end(), InternalError, "no teacher ", what, " for sample ", f.samples[idx[r]].id);
          std::copy(it->second.begin(), it->second.end(), out + r * static_cast<std::size_t>(k));
        }
        return m.to(device);
      };
      t.teacher_logits = gather(teacher->logits, "logits");
      for (const auto& [name, per_sample] : teacher->outputs) t.teacher_outputs[name] = gather(per_sample, "output '" + name + "'");
    }
    return t;
  }
};

// The objective: the sum over losses of weight × (weighted sum / weight sum). `sums` accumulates each
// term's two parts across batches (on the device, read once per epoch), so epoch figures are exact.
struct Objective {
  std::vector<std::shared_ptr<Loss>> losses;
  // `labelled`: how many leading rows of the batch have labels (the rest are a transductive fit's
  // unlabelled rows, seen only by the losses that read them); -1: all.
  torch::Tensor batch(const ModelOutput& out, const LossTargets& t, std::vector<torch::Tensor>* sums,
                      std::int64_t labelled = -1) const {
    const bool mixed = labelled >= 0 && labelled < out.logits.size(0);
    ModelOutput out_l;
    LossTargets t_l;
    if (mixed) {
      out_l.logits = out.logits.narrow(0, 0, labelled);
      for (const auto& [name, v] : out.aux) out_l.aux[name] = v.narrow(0, 0, labelled);
      t_l = t;
      if (t.domains.defined()) t_l.domains = t.domains.narrow(0, 0, labelled);
    }
    torch::Tensor total;
    for (std::size_t k = 0; k < losses.size(); ++k) {
      const bool all_rows = !mixed || losses[k]->reads_unlabelled();
      const auto v = losses[k]->compute(all_rows ? out : out_l, all_rows ? t : t_l);
      if (sums) {
        (*sums)[2 * k] += v.weighted_sum.detach().to(torch::kDouble);
        (*sums)[2 * k + 1] += v.weight_sum.detach().to(torch::kDouble);
      }
      // A term with no weight in this batch (e.g. no readable AU cell) adds nothing.
      const auto term = losses[k]->weight * v.weighted_sum / v.weight_sum.clamp_min(1e-12);
      total = total.defined() ? total + term : term;
    }
    return total;
  }
  std::vector<torch::Tensor> zero_sums(const torch::Device& device) const {
    std::vector<torch::Tensor> s;
    for (std::size_t k = 0; k < 2 * losses.size(); ++k)
      s.push_back(torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device)));
    return s;
  }
  // The epoch's value from accumulated sums; nullopt when every term had zero weight (e.g. a validation
  // set made only of classes never trained on, under class weights: see inverse_frequency_weights).
  std::optional<double> value(const std::vector<torch::Tensor>& sums,
                              std::vector<std::pair<std::string, double>>* terms) const {
    double total = 0;
    bool any = false;
    for (std::size_t k = 0; k < losses.size(); ++k) {
      const double w = sums[2 * k + 1].item<double>();
      if (w <= 0) continue;
      const double term = sums[2 * k].item<double>() / w;
      if (terms) terms->emplace_back(losses[k]->name, term);
      total += losses[k]->weight * term;
      any = true;
    }
    return any ? std::optional<double>(total) : std::nullopt;
  }
};

struct Split {
  double loss = 0, accuracy = 0;
  bool loss_defined = true;
  std::optional<double> uf1;
};

Split evaluate(Classifier& model, const Batcher& batcher, const Objective& objective,
               const std::vector<std::size_t>& indices, int batch_size) {
  torch::NoGradGuard no_grad;
  model.eval();
  for (auto& l : objective.losses) l->eval();
  auto sums = objective.zero_sums(batcher.device);
  std::int64_t correct = 0, classes = 0;
  std::vector<int> truth, predicted;
  for (std::size_t b = 0; b < indices.size(); b += static_cast<std::size_t>(batch_size)) {
    const std::size_t n = std::min(indices.size() - b, static_cast<std::size_t>(batch_size));
    const auto out = model.forward(batcher.inputs(indices.data() + b, n, nullptr, nullptr));
    const auto t = batcher.targets(indices.data() + b, n);
    objective.batch(out, t, &sums);
    const auto pred = out.logits.argmax(1);
    correct += pred.eq(t.labels).sum().item<std::int64_t>();
    classes = out.logits.size(1);
    const auto p = pred.to(torch::kCPU, torch::kLong).contiguous();
    const auto* pp = p.data_ptr<std::int64_t>();
    for (std::size_t k = 0; k < n; ++k) {
      predicted.push_back(static_cast<int>(pp[k]));
      truth.push_back(batcher.f.samples[indices[b + k]].label);
    }
  }
  Split s;
  s.uf1 = uf1(confusion_matrix(truth, predicted, static_cast<int>(classes)));
  s.accuracy = static_cast<double>(correct) / static_cast<double>(indices.size());
  const auto v = objective.value(sums, nullptr);
  s.loss_defined = v.has_value();
  s.loss = v.value_or(0.0);
  return s;
}

template <class Opt, class Options>
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<std::vector<torch::Tensor>>& groups,
                                                        const Options& options) {
  std::vector<torch::optim::OptimizerParamGroup> pg;
  for (const auto& g : groups) pg.emplace_back(g, std::make_unique<Options>(options));
  return std::make_unique<Opt>(pg, options);
}

}  // namespace

constexpr double kPi = 3.14159265358979323846;

double TrainerOptions::lr_at(int epoch, int step, int steps_per_epoch) const {
  const auto& sc = scheduler;
  const int spe = std::max(1, steps_per_epoch);
  // Position in epochs, counting from 0 at the first step.
  const double t = (epoch - 1) + static_cast<double>(step) / spe;
  if (sc.type == "onecycle") {
    // Cosine up from lr / div_factor to lr over pct_start of the run, then down to lr / (div · final_div).
    const double total = static_cast<double>(epochs), up = sc.pct_start * total;
    const double lo = lr / sc.div_factor, end = lo / sc.final_div_factor;
    const auto cosine = [](double from, double to, double x) { return to + (from - to) * 0.5 * (1 + std::cos(kPi * x)); };
    return t < up ? cosine(lo, lr, t / up) : cosine(lr, end, (t - up) / std::max(1e-12, total - up));
  }
  if (sc.warmup_epochs > 0 && t < sc.warmup_epochs) return lr * (t + 1.0 / spe) / sc.warmup_epochs;
  const int e = epoch - 1;  // epochs completed before this one
  if (sc.type == "step") return lr * std::pow(sc.gamma, e / sc.step_size);
  if (sc.type == "multistep") {
    int passed = 0;
    for (const int m : sc.milestones) passed += e >= m;
    return lr * std::pow(sc.gamma, passed);
  }
  if (sc.type == "exponential") return lr * std::pow(sc.gamma, e);
  if (sc.type == "cosine") {
    const double span = std::max(1, epochs - sc.warmup_epochs);
    const double x = std::clamp((e - sc.warmup_epochs) / span, 0.0, 1.0);
    return sc.min_lr + (lr - sc.min_lr) * 0.5 * (1 + std::cos(kPi * x));
  }
  return lr;
}

TrainerOptions TrainerOptions::from_config(const ConfigNode& node) {
  TrainerOptions o;
  o.epochs = node.get<int>("epochs", o.epochs);
  if (o.epochs <= 0) bad_option(node, "epochs", "> 0", str(o.epochs));
  o.batch_size = node.get<int>("batch_size", o.batch_size);
  if (o.batch_size <= 0) bad_option(node, "batch_size", "> 0", str(o.batch_size));

  o.optimizer = node.get<std::string>("optimizer", o.optimizer);
  if (std::find(kOptimizers.begin(), kOptimizers.end(), o.optimizer) == kOptimizers.end()) {
    std::string msg = detail::concat(node.where("optimizer"), ": unknown optimizer '", o.optimizer, "' for '",
                                     node.key_path("optimizer"), "'");
    if (const auto hint = nearest(o.optimizer, kOptimizers); !hint.empty()) msg += " (did you mean '" + hint + "'?)";
    msg += "; known optimizers:";
    for (const auto& name : kOptimizers) msg += " " + name;
    throw ConfigError(msg);
  }

  o.lr = node.get<double>("lr", o.lr);
  if (!(o.lr > 0 && std::isfinite(o.lr))) bad_option(node, "lr", "a finite number > 0", str(o.lr));
  const bool momentum_written = node.has("momentum");
  o.momentum = node.get<double>("momentum", o.momentum);
  // Momentum >= 1 makes SGD's velocity grow without bound.
  if (!(o.momentum >= 0 && o.momentum < 1)) bad_option(node, "momentum", "in [0, 1)", str(o.momentum));
  // A resolved config (config.resolved.yaml) carries the default; only a value someone chose is worth a warning.
  if (momentum_written && o.momentum != TrainerOptions{}.momentum && o.optimizer != "sgd" && o.optimizer != "rmsprop") {
    logger()->warn("{}: '{}' only affects sgd and rmsprop; the {} optimizer ignores it", node.where("momentum"),
                   node.key_path("momentum"), o.optimizer);
  }
  o.nesterov = node.get<bool>("nesterov", o.nesterov);
  if (o.nesterov && (o.optimizer != "sgd" || o.momentum <= 0))
    bad_option(node, "nesterov", "used with optimizer sgd and momentum > 0", o.optimizer);
  o.weight_decay = node.get<double>("weight_decay", o.weight_decay);
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay))) {
    bad_option(node, "weight_decay", "a finite number >= 0", str(o.weight_decay));
  }
  o.class_weighted_loss = node.get<bool>("class_weighted_loss", o.class_weighted_loss);
  if (node.has("scheduler")) {
    const auto sn = node.child("scheduler");
    auto& sc = o.scheduler;
    sc.type = sn.get_choice("type", sc.type, {"none", "step", "multistep", "exponential", "cosine", "onecycle"});
    if (sc.type == "step") sc.step_size = sn.get<int>("step_size", sc.step_size);
    if (sc.type == "multistep") sc.milestones = sn.get<std::vector<int>>("milestones", sc.milestones);
    if (sc.type == "step" || sc.type == "multistep" || sc.type == "exponential") sc.gamma = sn.get<double>("gamma", sc.gamma);
    if (sc.type == "cosine") sc.min_lr = sn.get<double>("min_lr", sc.min_lr);
    if (sc.type == "onecycle") {
      sc.pct_start = sn.get<double>("pct_start", sc.pct_start);
      sc.div_factor = sn.get<double>("div_factor", sc.div_factor);
      sc.final_div_factor = sn.get<double>("final_div_factor", sc.final_div_factor);
      if (!(sc.pct_start > 0 && sc.pct_start < 1)) bad_option(sn, "pct_start", "in (0, 1)", str(sc.pct_start));
      if (!(sc.div_factor >= 1 && sc.final_div_factor >= 1)) bad_option(sn, "div_factor", ">= 1 (and final_div_factor too)", str(sc.div_factor));
    }
    sc.warmup_epochs = sn.get<int>("warmup_epochs", sc.warmup_epochs);
    if (sc.step_size <= 0) bad_option(sn, "step_size", "> 0", str(sc.step_size));
    if (!(sc.gamma > 0 && sc.gamma <= 1)) bad_option(sn, "gamma", "in (0, 1]", str(sc.gamma));
    if (!(sc.min_lr >= 0 && sc.min_lr < o.lr)) bad_option(sn, "min_lr", "in [0, train.lr)", str(sc.min_lr));
    if (sc.warmup_epochs < 0 || sc.warmup_epochs >= o.epochs) bad_option(sn, "warmup_epochs", "in [0, epochs)", str(sc.warmup_epochs));
    for (std::size_t i = 0; i < sc.milestones.size(); ++i)
      if (sc.milestones[i] <= 0 || (i > 0 && sc.milestones[i] <= sc.milestones[i - 1]))
        bad_option(sn, "milestones", "increasing epochs > 0", str(sc.milestones[i]));
  }
  o.clip_grad_norm = node.get<double>("clip_grad_norm", o.clip_grad_norm);
  if (!(o.clip_grad_norm >= 0 && std::isfinite(o.clip_grad_norm))) bad_option(node, "clip_grad_norm", "a number >= 0", str(o.clip_grad_norm));
  for (const auto& g : node.items("param_groups")) {
    ParamGroup pg;
    pg.params = g.required<std::string>("params");
    pg.lr = g.required<double>("lr");
    if (!(pg.lr >= 0 && std::isfinite(pg.lr))) bad_option(g, "lr", "a finite number >= 0", str(pg.lr));
    o.param_groups.push_back(pg);
  }
  o.freeze = node.get<std::vector<std::string>>("freeze", o.freeze);
  if (node.has("distill")) {
    const auto d = node.child("distill");
    o.distill_teacher = d.required_path("teacher").string();
    o.distill_external = d.get<bool>("external", false);
  }
  o.select = node.get_choice("select", o.select, {"last", "best_val_loss", "best_val_uf1"});
  if (node.has("early_stopping")) {
    const auto es = node.child("early_stopping");
    o.patience = es.get<int>("patience", o.patience);
    o.min_delta = es.get<double>("min_delta", o.min_delta);
    if (o.patience < 0) bad_option(es, "patience", ">= 0", str(o.patience));
    if (!(o.min_delta >= 0)) bad_option(es, "min_delta", ">= 0", str(o.min_delta));
  }
  o.losses = node.items("losses");
  with_context("reading train.losses", [&] { check_losses(o.losses); });
  o.augment = AugmentOptions::from_config(node.child("augment"));
  return o;
}

std::vector<int> training_action_units(const FeatureSet& features, const std::vector<std::size_t>& train) {
  std::vector<const std::string*> cells;
  for (const std::size_t i : train)
    if (i < features.samples.size()) cells.push_back(&features.samples[i].action_units);
  return action_unit_vocabulary(cells);
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> feature_group_shapes(const FeatureSet& f) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  if (f.groups.empty()) {
    out.emplace_back("input", std::vector<std::int64_t>{f.channels, f.height, f.width});
    return out;
  }
  for (const auto& g : f.groups) out.emplace_back(g.name, f.group_shape(g));
  return out;
}

std::vector<EpochLog> Trainer::fit(Classifier& model, const FeatureSet& features, const std::vector<std::size_t>& train,
                                   const std::vector<std::size_t>& val, std::uint64_t seed, const RunContext& ctx,
                                   const std::function<void(const EpochLog&)>& on_epoch, const SoftTargets* teacher,
                                   const std::vector<std::size_t>& unlabelled) const {
  check_options(options_);
  MER_CHECK(!train.empty(), ValueError, "Trainer::fit needs at least one training sample");
  check_inputs(features, train, "training");
  check_inputs(features, val, "validation");
  check_inputs(features, unlabelled, "unlabelled");
  {
    const std::set<std::size_t> train_set(train.begin(), train.end());
    for (const std::size_t i : val) {
      MER_CHECK(!train_set.count(i), ValueError, "sample '", features.samples[i].id,
                "' is in both the training and the validation indices");
    }
    for (const std::size_t i : unlabelled)
      MER_CHECK(!train_set.count(i), ValueError, "sample '", features.samples[i].id,
                "' is in both the training and the unlabelled indices");
  }
  // Built before training so a bad option or group is reported before the first epoch.
  const Augmenter augmenter(options_.augment, features);
  set_threads(ctx);
  const torch::Device device = resolve_device(ctx.device);
  Batcher batcher{features, group_slices(features), model.input_names(), {}, device, {}, nullptr, {}};
  if (teacher && !teacher->empty()) batcher.teacher = teacher;

  return torch_boundary("training", [&] {
    torch::manual_seed(seed);
    model.to(device);

    // One sample through the model (eval mode, no grad: no state changes, no random draws) checks the
    // features against the model before any training and tells the output widths the losses need.
    LossContext loss_ctx;
    {
      torch::NoGradGuard no_grad;
      model.eval();
      const auto probe = with_context(
          "checking the features (" + describe_groups(features) + ") against the model",
          [&] { return model.forward(batcher.inputs(train.data(), 1, nullptr, nullptr)); });
      MER_CHECK(probe.logits.dim() == 2 && probe.logits.size(0) == 1, InternalError, "the model returned logits of shape ",
                probe.logits.sizes(), " for one sample, expected [1, num_classes]");
      loss_ctx.num_classes = probe.logits.size(1);
      loss_ctx.output_widths["logits"] = loss_ctx.num_classes;
      for (const auto& [name, t] : probe.aux) loss_ctx.output_widths[name] = t.dim() >= 2 ? t.size(1) : 1;
    }
    check_labels(features, train, loss_ctx.num_classes);
    check_labels(features, val, loss_ctx.num_classes);
    {
      std::set<std::string> datasets;
      for (const auto* indices : {&train, &unlabelled})
        for (const std::size_t i : *indices) datasets.insert(features.samples[i].dataset);
      for (const auto& d : datasets) batcher.domain_of.emplace(d, static_cast<std::int64_t>(batcher.domain_of.size()));
      loss_ctx.num_domains = static_cast<std::int64_t>(datasets.size());
    }
    if (teacher)
      for (const auto& [name, per_sample] : teacher->outputs)
        if (!per_sample.empty()) loss_ctx.teacher_widths[name] = static_cast<std::int64_t>(per_sample.begin()->second.size());
    loss_ctx.class_counts.assign(static_cast<std::size_t>(loss_ctx.num_classes), 0.0);
    for (const std::size_t i : train) loss_ctx.class_counts[static_cast<std::size_t>(features.samples[i].label)] += 1;
    if (const auto au = loss_ctx.output_widths.find("au"); au != loss_ctx.output_widths.end()) {
      batcher.set_action_units(training_action_units(features, train), train, val);
      MER_CHECK(static_cast<std::int64_t>(batcher.au_vocabulary.size()) == au->second, ValueError,
                "the model's 'au' output has ", au->second, " units but the training samples code ",
                batcher.au_vocabulary.size(), " action units; build the model with training_action_units()");
    }

    Objective objective;
    const auto default_loss = Config::from_string(
        options_.class_weighted_loss ? "{type: cross_entropy, class_weighted: true}" : "{type: cross_entropy}",
        "default loss");
    const auto nodes = options_.losses.empty() ? std::vector<ConfigNode>{default_loss.root()} : options_.losses;
    for (const auto& node : nodes) {
      objective.losses.push_back(std::shared_ptr<Loss>(builtin_losses().build(node, loss_ctx)));
      objective.losses.back()->to(device);
    }
    if (!unlabelled.empty()) {
      bool used = false;
      for (const auto& l : objective.losses) used = used || l->reads_unlabelled();
      MER_CHECK(used, ValueError, "unlabelled samples are given but no loss reads them (add domain_adversarial or coral to train.losses)");
    }

    // Parameter groups: each configured pattern takes the matching parameters not taken yet, in order;
    // the rest (and the losses' own parameters) train at train.lr. Scales are relative to train.lr, so the
    // scheduler moves every group alike.
    std::vector<std::vector<torch::Tensor>> groups(options_.param_groups.size() + 1);
    std::vector<double> scales;
    for (const auto& g : options_.param_groups) scales.push_back(g.lr / options_.lr);
    scales.push_back(1.0);
    std::vector<std::size_t> matched(options_.param_groups.size(), 0);
    // Frozen parameters (train.freeze) get no gradient and no optimiser state: fine-tuning trains the rest.
    std::vector<std::size_t> frozen(options_.freeze.size(), 0);
    std::size_t frozen_total = 0;
    for (const auto& item : model.named_parameters()) {
      bool freeze = false;
      for (std::size_t k = 0; k < options_.freeze.size(); ++k)
        if (glob_match(options_.freeze[k], item.key())) ++frozen[k], freeze = true;
      if (freeze) {
        item.value().set_requires_grad(false);
        ++frozen_total;
        continue;
      }
      std::size_t g = options_.param_groups.size();
      for (std::size_t k = 0; k < options_.param_groups.size(); ++k)
        if (glob_match(options_.param_groups[k].params.c_str(), item.key().c_str())) {
          g = k;
          break;
        }
      if (g < matched.size()) ++matched[g];
      groups[g].push_back(item.value());
    }
    for (std::size_t k = 0; k < matched.size(); ++k)
      MER_CHECK(matched[k] > 0, ValueError, "train.param_groups[", k, "] params '", options_.param_groups[k].params,
                "' matches no parameter of the model (see mer model summary for the names)");
    for (std::size_t k = 0; k < frozen.size(); ++k)
      MER_CHECK(frozen[k] > 0, ValueError, "train.freeze[", k, "] '", options_.freeze[k],
                "' matches no parameter of the model (see mer model summary for the names)");
    if (frozen_total > 0) logger()->debug("train.freeze: {} parameter tensors frozen", frozen_total);
    for (const auto& l : objective.losses)
      for (const auto& p : l->parameters()) groups.back().push_back(p);
    std::vector<std::vector<torch::Tensor>> used;
    std::vector<double> used_scales;
    for (std::size_t k = 0; k < groups.size(); ++k)
      if (!groups[k].empty()) used.push_back(groups[k]), used_scales.push_back(scales[k]);
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    const double wd = options_.weight_decay;
    if (options_.optimizer == "adam") {
      optimizer = make_optimizer<torch::optim::Adam>(used, torch::optim::AdamOptions(options_.lr).weight_decay(wd));
    } else if (options_.optimizer == "adamw") {
      optimizer = make_optimizer<torch::optim::AdamW>(used, torch::optim::AdamWOptions(options_.lr).weight_decay(wd));
    } else if (options_.optimizer == "sgd") {
      optimizer = make_optimizer<torch::optim::SGD>(
          used, torch::optim::SGDOptions(options_.lr).momentum(options_.momentum).nesterov(options_.nesterov).weight_decay(wd));
    } else if (options_.optimizer == "rmsprop") {
      optimizer = make_optimizer<torch::optim::RMSprop>(
          used, torch::optim::RMSpropOptions(options_.lr).momentum(options_.momentum).weight_decay(wd));
    } else {
      throw ValueError(detail::concat("unknown optimizer '", options_.optimizer, "' (known: adam, adamw, sgd, rmsprop)"));
    }
    const auto set_lr = [&](double lr) {
      auto& pgs = optimizer->param_groups();
      for (std::size_t k = 0; k < pgs.size(); ++k) pgs[k].options().set_lr(lr * used_scales[k]);
    };

    // Model selection on the validation subjects, and early stopping on the same metric.
    const bool by_uf1 = options_.select == "best_val_uf1";
    const bool selecting = options_.select != "last";
    MER_CHECK((!selecting && options_.patience == 0) || !val.empty(), ValueError, "train.select: ", options_.select,
              options_.patience > 0 ? " and train.early_stopping" : "",
              " choose the epoch on validation subjects, but this fold has none; set protocol.val_subjects or "
              "protocol.val_fraction");
    std::vector<torch::Tensor> best_state;
    double best_metric = 0;
    int best_epoch = 0, since_best = 0;
    const auto snapshot = [&] {
      best_state.clear();
      torch::NoGradGuard g;
      for (const auto& p : model.parameters()) best_state.push_back(p.detach().clone());
      for (const auto& b : model.buffers()) best_state.push_back(b.detach().clone());
    };
    const auto restore = [&] {
      torch::NoGradGuard g;
      std::size_t k = 0;
      for (auto& p : model.parameters()) p.copy_(best_state[k++]);
      for (auto& b : model.buffers()) b.copy_(best_state[k++]);
    };

    std::mt19937_64 shuffle_rng(derive_seed(seed, "trainer/shuffle"));
    std::vector<std::size_t> order = train;
    // Unlabelled rows cycle through their own shuffled order on their own stream, so a fit without them
    // draws exactly what it drew before.
    std::mt19937_64 unlabelled_rng(derive_seed(seed, "trainer/unlabelled"));
    std::vector<std::size_t> unlabelled_order = unlabelled;
    std::size_t unlabelled_at = unlabelled_order.size();
    std::vector<std::size_t> rows;
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    std::vector<EpochLog> logs;
    logs.reserve(static_cast<std::size_t>(options_.epochs));

    for (int epoch = 1; epoch <= options_.epochs; ++epoch) {  // counted from 1, as logs and reports show it
      fisher_yates(order, shuffle_rng);
      // Its own stream per epoch, derived from the fit seed: augmentation never shifts the shuffles or the
      // dropout masks, and the draws of epoch e are the same whatever ran before.
      std::mt19937_64 augment_rng(derive_seed(seed, "trainer/augment/epoch" + std::to_string(epoch)));
      model.train();
      for (auto& l : objective.losses) {
        l->train();
        l->set_progress(static_cast<double>(epoch - 1) / options_.epochs);
      }
      auto sums = objective.zero_sums(device);
      auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
      const int steps = static_cast<int>((order.size() + batch_size - 1) / batch_size);
      const double epoch_lr = options_.lr_at(epoch, 0, steps);
      for (std::size_t b = 0; b < order.size(); b += batch_size) {
        const std::size_t n = std::min(order.size() - b, batch_size);
        set_lr(options_.lr_at(epoch, static_cast<int>(b / batch_size), steps));
        // Training batches only: evaluate() and predict() read the features as they are.
        const std::size_t* idx = order.data() + b;
        std::size_t rows_n = n;
        if (!unlabelled_order.empty()) {
          rows.assign(idx, idx + n);
          for (std::size_t u = 0; u < n; ++u) {
            if (unlabelled_at == unlabelled_order.size()) fisher_yates(unlabelled_order, unlabelled_rng), unlabelled_at = 0;
            rows.push_back(unlabelled_order[unlabelled_at++]);
          }
          idx = rows.data();
          rows_n = rows.size();
        }
        const auto x = batcher.inputs(idx, rows_n, &augmenter, &augment_rng);
        auto t = batcher.targets(idx, n);  // labels of the labelled rows only: the others are never read
        if (rows_n > n) t.domains = batcher.domains(idx, rows_n);
        optimizer->zero_grad();
        const auto out = model.forward(x);
        objective.batch(out, t, &sums, static_cast<std::int64_t>(n)).backward();
        if (options_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model.parameters(), options_.clip_grad_norm);
        optimizer->step();
        correct += out.logits.detach().narrow(0, 0, static_cast<std::int64_t>(n)).argmax(1).eq(t.labels).sum();
      }

      EpochLog log;
      log.epoch = epoch;
      log.lr = epoch_lr;
      // Running figures over the epoch, in training mode (dropout on, weights moving), as is customary;
      // an exact post-epoch pass over the training set would double the cost.
      const auto train_loss = objective.value(sums, &log.train_terms);
      log.train_loss = train_loss.value_or(std::numeric_limits<double>::quiet_NaN());
      log.train_accuracy = static_cast<double>(correct.item<std::int64_t>()) / static_cast<double>(order.size());
      MER_CHECK(std::isfinite(log.train_loss), DataError, "the training loss became ", log.train_loss, " in epoch ",
                epoch, " (lower train.lr, or check the features for NaN or huge values)");
      if (!val.empty()) {
        const auto v = evaluate(model, batcher, objective, val, options_.batch_size);
        log.val_accuracy = v.accuracy;
        log.val_uf1 = v.uf1;
        if (v.loss_defined) {
          log.val_loss = v.loss;
        } else if (epoch == 1) {
          logger()->warn("no validation sample belongs to a class seen in training, so val_loss is not reported");
        }
      }
      logger()->debug("epoch {}/{}: train loss {:.4f} acc {:.3f}{}", epoch, options_.epochs, log.train_loss,
                      log.train_accuracy,
                      log.val_accuracy ? fmt::format(", val loss {:.4f} acc {:.3f}", log.val_loss.value_or(std::numeric_limits<double>::quiet_NaN()),
                                                     *log.val_accuracy)
                                       : std::string());
      logs.push_back(log);
      if (on_epoch) on_epoch(log);
      if (selecting || options_.patience > 0) {
        // Higher is better for UF1, lower for loss; an undefined metric never counts as an improvement.
        const std::optional<double> metric = by_uf1 ? log.val_uf1 : log.val_loss;
        const double signed_metric = metric ? (by_uf1 ? *metric : -*metric) : -std::numeric_limits<double>::infinity();
        if (best_epoch == 0 || signed_metric > best_metric + options_.min_delta) {
          best_metric = signed_metric;
          best_epoch = epoch;
          since_best = 0;
          if (selecting) snapshot();
        } else if (++since_best >= options_.patience && options_.patience > 0) {
          logger()->debug("early stopping after epoch {}: no improvement for {} epochs", epoch, since_best);
          break;
        }
      }
    }
    if (selecting && best_epoch > 0 && best_epoch != logs.back().epoch) restore();
    logs[static_cast<std::size_t>((selecting ? best_epoch : logs.back().epoch) - 1)].selected = true;
    return logs;
  });
}

namespace {

// Runs `model` in eval mode over features[indices] in batches, never augmented, and hands each batch's
// outputs to `take` with the batch's size: what predict() and outputs() share.
void eval_batches(Classifier& model, const FeatureSet& features, const std::vector<std::size_t>& indices,
                  const RunContext& ctx, int batch_size, const std::string& what,
                  const std::function<void(const ModelOutput&, std::size_t)>& take) {
  MER_CHECK(batch_size > 0, ValueError, "TrainerOptions.batch_size must be > 0, got ", batch_size);
  check_inputs(features, indices, "prediction");
  set_threads(ctx);
  const torch::Device device = resolve_device(ctx.device);
  const Batcher batcher{features, group_slices(features), model.input_names(), {}, device, {}, nullptr, {}};
  torch_boundary(what, [&] {
    model.to(device);
    model.eval();
    torch::NoGradGuard no_grad;
    const auto step = static_cast<std::size_t>(batch_size);
    for (std::size_t b = 0; b < indices.size(); b += step) {
      const std::size_t n = std::min(indices.size() - b, step);
      take(model.forward(batcher.inputs(indices.data() + b, n, nullptr, nullptr)), n);
    }
  });
}

// Appends the n rows of `t`, each flattened, to `out` as float vectors.
void append_rows(const torch::Tensor& t, std::size_t n, std::vector<std::vector<float>>& out) {
  const auto rows = t.reshape({static_cast<std::int64_t>(n), -1}).to(torch::kCPU, torch::kFloat).contiguous();
  const float* p = rows.data_ptr<float>();
  const auto k = static_cast<std::size_t>(rows.size(1));
  for (std::size_t r = 0; r < n; ++r) out.emplace_back(p + r * k, p + (r + 1) * k);
}

}  // namespace

std::map<std::string, std::vector<std::vector<float>>> Trainer::outputs(Classifier& model, const FeatureSet& features,
                                                                        const std::vector<std::size_t>& indices, const RunContext& ctx,
                                                                        const std::vector<std::string>& names) const {
  std::map<std::string, std::vector<std::vector<float>>> out;
  eval_batches(model, features, indices, ctx, options_.batch_size, "computing the model's outputs",
               [&](const ModelOutput& o, std::size_t n) {
                 append_rows(o.logits, n, out["logits"]);
                 for (const auto& name : names) {
                   const auto it = o.aux.find(name);
                   if (it == o.aux.end()) {
                     std::string have = "logits";
                     for (const auto& kv : o.aux) have += ", " + kv.first;
                     throw ValueError("the model has no output '" + name + "' (it has " + have + ")");
                   }
                   append_rows(it->second, n, out[name]);
                 }
               });
  return out;
}

std::vector<std::vector<float>> Trainer::predict(Classifier& model, const FeatureSet& features,
                                                 const std::vector<std::size_t>& indices, const RunContext& ctx) const {
  std::vector<std::vector<float>> out;
  out.reserve(indices.size());
  eval_batches(model, features, indices, ctx, options_.batch_size, "predicting", [&](const ModelOutput& o, std::size_t n) {
    MER_CHECK(o.logits.dim() == 2 && o.logits.size(0) == static_cast<std::int64_t>(n), InternalError,
              "the model returned logits of shape ", o.logits.sizes(), " for ", n, " samples");
    append_rows(torch::softmax(o.logits, 1), n, out);
  });
  return out;
}

namespace {

// FLOPs of the dense ops a model is made of, from their input shapes: convolutions and matrix products,
// 2 per multiply-add, counted at the outermost dispatched op only (a conv2d that dispatches to
// _convolution, or a linear that becomes addmm, is one op). Element-wise ops, pooling and normalisation are
// left out, as FLOP counts conventionally do; LSTM/GRU cells are counted through their matmuls only when
// they dispatch them at the top level.
thread_local int op_depth = 0;
thread_local double counted_flops = 0;

double product(c10::IntArrayRef v, std::size_t from = 0) {
  double p = 1;
  for (std::size_t i = from; i < v.size(); ++i) p *= static_cast<double>(v[i]);
  return p;
}

double op_flops(const at::RecordFunction& fn) {
  const std::string name = fn.name();
  const auto inputs = fn.inputs();
  const auto sizes = [&](std::size_t i) { return inputs[i].toTensor().sizes(); };
  const auto tensor = [&](std::size_t i) { return i < inputs.size() && inputs[i].isTensor() && inputs[i].toTensor().defined(); };
  if (name == "aten::conv1d" || name == "aten::conv2d" || name == "aten::conv3d" || name == "aten::convolution" ||
      name == "aten::_convolution" || name == "mer::conv_relu_bn_maxpool") {
    if (!tensor(0) || !tensor(1)) return 0;
    // Output elements from the input, stride, padding and dilation (inputs 3, 4, 5 of every variant).
    const auto in = sizes(0), w = sizes(1);
    const std::size_t dims = w.size() - 2;
    const auto ints = [&](std::size_t i) {
      std::vector<std::int64_t> v(dims, i == 3 || i == 5 ? 1 : 0);
      if (i < inputs.size() && inputs[i].isIntList()) {
        const auto l = inputs[i].toIntVector();
        for (std::size_t d = 0; d < dims; ++d) v[d] = l.size() == 1 ? l[0] : l[d];
      }
      return v;
    };
    const auto stride = ints(3), dilation = ints(5);
    std::vector<std::int64_t> padding(dims, 0);
    if (inputs.size() > 4 && inputs[4].isIntList()) padding = ints(4);
    else if (inputs.size() > 4 && inputs[4].isString() && inputs[4].toStringRef() == "same")
      for (std::size_t d = 0; d < dims; ++d) padding[d] = dilation[d] * (w[2 + d] - 1) / 2;
    double out = static_cast<double>(in[0]) * static_cast<double>(w[0]);
    for (std::size_t d = 0; d < dims; ++d)
      out *= static_cast<double>((in[2 + d] + 2 * padding[d] - dilation[d] * (w[2 + d] - 1) - 1) / stride[d] + 1);
    return 2.0 * out * product(w, 1);  // weight [out, in/groups, k...]: each output sums in/groups × k products
  }
  if (name == "aten::linear") return tensor(0) && tensor(1) ? 2.0 * product(sizes(0)) * static_cast<double>(sizes(1)[0]) : 0;
  if (name == "aten::mm" || name == "aten::bmm" || name == "aten::matmul") {
    if (!tensor(0) || !tensor(1)) return 0;
    const auto a = sizes(0), b = sizes(1);
    // [..., M, K] x [..., K, N]: batch (broadcast) x M x N outputs of K products each.
    const double n = b.size() >= 2 ? static_cast<double>(b.back()) : 1.0;
    return 2.0 * product(a) * n;
  }
  if (name == "aten::addmm" || name == "aten::baddbmm") {
    if (!tensor(1) || !tensor(2)) return 0;
    return 2.0 * product(sizes(1)) * static_cast<double>(sizes(2).back());
  }
  return 0;
}

}  // namespace

double Trainer::forward_flops(Classifier& model, const FeatureSet& features, std::size_t index, const RunContext& ctx) const {
  check_inputs(features, {index}, "FLOP counting");
  set_threads(ctx);
  const torch::Device device = resolve_device(ctx.device);
  const Batcher batcher{features, group_slices(features), model.input_names(), {}, device, {}, nullptr, {}};
  return torch_boundary("counting FLOPs", [&] {
    model.to(device);
    model.eval();
    torch::NoGradGuard no_grad;
    const auto x = batcher.inputs(&index, 1, nullptr, nullptr);
    op_depth = 0;
    counted_flops = 0;
    const auto handle = at::addThreadLocalCallback(
        at::RecordFunctionCallback(
            [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
              if (op_depth++ == 0) counted_flops += op_flops(fn);
              return nullptr;
            },
            [](const at::RecordFunction&, at::ObserverContext*) { --op_depth; })
            .needsInputs(true)
            .scopes({at::RecordScope::FUNCTION}));
    model.forward(x);
    at::removeCallback(handle);
    return counted_flops;
  });
}

namespace {

struct OpClock : at::ObserverContext {
  std::chrono::steady_clock::time_point start;
};
std::mutex op_times_mutex;
std::map<std::string, OpTime>* op_times = nullptr;
thread_local int profile_depth = 0;

}  // namespace

std::vector<OpTime> profile_ops(const std::function<void()>& work) {
  std::map<std::string, OpTime> times;
  {
    std::lock_guard<std::mutex> lock(op_times_mutex);
    MER_CHECK(op_times == nullptr, ValueError, "profile_ops cannot be nested");
    op_times = &times;
  }
  const auto handle = at::addGlobalCallback(
      at::RecordFunctionCallback(
          [](const at::RecordFunction&) -> std::unique_ptr<at::ObserverContext> {
            if (profile_depth++ != 0) return nullptr;
            auto clock = std::make_unique<OpClock>();
            clock->start = std::chrono::steady_clock::now();
            return clock;
          },
          [](const at::RecordFunction& fn, at::ObserverContext* ctx) {
            --profile_depth;
            if (!ctx) return;
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - static_cast<OpClock*>(ctx)->start).count();
            std::lock_guard<std::mutex> lock(op_times_mutex);
            auto& t = (*op_times)[fn.name()];
            t.op = fn.name(), t.seconds += s, ++t.calls;
          })
          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
  const auto stop = [&] {
    at::removeCallback(handle);
    std::lock_guard<std::mutex> lock(op_times_mutex);
    op_times = nullptr;
  };
  try {
    work();
  } catch (...) {
    stop();
    throw;
  }
  stop();
  std::vector<OpTime> out;
  for (auto& kv : times) out.push_back(kv.second);
  std::sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

double measure_gemm_gflops(int threads) {
  RunContext ctx;
  ctx.threads = std::max(1, threads);
  set_threads(ctx);  // OpenBLAS's own pool too: left at its default, a 1-thread peak was measured on every core
  torch::NoGradGuard no_grad;
  const std::int64_t n = 1024;
  const auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto c = torch::mm(a, b);  // warm-up: thread pool, BLAS buffers
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * static_cast<double>(n * n * n) / s / 1e9);
  }
  return best;
}

}  // namespace mer
