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

namespace mer {

namespace {

void describe_tree(const torch::nn::Module& m, const std::string& path, int depth, std::string& out) {
  std::int64_t own = 0;
  for (const auto& p : m.parameters(/*recurse=*/false))
    if (p.requires_grad()) own += p.numel();
  const std::int64_t total = count_parameters(m);
  out += fmt::format("{:<44} {:<22} {:>12}{}\n", std::string(static_cast<std::size_t>(2 * depth), ' ') + (path.empty() ? "(model)" : path),
                     m.name().substr(m.name().rfind("::") == std::string::npos ? 0 : m.name().rfind("::") + 2), total,
                     own > 0 && own != total ? fmt::format("  (own {})", own) : std::string());
  for (const auto& child : m.named_children()) describe_tree(*child.value(), child.key(), depth + 1, out);
}

std::string shape_of(const torch::Tensor& t) {
  std::vector<std::string> dims = {"N"};
  for (std::int64_t d = 1; d < t.dim(); ++d) dims.push_back(std::to_string(t.size(d)));
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace

std::string describe_model(Classifier& model, const ModelSpec& spec) {
  std::string out = fmt::format("{:<44} {:<22} {:>12}\n", "module", "type", "parameters");
  describe_tree(model, "", 0, out);
  out += "\ninputs:  " + spec.describe_inputs() + "\n";
  if (!model.input_names().empty()) out += fmt::format("reads:   {}\n", fmt::join(model.input_names(), ", "));
  NamedInputs x;
  for (const auto& in : spec.inputs) {
    std::vector<std::int64_t> shape = {2};
    shape.insert(shape.end(), in.shape.begin(), in.shape.end());
    x.emplace_back(in.name, torch::randn(shape));
  }
  torch::NoGradGuard no_grad;
  const bool training = model.is_training();
  model.eval();
  const auto y = model.forward(x);
  model.train(training);
  out += "outputs: logits " + shape_of(y.logits);
  for (const auto& [name, t] : y.aux) out += ", " + name + " " + shape_of(t);
  out += fmt::format("\ntrainable parameters: {}\n", count_parameters(model));
  return out;
}

}  // namespace mer
