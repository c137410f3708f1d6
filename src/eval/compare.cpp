#include <mer/core/error.hpp>
#include <mer/eval/compare.hpp>
#include <mer/io/atomic_file.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace mer {
namespace fs = std::filesystem;

WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b) {
  MER_CHECK(a.size() == b.size(), ValueError, "Wilcoxon signed-rank test: ", a.size(), " scores against ", b.size());
  WilcoxonResult r;
  std::vector<double> d;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a[i] - b[i];
    // Scores are averages of a handful of 0/1 outcomes: differences this small are rounding, not effects.
    if (std::abs(x) < 1e-12) ++r.zeros;
    else d.push_back(x);
  }
  r.n = static_cast<int>(d.size());
  if (d.empty()) return r;
  std::vector<std::size_t> order(d.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return std::abs(d[i]) < std::abs(d[j]); });
  // Doubled ranks are integers even for tied (half-integer) mean ranks, which the exact DP needs.
  std::vector<int> rank2(d.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && std::abs(std::abs(d[order[j + 1]]) - std::abs(d[order[i]])) < 1e-12) ++j;
    const int doubled = static_cast<int>(i + 1 + j + 1);  // 2 × mean of ranks i+1..j+1
    for (std::size_t k = i; k <= j; ++k) rank2[order[k]] = doubled;
    i = j + 1;
  }
  int total = 0, w_plus2 = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    total += rank2[i];
    if (d[i] > 0) w_plus2 += rank2[i];
  }
  r.w_plus = w_plus2 / 2.0;
  r.w_minus = (total - w_plus2) / 2.0;
  // count[s]: sign patterns whose positive doubled ranks sum to s; probabilities as doubles (2^n overflows
  // integers beyond n = 63, and each pattern has probability 2^-n).
  std::vector<double> count(static_cast<std::size_t>(total) + 1, 0.0);
  count[0] = 1.0;
  int reach = 0;
  for (const int rk : rank2) {
    for (int s = reach; s >= 0; --s)
      if (count[static_cast<std::size_t>(s)] != 0) count[static_cast<std::size_t>(s + rk)] += count[static_cast<std::size_t>(s)];
    reach += rk;
  }
  double all = 0;
  for (const double c : count) all += c;
  // Two-sided: twice the smaller tail at the observed statistic (the null distribution is symmetric).
  const int lo = std::min(w_plus2, total - w_plus2);
  double tail = 0;
  for (int s = 0; s <= lo; ++s) tail += count[static_cast<std::size_t>(s)];
  r.p_value = std::min(1.0, 2.0 * tail / all);
  return r;
}

namespace {

std::string fmt3(const std::optional<double>& v) {
  if (!v) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", *v);
  return b;
}

// Dotted key path → scalar text (sequences as their flow form), for diffing configs.
void flatten(const YAML::Node& n, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) flatten(kv.second, prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>(), out);
  } else if (n.IsSequence()) {
    YAML::Emitter e;
    e << YAML::Flow << n;
    out[prefix] = e.c_str();
  } else if (n.IsScalar()) {
    out[prefix] = n.as<std::string>();
  } else {
    out[prefix] = "null";
  }
}

}  // namespace

RunRecord read_run(const fs::path& dir) {
  MER_CHECK(fs::is_directory(dir), IoError, "run folder '", dir.string(), "' does not exist");
  const auto preds_file = dir / "predictions.csv";
  MER_CHECK(fs::exists(preds_file), DataError, "run folder '", dir.string(),
            "' has no predictions.csv (an unfinished run: resume it, or `mer report merge` its shards)");
  RunRecord r;
  r.dir = dir;
  r.label = fs::absolute(dir).lexically_normal().filename().string();
  if (r.label.empty()) r.label = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  const auto classes = predictions_classes(preds_file);
  r.scores = score_predictions(read_predictions(preds_file, classes), classes);
  if (fs::exists(dir / "config.resolved.yaml")) r.config = read_file(dir / "config.resolved.yaml");
  if (fs::exists(dir / "metrics.json")) {
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(read_file(dir / "metrics.json"));
    } catch (const nlohmann::json::exception& e) {
      throw DataError("'" + (dir / "metrics.json").string() + "' is not valid JSON: " + e.what());
    }
    if (m.contains("repeats")) {
      const auto& rp = m["repeats"];
      r.uf1_mean = rp.value("uf1_mean", 0.0), r.uf1_std = rp.value("uf1_std", 0.0);
      r.uar_mean = rp.value("uar_mean", 0.0), r.uar_std = rp.value("uar_std", 0.0);
    }
    r.optimistic = m.contains("optimistic");
  }
  return r;
}

Comparison compare_runs(const std::vector<fs::path>& dirs, const std::string& metric) {
  MER_CHECK(dirs.size() >= 2, ValueError, "compare needs at least two run folders, got ", dirs.size());
  MER_CHECK(metric == "uf1" || metric == "accuracy", ValueError, "paired-test metric must be uf1 or accuracy, got '", metric, "'");
  Comparison c;
  for (const auto& d : dirs) c.runs.push_back(read_run(d));
  // Equal folder names (runs/a/stststnet and runs/b/ststnet) would make the tables ambiguous.
  std::map<std::string, int> seen;
  for (auto& r : c.runs)
    if (const int k = seen[r.label]++; k > 0) r.label += " (" + std::to_string(k + 1) + ")";
  const auto& base = c.runs.front();
  for (const auto& r : c.runs)
    MER_CHECK(r.scores.classes == base.scores.classes, ValueError, "runs '", r.dir.string(), "' and '", base.dir.string(),
              "' predict different classes (", fmt::format("{}", fmt::join(r.scores.classes, ", ")), " vs ",
              fmt::format("{}", fmt::join(base.scores.classes, ", ")), "): their scores are not comparable");

  // Config differences.
  std::vector<std::map<std::string, std::string>> flat(c.runs.size());
  std::set<std::string> keys;
  for (std::size_t i = 0; i < c.runs.size(); ++i) {
    if (c.runs[i].config.empty()) continue;
    try {
      flatten(YAML::Load(c.runs[i].config), "", flat[i]);
    } catch (const YAML::Exception& e) {
      throw DataError("'" + (c.runs[i].dir / "config.resolved.yaml").string() + "' is not valid YAML: " + e.what());
    }
    for (const auto& [k, v] : flat[i]) keys.insert(k);
  }
  for (const auto& k : keys) {
    std::vector<std::string> values;
    for (const auto& f : flat) values.push_back(f.count(k) ? f.at(k) : "-");
    if (std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end())
      c.config_differences.emplace_back(k, values);
  }

  // Paired tests against the first run, over the subjects both predicted.
  const auto score_of = [&](const FoldScores& s) { return metric == "uf1" ? s.uf1 : s.accuracy; };
  for (std::size_t i = 1; i < c.runs.size(); ++i) {
    std::map<std::string, double> b;
    for (const auto& s : base.scores.subjects)
      if (const auto v = score_of(s)) b[s.fold] = *v;
    std::vector<double> xa, xb;
    for (const auto& s : c.runs[i].scores.subjects) {
      const auto v = score_of(s);
      if (!v || !b.count(s.fold)) continue;
      xa.push_back(*v);
      xb.push_back(b[s.fold]);
    }
    PairedTest t;
    t.a = c.runs[i].label;
    t.b = base.label;
    t.metric = metric;
    t.subjects = static_cast<int>(xa.size());
    MER_CHECK(t.subjects > 0, ValueError, "runs '", c.runs[i].dir.string(), "' and '", base.dir.string(),
              "' share no subject: a paired comparison needs the same subjects");
    for (std::size_t k = 0; k < xa.size(); ++k) t.mean_a += xa[k] / t.subjects, t.mean_b += xb[k] / t.subjects;
    t.test = wilcoxon_signed_rank(xa, xb);
    c.tests.push_back(t);
  }
  return c;
}

std::string comparison_markdown(const Comparison& c, const std::string& chart) {
  std::ostringstream md;
  md << "# Comparison of " << c.runs.size() << " runs\n\n";
  for (const auto& r : c.runs)
    if (r.optimistic)
      md << "> **" << r.label << " also reports optimistic numbers (epochs chosen on the test subject); the honest ones "
         << "are compared here.**\n\n";
  md << "| run | UF1 | UAR | accuracy | UF1 mean ± sd over repeats | UAR mean ± sd | test samples |\n|---|---|---|---|---|---|---|\n";
  for (const auto& r : c.runs) {
    const auto pm = [](const std::optional<double>& m, const std::optional<double>& s) {
      return m ? fmt3(m) + " ± " + fmt3(s) : std::string("-");
    };
    md << "| " << r.label << " | " << fmt3(r.scores.uf1) << " | " << fmt3(r.scores.uar) << " | " << fmt3(r.scores.accuracy)
       << " | " << pm(r.uf1_mean, r.uf1_std) << " | " << pm(r.uar_mean, r.uar_std) << " | " << r.scores.n_samples << " |\n";
  }
  md << "\nPooled over all folds as MEGC2019 defines them.\n\n";
  if (!chart.empty()) md << "![comparison](" << chart << ")\n\n";

  std::set<std::string> sources;
  for (const auto& r : c.runs)
    for (const auto& [s, v] : r.scores.per_source) sources.insert(s);
  if (!sources.empty()) {
    md << "## Per source (UF1 / UAR)\n\n| run |";
    for (const auto& s : sources) md << " " << s << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < sources.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& r : c.runs) {
      md << "| " << r.label << " |";
      for (const auto& s : sources) {
        const auto it = r.scores.per_source.find(s);
        md << " " << (it == r.scores.per_source.end() ? std::string("-") : fmt3(it->second.uf1) + " / " + fmt3(it->second.uar)) << " |";
      }
      md << "\n";
    }
    md << "\n";
  }

  md << "## F1 per class\n\n| run |";
  for (const auto& k : c.runs.front().scores.classes) md << " " << k << " |";
  md << "\n|---|";
  for (std::size_t i = 0; i < c.runs.front().scores.classes.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& r : c.runs) {
    md << "| " << r.label << " |";
    for (const auto& pc : r.scores.per_class) md << " " << fmt3(pc.f1) << " |";
    md << "\n";
  }

  md << "\n## Paired tests across subjects\n\nExact two-sided Wilcoxon signed-rank test on per-subject scores, each run "
        "against the first; subjects on which both runs scored the same are dropped.\n\n"
        "| run | against | metric | subjects | mean (run) | mean (against) | W+ | W- | tied | p |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& t : c.tests) {
    char p[32];
    std::snprintf(p, sizeof p, "%.4g", t.test.p_value);
    md << "| " << t.a << " | " << t.b << " | " << t.metric << " | " << t.subjects << " | " << fmt3(t.mean_a) << " | "
       << fmt3(t.mean_b) << " | " << t.test.w_plus << " | " << t.test.w_minus << " | " << t.test.zeros << " | " << p << " |\n";
  }

  md << "\n## Config differences\n\n";
  if (c.config_differences.empty()) {
    md << "The resolved configs are identical (the runs differ only in what was not configured, e.g. code version).\n";
  } else {
    md << "| key |";
    for (const auto& r : c.runs) md << " " << r.label << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < c.runs.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& [k, values] : c.config_differences) {
      md << "| `" << k << "` |";
      for (const auto& v : values) md << " " << v << " |";
      md << "\n";
    }
  }
  return md.str();
}

}  // namespace mer
