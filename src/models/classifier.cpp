#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

namespace mer {

const torch::Tensor& input(const NamedInputs& inputs, const std::string& name) {
  for (const auto& [n, t] : inputs)
    if (n == name) return t;
  std::vector<std::string> names;
  for (const auto& kv : inputs) names.push_back(kv.first);
  throw ValueError(detail::concat("the model reads input group '", name, "' but the batch holds ",
                                  names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
}

ModelOutput ImageClassifier::forward(const NamedInputs& inputs) {
  std::vector<torch::Tensor> parts;
  if (input_names().empty()) {
    for (const auto& kv : inputs) parts.push_back(kv.second);
  } else {
    for (const auto& n : input_names()) parts.push_back(input(inputs, n));
  }
  MER_CHECK(!parts.empty(), ValueError, "the model got no input group");
  for (const auto& p : parts)
    MER_CHECK(p.dim() == 4, ValueError, "an image model stacks [N, C, H, W] groups, got one of shape ", p.sizes());
  ModelOutput out;
  out.logits = forward(parts.size() == 1 ? parts.front() : torch::cat(parts, 1));
  return out;
}

void expect_shape(const torch::Tensor& x, const std::string& model, const std::vector<std::int64_t>& dims) {
  bool ok = x.dim() == static_cast<std::int64_t>(dims.size());
  for (std::size_t i = 0; ok && i < dims.size(); ++i) ok = dims[i] < 0 || x.size(static_cast<std::int64_t>(i)) == dims[i];
  if (ok && x.is_floating_point()) return;
  std::vector<std::string> want;
  for (std::size_t i = 0; i < dims.size(); ++i)
    want.push_back(i == 0 ? "N" : dims[i] < 0 ? "*" : std::to_string(dims[i]));
  std::ostringstream got;
  got << x.sizes();
  throw ValueError(detail::concat(model, " expects a float input [", fmt::format("{}", fmt::join(want, ", ")),
                                  "], got ", got.str(), " of ", x.scalar_type()));
}

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace mer
