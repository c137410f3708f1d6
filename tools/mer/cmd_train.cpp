#include "commands.hpp"

namespace mer::cli {

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Run the configured experiment end to end (protocol from the config)");
  auto args = std::make_shared<ConfigArgs>();
  auto run_dir = std::make_shared<std::string>();
  args->add_to(*cmd);
  cmd->add_option("--run-dir", *run_dir,
                  "Run folder (default: <runtime.runs_dir>/<name>-<timestamp>); an existing one resumes at its "
                  "next unfinished fold");
  cmd->callback([args, run_dir] {
    run_experiment(*args, {}, *run_dir);
  });
}

}  // namespace mer::cli
