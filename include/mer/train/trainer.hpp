#pragma once
/// Trainer: the one training loop. Fits a classifier for a fixed epoch budget and predicts; it never
/// sees the test fold while training, and the model it returns is the last epoch's.
///
///   train:
///     epochs: 60
///     batch_size: 32
///     optimizer: adam        # adam | sgd
///     lr: 0.001
///     momentum: 0.9          # sgd only
///     weight_decay: 0.0
///     class_weighted_loss: false   # inverse-frequency weights from the training fold
///     augment: {hflip: 0.5, rotate_deg: 10}   # training batches only; see <mer/train/augment.hpp>
#include <mer/core/config.hpp>
#include <mer/core/run_context.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/train/augment.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mer {

class Classifier;

struct TrainerOptions {
  int epochs = 60;
  int batch_size = 32;
  std::string optimizer = "adam";
  double lr = 1e-3;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool class_weighted_loss = false;
  /// Random augmentation of training batches (off by default); never applied to validation or prediction.
  AugmentOptions augment;
  static TrainerOptions from_config(const ConfigNode& node);
};

struct EpochLog {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  std::optional<double> val_loss, val_accuracy;  ///< only when a validation set is given
};

class Trainer {
 public:
  explicit Trainer(TrainerOptions options) : options_(std::move(options)) {}
  const TrainerOptions& options() const { return options_; }

  /// Trains `model` in place on features[train]; reports val metrics each epoch if `val` is non-empty.
  /// Deterministic for a given seed and thread count. `on_epoch` is called after every epoch.
  /// With options().augment enabled, each training batch is an augmented copy drawn from an RNG seeded by
  /// `seed` and the epoch; validation batches are used as they are.
  std::vector<EpochLog> fit(Classifier& model, const FeatureSet& features, const std::vector<std::size_t>& train,
                            const std::vector<std::size_t>& val, std::uint64_t seed, const RunContext& ctx,
                            const std::function<void(const EpochLog&)>& on_epoch = {}) const;

  /// Class probabilities (softmax) for features[indices], model in eval mode; never augmented.
  std::vector<std::vector<float>> predict(Classifier& model, const FeatureSet& features,
                                          const std::vector<std::size_t>& indices, const RunContext& ctx) const;

 private:
  TrainerOptions options_;
};

}  // namespace mer
