// YAML configs with `base:` composition (core/config.cpp): the input is up to three files separated by a
// line "%%%%", written as main.yaml, a.yaml and b.yaml side by side, so `base:` lists, cycles, missing
// bases and merges are all reachable. Then what every run does with a config: read typed values, check
// unused keys, dump it.
#include "fuzz_support.hpp"

#include <mer/core/config.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto files = mer::fuzz::split_parts(mer::fuzz::as_string(data, size), "\n%%%%\n", 3);
  const char* const names[] = {"main.yaml", "a.yaml", "b.yaml"};
  for (std::size_t i = 0; i < 3; ++i) mer::fuzz::write_scratch(names[i], i < files.size() ? files[i] : "");
  mer::fuzz::parse_or_refuse([&] {
    const auto config = mer::Config::load(mer::fuzz::scratch_dir() / "main.yaml", {"runtime.threads=1"});
    const auto root = config.root();
    if (root.has("train")) {
      const auto train = root.child("train");
      train.get<int>("epochs", 1);
      train.get<double>("lr", 1e-3);
    }
    if (root.has("dataset")) root.child("dataset").get<std::string>("type", "");
    config.dump();
    config.check_all_used();
  });
  return 0;
}
