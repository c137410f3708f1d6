#include <mer/core/error.hpp>
#include <mer/models/classifier.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mer/core/glob.hpp>

#include <nlohmann/json.hpp>
#include <torch/serialize.h>

#include <map>
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

std::optional<InitOptions> InitOptions::from_config(const ConfigNode& model_node) {
  if (!model_node.has("init")) return std::nullopt;
  const auto node = model_node.child("init");
  InitOptions o;
  // A path like any other: ${VAR} expands (a converted checkpoint under ${MER_MODELS}); "{fold}" stays.
  o.checkpoint = node.required_path("checkpoint").string();
  o.strict = node.get<bool>("strict", o.strict);
  o.skip = node.get<std::vector<std::string>>("skip", o.skip);
  o.where = node.where("checkpoint");
  return o;
}

std::string InitReport::summary() const {
  return fmt::format("loaded {}, skipped {}, newly initialised {}, unused in the checkpoint {}", loaded.size(), skipped.size(),
                     missing.size(), unused.size());
}

namespace {

// Every tensor of a module archive by dotted name (Module::save nests submodules as sub-archives).
void collect(torch::serialize::InputArchive& archive, const std::string& prefix, std::map<std::string, torch::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    if (key.rfind("mer.", 0) == 0) continue;  // libmer's own metadata
    const auto name = prefix.empty() ? key : prefix + "." + key;
    torch::serialize::InputArchive sub;
    if (archive.try_read(key, sub)) {
      collect(sub, name, out);
      continue;
    }
    torch::Tensor t;
    if (archive.try_read(key, t, /*is_buffer=*/false) || archive.try_read(key, t, /*is_buffer=*/true)) out[name] = t;
  }
}

}  // namespace

InitReport load_initial_weights(Classifier& model, const std::filesystem::path& file, const InitOptions& options) {
  MER_CHECK(std::filesystem::exists(file), DataError, options.where, ": model.init checkpoint '", file.string(), "' does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error&) {
    throw DataError(options.where + ": '" + file.string() + "' is not a LibTorch checkpoint libmer can read");
  }
  InitReport report;
  c10::IValue subjects;
  if (archive.try_read("mer.seen_subjects", subjects)) {
    report.records_subjects = true;
    report.seen_subjects = nlohmann::json::parse(subjects.toStringRef()).get<std::vector<std::string>>();
  }
  std::map<std::string, torch::Tensor> stored;
  collect(archive, "", stored);
  std::map<std::string, bool> used;
  const auto skipped = [&](const std::string& name) {
    for (const auto& p : options.skip)
      if (glob_match(p, name)) return true;
    return false;
  };
  torch::NoGradGuard no_grad;
  const auto take = [&](const std::string& name, torch::Tensor& target) {
    if (skipped(name)) {
      report.skipped.push_back(name);
      if (stored.count(name)) used[name] = true;
      return;
    }
    const auto it = stored.find(name);
    if (it == stored.end()) {
      report.missing.push_back(name);
      return;
    }
    used[name] = true;
    MER_CHECK(it->second.sizes() == target.sizes(), ConfigError, options.where, ": '", name, "' is ",
              fmt::format("{}", it->second.sizes()), " in checkpoint '", file.string(), "' but ",
              fmt::format("{}", target.sizes()), " in the model; skip it (model.init.skip) or use a matching checkpoint");
    target.copy_(it->second.to(target.device(), target.scalar_type()));
    report.loaded.push_back(name);
  };
  for (auto& item : model.named_parameters()) take(item.key(), item.value());
  for (auto& item : model.named_buffers()) take(item.key(), item.value());
  for (const auto& [name, t] : stored)
    if (!used.count(name)) report.unused.push_back(name);
  MER_CHECK(!options.strict || (report.missing.empty() && report.unused.empty()), ConfigError, options.where,
            ": model.init is strict, but ", report.missing.size(), " model tensor(s) are not in '", file.string(), "'",
            report.missing.empty() ? std::string() : " (first: " + report.missing.front() + ")", " and ", report.unused.size(),
            " checkpoint tensor(s) are not in the model", report.unused.empty() ? std::string() : " (first: " + report.unused.front() + ")");
  MER_CHECK(!report.loaded.empty(), ConfigError, options.where, ": no tensor of '", file.string(),
            "' matches the model's names: it holds another network (see mer model summary for the names)");
  return report;
}

}  // namespace mer
