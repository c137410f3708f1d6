// The model zoo through the same YAML → registry path the CLI uses: exact parameter counts of the
// presets at their reference inputs, forward and backward on the declared inputs, a loss that falls on a
// small fixed batch, every family, the losses against hand-computed values, and clear errors.
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>
#include <mer/models/families.hpp>
#include <mer/models/model.hpp>
#include <mer/train/losses.hpp>

#include <torch/optim.h>

#include "support/model_checks.hpp"

#include <map>

namespace mer {
namespace {

using test::error_message;

std::unique_ptr<Classifier> build(const std::string& yaml, const ModelSpec& spec, Config* keep = nullptr) {
  auto config = Config::from_string("model: " + yaml, "zoo.yaml");
  auto model = builtin_models().build(config.root().child("model"), spec);
  if (keep) *keep = config;
  return model;
}

NamedInputs random_inputs(const ModelSpec& spec, std::int64_t n) {
  NamedInputs in;
  for (const auto& i : spec.inputs) {
    std::vector<std::int64_t> shape = {n};
    shape.insert(shape.end(), i.shape.begin(), i.shape.end());
    in.emplace_back(i.name, torch::randn(shape));
  }
  return in;
}

// Adam on a fixed batch of 4: the eval-mode cross-entropy must fall within `steps` steps.
void expect_learns(Classifier& model, const ModelSpec& spec, int steps = 8, double lr = 1e-3) {
  torch::manual_seed(5);
  const auto x = random_inputs(spec, 4);
  const auto y = torch::tensor({0, 1, 2, 1}, torch::kLong) % spec.num_classes;
  const auto loss = [&] {
    torch::NoGradGuard g;
    model.eval();
    return torch::nn::functional::cross_entropy(model.forward(x).logits, y).item<double>();
  };
  const double before = loss();
  torch::optim::Adam opt(model.parameters(), torch::optim::AdamOptions(lr));
  for (int s = 0; s < steps; ++s) {
    model.train();
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model.forward(x).logits, y).backward();
    opt.step();
  }
  EXPECT_LT(loss(), before) << "the loss did not fall in " << steps << " steps";
}

// ---------------------------------------------------------------- presets

TEST(Zoo, PresetParameterCountsMatchTheReferences) {
  // Counted from the reference code at 3 classes (docs/model-zoo.md); each preset at its reference input.
  const std::map<std::string, std::int64_t> published = {
      {"ststnet", 1683},           {"off_apexnet", 2664475}, {"off_apexnet_meb", 807909},
      {"dual_inception", 6449867}, {"sssnet", 1349251},      {"rcn_a", 55747},
      {"rcn_s", 92803},            {"rcn_w", 52675},         {"rcn_p", 131075},
      {"rcn_c", 131075},           {"resnet18", 11178051},   {"vgg", 128778627},
      {"off_tanet", 59403},        {"htnet", 139582982}};
  for (const auto& [name, count] : published) EXPECT_EQ(reference_parameters(name), count) << name;
}

TEST(Zoo, RcnWithoutTheReferencesUnusedModulesAndVgg16) {
  const auto spec = ModelSpec::image(3, 60, 60, 3);
  EXPECT_EQ(count_parameters(*build("{type: rcn_s, keep_unused: false}", spec)), 55747);
  EXPECT_EQ(count_parameters(*build("{type: rcn_p, keep_unused: false}", spec)), 52675);
  EXPECT_EQ(count_parameters(*build("{type: rcn_c, keep_unused: false}", spec)), 52675);
  EXPECT_EQ(count_parameters(*build("{type: vgg, depth: 16}", ModelSpec::image(3, 224, 224, 3))), 134272835);
}

TEST(Zoo, EveryPresetRunsForwardBackwardAndLearns) {
  // At the reference input, except where a smaller one keeps the test quick (the counts above are at the
  // reference input; resnet18 and vgg pool adaptively, htnet is checked at 28 px).
  const std::map<std::string, ModelSpec> inputs = {
      {"ststnet", ModelSpec::image(3, 28, 28, 3)},          {"off_apexnet", ModelSpec::image(2, 28, 28, 3)},
      {"off_apexnet_meb", ModelSpec::image(2, 28, 28, 3)},  {"dual_inception", ModelSpec::image(2, 28, 28, 3)},
      {"sssnet", ModelSpec::image(3, 64, 64, 3)},           {"rcn_a", ModelSpec::image(3, 60, 60, 3)},
      {"rcn_s", ModelSpec::image(3, 60, 60, 3)},            {"rcn_w", ModelSpec::image(3, 60, 60, 3)},
      {"rcn_p", ModelSpec::image(3, 60, 60, 3)},            {"rcn_c", ModelSpec::image(3, 60, 60, 3)},
      {"resnet18", ModelSpec::image(3, 64, 64, 3)},         {"off_tanet", ModelSpec::image(3, 112, 112, 3)}};
  for (const auto& [name, spec] : inputs) {
    SCOPED_TRACE(name);
    torch::manual_seed(1);
    auto model = build("{type: " + name + "}", spec);
    EXPECT_EQ(model->forward(random_inputs(spec, 2)).logits.sizes(), torch::IntArrayRef({2, 3}));
    expect_learns(*model, spec, name.rfind("rcn", 0) == 0 ? 20 : 8, name.rfind("rcn", 0) == 0 ? 5e-3 : 1e-3);
  }
}

TEST(Zoo, LargePresetsRunForwardBackwardAndLearn) {
  // htnet (139 M parameters) and vgg at a small input: one forward and backward each, then a few small
  // Adam steps on a fixed batch.
  for (const auto& [name, spec] : std::map<std::string, ModelSpec>{{"htnet", ModelSpec::image(3, 28, 28, 3)},
                                                                    {"vgg", ModelSpec::image(3, 32, 32, 3)}}) {
    SCOPED_TRACE(name);
    torch::manual_seed(1);
    auto model = build("{type: " + name + "}", spec);
    const auto out = model->forward(random_inputs(spec, 2)).logits;
    EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 3}));
    out.sum().backward();
    std::int64_t with_grad = 0;
    for (const auto& p : model->parameters()) with_grad += p.grad().defined();
    EXPECT_GT(with_grad, 0);
    model->zero_grad();
    expect_learns(*model, spec, 3, 1e-5);
  }
}

TEST(Zoo, PresetsRefuseInputsTheyCannotTake) {
  // OFF-ApexNet is defined on u and v: three stacked channels are a config error naming the model.
  auto msg = error_message<ConfigError>([] { build("{type: off_apexnet}", ModelSpec::image(3, 28, 28, 3)); });
  EXPECT_CONTAINS(msg, "zoo.yaml:1");
  EXPECT_CONTAINS(msg, "off_apexnet");
  EXPECT_CONTAINS(msg, "2 stacked channels");
  // A wrong tensor at run time is a ValueError with the expected shape, not a LibTorch error.
  auto net = build("{type: off_apexnet_meb}", ModelSpec::image(2, 28, 28, 3));
  msg = error_message<ValueError>([&] { net->forward(NamedInputs{{"input", torch::randn({1, 2, 30, 28})}}); });
  EXPECT_CONTAINS(msg, "[N, 2, 28, 28]");
  // Stacked groups of different sizes.
  ModelSpec mixed;
  mixed.inputs = {{"apex", {1, 64, 64}, false}, {"flow", {2, 28, 28}, true}};
  msg = error_message<ConfigError>([&] { build("{type: ststnet}", mixed); });
  EXPECT_CONTAINS(msg, "multi_stream");
  // A clip cannot be stacked.
  ModelSpec clip;
  clip.inputs = {{"clip", {4, 1, 28, 28}, false}};
  msg = error_message<ConfigError>([&] { build("{type: ststnet}", clip); });
  EXPECT_CONTAINS(msg, "cascaded");
}

// ---------------------------------------------------------------- families

ModelSpec two_groups() {
  ModelSpec s;
  s.inputs = {{"apex", {1, 32, 32}, false}, {"flow", {2, 16, 16}, true}};
  return s;
}

TEST(Families, SingleStreamOnStackedGroupsWithEveryBlockKind) {
  ModelSpec spec;
  spec.inputs = {{"flow", {2, 16, 16}, true}, {"strain", {1, 16, 16}, false}};
  for (const std::string block : {"plain", "residual", "inception", "multiscale", "rcl"}) {
    for (const std::string attention : {"none", "se", "cbam", "nonlocal"}) {
      SCOPED_TRACE(block + "/" + attention);
      torch::manual_seed(2);
      auto m = build("{type: single_stream, backbone: {channels: [8, 16], block: " + block + ", attention: " + attention +
                         "}, head: {hidden: [16], dropout: 0.2}}",
                     spec);
      EXPECT_EQ(m->input_names(), (std::vector<std::string>{"flow", "strain"}));
      EXPECT_EQ(m->forward(random_inputs(spec, 3)).logits.sizes(), torch::IntArrayRef({3, 3}));
    }
  }
  auto m = build("{type: single_stream, backbone: {type: transformer, patch: 4, dim: 16, heads: 2}}", spec);
  expect_learns(*m, spec);
  auto caps = build("{type: single_stream, head: {type: capsule, capsule_dim: 8}}", spec);
  expect_learns(*caps, spec, 10, 5e-3);
}

TEST(Families, MultiStreamFusesGroupsOfDifferentSizes) {
  const auto spec = two_groups();
  for (const std::string fusion : {"concat", "sum", "attention", "bilinear"}) {
    SCOPED_TRACE(fusion);
    torch::manual_seed(3);
    auto m = build("{type: multi_stream, fusion: " + fusion +
                       ", streams: [{input: apex, backbone: {channels: [8, 16]}}, {input: flow, backbone: {channels: [8, 16]}}]}",
                   spec);
    EXPECT_EQ(m->input_names(), (std::vector<std::string>{"apex", "flow"}));
    expect_learns(*m, spec);
  }
  auto late = build("{type: multi_stream, depth: late, streams: [{input: apex}, {input: flow}]}", spec);
  expect_learns(*late, spec);
  // Shared weights: one backbone's parameters, used twice.
  ModelSpec same;
  same.inputs = {{"onset", {1, 16, 16}, false}, {"apex", {1, 16, 16}, false}};
  auto shared = build("{type: multi_stream, shared: true, streams: [{input: onset}, {input: apex}]}", same);
  auto separate = build("{type: multi_stream, streams: [{input: onset}, {input: apex}]}", same);
  EXPECT_LT(count_parameters(*shared), count_parameters(*separate));
  auto msg = error_message<ConfigError>(
      [&] { build("{type: multi_stream, shared: true, streams: [{input: apex}, {input: flow}]}", spec); });
  EXPECT_CONTAINS(msg, "shared weights need streams of one shape");
  msg = error_message<ConfigError>([&] {
    build("{type: multi_stream, fusion: sum, streams: [{input: apex, backbone: {channels: [8]}}, {input: flow}]}", spec);
  });
  EXPECT_CONTAINS(msg, "one feature width");
}

TEST(Families, CascadedOverFramesAndPatches) {
  ModelSpec clip;
  clip.inputs = {{"clip", {5, 1, 16, 16}, false}};
  for (const std::string temporal : {"lstm", "gru", "tcn", "transformer", "gcn"}) {
    SCOPED_TRACE(temporal);
    torch::manual_seed(4);
    auto m = build("{type: cascaded, input: clip, frame_backbone: {channels: [8, 16]}, temporal: {type: " + temporal +
                       ", hidden: 16, heads: 4}}",
                   clip);
    expect_learns(*m, clip);
  }
  ModelSpec image;
  image.inputs = {{"apex", {1, 32, 32}, false}};
  auto patches = build("{type: cascaded, input: apex, split: patches, patches: 4, temporal: {type: gcn, layers: 2}}", image);
  expect_learns(*patches, image);
  auto msg = error_message<ConfigError>([&] { build("{type: cascaded, input: apex}", image); });
  EXPECT_CONTAINS(msg, "split: frames needs a sequence group");
  // A 3-D CNN on the clip (single_stream with a conv backbone becomes 3-D), with CBAM.
  auto c3d = build("{type: single_stream, inputs: clip, backbone: {channels: [4, 8], attention: cbam}}", clip);
  expect_learns(*c3d, clip);
}

TEST(Families, MultiTaskAddsAnActionUnitHeadAndAnEmbedding) {
  auto spec = ModelSpec::image(3, 16, 16, 3);
  spec.num_action_units = 5;
  auto m = build("{type: multi_task, trunk: {type: single_stream, backbone: {channels: [8, 16]}}, tasks: {au: {hidden: [8]}, embedding: {}}}", spec);
  const auto out = m->forward(random_inputs(spec, 2));
  EXPECT_EQ(out.logits.sizes(), torch::IntArrayRef({2, 3}));
  EXPECT_EQ(out.aux.at("au").sizes(), torch::IntArrayRef({2, 5}));
  EXPECT_EQ(out.aux.at("embedding").sizes(), torch::IntArrayRef({2, 16}));
  spec.num_action_units = 0;
  const auto msg = error_message<ConfigError>([&] {
    build("{type: multi_task, trunk: {type: single_stream}, tasks: {au: {}}}", spec);
  });
  EXPECT_CONTAINS(msg, "action-unit annotations");
  const auto unknown = error_message<ConfigError>([&] {
    build("{type: multi_task, trunk: {type: single_stream}, tasks: {landmark: {}}}", spec);
  });
  EXPECT_CONTAINS(unknown, "unknown task 'landmark'");
}

TEST(Families, ConfigErrorsNameTheLineAndWhatWasExpected) {
  const auto spec = two_groups();
  auto msg = error_message<ConfigError>([&] { build("{type: multi_stream, streams: [{input: apex}, {input: flwo}]}", spec); });
  EXPECT_CONTAINS(msg, "zoo.yaml:1");
  EXPECT_CONTAINS(msg, "'flwo'");
  EXPECT_CONTAINS(msg, "did you mean 'flow'?");
  msg = error_message<RegistryError>([&] {
    build("{type: single_stream, inputs: apex, backbone: {type: resnet81}}", spec);
  });
  EXPECT_CONTAINS(msg, "resnet81");
  EXPECT_CONTAINS(msg, "did you mean 'resnet18'?");
  msg = error_message<ConfigError>([&] {
    build("{type: multi_stream, fusion: product, streams: [{input: apex}, {input: flow}]}", spec);
  });
  EXPECT_CONTAINS(msg, "product");
  EXPECT_CONTAINS(msg, "bilinear");
  msg = error_message<ConfigError>([&] { build("{type: single_stream, inputs: apex, backbone: {block: dense}}", spec); });
  EXPECT_CONTAINS(msg, "dense");
  // check_only (names known, shapes not): the same name check, nothing built.
  ModelSpec names;
  names.check_only = true;
  names.inputs = {{"flow", {}, true}};
  EXPECT_EQ(build("{type: single_stream}", names), nullptr);
  EXPECT_THROW(build("{type: single_stream, inputs: [apex]}", names), ConfigError);
}

// ---------------------------------------------------------------- losses

LossTargets labels(std::vector<std::int64_t> y) {
  LossTargets t;
  t.labels = torch::tensor(y, torch::kLong);
  return t;
}

std::shared_ptr<Loss> loss(const std::string& yaml, const LossContext& ctx = {}) {
  const auto c = Config::from_string(yaml, "loss.yaml");
  return std::shared_ptr<Loss>(builtin_losses().build(c.root(), ctx));
}

double value(const LossValue& v) { return (v.weighted_sum / v.weight_sum).item<double>(); }

TEST(Losses, CrossEntropyWithLabelSmoothingAndFocalByHand) {
  ModelOutput out;
  out.logits = torch::tensor({{0.0, 1.0, 2.0}}, torch::kDouble);
  const double lse = std::log(1 + std::exp(1.0) + std::exp(2.0));
  const double nll = lse - 0.0;  // true class 0
  EXPECT_NEAR(value(loss("{type: cross_entropy}")->compute(out, labels({0}))), nll, 1e-9);
  // Smoothing 0.3: 0.7 · nll + 0.3 · mean over classes of -log p.
  const double mean_nll = lse - 1.0;
  EXPECT_NEAR(value(loss("{type: cross_entropy, label_smoothing: 0.3}")->compute(out, labels({0}))),
              0.7 * nll + 0.3 * mean_nll, 1e-9);
  // Focal with gamma 0 is cross-entropy; with gamma 2 it is (1 - p)^2 · nll.
  EXPECT_NEAR(value(loss("{type: focal, gamma: 0}")->compute(out, labels({0}))), nll, 1e-9);
  const double p = std::exp(-nll);
  EXPECT_NEAR(value(loss("{type: focal}")->compute(out, labels({0}))), (1 - p) * (1 - p) * nll, 1e-9);
  // Class weights from the training fold's counts: 1 and 3 samples → 1.5, 0.5 (mean 1 over present classes).
  LossContext ctx;
  ctx.class_counts = {1, 3};
  const auto weighted = loss("{type: cross_entropy, class_weighted: true}", ctx);
  ModelOutput two;
  two.logits = torch::zeros({2, 2}, torch::kDouble);
  const auto v = weighted->compute(two, labels({0, 1}));
  EXPECT_NEAR(v.weight_sum.item<double>(), 2.0, 1e-6);
  EXPECT_NEAR(value(v), std::log(2.0), 1e-6);
}

// Distillation by hand: teacher logits (0, ln 3) at T = 1 give soft targets (1/4, 3/4); a student at
// (0, 0) has (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2). At T = 2 both are softened first and T^2 scales.
TEST(Losses, DistillationIsTheTemperatureScaledKlToTheTeachersSoftTargets) {
  ModelOutput out;
  out.logits = torch::zeros({1, 2}, torch::kDouble);
  LossTargets t = labels({0});
  t.teacher_logits = torch::tensor({{0.0, std::log(3.0)}}, torch::kDouble);
  EXPECT_NEAR(value(loss("{type: distill, temperature: 1}")->compute(out, t)), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-9);
  const double q = std::sqrt(3.0) / (1 + std::sqrt(3.0));  // softmax((0, ln 3) / 2)
  EXPECT_NEAR(value(loss("{type: distill, temperature: 2}")->compute(out, t)),
              4 * ((1 - q) * std::log((1 - q) / 0.5) + q * std::log(q / 0.5)), 1e-9);
  t.teacher_logits = torch::tensor({{0.0, 0.0}}, torch::kDouble);
  EXPECT_NEAR(value(loss("{type: distill}")->compute(out, t)), 0.0, 1e-12);  // agreeing costs nothing
  EXPECT_CONTAINS(error_message<ValueError>([&] { loss("{type: distill}")->compute(out, labels({0})); }), "train.distill.teacher");
}

// FitNets hint by hand: student (1, 2) against the teacher's (1, 4) is mean((0, -2)^2) = 2 with no adapter
// (same widths); a teacher of another width gets a learned linear adapter; a missing teacher output or
// student output is refused by name.
TEST(Losses, HintRegressesTheTeachersOutputThroughAnAdapterWhereWidthsDiffer) {
  LossContext ctx;
  ctx.output_widths = {{"logits", 2}, {"embedding", 2}};
  ctx.teacher_widths = {{"embedding", 2}};
  auto same = loss("{type: hint}", ctx);
  EXPECT_TRUE(same->parameters().empty());
  ModelOutput out;
  out.logits = torch::zeros({1, 2});
  out.aux["embedding"] = torch::tensor({{1.0, 2.0}}, torch::kDouble);
  LossTargets t = labels({0});
  t.teacher_outputs["embedding"] = torch::tensor({{1.0, 4.0}}, torch::kDouble);
  EXPECT_NEAR(value(same->compute(out, t)), 2.0, 1e-12);
  ctx.teacher_widths = {{"feat", 5}};
  auto adapted = loss("{type: hint, teacher_output: feat}", ctx);
  EXPECT_EQ(count_parameters(*adapted), 2 * 5 + 5);
  out.aux["embedding"] = torch::tensor({{1.0f, 2.0f}});
  t.teacher_outputs = {{"feat", torch::zeros({1, 5})}};
  EXPECT_TRUE(std::isfinite(value(adapted->compute(out, t))));
  EXPECT_CONTAINS(error_message<ValueError>([&] { loss("{type: hint}", ctx); }), "the teacher does not give");
  EXPECT_CONTAINS(error_message<ValueError>([&] { loss("{type: hint, output: au, teacher_output: feat}", ctx); }),
                  "the model does not have");
}

// CORAL by hand: 1-D features, domain 0 at {1, 3} (variance 2), domain 1 at {5, 5} (variance 0):
// (2 - 0)^2 / (4 x 1^2) = 1. A sample of an unknown domain (-1) is left out.
TEST(Losses, CoralAlignsTheDomainsCovariances) {
  ModelOutput out;
  out.logits = torch::zeros({5, 2});
  out.aux["embedding"] = torch::tensor({{1.0}, {3.0}, {5.0}, {5.0}, {100.0}}, torch::kDouble);
  LossTargets t = labels({0, 0, 0, 0, 0});
  t.domains = torch::tensor(std::vector<std::int64_t>{0, 0, 1, 1, -1}, torch::kLong);
  EXPECT_NEAR(value(loss("{type: coral}")->compute(out, t)), 1.0, 1e-12);
  t.domains = torch::tensor(std::vector<std::int64_t>{0, 0, 0, 0, 0}, torch::kLong);
  EXPECT_NEAR(loss("{type: coral}")->compute(out, t).weight_sum.item<double>(), 0.0, 1e-12);  // one domain: nothing
}

// The gradient-reversal layer: the features receive minus lambda times the gradient the domain classifier
// alone would give them, while the classifier itself learns the ordinary way.
TEST(Losses, DomainAdversarialReversesTheFeaturesGradient) {
  LossContext ctx;
  ctx.output_widths = {{"logits", 2}, {"embedding", 3}};
  ctx.num_domains = 2;
  auto l = loss("{type: domain_adversarial, hidden: 4, lambda: 0.5, schedule: constant}", ctx);
  auto f = torch::randn({6, 3}, torch::kFloat).requires_grad_(true);
  ModelOutput out;
  out.logits = torch::zeros({6, 2});
  out.aux["embedding"] = f;
  LossTargets t = labels({0, 0, 0, 0, 0, 0});
  t.domains = torch::tensor(std::vector<std::int64_t>{0, 1, 0, 1, 0, 1}, torch::kLong);
  const auto v = l->compute(out, t);
  (v.weighted_sum / v.weight_sum).backward();
  const auto classifier = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(l->named_children()["classifier"]);
  ASSERT_TRUE(classifier);
  auto g = f.detach().clone().requires_grad_(true);
  torch::nn::functional::cross_entropy(classifier->forward(g), t.domains).backward();
  EXPECT_TRUE(torch::allclose(f.grad(), -0.5 * g.grad(), 1e-5, 1e-7));
  // Its domains come from the training samples: one domain cannot be adapted from.
  ctx.num_domains = 1;
  EXPECT_CONTAINS(error_message<ValueError>([&] { loss("{type: domain_adversarial}", ctx); }), "at least 2 domains");
}

TEST(Losses, ActionUnitsIgnoreUnreadableCells) {
  ModelOutput out;
  out.aux["au"] = torch::tensor({{0.0, 0.0}, {2.0, -2.0}}, torch::kDouble);
  LossTargets t = labels({0, 0});
  t.action_units = torch::tensor({{1.0, 0.0}, {1.0, 0.0}});
  t.action_units_known = torch::tensor({true, false});
  // Only row 0 counts: BCE(0, 1) and BCE(0, 0) are both log 2.
  EXPECT_NEAR(value(loss("{type: bce_au}")->compute(out, t)), std::log(2.0), 1e-6);
  // A loss on an output the model does not return names both.
  ModelOutput none;
  none.logits = torch::zeros({2, 3});
  const auto msg = error_message<ValueError>([&] { loss("{type: bce_au}")->compute(none, t); });
  EXPECT_CONTAINS(msg, "'au'");
}

TEST(Losses, MetricLossesOnHandMadeEmbeddings) {
  ModelOutput out;
  // Two classes on a line: class 0 at 0 and 1, class 1 at 3 and 5.
  out.aux["embedding"] = torch::tensor({{0.0}, {1.0}, {3.0}, {5.0}}, torch::kDouble);
  const auto t = labels({0, 0, 1, 1});
  // Batch-hard triplets, margin 0.5: anchors 0: pos 1, neg 3 → 0; 1: pos 1, neg 2 → 0; 3: pos 2, neg 2 →
  // 0.5; 5: pos 2, neg 4 → 0. Mean 0.125.
  EXPECT_NEAR(value(loss("{type: triplet, margin: 0.5}")->compute(out, t)), 0.125, 1e-5);
  // Contrastive, margin 2.5: per anchor mean over the 3 other samples.
  // a=0: pos d=1 → 1; negs d=3,5 → 0  → 1/3.  a=1: pos 1; negs 2 → 0.25, 4 → 0 → 1.25/3.
  // a=3: pos d=2 → 4; negs d=3 → 0, d=2 → 0.25 → 4.25/3. a=5: pos 4; negs 5, 4 → 0 → 4/3.
  EXPECT_NEAR(value(loss("{type: contrastive, margin: 2.5}")->compute(out, t)), (1 + 1.25 + 4.25 + 4) / 3 / 4, 1e-5);
  // Center loss with the centres set by hand: 0.5 · squared distance.
  LossContext ctx;
  ctx.num_classes = 2;
  ctx.output_widths["embedding"] = 1;
  auto center = std::dynamic_pointer_cast<Loss>(loss("{type: center}", ctx));
  for (auto& p : center->parameters()) {
    torch::NoGradGuard g;
    p.copy_(torch::tensor({{0.5}, {4.0}}));
  }
  EXPECT_NEAR(value(center->compute(out, t)), 0.5 * (0.25 + 0.25 + 1 + 1) / 4, 1e-6);
  // ArcFace with margin 0 and scale 1 is softmax cross-entropy over cosine similarities.
  ModelOutput e2;
  e2.aux["embedding"] = torch::tensor({{1.0, 0.0}, {0.0, 2.0}});
  ctx.output_widths["embedding"] = 2;
  auto arc = loss("{type: arcface, margin: 0, scale: 1}", ctx);
  auto cos = loss("{type: cosface, margin: 0, scale: 1}", ctx);
  for (auto* l : {&arc, &cos})
    for (auto& p : (*l)->parameters()) {
      torch::NoGradGuard g;
      p.copy_(torch::tensor({{1.0, 0.0}, {0.0, 1.0}}));
    }
  const double expected = std::log(1 + std::exp(-1.0)) ;  // cos = 1 for the true class, 0 for the other
  EXPECT_NEAR(value(arc->compute(e2, labels({0, 1}))), expected, 1e-4);
  EXPECT_NEAR(value(cos->compute(e2, labels({0, 1}))), expected, 1e-5);
  // A margin makes the true class harder: the loss grows.
  auto arc_margin = loss("{type: arcface, margin: 0.5, scale: 1}", ctx);
  for (auto& p : arc_margin->parameters()) {
    torch::NoGradGuard g;
    p.copy_(torch::tensor({{1.0, 0.0}, {0.0, 1.0}}));
  }
  EXPECT_GT(value(arc_margin->compute(e2, labels({0, 1}))), expected);
}

TEST(Losses, UnknownTypesAndBadOptionsAreConfigErrors) {
  auto msg = error_message<RegistryError>([] { loss("{type: focall}"); });
  EXPECT_CONTAINS(msg, "did you mean 'focal'?");
  msg = error_message<ConfigError>([] { loss("{type: cross_entropy, label_smoothing: 1.5}"); });
  EXPECT_CONTAINS(msg, "label_smoothing");
}

}  // namespace
}  // namespace mer
