// predictions.csv as `mer report` reads it back (eval/predictions.cpp).
#include "fuzz_support.hpp"

#include <mer/eval/predictions.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::string> classes = {"negative", "positive", "surprise"};
  mer::fuzz::parse_or_refuse([&] { mer::predictions_from_csv(mer::fuzz::as_string(data, size), "fuzz.csv", classes); });
  return 0;
}
