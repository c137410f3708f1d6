// Whole .xlsx workbooks (meta/xlsx.cpp): the zip layer (libzip) with its size limits, then the XML.
#include "fuzz_support.hpp"

#include <mer/meta/table.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = mer::fuzz::write_scratch("book.xlsx", mer::fuzz::as_string(data, size));
  mer::fuzz::parse_or_refuse([&] {
    for (const auto& sheet : mer::xlsx_sheet_names(file)) mer::read_xlsx(file, sheet);
  });
  return 0;
}
