#include "commands.hpp"
#include "preprocess_setup.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/check.hpp>
#include <mer/data/dataset.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/viz/class_subject_plot.hpp>

#include <mer/core/progress.hpp>
#include <mer/preprocess/stage.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

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

// --faces: the config's preprocessing up to and including detect_face on every sample, with the detector
// chain and no_face policy it configures: which detector finds each face, and which samples get none,
// before a long run finds out.
void check_faces(const DataArgs& args, bool json, const std::string& progress_style) {
  ConfigArgs cargs;
  cargs.config = args.config;
  cargs.set = args.set;
  const auto setup = load_preprocess_setup(cargs, true);
  const auto& stages = setup.pipeline->stages();
  const auto face_stage = std::find_if(stages.begin(), stages.end(), [](const auto& st) { return st->type() == "detect_face"; });
  MER_CHECK(face_stage != stages.end(), ConfigError, args.config, ": the preprocessing has no detect_face stage; --faces checks it");
  const auto& samples = setup.dataset->samples();
  std::vector<std::string> served(samples.size());
  std::atomic<std::size_t> next{0};
  Progress progress("faces", samples.size(), parse_progress_style(progress_style));
  const auto work = [&] {
    for (std::size_t i = next++; i < samples.size(); i = next++) {
      Item item;
      try {
        for (auto it = stages.begin(); it != std::next(face_stage); ++it) (*it)->apply(samples[i], item);
        served[i] = item.notes.count("face_detector") ? item.notes.at("face_detector") : "?";
      } catch (const SkipSample& e) {
        served[i] = std::string("skipped: ") + e.what();  // what no_face: skip asks for; not a failure
      } catch (const Error& e) {
        served[i] = std::string("none: ") + e.what();
      }
      progress.tick();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < setup.runtime.context().threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  progress.finish();
  // The configured detector; every sample another one served is listed.
  std::string primary = "hog";
  for (const auto& node : setup.config.root().child("preprocess").items("stages"))
    if (node.get<std::string>("type", "") == "detect_face") primary = node.get<std::string>("detector", "hog");
  std::map<std::string, int> counts;
  for (const auto& s : served)
    ++counts[s.rfind("none:", 0) == 0      ? "none"
             : s.rfind("skipped:", 0) == 0 ? "skipped (no_face: skip)"
                                           : s.substr(0, s.find('@')) + (s.find('@') == std::string::npos ? "" : " (nearest frame)")];
  if (json) {
    nlohmann::json j;
    for (const auto& [k, v] : counts) j["counts"][k] = v;
    for (std::size_t i = 0; i < samples.size(); ++i) j["samples"][samples[i].id] = served[i];
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("faces in %zu samples of %s:\n", samples.size(), setup.dataset->name().c_str());
    for (const auto& [k, v] : counts) std::printf("  %-28s %5d\n", k.c_str(), v);
    for (std::size_t i = 0; i < samples.size(); ++i)
      if (served[i] != primary)
        std::printf("  %-32s %s\n", samples[i].id.c_str(), served[i].c_str());
  }
  std::fflush(stdout);
  if (counts.count("none"))
    throw DataError(detail::concat(counts.at("none"), " sample(s) get no face with this preprocessing (listed above); "
                                   "add fallbacks or a no_face policy to detect_face"));
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
  auto faces = std::make_shared<bool>(false);
  check->add_flag("--faces", *faces,
                  "Also run the config's preprocessing up to detect_face on every sample: which detector finds each "
                  "face, and which samples get none (exit 3)");
  check->callback([check_args, json, progress, faces] {
    if (*faces) {
      check_faces(*check_args, *json, *progress);
      return;
    }
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
