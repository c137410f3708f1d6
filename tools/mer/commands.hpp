#pragma once
// Each command adds itself to the app; the library does the work. Shared bits live in common.cpp.
#include <mer/eval/report.hpp>
#include <mer/train/experiment.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer::cli {

void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_synth(CLI::App& app);
void add_data(CLI::App& app);
void add_spot(CLI::App& app);
void add_config(CLI::App& app);
void add_list(CLI::App& app);
void add_model(CLI::App& app);
void add_version(CLI::App& app);
void add_preprocess(CLI::App& app);
void add_cache(CLI::App& app);
void add_bench(CLI::App& app);
void add_report(CLI::App& app);
void add_predict(CLI::App& app);
void add_export(CLI::App& app);

/// Options shared by commands that load an experiment config.
struct ConfigArgs {
  std::string config;
  std::vector<std::string> set;
  int threads = -1;  // -1: keep the config's runtime.threads
  void add_to(CLI::App& cmd);
  /// --set entries plus the flags that are shortcuts for them.
  std::vector<std::string> overrides() const;
};

/// Loads the config, builds and runs the experiment in `run_dir` (or a new timestamped folder), prints
/// the headline results.
void run_experiment(const ConfigArgs& args, std::vector<std::string> extra_overrides, const std::string& run_dir,
                    const RunOptions& options = {});
/// In a fold worker started by `mer train` (runtime.workers): die with the parent. A no-op otherwise.
void worker_guard();
/// Prints the headline numbers of a scored run to stdout.
void print_scores(const RunScores& scores, const std::filesystem::path& run_dir);

}  // namespace mer::cli
