#pragma once
// The library's .xlsx writer under the names the tests use.
#include <mer/meta/xlsx_writer.hpp>

namespace mer::test {
using mer::column_name;
using mer::sheet_from_csv;
using mer::write_xlsx;
using mer::write_zip;
using mer::xlsx_parts;
using mer::XlsxSheet;
using mer::XlsxWriteOptions;
}  // namespace mer::test
