#include "commands.hpp"

#include <mer/core/config.hpp>
#include <mer/train/experiment.hpp>

#include <cstdio>

namespace mer::cli {

void add_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Inspect configs");
  cmd->require_subcommand(1);
  auto* print = cmd->add_subcommand("print", "Print the fully resolved config (bases merged, defaults filled in)");
  auto args = std::make_shared<ConfigArgs>();
  args->add_to(*print);
  print->callback([args] {
    // Building the experiment is what validates every key and fills in every default.
    const auto config = Config::load(args->config, args->overrides());
    const auto experiment = Experiment::from_config(config);
    std::fputs(experiment.resolved_config().c_str(), stdout);
  });
}

}  // namespace mer::cli
