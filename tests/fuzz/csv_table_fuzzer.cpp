// CSV annotation tables (meta/table.cpp) as adapters read them: quoting, delimiters, BOMs, ragged rows,
// the header found below a preamble, then column lookups and frame-number cells.
#include "fuzz_support.hpp"

#include <mer/meta/table.hpp>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = mer::fuzz::write_scratch("table.csv", mer::fuzz::as_string(data, size));
  mer::fuzz::parse_or_refuse([&] {
    mer::TableOptions options;
    options.header_with = {"Subject", "OnsetFrame"};
    const auto table = mer::read_table(file, options);
    const auto onset = table.column("OnsetFrame");
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      table.where(r);
      mer::parse_int_cell(table.rows[r][onset]);
    }
  });
  return 0;
}
