// The fused conv → ReLU → batch norm → max-pool against LibTorch's ops one by one: outputs, every
// gradient and the running statistics, over geometries that exercise the kernel's edges (channel blocks
// of 4 with a remainder, rows wider than one 32-column group, overlapping and padded pool windows,
// chunks of 8 samples with a remainder), in the three batch-norm modes, with a negative and a zero scale.
#include <mer/models/fused.hpp>
#include <mer/models/ststnet.hpp>

#include <gtest/gtest.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>
#include <string>
#include <vector>

namespace mer {
namespace {

struct Case {
  std::string name;
  std::int64_t n, cin, h, w, cout, k;
  ConvPoolGeometry g;
  bool bias = true;
};

ConvPoolGeometry geometry(std::int64_t pad, std::int64_t pk, std::int64_t ps, std::int64_t pp) {
  ConvPoolGeometry g;
  g.padding = pad, g.pool_kernel = pk, g.pool_stride = ps, g.pool_padding = pp;
  return g;
}

const std::vector<Case> kCases = {
    {"ststnet", 11, 3, 28, 28, 16, 3, geometry(2, 3, 3, 1)},
    {"k5_no_padding_non_square", 9, 2, 20, 17, 7, 5, geometry(0, 2, 2, 0)},
    {"overlapping_padded_pool_wide_rows", 3, 4, 12, 40, 5, 3, geometry(1, 3, 2, 1)},
    {"pointwise_without_bias", 8, 1, 6, 6, 2, 1, geometry(0, 1, 1, 0), false},
};

enum class Norm { kBatchStats, kRunningStats, kNone };

struct Result {
  torch::Tensor out, dx, dw, db, dgamma, dbeta, running_mean, running_var;
};

Result run(const Case& c, Norm norm, bool fused, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::randn({c.n, c.cin, c.h, c.w}).requires_grad_(true);
  auto w = (torch::randn({c.cout, c.cin, c.k, c.k}) * 0.5).requires_grad_(true);
  auto b = c.bias ? (torch::randn({c.cout}) * 0.3).requires_grad_(true) : torch::Tensor();
  auto gamma = (torch::rand({c.cout}) + 0.5);
  gamma[0] = -0.7;  // the window's minimum is what batch norm maps highest
  if (c.cout > 2) gamma[2] = 0.0;  // every value maps to beta: max-pool reports the window's first position
  gamma.requires_grad_(true);
  auto beta = torch::randn({c.cout}).requires_grad_(true);
  BatchNormState bn;
  if (norm != Norm::kNone) {
    bn.weight = gamma, bn.bias = beta;
    bn.running_mean = torch::randn({c.cout}) * 0.2;
    bn.running_var = torch::rand({c.cout}) + 0.5;
    bn.training = norm == Norm::kBatchStats;
  }
  const auto upstream = torch::randn({c.n, c.cout, (c.h + 2 * c.g.padding - c.k + 1 + 2 * c.g.pool_padding - c.g.pool_kernel) / c.g.pool_stride + 1,
                                      (c.w + 2 * c.g.padding - c.k + 1 + 2 * c.g.pool_padding - c.g.pool_kernel) / c.g.pool_stride + 1});
  const auto out = fused ? conv_relu_bn_maxpool(x, w, b, bn, c.g) : conv_relu_bn_maxpool_reference(x, w, b, bn, c.g);
  (out * upstream).sum().backward();
  Result r{out.detach(), x.grad(), w.grad(), b.defined() ? b.grad() : torch::Tensor(), gamma.grad(), beta.grad(),
           bn.running_mean, bn.running_var};
  return r;
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.defined(), want.defined()) << what;
  if (!want.defined()) return;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = 1.0 + want.abs().max().item<double>();
  const double err = (got - want).abs().max().item<double>();
  EXPECT_LT(err, 2e-5 * scale) << what << ": max |fused - reference| " << err << " (largest reference value "
                               << scale - 1 << ")";
}

TEST(FusedConvPool, MatchesLibTorchOpByOpInEveryMode) {
  for (const auto& c : kCases) {
    for (const auto norm : {Norm::kBatchStats, Norm::kRunningStats, Norm::kNone}) {
      const std::string what = c.name + (norm == Norm::kBatchStats     ? " (batch statistics)"
                                         : norm == Norm::kRunningStats ? " (running statistics)"
                                                                       : " (no batch norm)");
      const auto want = run(c, norm, false, 42);
      const auto got = run(c, norm, true, 42);
      expect_close(got.out, want.out, what + " output");
      expect_close(got.dx, want.dx, what + " d input");
      expect_close(got.dw, want.dw, what + " d weight");
      expect_close(got.db, want.db, what + " d bias");
      expect_close(got.dgamma, want.dgamma, what + " d gamma");
      expect_close(got.dbeta, want.dbeta, what + " d beta");
      if (norm != Norm::kNone) {
        expect_close(got.running_mean, want.running_mean, what + " running mean");
        expect_close(got.running_var, want.running_var, what + " running var");
      }
    }
  }
}

TEST(FusedConvPool, ResultsDoNotDependOnTheThreadCount) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto one = run(kCases[0], Norm::kBatchStats, true, 5);
  torch::set_num_threads(2);
  const auto two = run(kCases[0], Norm::kBatchStats, true, 5);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.out, two.out));
  EXPECT_TRUE(torch::equal(one.dw, two.dw));
  EXPECT_TRUE(torch::equal(one.dgamma, two.dgamma));
  EXPECT_TRUE(torch::equal(one.running_var, two.running_var));
}

TEST(FusedConvPool, OtherDtypesTakeTheReferencePath) {
  torch::manual_seed(3);
  const auto& c = kCases[0];
  const auto x = torch::randn({2, c.cin, c.h, c.w}, torch::kDouble);
  const auto w = torch::randn({c.cout, c.cin, c.k, c.k}, torch::kDouble);
  const auto out = conv_relu_bn_maxpool(x, w, torch::Tensor(), BatchNormState{}, c.g);
  EXPECT_EQ(out.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(out, conv_relu_bn_maxpool_reference(x, w, torch::Tensor(), BatchNormState{}, c.g)));
}

TEST(FusedConvPool, BadShapesAreNamed) {
  const auto x = torch::randn({2, 3, 8, 8});
  try {
    conv_relu_bn_maxpool(x, torch::randn({4, 2, 3, 3}), torch::Tensor(), BatchNormState{}, geometry(1, 2, 2, 0));
    FAIL() << "no error for a weight of the wrong input channels";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("[4, 2, 3, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conv_relu_bn_maxpool(x, torch::randn({4, 3, 3, 3}), torch::Tensor(), BatchNormState{},
                                    geometry(1, 2, 2, 2)),
               std::exception);  // pool padding above half the kernel
}

TEST(FusedDropout, KeepsOneMinusPScaledAndIsReproducible) {
  const auto x = torch::ones({1000, 1000});
  for (const double p : {0.1, 0.5, 0.8}) {
    torch::manual_seed(4);
    const auto y = fused_dropout(x, p, true);
    const double kept = y.ne(0).to(torch::kDouble).mean().item<double>();
    // 10^6 Bernoulli draws: the kept fraction is within 5 standard deviations of 1 - p.
    EXPECT_NEAR(kept, 1 - p, 5 * std::sqrt(p * (1 - p) / 1e6)) << "p " << p;
    EXPECT_TRUE(torch::allclose(y.masked_select(y.ne(0)), torch::full({1}, 1 / (1 - p)))) << "p " << p;
    // Neighbours (the two halves of one 64-bit draw) and rows are independent: both kept at (1 - p)^2.
    const auto kept_mask = y.ne(0).to(torch::kDouble);
    const double pairs = (kept_mask.narrow(1, 0, 999) * kept_mask.narrow(1, 1, 999)).mean().item<double>();
    const double rows = (kept_mask.narrow(0, 0, 999) * kept_mask.narrow(0, 1, 999)).mean().item<double>();
    const double q = (1 - p) * (1 - p);
    EXPECT_NEAR(pairs, q, 5 * std::sqrt(q * (1 - q) / 999e3)) << "p " << p;
    EXPECT_NEAR(rows, q, 5 * std::sqrt(q * (1 - q) / 999e3)) << "p " << p;
    torch::manual_seed(4);
    EXPECT_TRUE(torch::equal(fused_dropout(x, p, true), y)) << "the same seed draws the same mask";
    EXPECT_FALSE(torch::equal(fused_dropout(x, p, true), y)) << "the next call draws a new mask";
  }
  EXPECT_TRUE(torch::equal(fused_dropout(x, 0.5, false), x));  // identity outside training
  EXPECT_TRUE(torch::equal(fused_dropout(x, 0.0, true), x));
  EXPECT_EQ(fused_dropout(x, 1.0, true).abs().sum().item<double>(), 0.0);
  EXPECT_THROW(fused_dropout(x, 1.5, true), std::exception);
}

TEST(FusedDropout, GradientIsTheMaskAndOtherDtypesUseLibTorch) {
  torch::manual_seed(9);
  const auto x = torch::randn({64, 16}).requires_grad_(true);
  const auto y = fused_dropout(x, 0.5, true);
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), y.detach() / x.detach()));
  const auto d = torch::ones({4, 4}, torch::kDouble);
  EXPECT_EQ(fused_dropout(d, 0.5, true).scalar_type(), torch::kDouble);
}

// STSTNet's fused streams against its op-by-op streams: same weights, same dropout masks (the seed is set
// before each forward), through several Adam steps in training mode, then predictions in eval mode.
TEST(FusedConvPool, STSTNetTrainsAsItsOpByOpPathDoes) {
  torch::manual_seed(11);
  auto slow = STSTNet(STSTNetOptions(3, 3).fused(false));
  auto fast = STSTNet(STSTNetOptions(3, 3).fused(true));
  {
    torch::NoGradGuard no_grad;
    auto from = slow->named_parameters();
    for (auto& p : fast->named_parameters()) p.value().copy_(from[p.key()]);
  }
  const auto x = torch::randn({37, 3, 28, 28});
  const auto y = torch::randint(0, 3, {37}, torch::kLong);
  torch::optim::Adam slow_opt(slow->parameters(), torch::optim::AdamOptions(1e-3));
  torch::optim::Adam fast_opt(fast->parameters(), torch::optim::AdamOptions(1e-3));
  for (int step = 0; step < 10; ++step) {
    for (auto* pair : {&slow, &fast}) {
      auto& net = *pair;
      auto& opt = pair == &slow ? slow_opt : fast_opt;
      torch::manual_seed(100 + step);
      net->train();
      opt.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(x), y).backward();
      opt.step();
    }
    auto want = slow->named_parameters();
    for (const auto& p : fast->named_parameters())
      expect_close(p.value().detach(), want[p.key()].detach(), "step " + std::to_string(step) + " " + p.key());
  }
  auto want = slow->named_buffers();
  for (const auto& b : fast->named_buffers()) {
    if (b.value().is_floating_point()) expect_close(b.value(), want[b.key()], b.key());
    else EXPECT_TRUE(torch::equal(b.value(), want[b.key()])) << b.key();
  }
  slow->eval(), fast->eval();
  torch::NoGradGuard no_grad;
  const auto a = slow->forward(x), b = fast->forward(x);
  expect_close(b, a, "eval logits");
  EXPECT_TRUE(torch::equal(a.argmax(1), b.argmax(1)));
}

}  // namespace
}  // namespace mer
