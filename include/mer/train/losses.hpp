#pragma once
/// Training losses, built by name and summed with weights by the Trainer:
///
///   train:
///     losses:
///       - {type: cross_entropy, label_smoothing: 0.1, class_weighted: true}
///       - {type: bce_au, weight: 0.5}                 # on the model's "au" output
///       - {type: center, weight: 0.01}                # on "embedding"
///
/// Absent `losses`: one cross_entropy (class-weighted when train.class_weighted_loss is true).
///
/// Every loss returns a weighted sum over the batch and the sum of the weights, so epochs aggregate
/// exactly across batches and the training objective and the validation loss are the same function.
/// Class weights and class frequencies come from the training fold only.
///
///   cross_entropy  label_smoothing (0), class_weighted (false: inverse class frequency, see trainer.cpp)
///   focal          gamma (2), alpha: none | class_balanced (effective numbers, beta 0.999) (lin2017focal,
///                  cui2019class)
///   bce_au         BCE-with-logits on output "au" against the samples' AU targets; unreadable cells are
///                  left out; pos_weighted (false): positives weighted by negatives/positives per AU
///   center         on "embedding": mean squared distance to a learned centre per class (wen2016discriminative)
///   triplet        on "embedding": batch-hard triplets, margin (0.3) (hermans2017defense)
///   contrastive    on "embedding": all pairs, margin (1.0); positives pulled, negatives pushed past it
///   arcface        on "embedding": additive angular margin (0.5) at scale (30) over a learned class
///                  matrix (deng2019arcface)
///   cosface        on "embedding": additive cosine margin (0.35) at scale (30) (wang2018cosface)
///   domain_adversarial  on "embedding": a domain classifier behind a gradient-reversal layer (DANN,
///                  ganin2016domain): hidden (64), lambda (1), schedule: ganin (lambda ramps 0 -> 1 over
///                  training as 2/(1+exp(-10 p)) - 1) | constant. Domains: the training samples' datasets.
///   coral          on "embedding": squared Frobenius distance between the feature covariances of each pair
///                  of domains in the batch, over 4 d^2 (sun2016deep)
///   distill        on "logits": soft targets of a teacher (train.distill): T^2 KL(softmax(teacher/T) ||
///                  softmax(student/T)), temperature T (4) (hinton2015distilling)
/// Each takes `weight` (1) and `output` (its default above: "logits", "au" or "embedding").
#include <mer/core/config.hpp>
#include <mer/core/registry.hpp>
#include <mer/models/classifier.hpp>

#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <vector>

namespace mer {

/// What a batch's samples are: class indices [N] (long); AU targets [N, A] and which rows are known [N]
/// (bool), defined only when the model has an AU head.
struct LossTargets {
  torch::Tensor labels;
  torch::Tensor action_units, action_units_known;
  torch::Tensor teacher_logits;  ///< [N, classes], only when the fit has a teacher (train.distill)
  std::map<std::string, torch::Tensor> teacher_outputs;  ///< the teacher's named outputs [N, D] (hint losses)
  /// [N] long: each sample's domain (its dataset among the training samples' datasets), -1 for a dataset the
  /// training samples do not have (a validation sample of another database).
  torch::Tensor domains;
};

/// What a loss may know when it is built: the training fold's class counts and the model's output widths.
struct LossContext {
  std::int64_t num_classes = 0;
  std::vector<double> class_counts;  ///< training fold, per class
  std::map<std::string, std::int64_t> output_widths;  ///< "logits" and every aux output
  std::int64_t num_domains = 0;  ///< datasets among the training samples (domain adaptation)
  std::map<std::string, std::int64_t> teacher_widths;  ///< the teacher's named outputs, flattened (hint losses)
};

struct LossValue {
  torch::Tensor weighted_sum, weight_sum;  ///< the loss is weighted_sum / weight_sum
};

class Loss : public torch::nn::Module {
 public:
  /// Which model output it reads ("logits", "au", "embedding").
  std::string output;
  double weight = 1.0;
  std::string name;
  virtual LossValue compute(const ModelOutput& out, const LossTargets& targets) = 0;
  /// Whether it reads the unlabelled rows a transductive fit appends to each batch (domain losses, which
  /// read only the rows' domains). Every other loss sees the labelled rows only.
  virtual bool reads_unlabelled() const { return false; }
  /// Training progress in [0, 1) at the start of each epoch, for losses with a schedule.
  virtual void set_progress(double /*progress*/) {}
  /// The output it reads; ValueError naming the loss and the outputs present when missing.
  const torch::Tensor& read(const ModelOutput& out) const;
};

using LossRegistry = Registry<Loss, const LossContext&>;
const LossRegistry& builtin_losses();

/// Reads and checks `train.losses` without building (no fold is known yet): unknown types, bad options.
void check_losses(const std::vector<ConfigNode>& nodes);

/// Inverse class frequency over the counts, scaled so the classes present average 1; absent classes 0.
std::vector<float> inverse_frequency_weights(const std::vector<double>& counts);

}  // namespace mer
