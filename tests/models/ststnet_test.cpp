#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/models/model.hpp>
#include <mer/models/ststnet.hpp>

#include <gtest/gtest.h>
#include <torch/nn.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support/model_checks.hpp"

namespace mer {
namespace {

STSTNet make_net(std::int64_t classes = 3, bool batch_norm = true, double dropout = 0.5) {
  return STSTNet(STSTNetOptions(3, classes).batch_norm(batch_norm).dropout(dropout));
}

using test::error_message;

TEST(STSTNet, ParameterCountMatchesThePaper) {
  // conv 84 + 140 + 224, batch norm 6 + 10 + 16, fc 400·3 + 3.
  EXPECT_EQ(count_parameters(*make_net()), 1683);
}

TEST(STSTNet, ParameterCountWithoutBatchNorm) { EXPECT_EQ(count_parameters(*make_net(3, false)), 1651); }

TEST(STSTNet, FiveClassesGrowOnlyTheLinearLayer) {
  EXPECT_EQ(count_parameters(*make_net(5)), 1683 + 2 * 401);
}

TEST(STSTNet, CountsOnlyTrainableParameters) {
  auto net = make_net();
  net->named_parameters()["fc.bias"].set_requires_grad(false);
  EXPECT_EQ(count_parameters(*net), 1683 - 3);
}

TEST(STSTNet, SubmodulesAreNamedLikeTheConfig) {
  auto net = make_net();
  std::set<std::string> names;
  for (const auto& p : net->named_parameters()) names.insert(p.key());
  const std::set<std::string> expected = {"stream3.weight", "stream3.bias", "stream5.weight", "stream5.bias",
                                          "stream8.weight", "stream8.bias", "bn3.weight",     "bn3.bias",
                                          "bn5.weight",     "bn5.bias",     "bn8.weight",     "bn8.bias",
                                          "fc.weight",      "fc.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(net->named_buffers().find("bn8.running_var")->sizes(), torch::IntArrayRef({8}));
  EXPECT_EQ(net->named_parameters()["fc.weight"].sizes(), torch::IntArrayRef({3, 400}));
}

TEST(STSTNet, OutputIsNByClasses) {
  torch::manual_seed(1);
  auto net = make_net();
  const auto x = torch::randn({4, 3, 28, 28});
  EXPECT_EQ(net->forward(x).sizes(), torch::IntArrayRef({4, 3}));
  net->eval();
  EXPECT_EQ(net->forward(x).sizes(), torch::IntArrayRef({4, 3}));
}

TEST(STSTNet, LinearLayerFollowsTheInputSize) {
  // 32 → conv 34 → max-pool 12 → avg-pool 6: 16·36 = 576 inputs to fc; 2 → 4 → 2 → 1: 16.
  for (const auto& [size, fc_in] : {std::pair<std::int64_t, std::int64_t>{32, 576}, {64, 16 * 11 * 11}, {2, 16}}) {
    auto net = STSTNet(STSTNetOptions(3, 4).input_size(size));
    EXPECT_EQ(net->named_parameters()["fc.weight"].size(1), fc_in) << "input size " << size;
    EXPECT_EQ(net->forward(torch::randn({2, 3, size, size})).sizes(), torch::IntArrayRef({2, 4}));
  }
  EXPECT_THROW(STSTNet(STSTNetOptions().input_size(1)), ValueError);
}

TEST(STSTNet, BadInputShapeNamesTheExpectedShape) {
  auto net = make_net();
  const auto msg = error_message<ValueError>([&] { net->forward(torch::randn({4, 3, 32, 32})); });
  EXPECT_CONTAINS(msg, "expects input [N, 3, 28, 28]");
  EXPECT_CONTAINS(msg, "got [4, 3, 32, 32]");
  EXPECT_CONTAINS(error_message<ValueError>([&] { net->forward(torch::randn({3, 28, 28})); }), "got [3, 28, 28]");
  EXPECT_CONTAINS(error_message<ValueError>([&] { net->forward(torch::randn({1, 2, 28, 28})); }),
                  "got [1, 2, 28, 28]");
}

// Largest difference between autograd and central finite differences of `loss` w.r.t. a few entries
// (first, middle, last) of each named parameter, relative to max(|analytic|, |numeric|, 1e-3): relative
// for gradients of a useful size, while one that is nearly zero (a unit barely reaching the loss) is held
// to an absolute 1e-3 · tolerance instead of amplifying the finite differences' ~1e-10 noise.
struct GradientCheck {
  double worst = 0;
  std::string where;
};

GradientCheck gradient_check(torch::nn::Module& net, const std::function<torch::Tensor()>& loss,
                             const std::vector<std::string>& names) {
  const double eps = 1e-6;
  const auto params = net.named_parameters();
  for (auto& p : net.parameters()) p.mutable_grad() = torch::Tensor();
  loss().backward();
  GradientCheck result;
  for (const auto& name : names) {
    const auto* found = params.find(name);
    if (found == nullptr) {
      ADD_FAILURE() << "no parameter " << name;
      continue;
    }
    auto param = *found;
    const auto grad = param.grad().reshape(-1);
    auto flat = param.view(-1);
    const std::int64_t n = flat.size(0);
    for (const std::int64_t i : {std::int64_t{0}, n / 2, n - 1}) {
      torch::NoGradGuard no_grad;
      const double original = flat[i].item<double>();
      flat[i].fill_(original + eps);
      const double up = loss().item<double>();
      flat[i].fill_(original - eps);
      const double down = loss().item<double>();
      flat[i].fill_(original);
      const double numeric = (up - down) / (2 * eps);
      const double analytic = grad[i].item<double>();
      const double err = std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), 1e-3});
      EXPECT_GT(std::abs(analytic), 1e-8) << name << "[" << i << "] has no gradient to check";
      if (err > result.worst) {
        result.worst = err;
        result.where = detail::concat(name, "[", i, "]: autograd ", analytic, ", finite differences ", numeric);
      }
    }
  }
  return result;
}

const std::vector<std::string> kCheckedParameters = {"stream3.weight", "stream5.bias", "stream8.weight", "bn3.weight",
                                                     "bn5.bias",       "bn8.weight",   "fc.weight",      "fc.bias"};

TEST(STSTNet, GradientsMatchFiniteDifferencesInEvalMode) {
  torch::manual_seed(7);
  auto net = make_net(3, true, 0.5);
  net->to(torch::kDouble);
  net->eval();  // dropout off; batch norm uses its running statistics, made non-trivial here
  {
    torch::NoGradGuard no_grad;
    for (auto& b : net->named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
    }
  }
  const auto x = torch::randn({2, 3, 28, 28}, torch::kDouble);
  const auto y = torch::tensor({0, 2}, torch::kLong);
  const auto loss = [&] { return torch::nn::functional::cross_entropy(net->forward(x), y); };
  const auto check = gradient_check(*net, loss, kCheckedParameters);
  RecordProperty("max_relative_error", detail::concat(check.worst));
  EXPECT_LT(check.worst, 1e-6) << check.where;
}

TEST(STSTNet, GradientsMatchFiniteDifferencesWithBatchStatistics) {
  torch::manual_seed(8);
  auto net = make_net(3, true, 0.0);  // training mode, so batch norm normalises with the batch's statistics
  net->to(torch::kDouble);
  net->train();
  const auto x = torch::randn({3, 3, 28, 28}, torch::kDouble);
  const auto y = torch::tensor({0, 1, 2}, torch::kLong);
  const auto loss = [&] { return torch::nn::functional::cross_entropy(net->forward(x), y); };
  const auto check = gradient_check(*net, loss, kCheckedParameters);
  RecordProperty("max_relative_error", detail::concat(check.worst));
  EXPECT_LT(check.worst, 1e-6) << check.where;
}

TEST(STSTNet, DropoutIsOffInEvalMode) {
  torch::manual_seed(3);
  auto net = make_net(3, true, 0.5);
  const auto x = torch::randn({2, 3, 28, 28});
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  EXPECT_FALSE(torch::equal(net->forward(x), net->forward(x)));
}

TEST(STSTNet, BuiltFromYamlThroughTheRegistry) {
  const auto config = Config::from_string("model: {type: ststnet, dropout: 0.3}");
  ModelSpec spec;
  spec.num_classes = 5;
  auto model = builtin_models().build(config.root().child("model"), spec);
  auto* net = dynamic_cast<STSTNetImpl*>(model.get());
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->input_names(), std::vector<std::string>{"input"});
  EXPECT_DOUBLE_EQ(net->options().dropout(), 0.3);
  EXPECT_TRUE(net->options().batch_norm());
  EXPECT_EQ(net->options().num_classes(), 5);
  EXPECT_EQ(count_parameters(*net), 1683 + 2 * 401);
  EXPECT_EQ(net->forward(torch::randn({2, 3, 28, 28})).sizes(), torch::IntArrayRef({2, 5}));
  EXPECT_EQ(model->forward(NamedInputs{{"input", torch::randn({2, 3, 28, 28})}}).logits.sizes(), torch::IntArrayRef({2, 5}));
  EXPECT_CONTAINS(config.dump(), "batch_norm: true");  // the default is recorded in the resolved config
  EXPECT_NO_THROW(config.check_all_used());
}

TEST(STSTNet, BatchNormCanBeSwitchedOffInYaml) {
  const auto config = Config::from_string("model:\n  type: ststnet\n  batch_norm: false\n");
  auto model = builtin_models().build(config.root().child("model"), ModelSpec{});
  EXPECT_EQ(count_parameters(*model), 1651);
}

TEST(STSTNet, DropoutOutOfRangeIsAConfigErrorAtItsLine) {
  const auto config = Config::from_string("model:\n  type: ststnet\n  dropout: 1.0\n", "net.yaml");
  const auto msg = error_message<ConfigError>([&] { builtin_models().build(config.root().child("model"), ModelSpec{}); });
  EXPECT_CONTAINS(msg, "net.yaml:3");
  EXPECT_CONTAINS(msg, "model.dropout");
  EXPECT_CONTAINS(msg, "[0, 1)");
  const auto negative = Config::from_string("model: {type: ststnet, dropout: -0.1}");
  EXPECT_THROW(builtin_models().build(negative.root().child("model"), ModelSpec{}), ConfigError);
}

TEST(STSTNet, NonSquareInputIsAConfigError) {
  const auto config = Config::from_string("model: {type: ststnet}");
  const auto msg = error_message<ConfigError>(
      [&] { builtin_models().build(config.root().child("model"), ModelSpec::image(3, 28, 32, 3)); });
  EXPECT_CONTAINS(msg, "28x32");
}

TEST(STSTNet, StacksTheNamedGroupsInTheOrderGiven) {
  const auto config = Config::from_string("model: {type: ststnet, inputs: [strain, flow]}");
  ModelSpec spec;
  spec.inputs = {{"apex", {1, 28, 28}, false}, {"flow", {2, 28, 28}, true}, {"strain", {1, 28, 28}, false}};
  auto model = builtin_models().build(config.root().child("model"), spec);
  EXPECT_EQ(model->input_names(), (std::vector<std::string>{"strain", "flow"}));
  auto* net = dynamic_cast<STSTNetImpl*>(model.get());
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->options().in_channels(), 3);
  // The stacked input is strain then flow: the same tensor fed directly gives the same logits.
  torch::manual_seed(1);
  const auto flow = torch::randn({2, 2, 28, 28}), strain = torch::randn({2, 1, 28, 28});
  model->eval();
  const auto named = model->forward(NamedInputs{{"apex", torch::zeros({2, 1, 28, 28})}, {"flow", flow}, {"strain", strain}});
  EXPECT_TRUE(torch::equal(named.logits, net->forward(torch::cat({strain, flow}, 1))));
}

TEST(STSTNet, AnInputGroupThePreprocessingDoesNotProduceIsAConfigErrorNamingBothLines) {
  const auto config = Config::from_string("model:\n  type: ststnet\n  inputs: [flow, stain]\n", "exp.yaml");
  ModelSpec spec;
  spec.check_only = true;
  spec.inputs = {{"flow", {}, true}, {"strain", {}, false}};
  spec.inputs_where = "preprocess.outputs at exp.yaml:9";
  const auto msg = error_message<ConfigError>([&] { builtin_models().build(config.root().child("model"), spec); });
  EXPECT_CONTAINS(msg, "exp.yaml:3");
  EXPECT_CONTAINS(msg, "'stain'");
  EXPECT_CONTAINS(msg, "exp.yaml:9");
  EXPECT_CONTAINS(msg, "did you mean 'strain'?");
}

TEST(STSTNet, MisspelledTypeSuggestsTheKnownModel) {
  const auto config = Config::from_string("model:\n  type: ststnett\n", "exp.yaml");
  const auto msg = error_message<RegistryError>([&] { builtin_models().build(config.root().child("model"), ModelSpec{}); });
  EXPECT_CONTAINS(msg, "exp.yaml:2");
  EXPECT_CONTAINS(msg, "'ststnett'");
  EXPECT_CONTAINS(msg, "did you mean 'ststnet'?");
}

TEST(STSTNet, RegisteringTwiceIsAnError) {
  ModelRegistry registry("models");
  register_builtin_models(registry);
  EXPECT_THROW(register_builtin_models(registry), RegistryError);
}

}  // namespace
}  // namespace mer
