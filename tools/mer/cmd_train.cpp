#include "commands.hpp"

#include <mer/core/error.hpp>

namespace mer::cli {

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Run the configured experiment end to end (protocol from the config)");
  auto args = std::make_shared<ConfigArgs>();
  auto run_dir = std::make_shared<std::string>();
  args->add_to(*cmd);
  cmd->add_option("--run-dir", *run_dir,
                  "Run folder (default: <runtime.runs_dir>/<name>-<timestamp>); an existing one resumes at its "
                  "next unfinished fold");
  auto shard = std::make_shared<std::string>();
  auto fit_all = std::make_shared<bool>(false);
  cmd->add_option("--shard", *shard,
                  "Run only share i of n of the protocol's folds (i/n, e.g. 2/4) into --run-dir, which the other "
                  "shards share; then `mer report merge RUN` (see scripts/slurm/)");
  cmd->add_flag("--fit-all", *fit_all,
                "After the protocol, train one model on every sample (same schedule) and save it as fit_all.pt");
  cmd->callback([args, run_dir, shard, fit_all] {
    RunOptions options;
    if (!shard->empty()) {
      MER_CHECK(!run_dir->empty(), ValueError, "--shard needs --run-dir: the shards of a run share one run folder");
      MER_CHECK(!*fit_all, ValueError, "--fit-all cannot be combined with --shard; give it to `mer report merge`");
      options.shard = RunOptions::Shard::parse(*shard);
    }
    options.fit_all = *fit_all;
    run_experiment(*args, {}, *run_dir, options);
  });
}

}  // namespace mer::cli
