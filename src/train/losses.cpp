#include <mer/core/error.hpp>
#include <mer/train/losses.hpp>

#include <torch/nn/functional/loss.h>
#include <torch/nn/init.h>

#include <cmath>

namespace mer {

namespace F = torch::nn::functional;

const torch::Tensor& Loss::read(const ModelOutput& out) const {
  if (output == "logits") return out.logits;
  const auto it = out.aux.find(output);
  if (it != out.aux.end()) return it->second;
  std::string have = "logits";
  for (const auto& kv : out.aux) have += ", " + kv.first;
  throw ValueError(detail::concat("loss '", name, "' reads the model output '", output, "', but the model returns ",
                                  have, " (add the matching task to the model, e.g. tasks: {", output, ": {}})"));
}

// Inverse class frequency of the training fold, scaled so the classes present average 1 (the scale
// cancels in the weighted mean; it only keeps the numbers readable).
//
// A class with no training sample gets weight 0. For the training objective the value is irrelevant —
// no training target ever selects it — and 0 avoids the infinite 1/0. It does matter for the validation
// loss, which uses the same weights so that train and val losses are the same objective: a val sample of
// a class the model never saw is left out of val_loss (it still counts in val_accuracy). Its loss only
// grows as training pushes that logit down, whatever the model learns, and would bias anything that
// watches val_loss towards early epochs.
std::vector<float> inverse_frequency_weights(const std::vector<double>& counts) {
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

namespace {

double number(const ConfigNode& node, const std::string& key, double fallback, double lo, double hi, bool lo_open = false) {
  const double v = node.get<double>(key, fallback);
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  MER_CHECK(ok, ConfigError, node.where(key), ": '", node.key_path(key), "' must be in ", lo_open ? "(" : "[", lo, ", ",
            hi, "], got ", v);
  return v;
}

LossValue mean_of(const torch::Tensor& per_sample) {
  return {per_sample.sum(), torch::full({}, static_cast<double>(per_sample.size(0)), per_sample.options())};
}

class CrossEntropyLoss : public Loss {
 public:
  CrossEntropyLoss(const ConfigNode& node, const LossContext& ctx) {
    smoothing_ = number(node, "label_smoothing", 0.0, 0.0, 1.0);
    if (node.get<bool>("class_weighted", false) && !ctx.class_counts.empty())
      class_weights = register_buffer("class_weights", torch::tensor(inverse_frequency_weights(ctx.class_counts)));
  }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& logits = read(out);
    const auto logp = torch::log_softmax(logits, 1);
    auto per_sample = -logp.gather(1, t.labels.unsqueeze(1)).squeeze(1);
    if (smoothing_ > 0) per_sample = (1 - smoothing_) * per_sample - smoothing_ * logp.mean(1);
    if (!class_weights.defined()) return mean_of(per_sample);
    const auto w = class_weights.to(logits.dtype()).index_select(0, t.labels);
    return {(per_sample * w).sum(), w.sum()};
  }
  double smoothing_ = 0;
  torch::Tensor class_weights;
};

class FocalLoss : public Loss {
 public:
  FocalLoss(const ConfigNode& node, const LossContext& ctx) {
    gamma_ = number(node, "gamma", 2.0, 0.0, 10.0);
    const auto alpha = node.get_choice("alpha", "none", {"none", "class_balanced"});
    const double beta = number(node, "beta", 0.999, 0.0, 1.0, true);
    if (alpha == "class_balanced" && !ctx.class_counts.empty()) {
      // Effective number of samples (1 - beta^n) / (1 - beta); weights ∝ its inverse, mean 1 over present classes.
      std::vector<double> effective;
      for (const double n : ctx.class_counts) effective.push_back(n > 0 ? (1 - std::pow(beta, n)) / (1 - beta) : 0.0);
      alpha_ = register_buffer("alpha", torch::tensor(inverse_frequency_weights(effective)));
    }
  }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto logp = torch::log_softmax(read(out), 1).gather(1, t.labels.unsqueeze(1)).squeeze(1);
    const auto per_sample = -(1 - logp.exp()).pow(gamma_) * logp;
    if (!alpha_.defined()) return mean_of(per_sample);
    const auto w = alpha_.to(logp.dtype()).index_select(0, t.labels);
    return {(per_sample * w).sum(), w.sum()};
  }
  double gamma_ = 2;
  torch::Tensor alpha_;
};

class BceActionUnitLoss : public Loss {
 public:
  BceActionUnitLoss(const ConfigNode& node, const LossContext&) { pos_weighted_ = node.get<bool>("pos_weighted", false); }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& logits = read(out);
    MER_CHECK(t.action_units.defined(), ValueError, "loss '", name, "' needs action-unit targets, but the batch has none");
    MER_CHECK(logits.sizes() == t.action_units.sizes(), ValueError, "loss '", name, "': the model's '", output,
              "' output is ", logits.sizes(), " but the AU targets are ", t.action_units.sizes());
    const auto y = t.action_units.to(logits.dtype());
    torch::Tensor pos_weight;
    if (pos_weighted_) {
      const auto pos = y.sum(0), neg = y.size(0) - pos;
      pos_weight = (neg / pos.clamp_min(1.0)).clamp(1.0, 100.0);
    }
    auto options = F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone);
    if (pos_weight.defined()) options = options.pos_weight(pos_weight);
    const auto per_sample = F::binary_cross_entropy_with_logits(logits, y, options).mean(1);
    const auto known = t.action_units_known.to(logits.dtype());
    return {(per_sample * known).sum(), known.sum()};
  }
  bool pos_weighted_ = false;
};

class CenterLoss : public Loss {
 public:
  CenterLoss(const ConfigNode&, const LossContext& ctx) {
    const auto it = ctx.output_widths.find("embedding");
    if (ctx.num_classes > 0 && it != ctx.output_widths.end())
      centers = register_parameter("centers", torch::randn({ctx.num_classes, it->second}));
  }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& e = read(out);
    MER_CHECK(centers.defined(), ValueError, "loss '", name, "' needs the model's 'embedding' output");
    return mean_of((e - centers.index_select(0, t.labels)).pow(2).sum(1) / 2);
  }
  torch::Tensor centers;
};

torch::Tensor pairwise_distances(const torch::Tensor& e) {
  const auto sq = (e * e).sum(1);
  return (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * e.mm(e.t())).clamp_min(0.0).add(1e-12).sqrt();
}

class TripletLoss : public Loss {
 public:
  TripletLoss(const ConfigNode& node, const LossContext&) { margin_ = number(node, "margin", 0.3, 0.0, 100.0); }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto d = pairwise_distances(read(out));
    const auto same = t.labels.unsqueeze(1).eq(t.labels.unsqueeze(0));
    const auto eye = torch::eye(d.size(0), same.options());
    // Batch-hard: the farthest positive and the nearest negative of each anchor.
    const auto hardest_pos = torch::where(same & ~eye, d, torch::zeros_like(d)).amax(1);
    const auto big = d.max().detach() + 1;
    const auto hardest_neg = torch::where(same, big.expand_as(d), d).amin(1);
    // Anchors without a positive or a negative in the batch contribute nothing.
    const auto valid = ((same & ~eye).any(1) & (~same).any(1)).to(d.dtype());
    const auto per = torch::relu(hardest_pos - hardest_neg + margin_) * valid;
    return {per.sum(), valid.sum()};
  }
  double margin_ = 0.3;
};

class ContrastiveLoss : public Loss {
 public:
  ContrastiveLoss(const ConfigNode& node, const LossContext&) { margin_ = number(node, "margin", 1.0, 0.0, 100.0); }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto d = pairwise_distances(read(out));
    const auto same = t.labels.unsqueeze(1).eq(t.labels.unsqueeze(0)).to(d.dtype());
    const auto off = 1 - torch::eye(d.size(0), d.options());
    const auto pair = same * d.pow(2) + (1 - same) * torch::relu(margin_ - d).pow(2);
    // Per anchor: the mean over its pairs.
    const auto n = std::max<std::int64_t>(1, d.size(0) - 1);
    return mean_of((pair * off).sum(1) / static_cast<double>(n));
  }
  double margin_ = 1.0;
};

// ArcFace / CosFace: logits s·cos θ_j over a learned class matrix, with the margin on the true class.
class MarginLoss : public Loss {
 public:
  MarginLoss(const ConfigNode& node, const LossContext& ctx, bool angular) : angular_(angular) {
    scale_ = number(node, "scale", 30.0, 0.0, 1000.0, true);
    margin_ = number(node, "margin", angular ? 0.5 : 0.35, 0.0, 1.5);
    const auto it = ctx.output_widths.find("embedding");
    if (ctx.num_classes > 0 && it != ctx.output_widths.end()) {
      classes = register_parameter("classes", torch::empty({ctx.num_classes, it->second}));
      torch::nn::init::xavier_uniform_(classes);
    }
  }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    MER_CHECK(classes.defined(), ValueError, "loss '", name, "' needs the model's 'embedding' output");
    const auto& e = read(out);
    const auto cos = (e / (e.norm(2, 1, true) + 1e-12)).mm((classes / (classes.norm(2, 1, true) + 1e-12)).t());
    const auto onehot = torch::zeros_like(cos).scatter_(1, t.labels.unsqueeze(1), 1.0);
    torch::Tensor target;
    if (angular_) {
      target = torch::cos(torch::acos(cos.clamp(-1 + 1e-7, 1 - 1e-7)) + margin_);
    } else {
      target = cos - margin_;
    }
    const auto logits = scale_ * (onehot * target + (1 - onehot) * cos);
    return mean_of(-torch::log_softmax(logits, 1).gather(1, t.labels.unsqueeze(1)).squeeze(1));
  }
  bool angular_;
  double scale_ = 30, margin_ = 0.5;
  torch::Tensor classes;
};

// Gradient reversal (Ganin & Lempitsky 2015): identity forward, -lambda x the gradient backward, so the
// features learn to fool the domain classifier that learns to tell the domains apart.
struct GradientReversal : torch::autograd::Function<GradientReversal> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double lambda) {
    ctx->saved_data["lambda"] = lambda;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
    return {-ctx->saved_data["lambda"].toDouble() * grad[0], torch::Tensor()};
  }
};

class DomainAdversarialLoss : public Loss {
 public:
  DomainAdversarialLoss(const ConfigNode& node, const LossContext& ctx) {
    const auto hidden = static_cast<std::int64_t>(number(node, "hidden", 64, 1, 1e5));
    lambda_max_ = number(node, "lambda", 1.0, 0.0, 100.0);
    schedule_ = node.get_choice("schedule", "ganin", {"ganin", "constant"});
    if (ctx.output_widths.empty()) return;  // checking options only
    const auto width = ctx.output_widths.count("embedding") ? ctx.output_widths.at("embedding") : 0;
    MER_CHECK(width > 0, ValueError, "loss 'domain_adversarial' needs the model's 'embedding' output (a multi_task model with tasks: [embedding])");
    MER_CHECK(ctx.num_domains >= 2, ValueError, "loss 'domain_adversarial' needs training samples from at least 2 domains (datasets), got ",
              ctx.num_domains, ": use it on a composite such as MEGC2019");
    classifier_ = register_module("classifier", torch::nn::Sequential(torch::nn::Linear(width, hidden), torch::nn::ReLU(),
                                                                      torch::nn::Linear(hidden, ctx.num_domains)));
    set_progress(0.0);
  }
  bool reads_unlabelled() const override { return true; }
  void set_progress(double p) override {
    lambda_ = schedule_ == "constant" ? lambda_max_ : lambda_max_ * (2.0 / (1.0 + std::exp(-10.0 * p)) - 1.0);
  }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& f = read(out);
    MER_CHECK(t.domains.defined(), ValueError, "loss '", name, "' needs the samples' domains, but the batch has none");
    const auto logits = classifier_->forward(GradientReversal::apply(f, lambda_));
    const auto known = t.domains.ge(0);
    const auto per_sample = torch::nn::functional::cross_entropy(
        logits, t.domains.clamp_min(0), torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const auto w = known.to(per_sample.dtype());
    return {(per_sample * w).sum(), w.sum()};
  }
  double lambda_max_ = 1, lambda_ = 0;
  std::string schedule_;
  torch::nn::Sequential classifier_{nullptr};
};

// CORAL (Sun & Saenko 2016): the domains' feature covariances pulled together, averaged over the pairs of
// domains with at least two samples in the batch (a batch with fewer contributes nothing).
class CoralLoss : public Loss {
 public:
  CoralLoss(const ConfigNode&, const LossContext&) {}
  bool reads_unlabelled() const override { return true; }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& f = read(out);
    MER_CHECK(t.domains.defined(), ValueError, "loss '", name, "' needs the samples' domains, but the batch has none");
    const auto d = static_cast<double>(f.size(1));
    const auto domains = std::get<0>(torch::_unique(t.domains.index({t.domains.ge(0)})));
    std::vector<torch::Tensor> covs;
    for (std::int64_t k = 0; k < domains.size(0); ++k) {
      const auto x = f.index({t.domains.eq(domains[k])});
      if (x.size(0) < 2) continue;
      const auto c = x - x.mean(0, true);
      covs.push_back(c.t().mm(c) / static_cast<double>(x.size(0) - 1));
    }
    auto total = torch::zeros({}, f.options());
    double pairs = 0;
    for (std::size_t a = 0; a < covs.size(); ++a)
      for (std::size_t b = a + 1; b < covs.size(); ++b) total = total + (covs[a] - covs[b]).pow(2).sum() / (4 * d * d), pairs += 1;
    if (pairs == 0) return {total, torch::zeros({}, f.options())};
    return {total / pairs, torch::ones({}, f.options())};
  }
};

// Knowledge distillation (Hinton et al. 2015): the student matches the teacher's softened class
// distribution; T^2 keeps the gradient scale independent of the temperature.
class DistillLoss : public Loss {
 public:
  DistillLoss(const ConfigNode& node, const LossContext&) { temperature_ = number(node, "temperature", 4.0, 0.0, 100.0, true); }
  LossValue compute(const ModelOutput& out, const LossTargets& t) override {
    const auto& logits = read(out);
    MER_CHECK(t.teacher_logits.defined(), ValueError, "loss '", name,
              "' needs a teacher's soft targets: set train.distill.teacher (a run folder or a checkpoint)");
    MER_CHECK(t.teacher_logits.sizes() == logits.sizes(), ValueError, "loss '", name, "': the teacher's logits are ",
              t.teacher_logits.sizes(), " but the student's '", output, "' output is ", logits.sizes());
    const auto p_teacher = torch::softmax(t.teacher_logits.to(logits.dtype()) / temperature_, 1);
    const auto log_student = torch::log_softmax(logits / temperature_, 1);
    const auto per_sample = (p_teacher * (torch::log(p_teacher.clamp_min(1e-12)) - log_student)).sum(1);
    return mean_of(temperature_ * temperature_ * per_sample);
  }
  double temperature_ = 4;
};

// FitNets hints (Romero et al. 2015): the student's named output, through a learned linear adapter when
// its width differs from the teacher's, regresses the teacher's same-sample output (mean squared error
// per feature). Named outputs, not arbitrary layers: LibTorch's C++ modules have no forward hooks, so a
// hint joins what models expose ("embedding" of a multi_task model).
class HintLoss : public Loss {
 public:
  HintLoss(const ConfigNode& node, const LossContext& ctx) {
    const auto student = node.get<std::string>("output", "embedding");
    teacher_ = node.get<std::string>("teacher_output", student);
    if (ctx.output_widths.empty()) return;  // checking options only
    const auto s = ctx.output_widths.find(student);
    MER_CHECK(s != ctx.output_widths.end(), ValueError, "loss 'hint' reads the student's output '", student,
              "', which the model does not have (a multi_task model with tasks: [embedding] has 'embedding')");
    const auto t = ctx.teacher_widths.find(teacher_);
    MER_CHECK(t != ctx.teacher_widths.end(), ValueError, "loss 'hint' needs the teacher's output '", teacher_,
              "', which the teacher does not give (set train.distill.teacher to a run of a model with that output)");
    if (s->second != t->second) adapter_ = register_module("adapter", torch::nn::Linear(s->second, t->second));
  }
  LossValue compute(const ModelOutput& out, const LossTargets& targets) override {
    auto f = read(out).flatten(1);
    const auto it = targets.teacher_outputs.find(teacher_);
    MER_CHECK(it != targets.teacher_outputs.end(), ValueError, "loss '", name, "' needs the teacher's output '", teacher_,
              "': set train.distill.teacher");
    if (!adapter_.is_empty()) f = adapter_->forward(f);
    MER_CHECK(f.sizes() == it->second.sizes(), ValueError, "loss '", name, "': the student's output is ", f.sizes(),
              " but the teacher's '", teacher_, "' is ", it->second.sizes());
    return mean_of((f - it->second.to(f.dtype())).pow(2).mean(1));
  }
  std::string teacher_;
  torch::nn::Linear adapter_{nullptr};
};

}  // namespace

const LossRegistry& builtin_losses() {
  static const LossRegistry registry = [] {
    LossRegistry r("losses");
    const auto add = [&](const std::string& name, const std::string& output, auto make, const std::string& help) {
      r.add(name,
            [name, output, make](const ConfigNode& node, const LossContext& ctx) -> LossRegistry::Product {
              auto loss = make(node, ctx);
              loss->name = name;
              loss->output = node.get<std::string>("output", output);
              loss->weight = number(node, "weight", 1.0, 0.0, 1e6);
              return loss;
            },
            help);
    };
    add("cross_entropy", "logits", [](auto& n, auto& c) { return std::make_unique<CrossEntropyLoss>(n, c); },
        "softmax cross-entropy; label_smoothing, class_weighted");
    add("focal", "logits", [](auto& n, auto& c) { return std::make_unique<FocalLoss>(n, c); },
        "focal loss; gamma, alpha: none|class_balanced, beta");
    add("bce_au", "au", [](auto& n, auto& c) { return std::make_unique<BceActionUnitLoss>(n, c); },
        "multi-label action units (BCE with logits); pos_weighted");
    add("center", "embedding", [](auto& n, auto& c) { return std::make_unique<CenterLoss>(n, c); },
        "center loss on the embedding");
    add("triplet", "embedding", [](auto& n, auto& c) { return std::make_unique<TripletLoss>(n, c); },
        "batch-hard triplet loss; margin");
    add("contrastive", "embedding", [](auto& n, auto& c) { return std::make_unique<ContrastiveLoss>(n, c); },
        "contrastive pair loss over the batch; margin");
    add("arcface", "embedding", [](auto& n, auto& c) { return std::make_unique<MarginLoss>(n, c, true); },
        "additive angular margin softmax; scale, margin");
    add("cosface", "embedding", [](auto& n, auto& c) { return std::make_unique<MarginLoss>(n, c, false); },
        "additive cosine margin softmax; scale, margin");
    add("domain_adversarial", "embedding", [](auto& n, auto& c) { return std::make_unique<DomainAdversarialLoss>(n, c); },
        "domain classifier behind gradient reversal (DANN); hidden, lambda, schedule: ganin|constant");
    add("coral", "embedding", [](auto& n, auto& c) { return std::make_unique<CoralLoss>(n, c); },
        "covariance alignment between the batch's domains (Deep CORAL)");
    add("distill", "logits", [](auto& n, auto& c) { return std::make_unique<DistillLoss>(n, c); },
        "knowledge distillation from train.distill's teacher; temperature");
    add("hint", "embedding", [](auto& n, auto& c) { return std::make_unique<HintLoss>(n, c); },
        "FitNets hint: the student's output (through a learned adapter) regresses the teacher's teacher_output");
    return r;
  }();
  return registry;
}

void check_losses(const std::vector<ConfigNode>& nodes) {
  for (const auto& node : nodes) builtin_losses().build(node, LossContext{});
}

}  // namespace mer
