#pragma once
/// Registry: builds components by name from a config node's `type:` key.
///
/// Registries are filled explicitly by each layer's `register_builtins` (no static self-registration),
/// so what exists is visible in one place per layer and a user can add components to their own copy.
///
///   Registry<Stage> stages("stages");
///   stages.add("flow", [](const ConfigNode& c) { return std::make_unique<FlowStage>(FlowOptions::from_config(c)); });
///   auto s = stages.build(node);   // node has `type: flow`
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mer {

template <class T, class... Args>
class Registry {
 public:
  using Product = std::unique_ptr<T>;
  using Factory = std::function<Product(const ConfigNode&, Args...)>;

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  const std::string& kind() const { return kind_; }

  /// Adds a factory; a duplicate name throws RegistryError.
  void add(const std::string& name, Factory factory, std::string help = "") {
    if (entries_.count(name)) throw RegistryError("the " + kind_ + " registry already has '" + name + "'");
    entries_[name] = Entry{std::move(factory), std::move(help)};
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }
  const std::string& help(const std::string& name) const { return entry(name, "").help; }

  /// Builds from `node`'s required `type:` key. A miss names the registry, the config line, the
  /// known names and the nearest one.
  Product build(const ConfigNode& node, Args... args) const {
    const auto type = node.required<std::string>("type");
    const auto& e = entry(type, node.where("type"));
    return with_context(kind_ + " '" + type + "' at " + node.where(), [&] { return e.factory(node, args...); });
  }

 private:
  struct Entry {
    Factory factory;
    std::string help;
  };
  const Entry& entry(const std::string& name, const std::string& where) const {
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    std::string msg = (where.empty() ? std::string() : where + ": ") + "no " + kind_ + " named '" + name + "'";
    const auto hint = nearest(name, names());
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    msg += "; known " + kind_ + ":";
    for (const auto& n : names()) msg += " " + n;
    throw RegistryError(msg);
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mer
