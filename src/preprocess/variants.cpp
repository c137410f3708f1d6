// Pipeline variants (variants.hpp): read from the config, rebuilt from a copy of it with the overrides.
#include <mer/core/error.hpp>
#include <mer/preprocess/variants.hpp>

#include <algorithm>

namespace mer {

std::vector<VariantSpec> read_variant_specs(const ConfigNode& preprocess) {
  std::vector<VariantSpec> specs;
  const auto items = preprocess.items("variants");
  if (items.empty()) return specs;
  std::vector<std::string> types;
  for (const auto& stage : preprocess.items("stages")) types.push_back(stage.required<std::string>("type"));
  for (const auto& v : items) {
    VariantSpec spec;
    spec.name = v.required<std::string>("name");
    spec.where = v.where();
    // The name tags the copies' sample ids ("<id>#<name>") in messages.
    MER_CHECK(!spec.name.empty() && spec.name.find_first_of("/# \t") == std::string::npos, ConfigError,
              v.where("name"), ": '", v.key_path("name"), "' must be a name without '/', '#' or spaces, got '",
              spec.name, "'");
    for (const auto& other : specs) {
      MER_CHECK(other.name != spec.name, ConfigError, v.where("name"), ": variant name '", spec.name,
                "' is used twice (also at ", other.where, ")");
    }
    const auto set = v.get_string_map("set");
    MER_CHECK(!set.empty(), ConfigError, spec.where, ": variant '", spec.name,
              "' sets nothing; expected set: {<stage type>.<option>: <value>}");
    for (const auto& [key, value] : set) {
      const auto where = v.where("set." + key);
      const auto dot = key.find('.');
      MER_CHECK(dot != std::string::npos && dot > 0 && dot + 1 < key.size(), ConfigError, where, ": variant '",
                spec.name, "' sets '", key, "', expected <stage type>.<option> such as flow.algorithm");
      const auto type = key.substr(0, dot), option = key.substr(dot + 1);
      MER_CHECK(option != "type", ConfigError, where, ": variant '", spec.name,
                "' cannot change a stage's type; it changes options of the stages the pipeline has");
      const auto it = std::find(types.begin(), types.end(), type);
      if (it == types.end()) {
        std::string msg = detail::concat(where, ": variant '", spec.name, "' sets '", key, "' but the pipeline has no '",
                                         type, "' stage");
        if (const auto hint = nearest(type, types); !hint.empty()) msg += " (did you mean '" + hint + "'?)";
        msg += "; its stages:";
        for (const auto& t : types) msg += " " + t;
        throw ConfigError(msg);
      }
      spec.overrides.push_back(
          detail::concat(preprocess.key_path("stages"), "[", it - types.begin(), "].", option, "=", value));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<PipelineVariant> build_variants(const std::string& doc, const std::vector<VariantSpec>& specs,
                                            const Pipeline& base, const StageRegistry& registry) {
  std::vector<PipelineVariant> out;
  if (specs.empty()) return out;
  for (const auto& spec : specs) {
    PipelineVariant v{spec.name, spec.where, Config{}, nullptr};
    try {
      auto overrides = spec.overrides;
      overrides.push_back("preprocess.variants=[]");  // the copy is one pipeline, not a family
      v.config = Config::from_string(doc, "variant '" + spec.name + "'", overrides);
      const auto root = v.config.root();
      const auto preprocess = root.child("preprocess");
      v.pipeline = std::make_unique<Pipeline>(Pipeline::from_config(preprocess, registry));
      preprocess.items("variants");
      std::vector<std::string> other_sections;
      for (const auto& k : root.keys()) {
        if (k != "preprocess") other_sections.push_back(k);
      }
      v.config.check_all_used(other_sections);
    } catch (const ConfigError& e) {
      throw ConfigError(detail::concat(spec.where, ": preprocess variant '", spec.name, "': ", e.what()));
    }
    const auto fp = v.pipeline->fingerprint();
    MER_CHECK(fp != base.fingerprint(), ConfigError, spec.where, ": preprocess variant '", spec.name,
              "' gives the same preprocessing as the base pipeline (it sets the values already used); it would only "
              "duplicate the training samples");
    for (const auto& other : out) {
      MER_CHECK(fp != other.pipeline->fingerprint(), ConfigError, spec.where, ": preprocess variant '", spec.name,
                "' gives the same preprocessing as variant '", other.name, "' (", other.where, ")");
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace mer
