// The Torch-free half of the model interface: input specs and the checks every model's options share.
#include <mer/core/error.hpp>
#include <mer/models/model.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mer {

ModelSpec ModelSpec::image(std::int64_t channels, std::int64_t height, std::int64_t width, std::int64_t num_classes) {
  ModelSpec s;
  s.inputs = {InputSpec{"input", {channels, height, width}, false}};
  s.num_classes = num_classes;
  return s;
}

const InputSpec* ModelSpec::find(const std::string& name) const {
  for (const auto& i : inputs)
    if (i.name == name) return &i;
  return nullptr;
}

std::string ModelSpec::describe_inputs() const {
  std::vector<std::string> parts;
  for (const auto& i : inputs)
    parts.push_back(i.shape.empty() ? i.name : fmt::format("{} [{}]", i.name, fmt::join(i.shape, "x")));
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ", "));
}

namespace {

std::vector<std::string> names_of(const ModelSpec& spec) {
  std::vector<std::string> out;
  for (const auto& i : spec.inputs) out.push_back(i.name);
  return out;
}

void check_known(const ConfigNode& node, const std::string& key, const std::string& name, const ModelSpec& spec) {
  if (spec.find(name)) return;
  std::string msg = detail::concat(node.where(key), ": '", node.key_path(key), "' names input group '", name,
                                   "', but the preprocessing produces ", spec.describe_inputs());
  if (!spec.inputs_where.empty()) msg += " (" + spec.inputs_where + ")";
  if (const auto hint = nearest(name, names_of(spec)); !hint.empty()) msg += "; did you mean '" + hint + "'?";
  else msg += "; add it to preprocess.outputs";
  throw ConfigError(msg);
}

}  // namespace

std::vector<std::string> select_inputs(const ConfigNode& node, const std::string& key, const ModelSpec& spec,
                                       const std::vector<std::string>& fallback) {
  std::vector<std::string> names;
  if (node.has(key)) {
    // One name or a list of names.
    try {
      names = node.get<std::vector<std::string>>(key, {});
    } catch (const ConfigError&) {
      names = {node.get<std::string>(key, "")};
    }
    MER_CHECK(!names.empty(), ConfigError, node.where(key), ": '", node.key_path(key),
              "' must name at least one input group");
  } else {
    names = fallback.empty() ? names_of(spec) : fallback;
  }
  for (const auto& n : names) check_known(node, key, n, spec);
  return names;
}

StackedInput stacked_input(const ConfigNode& node, const ModelSpec& spec) {
  StackedInput s;
  s.names = select_inputs(node, "inputs", spec);
  if (spec.check_only) return s;
  const std::string model = node.get<std::string>("type", "model");
  for (const auto& n : s.names) {
    const auto& in = *spec.find(n);
    MER_CHECK(in.is_image(), ConfigError, node.where(), ": model '", model, "' stacks its inputs as images C x H x W, ",
              "but group '", n, "' has shape [", fmt::format("{}", fmt::join(in.shape, "x")),
              "]; use a cascaded model for sequences");
    if (s.channels == 0) {
      s.height = in.shape[1];
      s.width = in.shape[2];
    }
    MER_CHECK(in.shape[1] == s.height && in.shape[2] == s.width, ConfigError, node.where(), ": model '", model,
              "' stacks groups of one size, but '", n, "' is ", in.shape[1], "x", in.shape[2], " and '",
              s.names.front(), "' is ", s.height, "x", s.width, "; resize them alike or use a multi_stream model");
    s.channels += in.shape[0];
  }
  return s;
}

}  // namespace mer
