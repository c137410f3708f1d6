#pragma once
// Helpers for the model tests: a double-precision gradient check and error-message capture.
#include <gtest/gtest.h>
#include <torch/nn.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

// gmock is not linked; a substring check reads as well.
#ifndef EXPECT_CONTAINS
#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)
#endif

namespace mer::test {

/// Largest relative error between the analytic gradient (autograd) of L(x) = sum(f(x) · R), R a fixed
/// random tensor, and central differences with step `eps`, over every element of `x` (double precision).
/// Relative error |a - n| / max(1e-4, |a| + |n|).
inline double gradient_check(const std::function<torch::Tensor(const torch::Tensor&)>& f, torch::Tensor x,
                             double eps = 1e-6) {
  torch::manual_seed(123);
  x = x.to(torch::kDouble).detach().clone().requires_grad_(true);
  const auto y = f(x);
  const auto r = torch::randn(y.sizes(), torch::kDouble);
  (y * r).sum().backward();
  const auto analytic = x.grad().clone().flatten();
  double worst = 0;
  torch::NoGradGuard no_grad;
  auto flat = x.detach().clone().flatten();
  for (std::int64_t i = 0; i < flat.size(0); ++i) {
    const double v = flat[i].item<double>();
    flat[i] = v + eps;
    const double plus = (f(flat.view(x.sizes())) * r).sum().item<double>();
    flat[i] = v - eps;
    const double minus = (f(flat.view(x.sizes())) * r).sum().item<double>();
    flat[i] = v;
    const double numeric = (plus - minus) / (2 * eps);
    const double a = analytic[i].item<double>();
    worst = std::max(worst, std::abs(a - numeric) / std::max(1e-4, std::abs(a) + std::abs(numeric)));
  }
  return worst;
}

template <class E, class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

}  // namespace mer::test
