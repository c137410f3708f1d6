// The XML inside an .xlsx (meta/xlsx.cpp), past the zip layer: mutated zip bytes rarely survive libzip's
// CRC check, so this target zips the fuzzer's XML itself. The input is up to four parts separated by NUL
// bytes, replacing in order the workbook, its relationships, the first worksheet and the shared strings
// of a valid workbook; parts not given stay valid.
#include "fuzz_support.hpp"

#include <mer/meta/table.hpp>
#include <mer/meta/xlsx_writer.hpp>

#include <map>

namespace {
const char* const kParts[] = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml",
                              "xl/sharedStrings.xml"};
std::map<std::string, std::string> valid_parts;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mer::fuzz::quiet();
  valid_parts = mer::xlsx_parts({mer::XlsxSheet{"Sheet1", {{"Subject", "Filename", "OnsetFrame"}, {"01", "EP02_01f", "46"}}, {}}});
  for (const char* part : kParts)
    if (!valid_parts.count(part)) std::abort();  // the writer changed its part names: update kParts
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = valid_parts;
  const auto given = mer::fuzz::split_parts(mer::fuzz::as_string(data, size), std::string(1, '\0'), 4);
  for (std::size_t i = 0; i < given.size(); ++i) parts[kParts[i]] = given[i];
  const auto file = mer::fuzz::scratch_dir() / "parts.xlsx";
  mer::write_zip(file, parts);
  mer::fuzz::parse_or_refuse([&] {
    for (const auto& sheet : mer::xlsx_sheet_names(file)) mer::read_xlsx(file, sheet);
  });
  return 0;
}
