#include <mer/meta/action_units.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <map>

namespace mer {
namespace {

using Set = std::vector<ActionUnit>;
using Dnf = std::vector<Set>;

// "(a or b)+(c or d)+..." multiplies out; a cell is a handful of AUs, so anything larger is malformed.
constexpr std::size_t kMaxAlternatives = 256;
constexpr int kMaxDepth = 16;
// FACS numbers main codes 0-28, 38-46, head/eye codes 51-69, gross behaviour 70-99.
constexpr int kMaxAuNumber = 99;

const std::string kChineseComma = "\xEF\xBC\x8C";  // U+FF0C, as written in CAS(ME)^3 Part C

// A structural error (unbalanced parentheses, an empty term): the cell is kept whole in `unparsed`.
struct Broken {};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_side(char c) { return c == 'L' || c == 'R' || c == 'U' || c == 'B'; }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One '/'-separated piece: prefix letters, number, suffix letters. "A" alone has no number and
// borrows one from its neighbour.
struct Fragment {
  std::string prefix;
  std::optional<int> number;
  std::string suffix;
};

std::optional<Fragment> split_fragment(std::string f) {
  // The "AU" label, not asymmetric + unilateral (that is written "UA12").
  if (f.size() > 2 && upper(f.substr(0, 2)) == "AU") {
    std::size_t k = 2;
    while (k < f.size() && is_space(f[k])) ++k;
    if (k < f.size() && is_digit(f[k])) f = f.substr(k);
  }
  Fragment out;
  std::size_t i = 0;
  while (i < f.size() && is_upper(f[i])) out.prefix += f[i++];
  if (i == f.size()) return out;  // letters only
  std::size_t digits = 0;
  int n = 0;
  while (i < f.size() && is_digit(f[i])) {
    n = n * 10 + (f[i++] - '0');
    if (++digits > 2) return std::nullopt;
  }
  if (digits == 0 || n > kMaxAuNumber) return std::nullopt;
  out.number = n;
  while (i < f.size() && is_upper(f[i])) out.suffix += f[i++];
  if (i != f.size()) return std::nullopt;
  return out;
}

std::optional<ActionUnit> build_unit(const std::string& prefix, int number, const std::string& suffix) {
  ActionUnit u;
  u.number = number;
  for (char c : prefix) {
    if (c == 'T' && !u.trace) u.trace = true;
    else if (c == 'A' && !u.asymmetric) u.asymmetric = true;
    else if (is_side(c) && !u.side) u.side = c;
    else return std::nullopt;
  }
  for (char c : suffix) {
    if (c >= 'A' && c <= 'E' && !u.intensity) u.intensity = c;
    else if ((c == 'L' || c == 'R') && !u.side) u.side = c;
    else return std::nullopt;
  }
  return u;
}

// "10A/B" -> 10A, 10B; "A/L12" -> A12, L12; "12/14" -> 12, 14. A numberless fragment after a full one
// replaces its suffix letters, one before the first full fragment replaces its prefix letters.
std::optional<Dnf> slash_group(const std::string& chunk) {
  std::vector<Fragment> frags;
  std::size_t start = 0;
  while (true) {
    const auto slash = chunk.find('/', start);
    auto f = split_fragment(trim(chunk.substr(start, slash == std::string::npos ? std::string::npos : slash - start)));
    if (!f) return std::nullopt;
    frags.push_back(*f);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  Dnf out;
  const Fragment* last_full = nullptr;
  for (std::size_t k = 0; k < frags.size(); ++k) {
    const auto& f = frags[k];
    std::optional<ActionUnit> u;
    if (f.number) {
      last_full = &f;
      u = build_unit(f.prefix, *f.number, f.suffix);
    } else if (last_full) {
      u = build_unit(last_full->prefix, *last_full->number, f.prefix);
    } else {
      const auto next = std::find_if(frags.begin() + static_cast<long>(k), frags.end(),
                                     [](const Fragment& g) { return g.number.has_value(); });
      if (next == frags.end()) return std::nullopt;
      u = build_unit(f.prefix, *next->number, next->suffix);
    }
    if (!u) return std::nullopt;
    out.push_back({*u});
  }
  return out;
}

// Free text among the AUs: words of letters (two or more), spaces, hyphens and apostrophes.
bool is_note(const std::string& chunk) {
  int letters = 0;
  for (unsigned char c : chunk) {
    if (std::isalpha(c)) ++letters;
    else if (!(is_space(static_cast<char>(c)) || c == '-' || c == '\'')) return false;
  }
  return letters >= 2;
}

class Parser {
 public:
  Parser(const std::string& s, ActionUnits& out) : s_(s), out_(out) {}

  Dnf parse() {
    Dnf d = expr(0);
    skip_ws();
    if (i_ != s_.size()) throw Broken{};
    return d;
  }

 private:
  void skip_ws() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  bool at(const std::string& token, std::size_t pos) const { return s_.compare(pos, token.size(), token) == 0; }
  std::size_t separator_length(std::size_t pos) const {
    if (pos >= s_.size()) return 0;
    if (s_[pos] == '+' || s_[pos] == ',') return 1;
    return at(kChineseComma, pos) ? kChineseComma.size() : 0;
  }
  // "or" not touching a letter: "L12 or L14", "(R6 or R12)", and CAS(ME)^2's "10or11"; not "for".
  bool or_word_at(std::size_t pos) const {
    if (pos + 2 > s_.size() || upper(s_.substr(pos, 2)) != "OR") return false;
    const auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
    return (pos == 0 || !letter(s_[pos - 1])) && (pos + 2 == s_.size() || !letter(s_[pos + 2]));
  }

  Dnf expr(int depth) {
    if (depth > kMaxDepth) throw Broken{};
    Dnf out = alt(depth);
    while (true) {
      skip_ws();
      if (!or_word_at(i_)) return out;
      i_ += 2;
      for (auto& set : alt(depth)) out.push_back(std::move(set));
      if (out.size() > kMaxAlternatives) throw Broken{};
    }
  }

  // Terms joined by '+': the cross product of their alternatives. A note contributes no AUs.
  Dnf alt(int depth) {
    Dnf out = {{}};
    while (true) {
      const Dnf t = term(depth);
      if (!t.empty()) {
        Dnf product;
        for (const auto& a : out)
          for (const auto& b : t) {
            Set s = a;
            s.insert(s.end(), b.begin(), b.end());
            product.push_back(std::move(s));
          }
        if (product.size() > kMaxAlternatives) throw Broken{};
        out = std::move(product);
      }
      skip_ws();
      const auto sep = separator_length(i_);
      if (!sep) break;
      i_ += sep;
    }
    if (out.size() == 1 && out[0].empty()) return {};
    return out;
  }

  Dnf term(int depth) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == '(') {
      ++i_;
      Dnf d = expr(depth + 1);
      close();
      return d;
    }
    if (upper(s_.substr(i_, 3)) == "REF") {
      std::size_t k = i_ + 3;
      while (k < s_.size() && is_space(s_[k])) ++k;
      if (k < s_.size() && s_[k] == '(') {
        i_ = k + 1;
        Dnf d = expr(depth + 1);
        close();
        for (auto& set : d)
          for (auto& u : set) u.reference = true;
        return d;
      }
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && !separator_length(i_) && s_[i_] != '(' && s_[i_] != ')' && !or_word_at(i_)) ++i_;
    const std::string chunk = trim(s_.substr(start, i_ - start));
    if (chunk.empty()) throw Broken{};
    if (auto d = slash_group(chunk)) return *d;
    if (is_note(chunk)) out_.notes.push_back(chunk);
    else out_.unparsed.push_back(chunk);
    return {};
  }

  void close() {
    skip_ws();
    if (i_ >= s_.size() || s_[i_] != ')') throw Broken{};
    ++i_;
  }

  const std::string& s_;
  ActionUnits& out_;
  std::size_t i_ = 0;
};

}  // namespace

std::string ActionUnit::text() const {
  std::string s;
  if (trace) s += 'T';
  if (side) s += side;
  if (asymmetric) s += 'A';
  s += std::to_string(number);
  if (intensity) s += intensity;
  return reference ? "ref(" + s + ")" : s;
}

bool ActionUnit::operator==(const ActionUnit& o) const {
  return number == o.number && side == o.side && intensity == o.intensity && asymmetric == o.asymmetric &&
         trace == o.trace && reference == o.reference;
}

std::vector<int> ActionUnits::numbers() const {
  std::vector<int> out;
  for (const auto& set : alternatives)
    for (const auto& u : set)
      if (!u.reference) out.push_back(u.number);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ActionUnits parse_action_units(const std::string& cell) {
  ActionUnits out;
  out.text = cell;
  const std::string t = trim(cell);
  if (t.empty() || t == "?" || upper(t) == "NULL") {
    out.unknown = true;
    return out;
  }
  try {
    Parser p(t, out);
    out.alternatives = p.parse();
  } catch (const Broken&) {
    out.alternatives.clear();
    out.notes.clear();
    out.unparsed = {t};
  }
  return out;
}

std::string to_string(const ActionUnits& aus) {
  if (aus.unknown || !aus.unparsed.empty() || (aus.alternatives.empty() && aus.notes.empty())) return trim(aus.text);
  std::string s;
  for (const auto& set : aus.alternatives) {
    if (!s.empty()) s += " or ";
    for (std::size_t k = 0; k < set.size(); ++k) s += (k ? "+" : "") + set[k].text();
  }
  if (aus.notes.empty()) return s;
  if (aus.alternatives.size() > 1) s = "(" + s + ")";
  for (const auto& n : aus.notes) s += (s.empty() ? "" : "+") + n;
  return s;
}

}  // namespace mer

namespace mer {

std::vector<int> action_unit_vocabulary(const std::vector<const std::string*>& cells, int min_count) {
  std::map<int, int> counts;
  for (const std::string* cell : cells) {
    const auto aus = parse_action_units(*cell);
    if (!aus.complete()) continue;
    for (const int n : aus.numbers()) ++counts[n];
  }
  std::vector<int> out;
  for (const auto& [number, count] : counts)
    if (count >= min_count) out.push_back(number);
  return out;
}

ActionUnitTargets action_unit_targets(const std::string& cell, const std::vector<int>& vocabulary) {
  ActionUnitTargets t;
  t.values.assign(vocabulary.size(), 0.0f);
  const auto aus = parse_action_units(cell);
  t.known = aus.complete();
  if (!t.known) return t;
  const auto numbers = aus.numbers();
  for (std::size_t k = 0; k < vocabulary.size(); ++k)
    if (std::binary_search(numbers.begin(), numbers.end(), vocabulary[k])) t.values[k] = 1.0f;
  return t;
}

}  // namespace mer
