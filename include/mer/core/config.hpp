#pragma once
/// Config: a YAML document composed from files, with every value's origin (file:line) remembered.
///
/// Composition: a file may name `base: other.yaml` or `base: [a.yaml, b.yaml]` (paths relative to that
/// file); bases deep-merge in order, then the file itself, then `--set a.b=v` overrides. Maps merge key by
/// key; scalars and lists replace.
///
/// Reading: components read their options through ConfigNode (`get`, `required`, `child`, `items`).
/// `get` with a default writes the default into the document, so after all components were built the
/// document is the fully resolved config (what `mer config print` shows and every run saves).
/// `Config::check_all_used()` then rejects any key nobody read, naming its file:line and the nearest
/// known key. `${VAR}` is expanded only by `get_path`, and an unset variable is an error.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mer {

namespace detail {
struct ConfigState;
}

class ConfigNode;

class Config {
 public:
  /// Loads `file` with its bases, then applies overrides of the form "a.b.c=value" (value is YAML).
  /// Throws ConfigError (bad YAML, missing base, bad override) naming the file and line.
  static Config load(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
  /// Parses a YAML string; `name` is used in messages in place of a file name.
  static Config from_string(const std::string& yaml, const std::string& name = "<string>",
                            const std::vector<std::string>& overrides = {});

  ConfigNode root() const;
  /// The document as YAML (after defaults were filled in by readers), without the `base:` keys.
  std::string dump() const;
  /// Throws ConfigError for the first key that no component read (file:line, did you mean).
  /// Top-level sections named in `except` are not checked (yet).
  void check_all_used(const std::vector<std::string>& except = {}) const;
  /// The file the config was loaded from (empty for from_string).
  const std::filesystem::path& file() const;

 private:
  std::shared_ptr<detail::ConfigState> state_;
};

/// A view of one map inside a Config. Cheap to copy; all views share the document.
class ConfigNode {
 public:
  /// Dotted path of this node from the root ("" for the root, "preprocess.stages[2]").
  const std::string& path() const { return path_; }
  /// "file:line" where this node, or its key `key`, was written; "<default>" if it was filled in.
  std::string where(const std::string& key = "") const;
  /// The full dotted path of `key` under this node.
  std::string key_path(const std::string& key) const;

  bool has(const std::string& key) const;

  /// Optional value with a default; the default is recorded into the document.
  /// Supported T: bool, int, int64_t, uint64_t, double, std::string, and std::vector of int, int64_t, double,
  /// std::string. A value of the wrong type throws ConfigError naming file:line, key and expected type.
  template <class T>
  T get(const std::string& key, const T& fallback) const;
  /// Required value; absence throws ConfigError naming the node's file:line and the key.
  template <class T>
  T required(const std::string& key) const;
  /// A string that must be one of `allowed` (an enum-like option such as `on_error: fail|skip`);
  /// anything else throws ConfigError naming file:line, the allowed values and the nearest one.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& allowed) const;
  /// The check behind get_choice, for a value already read from `key`.
  void check_choice(const std::string& key, const std::string& value, const std::vector<std::string>& allowed) const;
  /// A path value with ${VAR} expanded (unset variable: ConfigError). Relative paths stay relative
  /// (to the working directory), as committed configs hold no absolute paths.
  std::filesystem::path get_path(const std::string& key, const std::string& fallback) const;
  std::filesystem::path required_path(const std::string& key) const;
  /// A map of string to string (e.g. a label mapping); absent → empty.
  std::map<std::string, std::string> get_string_map(const std::string& key) const;

  /// The sub-map `key`; created empty if absent (so defaults can be filled in under it).
  ConfigNode child(const std::string& key) const;
  /// The elements of the list `key`, each a map (e.g. pipeline stages); absent → empty.
  std::vector<ConfigNode> items(const std::string& key) const;
  /// Keys present in this map, in document order.
  std::vector<std::string> keys() const;

 private:
  friend class Config;
  ConfigNode(std::shared_ptr<detail::ConfigState> state, std::string path)
      : state_(std::move(state)), path_(std::move(path)) {}
  std::shared_ptr<detail::ConfigState> state_;
  std::string path_;
};

/// Levenshtein distance; used for "did you mean" suggestions across libmer.
std::size_t edit_distance(const std::string& a, const std::string& b);
/// The candidate closest to `word` if it is plausibly a typo of it, else "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mer
