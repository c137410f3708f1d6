#include <mer/data/casme.hpp>
#include <mer/data/casme2.hpp>
#include <mer/data/casme3.hpp>
#include <mer/data/casme_sq.hpp>
#include <mer/data/manifest.hpp>
#include <mer/data/mmew.hpp>
#include <mer/data/dataset.hpp>
#include <mer/data/megc2019.hpp>
#include <mer/data/samm.hpp>
#include <mer/data/smic.hpp>

namespace mer {

void register_builtin_datasets(DatasetRegistry& registry) {
  registry.add(
      "casme2",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<Casme2Dataset>(Casme2Options::from_config(node));
      },
      "CASME II in its native layout (CASME2_RAW_selected or Cropped + the coding table, .xlsx or CSV)");
  registry.add(
      "casme",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<CasmeDataset>(CasmeOptions::from_config(node));
      },
      "CASME (I) in its native layout (Cropped or CASME_raw_selected + the coding sheet)");
  registry.add(
      "casme_sq",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<CasmeSqDataset>(CasmeSqOptions::from_config(node));
      },
      "CAS(ME)^2 in its native layout (rawpic or cropped + CAS(ME)^2code_final.xlsx or its CSV copy)");
  registry.add(
      "casme3",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<Casme3Dataset>(Casme3Options::from_config(node));
      },
      "CAS(ME)^3 Part A in its native layout (spNO.<n>/<task>/color + the label sheet)");
  registry.add(
      "mmew",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<MmewDataset>(MmewOptions::from_config(node));
      },
      "MMEW micro-expressions in their native layout (Micro_Expression/<emotion>/<clip> + MMEW_Micro_Exp.xlsx)");
  registry.add(
      "manifest",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<ManifestDataset>(ManifestOptions::from_config(node));
      },
      "Your own clips from a CSV manifest (frame folders or video files)");
  registry.add(
      "megc2019",
      [](const ConfigNode& node) { return build_megc2019(node, builtin_datasets()); },
      "MEGC2019 composite: the official 442-sample list over smic, casme2 and samm (negative, positive, surprise)");
  registry.add(
      "samm",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<SammDataset>(SammOptions::from_config(node));
      },
      "SAMM in its native layout (SAMM or SAMM_CROP + SAMM_Micro_FACS_Codes_v2.xlsx or its CSV export)");
  registry.add(
      "smic",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<SmicDataset>(SmicOptions::from_config(node));
      },
      "SMIC HS/VIS/NIR short clips (SMIC_all_raw or SMIC_all_cropped), from the folder tree or a list file");
  registry.add(
      "smic_e",
      [](const ConfigNode& node) -> std::unique_ptr<Dataset> {
        return std::make_unique<SmicEDataset>(SmicEOptions::from_config(node));
      },
      "SMIC-E long clips (SMIC-E_raw image/<camera>_long + SMIC-<camera>-E_annotation.xlsx)");
}

}  // namespace mer
