// mer bench preprocess: where preprocessing time goes, per stage, at one thread and at all threads (the
// cache is bypassed so every sample is computed). mer bench train: seconds per fold and how close training
// comes to the machine's measured GEMM peak. Measurements, not tests.
#include "preprocess_setup.hpp"

#include <mer/core/error.hpp>
#include <mer/core/run_context.hpp>
#include <mer/io/run_dir.hpp>
#include <mer/train/experiment.hpp>
#include <mer/train/trainer.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include <unistd.h>

namespace mer::cli {

namespace {

struct BenchArgs {
  ConfigArgs config;
  int samples = 8;
};

PipelineStats timed_run(const PreprocessSetup& setup, const std::vector<SampleMeta>& samples, int threads) {
  auto ctx = setup.runtime.context();
  ctx.cache_dir.clear();
  ctx.threads = threads;
  ctx.progress = ProgressStyle::None;
  PipelineStats stats;
  setup.pipeline->run(samples, ctx, &stats);
  return stats;
}

void bench_preprocess(const BenchArgs& a) {
  // --threads picks the "many" run; the config's runtime.threads is ignored (the point is the comparison).
  const int many = RunContext::resolve_threads(a.config.threads > 0 ? a.config.threads : 0);
  auto args = a.config;
  args.threads = -1;
  const auto setup = load_preprocess_setup(args, true);
  const auto& all = setup.dataset->samples();
  MER_CHECK(!all.empty(), DataError, "bench: the dataset ", setup.dataset->name(), " has no samples");
  const auto n = std::min(static_cast<std::size_t>(a.samples), all.size());
  const std::vector<SampleMeta> samples(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
  std::printf("bench preprocess: %zu sample(s) of %s, pipeline %s, %u hardware thread(s), no cache\n", samples.size(),
              setup.dataset->name().c_str(), setup.pipeline->fingerprint().c_str(),
              std::thread::hardware_concurrency());
  std::fflush(stdout);
  const auto one = timed_run(setup, samples, 1);
  const auto par = timed_run(setup, samples, many);
  const std::string h1 = "1 thread", hn = std::to_string(many) + " threads";
  std::printf("%-16s %18s %18s\n", "stage (ms/sample)", h1.c_str(), hn.c_str());
  double sum1 = 0, sumn = 0;
  for (std::size_t i = 0; i < one.stages.size(); ++i) {
    sum1 += one.stage_ms_per_sample(i);
    sumn += par.stage_ms_per_sample(i);
    std::printf("%-16s %18.1f %18.1f\n", one.stages[i].c_str(), one.stage_ms_per_sample(i), par.stage_ms_per_sample(i));
  }
  std::printf("%-16s %18.1f %18.1f\n", "all stages", sum1, sumn);
  const auto rate = [](const PipelineStats& s) {
    return s.wall_seconds > 0 ? static_cast<double>(s.computed) / s.wall_seconds : 0.0;
  };
  std::printf("%-16s %18.2f %18.2f\n", "samples/s", rate(one), rate(par));
  std::printf("%-16s %18.2f %18.2f\n", "wall s", one.wall_seconds, par.wall_seconds);
  if (one.skipped + par.skipped > 0) std::printf("(%zu sample(s) skipped per run)\n", one.skipped);
  std::printf("per-stage times are thread time per computed sample; with more threads than cores they grow\n");
}

struct TrainBenchArgs {
  ConfigArgs config;
  int folds = 4;
  std::string run_dir;
};

void bench_train(const TrainBenchArgs& a) {
  const auto config = Config::load(a.config.config, a.config.overrides());
  const auto experiment = Experiment::from_config(config);
  auto ctx = experiment.runtime().context();
  // A scratch run folder: the folds' files are written as in a real run (that cost is part of a fold).
  const auto dir = a.run_dir.empty() ? std::filesystem::temp_directory_path() / ("mer-bench-" + std::to_string(::getpid()))
                                     : std::filesystem::path(a.run_dir);
  std::filesystem::remove_all(dir);
  ctx.run_dir = dir;
  const double peak = measure_gemm_gflops(ctx.threads);
  RunOptions options;
  options.max_folds = a.folds;
  const auto r = experiment.run(RunDir::at(dir), ctx, options);
  if (a.run_dir.empty()) std::filesystem::remove_all(dir);
  MER_CHECK(!r.fold_timings.empty(), DataError, "bench train: no fold was trained");
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double train_flops = 3.0 * r.forward_flops_per_sample;  // forward + backward (~2x forward)
  std::printf("bench train: %s (%lld parameters), %d thread(s), %zu fold(s) of %d; preprocessing %.1f s (cache: %s)\n",
              r.model_type.c_str(), static_cast<long long>(r.parameters), ctx.threads, r.fold_timings.size(),
              r.folds_total, r.preprocess_seconds, ctx.cache_dir.empty() ? "off" : ctx.cache_dir.string().c_str());
  std::printf("forward %.3f MFLOP/sample (conv + matmul), training step ~%.3f MFLOP/sample; GEMM peak %.1f GFLOP/s\n",
              r.forward_flops_per_sample / 1e6, train_flops / 1e6, peak);
  std::printf("%-24s %8s %8s %7s %10s %9s %9s %7s\n", "fold", "seconds", "samples", "epochs", "samples/s", "steps/s",
              "GFLOP/s", "% peak");
  double total_s = 0, total_samples = 0, total_steps = 0;
  for (const auto& t : r.fold_timings) {
    const double seen = static_cast<double>(t.train_samples) * t.epochs;
    const double gflops = train_flops * seen / t.seconds / 1e9;
    std::printf("%-24s %8.2f %8zu %7d %10.0f %9.1f %9.2f %6.1f%%\n", t.fold.c_str(), t.seconds, t.train_samples, t.epochs,
                seen / t.seconds, static_cast<double>(t.steps) / t.seconds, gflops, 100.0 * gflops / peak);
    total_s += t.seconds, total_samples += seen, total_steps += static_cast<double>(t.steps);
  }
  const double gflops = train_flops * total_samples / total_s / 1e9;
  std::printf("%-24s %8.2f %8s %7s %10.0f %9.1f %9.2f %6.1f%%\n", "mean per fold", total_s / static_cast<double>(r.fold_timings.size()),
              "", "", total_samples / total_s, total_steps / total_s, gflops, 100.0 * gflops / peak);
  std::printf("whole protocol at this rate: %.1f min for %d folds; peak resident memory %.0f MiB\n",
              total_s / static_cast<double>(r.fold_timings.size()) * r.folds_total / 60.0, r.folds_total,
              static_cast<double>(usage.ru_maxrss) / 1024.0);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure: where the time goes (not a test)");
  cmd->require_subcommand(1);
  auto* pre = cmd->add_subcommand(
      "preprocess", "Run a config's pipeline on the first N samples without the cache, at 1 thread and at all "
                    "threads (or --threads); print ms/sample per stage and samples/s");
  auto a = std::make_shared<BenchArgs>();
  a->config.add_to(*pre);
  pre->add_option("--samples", a->samples, "How many samples (the dataset's first)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  pre->callback([a] { bench_preprocess(*a); });

  auto* tr = cmd->add_subcommand(
      "train", "Train a config's first N folds as a run would; print seconds per fold, samples/s, steps/s and "
               "GFLOP/s against the machine's measured GEMM peak, and peak memory");
  auto t = std::make_shared<TrainBenchArgs>();
  t->config.add_to(*tr);
  tr->add_option("--folds", t->folds, "How many folds (the protocol's first)")->check(CLI::PositiveNumber)->capture_default_str();
  tr->add_option("--run-dir", t->run_dir, "Keep the folds' files here (default: a temporary folder, removed)");
  tr->callback([t] { bench_train(*t); });
}

}  // namespace mer::cli
