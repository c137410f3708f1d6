// Every block: output shape, and a double-precision gradient check of its input gradient (the largest
// relative error is printed and recorded as a test property).
#include <mer/core/error.hpp>
#include <mer/models/blocks.hpp>
#include <mer/models/classifier.hpp>

#include "support/model_checks.hpp"

namespace mer {
namespace {

template <class M>
double check(M module, const torch::Tensor& x, const std::string& what) {
  module->to(torch::kDouble);
  module->eval();  // batch norm on its running statistics, no dropout: a deterministic function of x
  const double err = test::gradient_check([&](const torch::Tensor& in) { return module->forward(in); }, x);
  std::cout << "[ gradcheck ] " << what << ": max relative error " << err << "\n";
  ::testing::Test::RecordProperty("max_relative_error_" + what, std::to_string(err));
  return err;
}

constexpr double kTolerance = 1e-5;

TEST(Blocks, ConvUnitShapesAndGradient) {
  torch::manual_seed(0);
  ConvUnit unit(ConvUnitOptions(3, 4, 3));
  EXPECT_EQ(unit->forward(torch::randn({2, 3, 9, 7})).sizes(), torch::IntArrayRef({2, 4, 9, 7}));
  ConvUnit strided(ConvUnitOptions(3, 4, 3).stride(2).order("conv_act_bn").activation("gelu"));
  EXPECT_EQ(strided->forward(torch::randn({2, 3, 9, 7})).sizes(), torch::IntArrayRef({2, 4, 5, 4}));
  EXPECT_LT(check(unit, torch::randn({2, 3, 5, 5}), "conv_unit"), kTolerance);
  EXPECT_LT(check(strided, torch::randn({2, 3, 5, 5}), "conv_unit_act_bn"), kTolerance);
  EXPECT_THROW(ConvUnit(ConvUnitOptions(3, 4, 3).activation("swish")), ValueError);
}

TEST(Blocks, Conv3dUnitOnClips) {
  torch::manual_seed(0);
  Conv3dUnit unit(Conv3dUnitOptions(2, 3, 3).temporal_kernel(3));
  EXPECT_EQ(unit->forward(torch::randn({2, 2, 4, 6, 6})).sizes(), torch::IntArrayRef({2, 3, 4, 6, 6}));
  EXPECT_LT(check(unit, torch::randn({1, 2, 3, 4, 4}), "conv3d_unit"), kTolerance);
}

TEST(Blocks, ResidualBasicAndBottleneck) {
  torch::manual_seed(0);
  Residual basic(ResidualOptions(4, 4));
  Residual down(ResidualOptions(4, 8).stride(2));
  Residual bottleneck(ResidualOptions(4, 8).bottleneck(true));
  EXPECT_EQ(basic->forward(torch::randn({2, 4, 6, 6})).sizes(), torch::IntArrayRef({2, 4, 6, 6}));
  EXPECT_EQ(down->forward(torch::randn({2, 4, 6, 6})).sizes(), torch::IntArrayRef({2, 8, 3, 3}));
  EXPECT_EQ(bottleneck->forward(torch::randn({2, 4, 6, 6})).sizes(), torch::IntArrayRef({2, 8, 6, 6}));
  EXPECT_FALSE(basic->downsample);  // identity skip when the shape is kept
  // torchvision's basic block 64 -> 64: two 3x3 convs without bias + two batch norms.
  EXPECT_EQ(count_parameters(*Residual(ResidualOptions(64, 64))), 2 * (64 * 64 * 9 + 128));
  EXPECT_LT(check(basic, torch::randn({1, 4, 4, 4}), "residual_basic"), kTolerance);
  EXPECT_LT(check(down, torch::randn({1, 4, 4, 4}), "residual_downsample"), kTolerance);
  EXPECT_LT(check(bottleneck, torch::randn({1, 4, 4, 4}), "residual_bottleneck"), kTolerance);
}

TEST(Blocks, InceptionAndMultiScale) {
  torch::manual_seed(0);
  Inception inception(InceptionOptions(3, 2, 2, 3, 2, 4, 5));
  EXPECT_EQ(inception->forward(torch::randn({2, 3, 7, 7})).sizes(), torch::IntArrayRef({2, 2 + 3 + 4 + 5, 7, 7}));
  MultiScale multi(MultiScaleOptions(2, 3, {1, 3, 5}));
  EXPECT_EQ(multi->forward(torch::randn({2, 2, 7, 7})).sizes(), torch::IntArrayRef({2, 9, 7, 7}));
  EXPECT_LT(check(inception, torch::randn({1, 3, 5, 5}), "inception"), kTolerance);
  EXPECT_LT(check(multi, torch::randn({1, 2, 5, 5}), "multiscale"), kTolerance);
  EXPECT_THROW(MultiScale(MultiScaleOptions(2, 3, {2})), ValueError);
}

TEST(Blocks, RecurrentConvSharesItsWeightsAcrossSteps) {
  torch::manual_seed(0);
  RecurrentConv one(RecurrentConvOptions(4).steps(1)), three(RecurrentConvOptions(4).steps(3));
  // The same parameters whatever the number of steps: rr is applied again, not duplicated.
  EXPECT_EQ(count_parameters(*one), count_parameters(*three));
  EXPECT_EQ(count_parameters(*one), (16 + 4 + 8) + (144 + 4 + 8));
  EXPECT_EQ(three->forward(torch::randn({2, 4, 6, 6})).sizes(), torch::IntArrayRef({2, 4, 6, 6}));
  EXPECT_LT(check(three, torch::randn({1, 4, 4, 4}), "recurrent_conv"), kTolerance);
}

TEST(Blocks, SqueezeExcitationCbamNonLocal) {
  torch::manual_seed(0);
  SqueezeExcitation se(SqueezeExcitationOptions(8).reduction(4));
  CBAM cbam(CBAMOptions(8).reduction(4).spatial_kernel(3));
  NonLocal nonlocal(NonLocalOptions(4));
  const auto x = torch::randn({2, 8, 5, 5});
  EXPECT_EQ(se->forward(x).sizes(), x.sizes());
  EXPECT_EQ(cbam->forward(x).sizes(), x.sizes());
  // Attention maps are gates in (0, 1) of the documented shapes.
  const auto ca = cbam->channel_attention(x), sa = cbam->spatial_attention(x);
  EXPECT_EQ(ca.sizes(), torch::IntArrayRef({2, 8, 1, 1}));
  EXPECT_EQ(sa.sizes(), torch::IntArrayRef({2, 1, 5, 5}));
  EXPECT_GT(ca.min().item<double>(), 0.0);
  EXPECT_LT(sa.max().item<double>(), 1.0);
  // Non-local starts as the identity (gamma 0).
  const auto y = torch::randn({2, 4, 3, 3});
  EXPECT_TRUE(torch::allclose(nonlocal->forward(y), y));
  {
    torch::NoGradGuard g;
    nonlocal->gamma.fill_(0.7);
  }
  EXPECT_LT(check(se, torch::randn({1, 8, 3, 3}), "squeeze_excitation"), kTolerance);
  EXPECT_LT(check(cbam, torch::randn({1, 8, 3, 3}), "cbam"), kTolerance);
  EXPECT_LT(check(nonlocal, torch::randn({1, 4, 3, 3}), "nonlocal"), kTolerance);
}

TEST(Blocks, SquashAndCapsuleRouting) {
  // |squash(s)| = |s|^2 / (1 + |s|^2): a (0, 3, 4) vector of length 5 becomes length 25/26.
  const auto v = squash(torch::tensor({{0.0, 3.0, 4.0}}, torch::kDouble));
  EXPECT_NEAR(v.norm().item<double>(), 25.0 / 26.0, 1e-7);  // eps 1e-8 in the denominator
  EXPECT_NEAR(v[0][2].item<double>() / v[0][1].item<double>(), 4.0 / 3.0, 1e-9);  // direction kept

  torch::manual_seed(0);
  Capsule routed(CapsuleOptions(6, 4, 3, 5).iterations(3));
  const auto out = routed->forward(torch::randn({2, 6, 4}));
  EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 3, 5}));
  EXPECT_LT(out.norm(2, -1).max().item<double>(), 1.0);  // squashed lengths
  // With one routing round nothing is detached, so the full gradient is autograd's. (With more rounds
  // the predictions are detached in all but the last, as in the reference, which a finite difference
  // cannot reproduce.)
  Capsule single(CapsuleOptions(3, 2, 2, 3).iterations(1));
  EXPECT_LT(check(single, torch::randn({1, 3, 2}), "capsule"), kTolerance);
}

TEST(Blocks, GraphConvolutionAndAdjacencies) {
  // Two connected nodes: A + I = all ones, degrees 2, normalised to 0.5 everywhere.
  const auto pair = normalized_adjacency(torch::tensor({{0.0f, 1.0f}, {1.0f, 0.0f}}));
  EXPECT_TRUE(torch::allclose(pair, torch::full({2, 2}, 0.5f)));
  const auto grid = grid_adjacency(2, 3);
  EXPECT_EQ(grid.sum().item<double>(), 2 * 7);  // 7 edges in a 2x3 grid
  const auto face = landmark_adjacency68();
  EXPECT_TRUE(torch::equal(face, face.t()));
  EXPECT_EQ(face[36][41].item<float>(), 1.0f);  // the eye contour is closed
  EXPECT_EQ(face[16][17].item<float>(), 0.0f);  // jaw and brow are not joined
  // Co-occurrence P(j | i) on three rows: AU0 in rows 0, 1; AU1 in rows 1, 2 → P(1 | 0) = 1/2.
  const auto co = cooccurrence_adjacency(torch::tensor({{1.0f, 0.0f}, {1.0f, 1.0f}, {0.0f, 1.0f}}));
  EXPECT_NEAR(co[0][1].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(co[1][0].item<double>(), 0.5, 1e-6);
  EXPECT_EQ(co[0][0].item<double>(), 0.0);

  torch::manual_seed(0);
  GraphConv gcn(GraphConvOptions(3, 2, grid));
  EXPECT_EQ(gcn->forward(torch::randn({4, 6, 3})).sizes(), torch::IntArrayRef({4, 6, 2}));
  EXPECT_THROW(gcn->forward(torch::randn({4, 5, 3})), ValueError);
  EXPECT_LT(check(gcn, torch::randn({1, 6, 3}), "graph_conv"), kTolerance);
}

TEST(Blocks, TemporalConvolutionIsCausal) {
  torch::manual_seed(0);
  TemporalConv tcn(TemporalConvOptions(2, 3).dilation(2));
  tcn->eval();
  const auto x = torch::randn({1, 2, 8});
  auto changed = x.clone();
  changed.index_put_({0, torch::indexing::Slice(), 6}, 5.0);  // a change at step 6
  const auto a = tcn->forward(x), b = tcn->forward(changed);
  EXPECT_EQ(a.sizes(), torch::IntArrayRef({1, 3, 8}));
  EXPECT_TRUE(torch::equal(a.narrow(2, 0, 6), b.narrow(2, 0, 6)));  // the past does not see the future
  EXPECT_FALSE(torch::equal(a.narrow(2, 6, 2), b.narrow(2, 6, 2)));
  EXPECT_LT(check(tcn, torch::randn({1, 2, 5}), "temporal_conv"), kTolerance);
}

TEST(Blocks, RecurrentWrappers) {
  torch::manual_seed(0);
  Recurrent lstm(RecurrentOptions(3, 4));
  Recurrent gru(RecurrentOptions(3, 4).cell("gru").reduce("mean").bidirectional(true));
  EXPECT_EQ(lstm->forward(torch::randn({2, 5, 3})).sizes(), torch::IntArrayRef({2, 4}));
  EXPECT_EQ(gru->forward(torch::randn({2, 5, 3})).sizes(), torch::IntArrayRef({2, 8}));
  EXPECT_EQ(gru->out_features(), 8);
  EXPECT_LT(check(lstm, torch::randn({1, 3, 3}), "lstm_last"), kTolerance);
  EXPECT_LT(check(gru, torch::randn({1, 3, 3}), "gru_mean"), kTolerance);
  EXPECT_THROW(Recurrent(RecurrentOptions(3, 4).cell("rnn")), ValueError);
}

TEST(Blocks, PatchEmbeddingAndTransformer) {
  torch::manual_seed(0);
  PatchEmbedding embed(PatchEmbeddingOptions(2, 8, 4));
  const auto tokens = embed->forward(torch::randn({2, 2, 8, 12}));
  EXPECT_EQ(tokens.sizes(), torch::IntArrayRef({2, 6, 8}));
  Transformer encoder(TransformerOptions(8, 2, 2).max_tokens(6));
  EXPECT_EQ(encoder->forward(tokens).sizes(), tokens.sizes());
  EXPECT_THROW(encoder->forward(torch::randn({2, 7, 8})), ValueError);  // more tokens than positions
  EXPECT_THROW(Transformer(TransformerOptions(8, 3, 1)), ValueError);     // 8 is not a multiple of 3
  EXPECT_LT(check(embed, torch::randn({1, 2, 4, 8}), "patch_embedding"), kTolerance);
  Transformer small(TransformerOptions(4, 2, 1).max_tokens(3));
  EXPECT_LT(check(small, torch::randn({1, 3, 4}), "transformer"), kTolerance);
}

}  // namespace
}  // namespace mer
