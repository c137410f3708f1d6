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
#include <mer/core/log.hpp>
#include <mer/core/rng.hpp>
#include <mer/meta/action_units.hpp>
#include <mer/models/classifier.hpp>
#include <mer/train/losses.hpp>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <set>

namespace mer {

namespace {

const std::vector<std::string> kOptimizers = {"adam", "sgd"};

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
  std::vector<std::int64_t> shape;  // per sample
};

std::vector<GroupSlice> group_slices(const FeatureSet& f) {
  std::vector<GroupSlice> out;
  for (const auto& [name, shape] : feature_group_shapes(f)) {
    const FeatureGroup* g = f.group(name);
    out.push_back({name, g ? g->first_channel : 0, g ? g->channels : f.channels, shape});
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

  NamedInputs inputs(const std::size_t* idx, std::size_t n, const Augmenter* augment, std::mt19937_64* rng) const {
    auto x = stacked_batch(f, idx, n);
    if (augment) x = (*augment)(x, *rng);
    return split_groups(x.to(device), slices, wanted);
  }
  LossTargets targets(const std::size_t* idx, std::size_t n) const {
    LossTargets t;
    t.labels = label_batch(f, idx, n, device);
    if (!au_vocabulary.empty()) {
      const auto a = static_cast<std::int64_t>(au_vocabulary.size());
      auto values = torch::zeros({static_cast<std::int64_t>(n), a});
      auto known = torch::zeros({static_cast<std::int64_t>(n)}, torch::kBool);
      for (std::size_t k = 0; k < n; ++k) {
        const auto target = action_unit_targets(f.samples[idx[k]].action_units, au_vocabulary);
        known[static_cast<std::int64_t>(k)] = target.known;
        values[static_cast<std::int64_t>(k)] = torch::tensor(target.values);
      }
      t.action_units = values.to(device);
      t.action_units_known = known.to(device);
    }
    return t;
  }
};

// The objective: the sum over losses of weight × (weighted sum / weight sum). `sums` accumulates each
// term's two parts across batches (on the device, read once per epoch), so epoch figures are exact.
struct Objective {
  std::vector<std::shared_ptr<Loss>> losses;
  torch::Tensor batch(const ModelOutput& out, const LossTargets& t, std::vector<torch::Tensor>* sums) const {
    torch::Tensor total;
    for (std::size_t k = 0; k < losses.size(); ++k) {
      const auto v = losses[k]->compute(out, t);
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
};

Split evaluate(Classifier& model, const Batcher& batcher, const Objective& objective,
               const std::vector<std::size_t>& indices, int batch_size) {
  torch::NoGradGuard no_grad;
  model.eval();
  for (auto& l : objective.losses) l->eval();
  auto sums = objective.zero_sums(batcher.device);
  std::int64_t correct = 0;
  for (std::size_t b = 0; b < indices.size(); b += static_cast<std::size_t>(batch_size)) {
    const std::size_t n = std::min(indices.size() - b, static_cast<std::size_t>(batch_size));
    const auto out = model.forward(batcher.inputs(indices.data() + b, n, nullptr, nullptr));
    const auto t = batcher.targets(indices.data() + b, n);
    objective.batch(out, t, &sums);
    correct += out.logits.argmax(1).eq(t.labels).sum().item<std::int64_t>();
  }
  Split s;
  s.accuracy = static_cast<double>(correct) / static_cast<double>(indices.size());
  const auto v = objective.value(sums, nullptr);
  s.loss_defined = v.has_value();
  s.loss = v.value_or(0.0);
  return s;
}

// LibTorch errors are not libmer's: turn them into mer errors at this boundary, keeping the message
// without LibTorch's C++ backtrace.
template <class F>
auto torch_boundary(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw InternalError(detail::concat("LibTorch failed while ", what, ": ", e.what_without_backtrace()));
  }
}

}  // namespace

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
  if (momentum_written && o.optimizer != "sgd") {
    logger()->warn("{}: '{}' only affects sgd; the {} optimizer ignores it", node.where("momentum"),
                   node.key_path("momentum"), o.optimizer);
  }
  o.weight_decay = node.get<double>("weight_decay", o.weight_decay);
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay))) {
    bad_option(node, "weight_decay", "a finite number >= 0", str(o.weight_decay));
  }
  o.class_weighted_loss = node.get<bool>("class_weighted_loss", o.class_weighted_loss);
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
                                   const std::function<void(const EpochLog&)>& on_epoch) const {
  check_options(options_);
  MER_CHECK(!train.empty(), ValueError, "Trainer::fit needs at least one training sample");
  check_inputs(features, train, "training");
  check_inputs(features, val, "validation");
  {
    const std::set<std::size_t> train_set(train.begin(), train.end());
    for (const std::size_t i : val) {
      MER_CHECK(!train_set.count(i), ValueError, "sample '", features.samples[i].id,
                "' is in both the training and the validation indices");
    }
  }
  // Built before training so a bad option or group is reported before the first epoch.
  const Augmenter augmenter(options_.augment, features);
  set_threads(ctx);
  const torch::Device device = resolve_device(ctx.device);
  Batcher batcher{features, group_slices(features), model.input_names(), {}, device};

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
    loss_ctx.class_counts.assign(static_cast<std::size_t>(loss_ctx.num_classes), 0.0);
    for (const std::size_t i : train) loss_ctx.class_counts[static_cast<std::size_t>(features.samples[i].label)] += 1;
    if (const auto au = loss_ctx.output_widths.find("au"); au != loss_ctx.output_widths.end()) {
      batcher.au_vocabulary = training_action_units(features, train);
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

    auto parameters = model.parameters();
    for (const auto& l : objective.losses)
      for (const auto& p : l->parameters()) parameters.push_back(p);
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    if (options_.optimizer == "adam") {
      optimizer = std::make_unique<torch::optim::Adam>(
          parameters, torch::optim::AdamOptions(options_.lr).weight_decay(options_.weight_decay));
    } else if (options_.optimizer == "sgd") {
      optimizer = std::make_unique<torch::optim::SGD>(
          parameters,
          torch::optim::SGDOptions(options_.lr).momentum(options_.momentum).weight_decay(options_.weight_decay));
    } else {
      throw ValueError(detail::concat("unknown optimizer '", options_.optimizer, "' (known: adam, sgd)"));
    }

    std::mt19937_64 shuffle_rng(derive_seed(seed, "trainer/shuffle"));
    std::vector<std::size_t> order = train;
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    std::vector<EpochLog> logs;
    logs.reserve(static_cast<std::size_t>(options_.epochs));

    for (int epoch = 1; epoch <= options_.epochs; ++epoch) {  // counted from 1, as logs and reports show it
      fisher_yates(order, shuffle_rng);
      // Its own stream per epoch, derived from the fit seed: augmentation never shifts the shuffles or the
      // dropout masks, and the draws of epoch e are the same whatever ran before.
      std::mt19937_64 augment_rng(derive_seed(seed, "trainer/augment/epoch" + std::to_string(epoch)));
      model.train();
      for (auto& l : objective.losses) l->train();
      auto sums = objective.zero_sums(device);
      auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
      for (std::size_t b = 0; b < order.size(); b += batch_size) {
        const std::size_t n = std::min(order.size() - b, batch_size);
        // Training batches only: evaluate() and predict() read the features as they are.
        const auto x = batcher.inputs(order.data() + b, n, &augmenter, &augment_rng);
        const auto t = batcher.targets(order.data() + b, n);
        optimizer->zero_grad();
        const auto out = model.forward(x);
        objective.batch(out, t, &sums).backward();
        optimizer->step();
        correct += out.logits.detach().argmax(1).eq(t.labels).sum();
      }

      EpochLog log;
      log.epoch = epoch;
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
    }
    return logs;
  });
}

std::vector<std::vector<float>> Trainer::predict(Classifier& model, const FeatureSet& features,
                                                 const std::vector<std::size_t>& indices, const RunContext& ctx) const {
  MER_CHECK(options_.batch_size > 0, ValueError, "TrainerOptions.batch_size must be > 0, got ", options_.batch_size);
  check_inputs(features, indices, "prediction");
  set_threads(ctx);
  const torch::Device device = resolve_device(ctx.device);
  const Batcher batcher{features, group_slices(features), model.input_names(), {}, device};
  return torch_boundary("predicting", [&] {
    model.to(device);
    model.eval();
    torch::NoGradGuard no_grad;
    std::vector<std::vector<float>> out;
    out.reserve(indices.size());
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    for (std::size_t b = 0; b < indices.size(); b += batch_size) {
      const std::size_t n = std::min(indices.size() - b, batch_size);
      const auto logits = model.forward(batcher.inputs(indices.data() + b, n, nullptr, nullptr)).logits;
      MER_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<std::int64_t>(n), InternalError,
                "the model returned logits of shape ", logits.sizes(), " for ", n, " samples");
      const auto probs = torch::softmax(logits, 1).to(torch::kCPU, torch::kFloat).contiguous();
      const float* p = probs.data_ptr<float>();
      const auto k = static_cast<std::size_t>(probs.size(1));
      for (std::size_t r = 0; r < n; ++r) out.emplace_back(p + r * k, p + (r + 1) * k);
    }
    return out;
  });
}

}  // namespace mer
