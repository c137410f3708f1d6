// .npy arrays (io/npy.cpp): the header dict, shapes whose product overflows, dtypes, short data.
#include "fuzz_support.hpp"

#include <mer/io/npy.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mer::fuzz::parse_or_refuse([&] { mer::npy_decode(mer::fuzz::as_string(data, size), "fuzz.npy"); });
  return 0;
}
