#include "commands.hpp"

#include <mer/eval/megc_log.hpp>
#include <mer/train/experiment.hpp>

namespace mer::cli {

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a config under a protocol (--config, --protocol), or re-score a finished run (--run)");
  auto args = std::make_shared<ConfigArgs>();
  auto protocol = std::make_shared<std::string>("loso");
  auto run = std::make_shared<std::string>();
  auto run_dir = std::make_shared<std::string>();
  auto* config = cmd->add_option("-c,--config", args->config, "Experiment config (YAML)")->check(CLI::ExistingFile);
  cmd->add_option("--set", args->set, "Override a config value: key.path=value (repeatable)");
  cmd->add_option("-j,--threads", args->threads, "Worker threads (0: all cores)");
  cmd->add_option("--protocol", *protocol, "Evaluation protocol: loso, lovo, kfold, lodo or holdout (their options under protocol: in the config)")
      ->capture_default_str();
  cmd->add_option("--run-dir", *run_dir, "Run folder for a new evaluation (default: timestamped)");
  auto* rerun = cmd->add_option("--run", *run, "Re-score the predictions of this finished run folder");
  auto megc = std::make_shared<std::string>();
  auto* log = cmd->add_option("--megc-log", *megc,
                              "Score a MEGC2019 prediction log (per subject '<db> <subject>', then '<file> <truth> "
                              "<prediction>'), pooled and per database");
  config->excludes(rerun);
  log->excludes(config);
  log->excludes(rerun);
  cmd->callback([args, protocol, run, run_dir, megc] {
    if (!megc->empty()) {
      print_scores(score_megc_log(*megc), *megc);
      return;
    }
    if (!run->empty()) {
      print_scores(rescore_run(*run), *run);
      return;
    }
    if (args->config.empty()) throw CLI::RequiredError("--config or --run");
    run_experiment(*args, {"protocol.type=" + *protocol}, *run_dir);
  });
}

}  // namespace mer::cli
