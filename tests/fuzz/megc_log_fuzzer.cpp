// MEGC2019 result logs (eval/megc_log.cpp), scored as `mer report` scores a baseline's log.
#include "fuzz_support.hpp"

#include <mer/eval/megc_log.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = mer::fuzz::write_scratch("megc2019_log.txt", mer::fuzz::as_string(data, size));
  mer::fuzz::parse_or_refuse([&] { mer::score_megc_log(file); });
  return 0;
}
