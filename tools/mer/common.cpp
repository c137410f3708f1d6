#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/core/log.hpp>
#include <mer/io/run_dir.hpp>
#include <mer/train/experiment.hpp>

#include <mer/core/error.hpp>
#include <mer/core/progress.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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

namespace {

// Folds trained by worker processes, each `mer train --shard i/n` into the same run folder (so a worker's
// fold is exactly a one-process run of that fold at the worker's thread count; LibTorch's random
// generator is per process, which threads could not give). The parent has filled the feature cache, so
// the workers only load it; it shows one progress bar over all folds and fails with the first worker
// error, stopping the others.
void train_with_workers(const Experiment& experiment, const RunDir& run_dir, const RunContext& ctx, int workers,
                        int folds) {
  namespace fs = std::filesystem;
  const int threads = std::max(1, ctx.threads / workers);
  logger()->info("{} folds on {} worker processes of {} thread(s) each (runtime.workers)", folds, workers, threads);
  fs::create_directories(run_dir.path() / "workers");
  const auto count_done = [&] {
    std::size_t n = 0;
    if (fs::is_directory(run_dir.path() / "folds"))
      for (const auto& e : fs::directory_iterator(run_dir.path() / "folds")) n += e.path().extension() == ".csv";
    return n;
  };
  // Workers run this very binary: spawned through /proc/self/exe, which names the running image even when
  // the file has since been rebuilt or deleted, so a run never mixes two versions of mer (argv[0] keeps the
  // readable path).
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const char* self = "/proc/self/exe";
  std::vector<pid_t> pids;
  std::vector<fs::path> logs;
  for (int i = 1; i <= workers; ++i) {
    logs.push_back(run_dir.path() / "workers" / ("worker-" + std::to_string(i) + ".log"));
    std::vector<std::string> args = {exe, "--log-level", "warn", "train", "--config", run_dir.file("config.resolved.yaml").string(),
                                     "--shard", std::to_string(i) + "/" + std::to_string(workers), "--run-dir",
                                     run_dir.path().string(), "--set", "runtime.workers=1", "--set",
                                     "runtime.threads=" + std::to_string(threads), "--set", "runtime.progress=none"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, logs.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // The worker learns its parent's pid, so it can end itself when the parent dies (see worker_guard).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "MER_WORKER_PARENT=", 18) != 0) env_strings.emplace_back(*e);
    env_strings.push_back("MER_WORKER_PARENT=" + std::to_string(getpid()));
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, self, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      for (const pid_t p : pids) kill(p, SIGTERM);
      throw IoError("cannot start worker process " + exe + ": " + std::strerror(rc));
    }
    pids.push_back(pid);
  }
  const std::size_t before = count_done();
  Progress progress("folds", static_cast<std::size_t>(folds), ctx.progress);
  progress.tick(before);
  std::size_t shown = before;
  std::vector<bool> running(pids.size(), true);
  int left = workers;
  std::string failure;
  int failure_code = 0;
  while (left > 0) {
    for (std::size_t k = 0; k < pids.size(); ++k) {
      if (!running[k]) continue;
      int status = 0;
      if (waitpid(pids[k], &status, WNOHANG) != pids[k]) continue;
      running[k] = false;
      --left;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      if (code != 0 && failure.empty()) {
        // The worker's own one-line error, as the user would have seen it.
        std::string line, last = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status)) : "no message";
        std::ifstream in(logs[k]);
        while (std::getline(in, line))
          if (line.rfind("mer: ", 0) == 0) last = line.substr(5);
        failure = "worker " + std::to_string(k + 1) + "/" + std::to_string(workers) + " failed: " + last + " (log: " + logs[k].string() + ")";
        failure_code = code;
        for (std::size_t j = 0; j < pids.size(); ++j)
          if (running[j]) kill(pids[j], SIGTERM);
      }
    }
    const auto done = count_done();
    if (done > shown) progress.tick(done - shown), shown = done;
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  progress.finish();
  if (before > 0 && failure.empty())
    logger()->info("resumed: {} folds were already done, {} run now", before, static_cast<std::size_t>(folds) - before);
  if (!failure.empty()) {
    if (failure_code == 3) throw DataError(failure);
    if (failure_code == 2) throw ConfigError(failure);
    if (failure_code == 4) throw IoError(failure);
    throw InternalError(failure);
  }
}

}  // namespace

void worker_guard() {
  // A fold worker dies with the `mer train` that started it, however that ends (Ctrl-C, kill -9): orphans
  // would go on training and hold their shard locks, so a resumed run could not take those folds.
  const char* parent = std::getenv("MER_WORKER_PARENT");
  if (!parent) return;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (std::to_string(getppid()) != parent) _exit(1);  // the parent died before the guard was set
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
  auto run_options = options;
  if (!options.shard && !options.merge && options.max_folds == 0 && experiment.runtime().workers != 1 &&
      experiment.runtime().device == "cpu") {
    RunOptions prepare;
    prepare.prepare_only = true;
    const auto prepared = experiment.run(run_dir, run_ctx, prepare);
    // Without a cache every worker would preprocess the whole dataset again.
    const int workers = run_ctx.cache_dir.empty() ? 1 : experiment.runtime().resolved_workers(prepared.folds_total);
    if (workers > 1) {
      train_with_workers(experiment, run_dir, run_ctx, workers, prepared.folds_total);
      run_options.merge = true;
    }
  }
  const auto result = experiment.run(run_dir, run_ctx, run_options);
  if (result.folds_resumed > 0 && !run_options.merge)
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
