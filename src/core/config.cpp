#include <mer/core/config.hpp>
#include <mer/core/error.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

namespace mer {
namespace fs = std::filesystem;

namespace detail {
struct ConfigState {
  YAML::Node doc;
  fs::path file;
  std::map<std::string, std::string> origin;           // dotted path -> "file:line"
  std::set<std::string> used;                          // paths read by a component
  std::set<std::string> used_subtree;                  // paths read whole (string maps)
  std::map<std::string, std::set<std::string>> asked;  // node path -> keys components asked for
};
}  // namespace detail

namespace {
using detail::ConfigState;

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Splits "a.b[2].c" into tokens "a", "b", "[2]", "c".
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '.' || c == '[') {
      if (!cur.empty()) out.push_back(cur);
      cur = c == '[' ? "[" : "";
    } else if (c == ']') {
      out.push_back(cur + "]");
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool is_index(const std::string& tok) { return !tok.empty() && tok.front() == '['; }
std::size_t index_of(const std::string& tok) { return std::stoul(tok.substr(1, tok.size() - 2)); }

// Const navigation: returns an invalid (undefined) node when absent.
YAML::Node lookup(const YAML::Node& root, const std::string& path) {
  YAML::Node cur = root;
  for (const auto& tok : split_path(path)) {
    if (!cur || !cur.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    if (is_index(tok)) {
      if (!cur.IsSequence() || index_of(tok) >= cur.size()) return YAML::Node(YAML::NodeType::Undefined);
      YAML::Node next = cur[index_of(tok)];
      cur.reset(next);  // plain '=' would overwrite the node cur points at
    } else {
      if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
      const YAML::Node& ccur = cur;
      YAML::Node next = ccur[tok];
      if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      cur.reset(next);
    }
  }
  return cur;
}

// YAML allows a map or a list as a key ("{a: 1}: x"); a config's keys are names. Checked once after
// parsing, so the rest of the code can read every key as a string.
void check_keys(const YAML::Node& node, const std::string& file) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      MER_CHECK(kv.first.IsScalar(), ConfigError, file, ":", kv.first.Mark().line + 1, ": a key must be a name, got a ",
                kv.first.IsMap() ? "map" : kv.first.IsSequence() ? "list" : "null");
      check_keys(kv.second, file);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) check_keys(item, file);
  }
}

void record_origins(const YAML::Node& node, const std::string& path, const std::string& file,
                    std::map<std::string, std::string>& origin) {
  if (!path.empty()) origin[path] = file + ":" + std::to_string(node.Mark().line + 1);
  if (node.IsMap()) {
    for (const auto& kv : node) record_origins(kv.second, join(path, kv.first.as<std::string>()), file, origin);
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      record_origins(node[i], path + "[" + std::to_string(i) + "]", file, origin);
  }
}

YAML::Node merge(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const auto key = kv.first.as<std::string>();
    const YAML::Node& cout = out;
    if (cout[key].IsDefined())
      out[key] = merge(cout[key], kv.second);
    else
      out[key] = YAML::Clone(kv.second);
  }
  return out;
}

YAML::Node parse_file(const fs::path& file) {
  // A folder opens as a stream whose first read throws std::ios_failure (found by fuzzing: `base: .`).
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw ConfigError(detail::concat("config file '", file.string(), "' is a folder, not a YAML file"));
  std::ifstream in(file);
  if (!in) throw ConfigError(detail::concat("cannot open config file '", file.string(), "'"));
  YAML::Node doc;
  try {
    doc = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw ConfigError(detail::concat(file.string(), ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  check_keys(doc, file.string());
  return doc;
}

// Loads a file and its bases into (doc, origins); `chain` catches cycles.
YAML::Node load_composed(const fs::path& file, std::map<std::string, std::string>& origin,
                         std::vector<fs::path>& chain) {
  // The error_code forms throughout: a name the file system refuses (too long, say) is "not found" rather
  // than a std::filesystem_error (found by fuzzing).
  std::error_code ec;
  auto canon = fs::weakly_canonical(file, ec);
  if (ec) canon = file.lexically_normal();
  if (std::find(chain.begin(), chain.end(), canon) != chain.end())
    throw ConfigError(detail::concat(file.string(), ": base files form a cycle"));
  chain.push_back(canon);
  YAML::Node own = parse_file(file);
  if (own.IsNull()) own = YAML::Node(YAML::NodeType::Map);
  if (!own.IsMap()) throw ConfigError(detail::concat(file.string(), ":1: a config file must be a YAML map"));
  YAML::Node doc(YAML::NodeType::Map);
  if (own["base"]) {
    const YAML::Node bases = own["base"];
    std::vector<std::string> names;
    if (bases.IsScalar()) names.push_back(bases.as<std::string>());
    else if (bases.IsSequence())
      for (const auto& b : bases) {
        // A map or list inside the list would escape as yaml-cpp's "bad conversion" (found by fuzzing).
        if (!b.IsScalar())
          throw ConfigError(detail::concat(file.string(), ":", b.Mark().line + 1, ": each entry of 'base' must be a file name"));
        names.push_back(b.as<std::string>());
      }
    else throw ConfigError(detail::concat(file.string(), ":", bases.Mark().line + 1, ": 'base' must be a file or a list of files"));
    for (const auto& name : names) {
      const fs::path base_file = file.parent_path() / name;
      if (!fs::exists(base_file, ec))
        throw ConfigError(detail::concat(file.string(), ":", bases.Mark().line + 1, ": base file '", name,
                                         "' not found (looked for ", base_file.string(), ")"));
      if (fs::is_directory(base_file, ec))
        throw ConfigError(detail::concat(file.string(), ":", bases.Mark().line + 1, ": base '", name,
                                         "' is a folder, not a YAML file"));
      doc = merge(doc, load_composed(base_file, origin, chain));
    }
    own.remove("base");
  }
  record_origins(own, "", file.string(), origin);
  chain.pop_back();
  return merge(doc, own);
}

void apply_override(ConfigState& st, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(detail::concat("--set '", text, "': expected key.path=value"));
  const std::string path = text.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError(detail::concat("--set '", text, "': value is not valid YAML: ", e.msg));
  }
  const auto toks = split_path(path);
  YAML::Node cur = st.doc;
  std::string walked;
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const auto& tok = toks[i];
    const bool last = i + 1 == toks.size();
    if (is_index(tok)) {
      if (!cur.IsSequence() || index_of(tok) >= cur.size())
        throw ConfigError(detail::concat("--set '", text, "': '", walked, "' has no element ", tok));
      if (last) cur[index_of(tok)] = value;
      else {
        YAML::Node next = cur[index_of(tok)];
        cur.reset(next);
      }
      walked += tok;
    } else {
      if (!cur.IsMap()) throw ConfigError(detail::concat("--set '", text, "': '", walked, "' is not a map"));
      if (last) {
        cur[tok] = value;
      } else {
        const YAML::Node& ccur = cur;
        if (!ccur[tok].IsDefined()) cur[tok] = YAML::Node(YAML::NodeType::Map);
        YAML::Node next = cur[tok];
        cur.reset(next);
      }
      walked = join(walked, tok);
    }
  }
  record_origins(value, path, "--set " + text, st.origin);
  st.origin[path] = "--set " + text;
}

std::string describe_type(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}

template <class T>
const char* type_name();
template <> const char* type_name<bool>() { return "true or false"; }
template <> const char* type_name<int>() { return "an integer"; }
template <> const char* type_name<std::int64_t>() { return "an integer"; }
template <> const char* type_name<std::uint64_t>() { return "a non-negative integer"; }
template <> const char* type_name<double>() { return "a number"; }
template <> const char* type_name<std::string>() { return "a string"; }
template <> const char* type_name<std::vector<int>>() { return "a list of integers"; }
template <> const char* type_name<std::vector<std::int64_t>>() { return "a list of integers"; }
template <> const char* type_name<std::vector<double>>() { return "a list of numbers"; }
template <> const char* type_name<std::vector<std::string>>() { return "a list of strings"; }

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
bool convert(const YAML::Node& n, T& out) {
  try {
    if constexpr (is_vector<T>::value) {
      if (!n.IsSequence()) return false;
      out.clear();
      for (const auto& e : n) {
        typename T::value_type v;
        if (!convert(e, v)) return false;
        out.push_back(v);
      }
      return true;
    } else {
      if (!n.IsScalar()) return false;
      out = n.as<T>();
      return true;
    }
  } catch (const YAML::Exception&) {
    return false;
  }
}

template <class T>
YAML::Node to_yaml(const T& v) {
  return YAML::Node(v);
}

// Every read goes through here: it records that `key` was asked for under `path` (for "did you mean")
// and that the key is used (for check_all_used), then looks it up.
YAML::Node touch(ConfigState& st, const std::string& path, const std::string& key) {
  st.asked[path].insert(key);
  const auto kp = join(path, key);
  st.used.insert(kp);
  return lookup(st.doc, kp);
}

// Writes a default into the document so the resolved config shows it.
void fill_default(ConfigState& st, const std::string& path, const std::string& key, const YAML::Node& value) {
  YAML::Node self = lookup(st.doc, path);
  self[key] = value;
  st.origin.emplace(join(path, key), "<default>");
}

}  // namespace

// ---------------------------------------------------------------- Config

Config Config::load(const fs::path& file, const std::vector<std::string>& overrides) {
  Config c;
  c.state_ = std::make_shared<ConfigState>();
  c.state_->file = file;
  std::error_code ec;
  if (!fs::exists(file, ec)) throw ConfigError(detail::concat("config file '", file.string(), "' does not exist"));
  std::vector<fs::path> chain;
  c.state_->doc = load_composed(file, c.state_->origin, chain);
  for (const auto& o : overrides) apply_override(*c.state_, o);
  return c;
}

Config Config::from_string(const std::string& yaml, const std::string& name,
                           const std::vector<std::string>& overrides) {
  Config c;
  c.state_ = std::make_shared<ConfigState>();
  try {
    c.state_->doc = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(detail::concat(name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (c.state_->doc.IsNull()) c.state_->doc = YAML::Node(YAML::NodeType::Map);
  if (!c.state_->doc.IsMap()) throw ConfigError(name + ":1: a config must be a YAML map");
  check_keys(c.state_->doc, name);
  record_origins(c.state_->doc, "", name, c.state_->origin);
  for (const auto& o : overrides) apply_override(*c.state_, o);
  return c;
}

ConfigNode Config::root() const { return ConfigNode(state_, ""); }
const fs::path& Config::file() const { return state_->file; }

std::string Config::dump() const {
  YAML::Emitter out;
  out << state_->doc;
  return std::string(out.c_str()) + "\n";
}

void Config::check_all_used(const std::vector<std::string>& except) const {
  const ConfigState& st = *state_;
  std::function<void(const YAML::Node&, const std::string&)> visit = [&](const YAML::Node& node,
                                                                          const std::string& path) {
    if (st.used_subtree.count(path)) return;
    if (node.IsMap()) {
      for (const auto& kv : node) {
        const auto key = kv.first.as<std::string>();
        const auto kp = join(path, key);
        if (path.empty() && std::find(except.begin(), except.end(), key) != except.end()) continue;
        if (!st.used.count(kp)) {
          std::vector<std::string> known;
          if (auto it = st.asked.find(path); it != st.asked.end()) known.assign(it->second.begin(), it->second.end());
          const auto where = st.origin.count(kp) ? st.origin.at(kp) : std::string("<config>");
          const auto hint = nearest(key, known);
          std::string msg = detail::concat(where, ": unknown key '", key, "'",
                                           path.empty() ? std::string(" at top level") : " in '" + path + "'");
          if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
          else if (!known.empty()) {
            msg += "; known keys:";
            for (const auto& k : known) msg += " " + k;
          }
          throw ConfigError(msg);
        }
        visit(kv.second, kp);
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        if (node[i].IsMap()) visit(node[i], path + "[" + std::to_string(i) + "]");
      }
    }
  };
  visit(st.doc, "");
}

// ---------------------------------------------------------------- ConfigNode

std::string ConfigNode::key_path(const std::string& key) const { return join(path_, key); }

std::string ConfigNode::where(const std::string& key) const {
  const auto p = key.empty() ? path_ : key_path(key);
  if (auto it = state_->origin.find(p); it != state_->origin.end()) return it->second;
  if (p.empty()) return state_->file.empty() ? "<config>" : state_->file.string();
  // Fall back to the nearest ancestor that has an origin.
  auto parent = p;
  while (!parent.empty()) {
    const auto cut = parent.find_last_of(".[");
    parent = cut == std::string::npos ? "" : parent.substr(0, cut);
    if (auto it = state_->origin.find(parent); it != state_->origin.end()) return it->second;
  }
  return state_->file.empty() ? "<config>" : state_->file.string();
}

bool ConfigNode::has(const std::string& key) const {
  const auto n = lookup(state_->doc, key_path(key));
  return n.IsDefined() && !n.IsNull();
}

template <class T>
T ConfigNode::get(const std::string& key, const T& fallback) const {
  const YAML::Node n = touch(*state_, path_, key);
  if (!n.IsDefined() || n.IsNull()) {
    fill_default(*state_, path_, key, to_yaml(fallback));
    return fallback;
  }
  T out{};
  if (!convert(n, out))
    throw ConfigError(detail::concat(where(key), ": '", key_path(key), "' expects ", type_name<T>(), ", got ", describe_type(n)));
  return out;
}

template <class T>
T ConfigNode::required(const std::string& key) const {
  const auto kp = key_path(key);
  const YAML::Node n = touch(*state_, path_, key);
  if (!n.IsDefined() || n.IsNull())
    throw ConfigError(detail::concat(where(), ": missing required key '", kp, "' (", type_name<T>(), ")"));
  T out{};
  if (!convert(n, out))
    throw ConfigError(detail::concat(where(key), ": '", kp, "' expects ", type_name<T>(), ", got ", describe_type(n)));
  return out;
}

#define MER_INSTANTIATE(T)                                                  \
  template T ConfigNode::get<T>(const std::string&, const T&) const;        \
  template T ConfigNode::required<T>(const std::string&) const;
MER_INSTANTIATE(bool)
MER_INSTANTIATE(int)
MER_INSTANTIATE(std::int64_t)
MER_INSTANTIATE(std::uint64_t)
MER_INSTANTIATE(double)
MER_INSTANTIATE(std::string)
MER_INSTANTIATE(std::vector<int>)
MER_INSTANTIATE(std::vector<std::int64_t>)
MER_INSTANTIATE(std::vector<double>)
MER_INSTANTIATE(std::vector<std::string>)
#undef MER_INSTANTIATE

std::string ConfigNode::get_choice(const std::string& key, const std::string& fallback,
                                  const std::vector<std::string>& allowed) const {
  const auto value = get<std::string>(key, fallback);
  check_choice(key, value, allowed);
  return value;
}

void ConfigNode::check_choice(const std::string& key, const std::string& value,
                              const std::vector<std::string>& allowed) const {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : " | ") + a;
  std::string msg = where(key) + ": '" + key_path(key) + "' must be one of " + list + ", got '" + value + "'";
  if (const auto hint = nearest(value, allowed); !hint.empty()) msg += " (did you mean '" + hint + "'?)";
  throw ConfigError(msg);
}

namespace {
fs::path expand_vars(const std::string& raw, const std::string& where, const std::string& key) {
  static const std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  std::string out;
  auto begin = std::sregex_iterator(raw.begin(), raw.end(), var);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const char* value = std::getenv(m[1].str().c_str());
    if (!value || !*value)
      throw ConfigError(detail::concat(where, ": '", key, "' uses ${", m[1].str(), "}, which is not set in the environment"));
    out += raw.substr(last, m.position(0) - last) + value;
    last = m.position(0) + m.length(0);
  }
  out += raw.substr(last);
  return fs::path(out);
}
}  // namespace

fs::path ConfigNode::get_path(const std::string& key, const std::string& fallback) const {
  return expand_vars(get<std::string>(key, fallback), where(key), key_path(key));
}

fs::path ConfigNode::required_path(const std::string& key) const {
  return expand_vars(required<std::string>(key), where(key), key_path(key));
}

std::map<std::string, std::string> ConfigNode::get_string_map(const std::string& key) const {
  const auto kp = key_path(key);
  const YAML::Node n = touch(*state_, path_, key);
  state_->used_subtree.insert(kp);
  std::map<std::string, std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) throw ConfigError(detail::concat(where(key), ": '", kp, "' expects a map of names, got ", describe_type(n)));
  for (const auto& kv : n) {
    if (!kv.second.IsScalar())
      throw ConfigError(detail::concat(where(key), ": '", kp, ".", kv.first.as<std::string>(), "' expects a name, got ",
                                       describe_type(kv.second)));
    out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

ConfigNode ConfigNode::child(const std::string& key) const {
  const auto kp = key_path(key);
  const YAML::Node n = touch(*state_, path_, key);
  if (!n.IsDefined() || n.IsNull()) {
    fill_default(*state_, path_, key, YAML::Node(YAML::NodeType::Map));
  } else if (!n.IsMap()) {
    throw ConfigError(detail::concat(where(key), ": '", kp, "' expects a map, got ", describe_type(n)));
  }
  return ConfigNode(state_, kp);
}

std::vector<ConfigNode> ConfigNode::items(const std::string& key) const {
  const auto kp = key_path(key);
  const YAML::Node n = touch(*state_, path_, key);
  std::vector<ConfigNode> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) throw ConfigError(detail::concat(where(key), ": '", kp, "' expects a list, got ", describe_type(n)));
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto ip = kp + "[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) throw ConfigError(detail::concat(where(key), ": '", ip, "' expects a map, got ", describe_type(n[i])));
    out.push_back(ConfigNode(state_, ip));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  YAML::Node n = lookup(state_->doc, path_);
  if (n.IsMap())
    for (const auto& kv : n) out.push_back(kv.first.as<std::string>());
  return out;
}

// ---------------------------------------------------------------- suggestions

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    auto d = edit_distance(word, c);
    // "lr_rate" for "lr", "epoch" for "epochs": one name extending the other is a likely slip too.
    const bool extends = c.size() >= 2 && word.size() >= 2 && (word.rfind(c, 0) == 0 || c.rfind(word, 0) == 0);
    if (extends) d = std::min<std::size_t>(d, 1);
    if (d < best_d) best_d = d, best = c;
  }
  // A typo changes at most about a third of a word.
  if (best.empty() || best_d > std::max<std::size_t>(2, word.size() / 3)) return "";
  return best;
}

}  // namespace mer
