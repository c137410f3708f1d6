#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/core/run_context.hpp>
#include <mer/data/dataset.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/preprocess/apex_report.hpp>

#include <cstdio>

namespace mer::cli {

void add_spot(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "spot", "Spot the apex of every annotated clip of a config's dataset and compare it with the annotation "
              "(writes apex_spotting.csv)");
  struct Args {
    std::string config;
    std::vector<std::string> set;
    std::string method = "frame_difference";
    std::string region = "frame";
    int width = 64;
    int threads = 0;
    std::string out = ".";
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("-c,--config", args->config, "Config whose dataset: section is used (other sections are ignored)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->set, "Override a config value: key.path=value (YAML value; repeatable)");
  cmd->add_option("--method", args->method, "frame_difference | flow_magnitude | frequency | feature_difference")
      ->check(CLI::IsMember({"frame_difference", "flow_magnitude", "frequency", "feature_difference"}))
      ->capture_default_str();
  cmd->add_option("--region", args->region, "frame (whole frames) | face (dlib HOG face box of the onset)")
      ->check(CLI::IsMember({"frame", "face"}))
      ->capture_default_str();
  cmd->add_option("--width", args->width, "Frames are compared at this width in pixels")
      ->check(CLI::Range(8, 4096))
      ->capture_default_str();
  cmd->add_option("-j,--threads", args->threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_option("--out", args->out, "Output folder (created if needed)")->capture_default_str();
  cmd->callback([args] {
    // Only the dataset section matters, as for `mer data`; a typo inside it is still an error.
    const auto config = Config::load(args->config, args->set);
    const auto root = config.root();
    if (!root.has("dataset"))
      throw ConfigError(args->config + ": no 'dataset:' section; mer spot reads the dataset from it");
    const auto dataset = builtin_datasets().build(root.child("dataset"));
    std::vector<std::string> others;
    for (const auto& key : root.keys())
      if (key != "dataset") others.push_back(key);
    config.check_all_used(others);

    ApexReportOptions options;
    options.spot.method = args->method;
    options.region = args->region;
    options.width = args->width;
    RunContext ctx;
    ctx.threads = RunContext::resolve_threads(args->threads);
    const auto report = spot_annotated_apexes(dataset->samples(), options, ctx);
    const auto path = std::filesystem::path(args->out) / "apex_spotting.csv";
    write_file_atomic(path, apex_report_csv(report));
    std::fputs(apex_report_text(report, args->method).c_str(), stdout);
    std::printf("wrote %s\n", path.string().c_str());
  });
}

}  // namespace mer::cli
