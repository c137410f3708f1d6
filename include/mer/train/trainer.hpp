#pragma once
/// Trainer: the one training loop. Fits a classifier for a fixed epoch budget and predicts; it never
/// sees the test fold while training, and the model it returns is the last epoch's.
///
///   train:
///     epochs: 60
///     batch_size: 32
///     optimizer: adam        # adam | adamw | sgd | rmsprop
///     lr: 0.001
///     momentum: 0.9          # sgd, rmsprop
///     nesterov: false        # sgd
///     weight_decay: 0.0
///     scheduler: {type: cosine, warmup_epochs: 5, min_lr: 0}
///                            # none | step {step_size, gamma} | multistep {milestones, gamma} |
///                            # exponential {gamma} | cosine {min_lr} | onecycle {pct_start, div_factor,
///                            # final_div_factor}; warmup_epochs (linear from 0) with any of them
///     clip_grad_norm: 0      # > 0: clip the gradients' global L2 norm to this
///     param_groups: [{params: "backbone.*", lr: 0.0001}]   # per-parameter-name learning rates (glob)
///     freeze: ["stream3.*"]  # parameters that do not train (glob), e.g. layers of a model.init checkpoint
///     select: last           # last | best_val_loss | best_val_uf1: the epoch whose model predicts,
///                            # chosen on the validation subjects (protocol.val_subjects / val_fraction)
///     early_stopping: {patience: 0, min_delta: 0}   # patience > 0: stop when the validation metric
///                            # (val UF1 for best_val_uf1, else val loss) has not improved for that many epochs
///     class_weighted_loss: false   # inverse-frequency weights from the training fold
///     losses: [{type: cross_entropy}, {type: bce_au, weight: 0.5}]   # see <mer/train/losses.hpp>
///     augment: {hflip: 0.5, rotate_deg: 10}   # training batches only; see <mer/train/augment.hpp>
///     distill: {teacher: runs/big, external: false}   # soft targets for the `distill` loss (see Experiment):
///                            # a run folder (its matching fold's model) or one checkpoint file
///
/// The model sees the features' groups by name (see <mer/models/classifier.hpp>): image groups as
/// [N, C, H, W], sequence groups as [N, T, C, H, W]. Augmentation transforms the groups together.
#include <mer/core/config.hpp>
#include <mer/core/run_context.hpp>
#include <mer/features/feature_set.hpp>
#include <mer/train/augment.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace mer {

class Classifier;

/// What a teacher says about samples, by index into the student's FeatureSet (knowledge distillation):
/// its logits (the `distill` loss) and, for FitNets-style hints (the `hint` loss), its named outputs
/// ("embedding"), each flattened per sample.
struct SoftTargets {
  std::unordered_map<std::size_t, std::vector<float>> logits;
  std::map<std::string, std::unordered_map<std::size_t, std::vector<float>>> outputs;
  bool empty() const { return logits.empty(); }
};

/// The machine's measured dense-matrix peak: GFLOP/s of the best of 5 float32 1024x1024 GEMMs (LibTorch's
/// BLAS) at `threads` threads; the yardstick `mer bench train` reports against.
double measure_gemm_gflops(int threads);

/// Wall time of one kind of LibTorch op (its outermost calls: an op called inside another counts in the
/// outer one), forward ops by their name (aten::conv2d), backward ones by their autograd node's.
struct OpTime {
  std::string op;
  double seconds = 0;
  std::int64_t calls = 0;
};
/// Runs `work` and times every LibTorch op it runs, on every thread; longest total first. What `mer bench
/// train --profile` prints: where a fold's time goes, and how much of it is outside LibTorch's ops.
std::vector<OpTime> profile_ops(const std::function<void()>& work);

struct TrainerOptions {
  int epochs = 60;
  int batch_size = 32;
  std::string optimizer = "adam";
  double lr = 1e-3;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  struct Scheduler {
    std::string type = "none";
    int step_size = 30;
    std::vector<int> milestones;
    double gamma = 0.1;
    double min_lr = 0.0;
    int warmup_epochs = 0;
    double pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
  } scheduler;
  double clip_grad_norm = 0.0;
  struct ParamGroup {
    std::string params;  ///< glob over parameter names ("backbone.*"); '*' matches any run of characters
    double lr = 0;
  };
  std::vector<ParamGroup> param_groups;
  /// Globs over parameter names whose parameters do not train (no gradient, no optimiser state), e.g.
  /// ["backbone.layer1.*"] to fine-tune the rest of a model initialised from a checkpoint (model.init).
  /// Batch-norm running statistics of frozen layers still follow the training data in train mode.
  std::vector<std::string> freeze;
  /// last | best_val_loss | best_val_uf1
  std::string select = "last";
  int patience = 0;
  double min_delta = 0.0;
  /// The learning rate of the base group at `epoch` (1-based) and `step` within it (0-based) of
  /// `steps_per_epoch`: the scheduler's value, for tests and plots.
  double lr_at(int epoch, int step, int steps_per_epoch) const;
  bool class_weighted_loss = false;
  /// Weighted losses summed into the objective (<mer/train/losses.hpp>); empty = one cross_entropy,
  /// class-weighted when class_weighted_loss is set.
  std::vector<ConfigNode> losses;
  /// Random augmentation of training batches (off by default); never applied to validation or prediction.
  AugmentOptions augment;
  /// train.distill: where the teacher comes from (a run folder or a checkpoint; "" for none), and whether the
  /// user vouches that it never saw this dataset's subjects (a checkpoint that does not record them).
  std::string distill_teacher;
  bool distill_external = false;
  static TrainerOptions from_config(const ConfigNode& node);
};

struct EpochLog {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  std::optional<double> val_loss, val_accuracy, val_uf1;  ///< only when a validation set is given
  double lr = 0;           ///< the base group's learning rate at the epoch's start
  bool selected = false;   ///< the epoch whose model the fit returns (train.select)
  /// Each configured loss term (unweighted) over the epoch's training batches, by loss type.
  std::vector<std::pair<std::string, double>> train_terms;
};

/// The action-unit vocabulary a fold's multi-task model is built for: AU numbers occurring in at least one
/// readable AU cell of the training samples `train` (never the test subject's). Empty when there are none.
std::vector<int> training_action_units(const FeatureSet& features, const std::vector<std::size_t>& train);

/// Per-sample input shapes of the features' groups (one group "input" when the set has none), as models
/// are built for them.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> feature_group_shapes(const FeatureSet& features);

class Trainer {
 public:
  explicit Trainer(TrainerOptions options) : options_(std::move(options)) {}
  const TrainerOptions& options() const { return options_; }

  /// Trains `model` in place on features[train]; reports val metrics each epoch if `val` is non-empty.
  /// The model left in place is the selected epoch's (options().select; "last" unless chosen on `val`),
  /// and that epoch's log has `selected` set; early stopping may end the fit before options().epochs.
  /// Deterministic for a given seed and thread count. `on_epoch` is called after every epoch.
  /// With options().augment enabled, each training batch is an augmented copy drawn from an RNG seeded by
  /// `seed` and the epoch; validation batches are used as they are.
  ///
  /// `unlabelled` (transductive domain adaptation): samples whose labels are never read. Each training
  /// batch gets as many of them appended (cycling through them in a shuffled order), as their own domains;
  /// only the losses that read unlabelled rows (domain_adversarial, coral) see them, every other loss and
  /// the accuracy see the labelled rows only.
  std::vector<EpochLog> fit(Classifier& model, const FeatureSet& features, const std::vector<std::size_t>& train,
                            const std::vector<std::size_t>& val, std::uint64_t seed, const RunContext& ctx,
                            const std::function<void(const EpochLog&)>& on_epoch = {},
                            const SoftTargets* teacher = nullptr, const std::vector<std::size_t>& unlabelled = {}) const;

  /// The model's outputs for features[indices], eval mode, never augmented: "logits" and the aux outputs
  /// named in `names` (ValueError naming the outputs the model has when one is missing), each row flattened.
  std::map<std::string, std::vector<std::vector<float>>> outputs(Classifier& model, const FeatureSet& features,
                                                                 const std::vector<std::size_t>& indices, const RunContext& ctx,
                                                                 const std::vector<std::string>& names = {}) const;

  /// Class probabilities (softmax) for features[indices], model in eval mode; never augmented.
  std::vector<std::vector<float>> predict(Classifier& model, const FeatureSet& features,
                                          const std::vector<std::size_t>& indices, const RunContext& ctx) const;

  /// Forward FLOPs of one sample (features[index]) through `model` in eval mode: convolutions and matrix
  /// products at 2 FLOPs per multiply-add, from the ops' shapes as they run (element-wise ops, pooling and
  /// normalisation are not counted). A training step costs about 3x this per sample (backward ~2x forward).
  double forward_flops(Classifier& model, const FeatureSet& features, std::size_t index, const RunContext& ctx) const;

 private:
  TrainerOptions options_;
};

}  // namespace mer
