// mer bench preprocess: where preprocessing time goes, per stage, at one thread and at all threads.
// A measurement, not a test: the cache is bypassed so every sample is computed.
#include "preprocess_setup.hpp"

#include <mer/core/error.hpp>
#include <mer/core/run_context.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

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
}

}  // namespace mer::cli
