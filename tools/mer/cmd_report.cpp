#include "commands.hpp"
#include "html_report.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/eval/compare.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/bar_chart.hpp>
#include <mer/viz/curves_plot.hpp>

#include <cstdio>
#include <set>

namespace mer::cli {
namespace fs = std::filesystem;

namespace {

// Shards that ran in folders of their own: their finished folds are gathered into `out` (which may be one
// of them). Every shard must hold a run of the same resolved config, and a fold two shards both finished
// must have the same predictions.
void gather_shards(const std::vector<std::string>& shards, const fs::path& out) {
  const auto first = fs::path(shards.front()) / "config.resolved.yaml";
  MER_CHECK(fs::exists(first), DataError, "shard folder '", shards.front(), "' has no config.resolved.yaml: not a libmer run");
  const auto config = read_file(first);
  fs::create_directories(out / "folds");
  for (const auto& shard : shards) {
    const fs::path dir(shard);
    MER_CHECK(fs::is_directory(dir), IoError, "shard folder '", shard, "' does not exist");
    MER_CHECK(fs::exists(dir / "config.resolved.yaml"), DataError, "shard folder '", shard,
              "' has no config.resolved.yaml: not a libmer run");
    MER_CHECK(same_experiment(read_file(dir / "config.resolved.yaml"), config), ConfigError, "shard folder '", shard,
              "' holds a run of a different config than '", shards.front(),
              "' (config.resolved.yaml differs): shards of different experiments cannot be merged");
    if (fs::equivalent(dir, out) || !fs::is_directory(dir / "folds")) continue;
    for (const auto& e : fs::directory_iterator(dir / "folds")) {
      if (!e.is_regular_file() || e.path().filename().string().rfind(".tmp", 0) == 0) continue;
      const auto target = out / "folds" / e.path().filename();
      const auto content = read_file(e.path());
      if (fs::exists(target)) {
        // Checkpoints embed nothing time-dependent, but compare predictions only: they are what is merged.
        MER_CHECK(e.path().extension() != ".csv" || read_file(target) == content, DataError, "fold file '",
                  e.path().filename().string(), "' differs between '", shard, "' and '", out.string(),
                  "': the shards did not run the same experiment");
        continue;
      }
      write_file_atomic(target, content);
    }
  }
  write_file_atomic(out / "config.resolved.yaml", config);
}

void merge(const std::string& run, const std::vector<std::string>& shards, bool fit_all) {
  const fs::path out(run);
  if (!shards.empty()) gather_shards(shards, out);
  MER_CHECK(fs::exists(out / "config.resolved.yaml"), DataError, "run folder '", run,
            "' has no config.resolved.yaml: nothing to merge");
  const auto experiment = Experiment::from_config(Config::load(out / "config.resolved.yaml"));
  auto ctx = experiment.runtime().context();
  ctx.run_dir = out;
  RunOptions options;
  options.merge = true;
  options.fit_all = fit_all;
  const auto result = experiment.run(RunDir::at(out), ctx, options);
  print_scores(result.scores, result.run_dir);
}

void compare(const std::vector<std::string>& runs, const std::string& out, const std::string& metric) {
  std::vector<fs::path> dirs(runs.begin(), runs.end());
  const auto c = compare_runs(dirs, metric);
  std::string chart;
  if (!out.empty()) {
    fs::create_directories(out);
    // UF1, UAR, accuracy pooled, then each source's UF1 for composites.
    std::vector<std::string> groups = {"UF1", "UAR", "accuracy"};
    std::set<std::string> sources;
    for (const auto& r : c.runs)
      for (const auto& [s, v] : r.scores.per_source) sources.insert(s);
    for (const auto& s : sources) groups.push_back("UF1 " + s);
    std::vector<BarSeries> series;
    for (const auto& r : c.runs) {
      BarSeries b{r.label, {r.scores.uf1, r.scores.uar, r.scores.accuracy}, {r.uf1_std.value_or(0), r.uar_std.value_or(0), 0}};
      for (const auto& s : sources) {
        const auto it = r.scores.per_source.find(s);
        b.values.push_back(it == r.scores.per_source.end() ? std::nullopt : it->second.uf1);
        b.errors.push_back(0);
      }
      series.push_back(std::move(b));
    }
    chart = "compare.png";
    write_bar_chart_png(fs::path(out) / chart, groups, series, "pooled scores (whiskers: sd over repeats)");
  }
  const auto md = comparison_markdown(c, chart);
  if (!out.empty()) {
    write_file_atomic(fs::path(out) / "compare.md", md);
    logger()->info("comparison written to {}", (fs::path(out) / "compare.md").string());
  }
  std::fputs(md.c_str(), stdout);
}

void html(const std::string& run, const std::string& out_arg) {
  const fs::path dir(run);
  MER_CHECK(fs::is_directory(dir), IoError, "run folder '", run, "' does not exist");
  const auto md = fs::exists(dir / "summary.md") ? dir / "summary.md" : dir / "compare.md";
  MER_CHECK(fs::exists(md), DataError, "'", run,
            "' has no summary.md (a finished run) or compare.md (`mer report compare --out`): nothing to render");
  const fs::path out = out_arg.empty() ? dir / "report.html" : fs::path(out_arg);
  const auto title = fs::absolute(dir).lexically_normal().filename().string();
  write_file_atomic(out, render_html_report(md, title.empty() ? "libmer report" : title));
  std::printf("%s\n", out.string().c_str());
}

void curves(const std::string& run, const std::string& out_arg, bool per_fold) {
  const fs::path dir(run);
  MER_CHECK(fs::is_directory(dir), IoError, "run folder '", run, "' does not exist");
  const auto folds = read_fold_curves(dir);
  MER_CHECK(!folds.empty(), DataError, "run folder '", run, "' has no fold histories (folds/*.json)");
  const fs::path out = out_arg.empty() ? dir / (per_fold ? "learning_curves_per_fold.png" : "learning_curves.png") : fs::path(out_arg);
  write_learning_curves_png(out, folds, fs::absolute(dir).lexically_normal().filename().string() + ": " +
                                            std::to_string(folds.size()) + " folds", per_fold);
  std::printf("%s\n", out.string().c_str());
}

}  // namespace

void add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Reports over finished runs: merge shards, compare runs, HTML pages, learning curves");
  cmd->require_subcommand(1);

  auto* m = cmd->add_subcommand("merge", "Write the pooled report of a run whose folds were trained by `mer train --shard`");
  auto run = std::make_shared<std::string>();
  auto shards = std::make_shared<std::vector<std::string>>();
  auto fit_all = std::make_shared<bool>(false);
  m->add_option("run", *run, "The run folder (the shards' shared --run-dir, or where to gather --from shards)")->required();
  m->add_option("--from", *shards, "Shard run folders to gather first, when the shards did not share one folder");
  m->add_flag("--fit-all", *fit_all, "Then train one model on every sample (fit_all.pt), as `mer train --fit-all`");
  m->callback([run, shards, fit_all] { merge(*run, *shards, *fit_all); });

  auto* c = cmd->add_subcommand("compare", "Compare finished runs: scores side by side, config differences, paired test");
  auto runs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto metric = std::make_shared<std::string>("uf1");
  c->add_option("runs", *runs, "Run folders; the first is the baseline of the paired tests")->required()->expected(2, -1);
  c->add_option("-o,--out", *out, "Folder for compare.md and compare.png (default: Markdown to stdout only)");
  c->add_option("--metric", *metric, "Per-subject score of the paired Wilcoxon test: uf1 or accuracy")->capture_default_str();
  c->callback([runs, out, metric] { compare(*runs, *out, *metric); });

  auto* h = cmd->add_subcommand("html", "One self-contained HTML page (images inlined) of a run's or a comparison's report");
  auto hrun = std::make_shared<std::string>();
  auto hout = std::make_shared<std::string>();
  h->add_option("run", *hrun, "Run folder (or a `mer report compare --out` folder)")->required();
  h->add_option("-o,--out", *hout, "HTML file (default: RUN/report.html)");
  h->callback([hrun, hout] { html(*hrun, *hout); });

  auto* lc = cmd->add_subcommand("curves", "Learning curves of a run's folds (mean with a band, or every fold)");
  auto crun = std::make_shared<std::string>();
  auto cout_ = std::make_shared<std::string>();
  auto per_fold = std::make_shared<bool>(false);
  lc->add_option("run", *crun, "Run folder")->required();
  lc->add_flag("--per-fold", *per_fold, "Draw every fold's curve instead of the min-max band");
  lc->add_option("-o,--out", *cout_, "PNG file (default: RUN/learning_curves_per_fold.png with --per-fold)");
  lc->callback([crun, cout_, per_fold] { curves(*crun, *cout_, *per_fold); });
}

}  // namespace mer::cli
