#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/check.hpp>
#include <mer/data/dataset.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/class_subject_plot.hpp>

#include <cstdio>

namespace mer::cli {

namespace {

struct DataArgs {
  std::string config;
  std::vector<std::string> set;
  void add_to(CLI::App& cmd) {
    cmd.add_option("-c,--config", config, "Config whose dataset: section is used (other sections are ignored)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd.add_option("--set", set, "Override a config value: key.path=value (YAML value; repeatable)");
  }
};

// Only the dataset section matters here, so an experiment config whose model or schedule is still being
// written can be checked; a typo inside the dataset section is still an error.
std::unique_ptr<Dataset> build_dataset_section(const DataArgs& args) {
  const auto config = Config::load(args.config, args.set);
  const auto root = config.root();
  if (!root.has("dataset"))
    throw ConfigError(args.config + ": no 'dataset:' section; mer data reads the dataset from it");
  auto dataset = builtin_datasets().build(root.child("dataset"));
  std::vector<std::string> others;
  for (const auto& key : root.keys())
    if (key != "dataset") others.push_back(key);
  config.check_all_used(others);
  return dataset;
}

}  // namespace

void add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Inspect the dataset of a config: counts, exclusions, quirks, frames");
  cmd->require_subcommand(1);

  auto* check = cmd->add_subcommand(
      "check", "Count classes and subjects, list exclusions and quirks, and check that every frame is there and the "
               "key frames decode (exit 3 if not)");
  auto check_args = std::make_shared<DataArgs>();
  auto json = std::make_shared<bool>(false);
  auto progress = std::make_shared<std::string>("auto");
  check_args->add_to(*check);
  check->add_flag("--json", *json, "Print one JSON object instead of tables");
  check->add_option("--progress", *progress, "auto | bar | lines | none (on stderr)")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}))
      ->capture_default_str();
  check->callback([check_args, json, progress] {
    const auto dataset = build_dataset_section(*check_args);
    DataCheckOptions options;
    options.progress = parse_progress_style(*progress);
    const auto report = check_dataset(*dataset, options);
    const auto text = *json ? data_report_json(report) : data_report_text(report);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (!report.usable()) {
      const auto& first = report.frame_problems.front();
      throw DataError(detail::concat(report.frame_problems.size(), " frame(s) missing or unreadable (listed in the ",
                                     *json ? "JSON" : "report", "), the first: ", first.problem, " ",
                                     first.path.string(), " of ", first.sample_id));
    }
  });

  auto* stats = cmd->add_subcommand(
      "stats", "Write the class-by-subject table (class_by_subject.csv) and heat map (class_by_subject.png)");
  auto stats_args = std::make_shared<DataArgs>();
  auto out = std::make_shared<std::string>(".");
  stats_args->add_to(*stats);
  stats->add_option("--out", *out, "Output folder (created if needed)")->capture_default_str();
  stats->callback([stats_args, out] {
    const auto dataset = build_dataset_section(*stats_args);
    const auto counts = count_samples(dataset->samples(), dataset->labels().classes());
    const std::filesystem::path dir = *out;
    write_file_atomic(dir / "class_by_subject.csv", class_subject_csv(counts));
    write_class_subject_png(dir / "class_by_subject.png", counts.subjects, counts.classes, counts.by_subject,
                            detail::concat(dataset->name(), ": ", counts.n_samples, " samples, ",
                                           counts.subjects.size(), " subjects"));
    std::printf("%s: %zu samples, %zu subjects, %zu classes; wrote %s and %s\n", dataset->name().c_str(),
                counts.n_samples, counts.subjects.size(), counts.classes.size(),
                (dir / "class_by_subject.csv").string().c_str(), (dir / "class_by_subject.png").string().c_str());
  });
}

}  // namespace mer::cli
