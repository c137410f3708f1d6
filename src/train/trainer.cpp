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
#include <mer/models/classifier.hpp>

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

// [n, C, H, W] float batch of features.inputs[idx[0..n)] on `device`.
torch::Tensor input_batch(const FeatureSet& f, const std::size_t* idx, std::size_t n, const torch::Device& device) {
  auto x = torch::empty({static_cast<std::int64_t>(n), f.channels, f.height, f.width}, torch::kFloat);
  float* dst = x.data_ptr<float>();
  const std::size_t size = f.sample_size();
  for (std::size_t k = 0; k < n; ++k) std::memcpy(dst + k * size, f.inputs[idx[k]].data(), size * sizeof(float));
  return x.to(device);
}

torch::Tensor label_batch(const FeatureSet& f, const std::size_t* idx, std::size_t n, const torch::Device& device) {
  auto y = torch::empty({static_cast<std::int64_t>(n)}, torch::kLong);
  auto* dst = y.data_ptr<std::int64_t>();
  for (std::size_t k = 0; k < n; ++k) dst[k] = f.samples[idx[k]].label;
  return y.to(device);
}

// Inverse class frequency on the training indices, scaled so the classes present average 1 (the scale
// cancels in the weighted mean; it only keeps the numbers readable).
//
// A class with no training sample gets weight 0. For the training objective the value is irrelevant —
// no training target ever selects it — and 0 avoids the infinite 1/0. It does matter for the validation
// loss, which uses the same weights so that train and val losses are the same objective: a val sample of
// a class the model never saw is left out of val_loss (it still counts in val_accuracy). Its loss only
// grows as training pushes that logit down, whatever the model learns, and would bias anything that
// watches val_loss towards early epochs.
std::vector<float> inverse_frequency_weights(const FeatureSet& f, const std::vector<std::size_t>& train,
                                             std::int64_t num_classes) {
  std::vector<double> counts(static_cast<std::size_t>(num_classes), 0.0);
  for (const std::size_t i : train) counts[static_cast<std::size_t>(f.samples[i].label)] += 1.0;
  double sum = 0.0;
  int present = 0;
  for (const double c : counts) {
    if (c > 0) {
      sum += 1.0 / c;
      ++present;
    }
  }
  std::vector<float> w(counts.size(), 0.0f);
  for (std::size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] > 0) w[k] = static_cast<float>((1.0 / counts[k]) / (sum / present));
  }
  return w;
}

// Per-sample cross-entropy terms and their weights; the loss is sum(terms) / sum(weights), which is
// LibTorch's weighted "mean" reduction, kept apart so epochs can be aggregated exactly across batches.
struct LossParts {
  torch::Tensor weighted_sum, weight_sum;
};

LossParts cross_entropy_parts(const torch::Tensor& logits, const torch::Tensor& labels,
                              const std::optional<torch::Tensor>& class_weights) {
  namespace F = torch::nn::functional;
  auto per_sample = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  if (!class_weights) {
    return {per_sample.sum(), torch::full({}, static_cast<double>(labels.size(0)), logits.options())};
  }
  auto w = class_weights->index_select(0, labels);
  return {(per_sample * w).sum(), w.sum()};
}

struct Split {
  double loss = 0, accuracy = 0;
  bool loss_defined = true;
};

Split evaluate(Classifier& model, const FeatureSet& f, const std::vector<std::size_t>& indices, int batch_size,
               const std::optional<torch::Tensor>& class_weights, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model.eval();
  double weighted = 0, weights = 0;
  std::int64_t correct = 0;
  for (std::size_t b = 0; b < indices.size(); b += static_cast<std::size_t>(batch_size)) {
    const std::size_t n = std::min(indices.size() - b, static_cast<std::size_t>(batch_size));
    const auto x = input_batch(f, indices.data() + b, n, device);
    const auto y = label_batch(f, indices.data() + b, n, device);
    const auto logits = model.forward(x);
    const auto parts = cross_entropy_parts(logits, y, class_weights);
    weighted += parts.weighted_sum.item<double>();
    weights += parts.weight_sum.item<double>();
    correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
  }
  Split s;
  s.accuracy = static_cast<double>(correct) / static_cast<double>(indices.size());
  s.loss_defined = weights > 0;
  s.loss = s.loss_defined ? weighted / weights : 0.0;
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
  o.augment = AugmentOptions::from_config(node.child("augment"));
  return o;
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

  return torch_boundary("training", [&] {
    torch::manual_seed(seed);
    model.to(device);

    // The model's output width is the class count; asking it (eval mode, no grad: no state changes, no
    // random draws) also checks the features' shape against the model before any training happens.
    std::int64_t num_classes = 0;
    {
      torch::NoGradGuard no_grad;
      model.eval();
      const auto probe = with_context(
          detail::concat("checking the features (", features.channels, "x", features.height, "x", features.width,
                         ") against the model"),
          [&] { return model.forward(input_batch(features, train.data(), 1, device)); });
      MER_CHECK(probe.dim() == 2 && probe.size(0) == 1, InternalError, "the model returned logits of shape ",
                probe.sizes(), " for one sample, expected [1, num_classes]");
      num_classes = probe.size(1);
    }
    check_labels(features, train, num_classes);
    check_labels(features, val, num_classes);

    std::optional<torch::Tensor> class_weights;
    if (options_.class_weighted_loss) {
      const auto w = inverse_frequency_weights(features, train, num_classes);
      class_weights = torch::tensor(w, torch::kFloat).to(device);
    }

    std::unique_ptr<torch::optim::Optimizer> optimizer;
    if (options_.optimizer == "adam") {
      optimizer = std::make_unique<torch::optim::Adam>(
          model.parameters(), torch::optim::AdamOptions(options_.lr).weight_decay(options_.weight_decay));
    } else if (options_.optimizer == "sgd") {
      optimizer = std::make_unique<torch::optim::SGD>(
          model.parameters(),
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
      // Accumulated on the device and read once per epoch: a .item() per batch would synchronise a GPU.
      auto weighted = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
      auto weights = torch::zeros_like(weighted);
      auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
      for (std::size_t b = 0; b < order.size(); b += batch_size) {
        const std::size_t n = std::min(order.size() - b, batch_size);
        // Training batches only: evaluate() and predict() read the features as they are.
        const auto x = augmenter(input_batch(features, order.data() + b, n, device), augment_rng);
        const auto y = label_batch(features, order.data() + b, n, device);
        optimizer->zero_grad();
        const auto logits = model.forward(x);
        const auto parts = cross_entropy_parts(logits, y, class_weights);
        (parts.weighted_sum / parts.weight_sum).backward();
        optimizer->step();
        weighted += parts.weighted_sum.detach().to(torch::kDouble);
        weights += parts.weight_sum.detach().to(torch::kDouble);
        correct += logits.detach().argmax(1).eq(y).sum();
      }

      EpochLog log;
      log.epoch = epoch;
      // Running figures over the epoch, in training mode (dropout on, weights moving), as is customary;
      // an exact post-epoch pass over the training set would double the cost.
      log.train_loss = weighted.item<double>() / weights.item<double>();
      log.train_accuracy = static_cast<double>(correct.item<std::int64_t>()) / static_cast<double>(order.size());
      if (!val.empty()) {
        const auto v = evaluate(model, features, val, options_.batch_size, class_weights, device);
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
  return torch_boundary("predicting", [&] {
    model.to(device);
    model.eval();
    torch::NoGradGuard no_grad;
    std::vector<std::vector<float>> out;
    out.reserve(indices.size());
    const auto batch_size = static_cast<std::size_t>(options_.batch_size);
    for (std::size_t b = 0; b < indices.size(); b += batch_size) {
      const std::size_t n = std::min(indices.size() - b, batch_size);
      const auto logits = model.forward(input_batch(features, indices.data() + b, n, device));
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
