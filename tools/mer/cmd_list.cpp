#include "commands.hpp"

#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/eval/folds.hpp>
#include <mer/models/model.hpp>
#include <mer/models/stages.hpp>
#include <mer/preprocess/stage.hpp>

#include <cstdio>

namespace mer::cli {

namespace {
template <class R>
void print_registry(const R& registry) {
  for (const auto& n : registry.names()) std::printf("%-14s %s\n", n.c_str(), registry.help(n).c_str());
}
}  // namespace

void add_list(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "List what is registered: models, stages, datasets, protocols, metrics");
  auto which = std::make_shared<std::string>();
  cmd->add_option("registry", *which, "models | stages | datasets | protocols | metrics")
      ->required()
      ->check(CLI::IsMember({"models", "stages", "datasets", "protocols", "metrics"}));
  cmd->callback([which] {
    if (*which == "models") {
      // Parameter counts are computed by building each model at its reference input (3 classes).
      std::printf("%-16s %-14s %-26s %13s  %s\n", "model", "family", "reference input", "parameters", "description");
      for (const auto& n : builtin_models().names()) {
        const auto& info = builtin_model_info(n);
        // A model without a reference configuration (torchscript: the user's file) has no count to show.
        const auto params = info.config.empty() ? std::string("-") : std::to_string(reference_parameters(n));
        std::printf("%-16s %-14s %-26s %13s  %s\n", n.c_str(), info.family.c_str(),
                    info.config.empty() ? "(its own)" : info.spec.describe_inputs().c_str(), params.c_str(),
                    builtin_models().help(n).c_str());
      }
    }
    else if (*which == "stages") print_registry(all_stages());
    else if (*which == "datasets") print_registry(builtin_datasets());
    else if (*which == "protocols") print_registry(builtin_protocols());
    else {
      std::puts("accuracy       fraction correct, pooled over folds");
      std::puts("uf1            unweighted F1: mean over classes of F1 from TP/FP/FN summed over folds (MEGC2019)");
      std::puts("uar            unweighted average recall: mean over classes of TP/N pooled over folds (MEGC2019)");
      std::puts("f1_per_class   per-class F1, pooled");
      std::puts("fold_mean      the same metrics averaged over per-fold scores (for comparison; not MEGC2019)");
    }
  });
}

}  // namespace mer::cli
