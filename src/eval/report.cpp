#include <mer/core/error.hpp>
#include <mer/eval/report.hpp>
#include <mer/meta/table.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>

namespace mer {

namespace {
std::optional<double> mean_of(const std::vector<FoldScores>& folds, std::optional<double> FoldScores::*field) {
  double sum = 0;
  int n = 0;
  for (const auto& f : folds)
    if (f.*field) sum += *(f.*field), ++n;
  if (n == 0) return std::nullopt;
  return sum / n;
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

std::string fmt(const std::optional<double>& v, int digits = 4) {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, *v);
  return buf;
}
}  // namespace

std::string source_of(const std::string& sample_id) { return sample_id.substr(0, sample_id.find('/')); }

RunScores score_predictions(const std::vector<Prediction>& preds, const std::vector<std::string>& classes) {
  const int k = static_cast<int>(classes.size());
  RunScores s;
  s.classes = classes;
  s.n_samples = static_cast<std::int64_t>(preds.size());
  std::vector<int> t, p;
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::vector<int>, std::vector<int>>> per_fold, per_source, per_subject;
  for (const auto& x : preds) {
    t.push_back(x.true_label);
    p.push_back(x.pred_label);
    if (!per_fold.count(x.fold)) order.push_back(x.fold);
    per_fold[x.fold].first.push_back(x.true_label);
    per_fold[x.fold].second.push_back(x.pred_label);
    per_subject[x.subject].first.push_back(x.true_label);
    per_subject[x.subject].second.push_back(x.pred_label);
    auto& src = per_source[source_of(x.sample_id)];
    src.first.push_back(x.true_label);
    src.second.push_back(x.pred_label);
  }
  s.confusion = confusion_matrix(t, p, k);
  s.per_class = per_class_scores(s.confusion);
  s.accuracy = accuracy(s.confusion);
  s.uf1 = uf1(s.confusion);
  s.uar = uar(s.confusion);
  for (const auto& name : order) {
    const auto& [ft, fp] = per_fold[name];
    const auto cm = confusion_matrix(ft, fp, k);
    s.folds.push_back(FoldScores{name, cm.total(), accuracy(cm), uf1(cm), uar(cm)});
  }
  for (const auto& [name, tp] : per_subject) {
    const auto cm = confusion_matrix(tp.first, tp.second, k);
    s.subjects.push_back(FoldScores{name, cm.total(), accuracy(cm), uf1(cm), uar(cm)});
  }
  s.accuracy_fold_mean = mean_of(s.folds, &FoldScores::accuracy);
  s.uf1_fold_mean = mean_of(s.folds, &FoldScores::uf1);
  s.uar_fold_mean = mean_of(s.folds, &FoldScores::uar);
  // A single-source run's "per source" scores would only repeat the pooled ones.
  if (per_source.size() > 1) {
    for (const auto& [name, tp] : per_source) {
      SourceScores src;
      src.confusion = confusion_matrix(tp.first, tp.second, k);
      src.n = src.confusion.total();
      src.per_class = per_class_scores(src.confusion);
      src.accuracy = accuracy(src.confusion);
      src.uf1 = uf1(src.confusion);
      src.uar = uar(src.confusion);
      s.per_source.emplace(name, std::move(src));
    }
  }
  return s;
}

std::string metrics_to_json(const RunScores& s) {
  using nlohmann::json;
  json j;
  j["accuracy"] = opt(s.accuracy);
  j["uf1"] = opt(s.uf1);
  j["uar"] = opt(s.uar);
  j["aggregation"] =
      "accuracy, uf1 and uar pool TP/FP/FN over all folds (MEGC2019); fold_mean averages per-fold scores";
  json f1 = json::object(), prec = json::object(), rec = json::object(), sup = json::object();
  for (std::size_t c = 0; c < s.classes.size(); ++c) {
    f1[s.classes[c]] = opt(s.per_class[c].f1);
    prec[s.classes[c]] = opt(s.per_class[c].precision);
    rec[s.classes[c]] = opt(s.per_class[c].recall);
    sup[s.classes[c]] = s.per_class[c].support;
  }
  j["f1_per_class"] = f1;
  j["precision_per_class"] = prec;
  j["recall_per_class"] = rec;
  j["support_per_class"] = sup;
  j["classes"] = s.classes;
  j["confusion"] = s.confusion.counts;
  j["fold_mean"] = {{"accuracy", opt(s.accuracy_fold_mean)}, {"uf1", opt(s.uf1_fold_mean)},
                    {"uar", opt(s.uar_fold_mean)}};
  json folds = json::array();
  for (const auto& f : s.folds)
    folds.push_back({{"fold", f.fold}, {"n", f.n}, {"accuracy", opt(f.accuracy)}, {"uf1", opt(f.uf1)},
                     {"uar", opt(f.uar)}});
  j["folds"] = folds;
  json subjects = json::array();
  for (const auto& f : s.subjects)
    subjects.push_back({{"subject", f.fold}, {"n", f.n}, {"accuracy", opt(f.accuracy)}, {"uf1", opt(f.uf1)},
                        {"uar", opt(f.uar)}});
  j["per_subject"] = subjects;
  j["n_samples"] = s.n_samples;
  j["n_folds"] = s.folds.size();
  j["notes"] = s.notes;
  json sources = json::object();
  for (const auto& [name, src] : s.per_source) {
    json pc = json::object();
    for (std::size_t c = 0; c < s.classes.size(); ++c) pc[s.classes[c]] = opt(src.per_class[c].f1);
    sources[name] = {{"uf1", opt(src.uf1)},       {"uar", opt(src.uar)},  {"accuracy", opt(src.accuracy)},
                     {"n_samples", src.n},         {"f1_per_class", pc}};
  }
  j["per_source"] = sources;
  return j.dump(2) + "\n";
}

std::string summary_markdown(const RunScores& s, const SummaryInfo& info) {
  std::ostringstream md;
  md << "# " << info.title << "\n\n";
  for (const auto& n : s.notes) md << "> **" << n << "**\n\n";
  md << "| metric | pooled over folds (MEGC2019) | mean of per-fold scores |\n|---|---|---|\n";
  md << "| UF1 | " << fmt(s.uf1) << " | " << fmt(s.uf1_fold_mean) << " |\n";
  md << "| UAR | " << fmt(s.uar) << " | " << fmt(s.uar_fold_mean) << " |\n";
  md << "| accuracy | " << fmt(s.accuracy) << " | " << fmt(s.accuracy_fold_mean) << " |\n\n";
  md << "Protocol: " << info.protocol << ", " << s.folds.size() << " folds, " << s.n_samples
     << " test predictions. Pooled scores sum TP/FP/FN over all folds; per-fold means are shown for comparison only.\n\n";
  for (const auto& f : info.facts) md << "- " << f << "\n";
  if (!info.facts.empty()) md << "\n";

  if (!s.per_source.empty()) {
    md << "## Per source\n\nThe pooled predictions of each source database alone.\n\n| source | n | UF1 | UAR | accuracy |";
    for (const auto& c : s.classes) md << " F1 " << c << " |";
    md << "\n|---|---|---|---|---|";
    for (std::size_t c = 0; c < s.classes.size(); ++c) md << "---|";
    md << "\n";
    for (const auto& [name, src] : s.per_source) {
      md << "| " << name << " | " << src.n << " | " << fmt(src.uf1) << " | " << fmt(src.uar) << " | "
         << fmt(src.accuracy) << " |";
      for (const auto& pc : src.per_class) md << " " << fmt(pc.f1, 3) << " |";
      md << "\n";
    }
    md << "\n";
  }

  md << "## Per class\n\n| class | support | precision | recall | F1 |\n|---|---|---|---|---|\n";
  for (std::size_t c = 0; c < s.classes.size(); ++c) {
    const auto& pc = s.per_class[c];
    md << "| " << s.classes[c] << " | " << pc.support << " | " << fmt(pc.precision, 3) << " | " << fmt(pc.recall, 3)
       << " | " << fmt(pc.f1, 3) << " |\n";
  }
  md << "\n## Confusion matrix (rows: true, columns: predicted)\n\n![confusion](confusion.png)\n\n| |";
  for (const auto& c : s.classes) md << " " << c << " |";
  md << "\n|---|";
  for (std::size_t c = 0; c < s.classes.size(); ++c) md << "---|";
  md << "\n";
  for (std::size_t r = 0; r < s.classes.size(); ++r) {
    md << "| **" << s.classes[r] << "** |";
    for (auto v : s.confusion.counts[r]) md << " " << v << " |";
    md << "\n";
  }
  for (const auto& [file, caption] : info.images) md << "\n## " << caption << "\n\n![" << caption << "](" << file << ")\n";
  md << "\n## Per fold\n\n| fold | n | accuracy | UF1 | UAR |\n|---|---|---|---|---|\n";
  for (const auto& f : s.folds)
    md << "| " << f.fold << " | " << f.n << " | " << fmt(f.accuracy, 3) << " | " << fmt(f.uf1, 3) << " | "
       << fmt(f.uar, 3) << " |\n";
  md << "\n## Per subject\n\nEach subject's test predictions, whichever folds they came from; UF1 over the classes the "
        "subject shows.\n\n| subject | n | accuracy | UF1 |\n|---|---|---|---|\n";
  for (const auto& f : s.subjects)
    md << "| " << f.fold << " | " << f.n << " | " << fmt(f.accuracy, 3) << " | " << fmt(f.uf1, 3) << " |\n";
  md << "\n## Skipped samples\n\n";
  if (info.skipped.empty()) {
    md << "None.\n";
  } else {
    md << info.skipped.size() << " samples were left out (also in skipped.csv):\n\n| sample | stage | reason |\n|---|---|---|\n";
    for (const auto& k : info.skipped) md << "| " << k.sample_id << " | " << k.stage << " | " << k.reason << " |\n";
  }
  return md.str();
}

std::string skipped_to_csv(const std::vector<SkipRecord>& skipped) {
  std::string out = "sample_id,stage,reason\n";
  for (const auto& s : skipped) out += csv_escape(s.sample_id) + "," + csv_escape(s.stage) + "," + csv_escape(s.reason) + "\n";
  return out;
}

}  // namespace mer
