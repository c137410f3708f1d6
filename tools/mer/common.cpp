#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/core/log.hpp>
#include <mer/io/run_dir.hpp>
#include <mer/train/experiment.hpp>

#include <cstdio>

namespace mer::cli {

void ConfigArgs::add_to(CLI::App& cmd) {
  cmd.add_option("-c,--config", config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  cmd.add_option("--set", set, "Override a config value: key.path=value (YAML value; repeatable)");
  cmd.add_option("-j,--threads", threads, "Worker threads for preprocessing and LibTorch (0: all cores)");
}

std::vector<std::string> ConfigArgs::overrides() const {
  auto out = set;
  if (threads >= 0) out.push_back("runtime.threads=" + std::to_string(threads));
  return out;
}

namespace {
std::string f3(const std::optional<double>& v) {
  if (!v) return "n/a";
  char b[16];
  std::snprintf(b, sizeof b, "%.3f", *v);
  return b;
}
}  // namespace

void print_scores(const RunScores& s, const std::filesystem::path& run_dir) {
  for (const auto& n : s.notes) std::printf("NOTE: %s\n", n.c_str());
  std::printf("UF1 %s  UAR %s  accuracy %s   (pooled over %zu folds, %lld test samples)\n", f3(s.uf1).c_str(),
              f3(s.uar).c_str(), f3(s.accuracy).c_str(), s.folds.size(), static_cast<long long>(s.n_samples));
  std::printf("mean of per-fold scores: UF1 %s  UAR %s  accuracy %s\n", f3(s.uf1_fold_mean).c_str(),
              f3(s.uar_fold_mean).c_str(), f3(s.accuracy_fold_mean).c_str());
  for (const auto& [source, src] : s.per_source)
    std::printf("  %-12s UF1 %s  UAR %s  accuracy %s   (%lld test samples)\n", source.c_str(), f3(src.uf1).c_str(),
                f3(src.uar).c_str(), f3(src.accuracy).c_str(), static_cast<long long>(src.n));
  std::printf("%-14s %8s %9s %7s %7s\n", "class", "support", "precision", "recall", "F1");
  for (std::size_t c = 0; c < s.classes.size(); ++c) {
    const auto& pc = s.per_class[c];
    std::printf("%-14s %8lld %9s %7s %7s\n", s.classes[c].c_str(), static_cast<long long>(pc.support),
                f3(pc.precision).c_str(), f3(pc.recall).c_str(), f3(pc.f1).c_str());
  }
  if (std::filesystem::is_directory(run_dir))
    std::printf("report: %s  (summary.md, metrics.json, confusion.png, predictions.csv)\n", run_dir.string().c_str());
}

void run_experiment(const ConfigArgs& args, std::vector<std::string> extra, const std::string& run_dir_arg,
                    const RunOptions& options) {
  auto overrides = args.overrides();
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  const auto config = Config::load(args.config, overrides);
  const auto experiment = Experiment::from_config(config);
  const auto ctx = experiment.runtime().context();
  const auto run_dir = run_dir_arg.empty() ? RunDir::create_timestamped(experiment.runtime().runs_dir, experiment.name())
                                           : RunDir::at(run_dir_arg);
  logger()->info("run folder: {}", run_dir.path().string());
  auto run_ctx = ctx;
  run_ctx.run_dir = run_dir.path();
  const auto result = experiment.run(run_dir, run_ctx, options);
  if (result.folds_resumed > 0)
    logger()->info("resumed: {} folds were already done, {} run now", result.folds_resumed, result.folds_run);
  if (!result.complete) {
    std::printf("%d folds trained; %d of %d folds still to come from other shards. Then: mer report merge %s\n",
                result.folds_run, result.folds_missing, result.folds_total, run_dir.path().string().c_str());
    return;
  }
  print_scores(result.scores, result.run_dir);
  if (result.optimistic) {
    std::printf("\n");
    print_scores(*result.optimistic, {});
  }
}

}  // namespace mer::cli
