#pragma once
/// A minimal .xlsx writer: `mer synth` writes annotation tables as the vendors distribute them, and tests
/// turn the real annotation tables (CSV) into workbooks laid out the way Excel writes them (binary
/// fixtures are not committed), then read those back.
///
/// Cells that look like numbers as Excel would store them ("46", "0.5"; not "006" or "01", which a
/// vendor sheet keeps as text) become <v> numbers; every other non-empty cell becomes a shared string
/// (or an inline string); empty cells are not written at all, as Excel leaves them out.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mer {

struct XlsxSheet {
  std::string name;
  std::vector<std::vector<std::string>> rows;
  /// Sheet row number of each row (ascending); empty: 1, 2, 3, ...
  std::vector<int> lines;
};

struct XlsxWriteOptions {
  /// t="inlineStr" cells instead of the shared-string part.
  bool inline_strings = false;
  /// Shared strings of two or more characters stored as two rich-text runs (<r><rPr/><t>), as Excel
  /// stores partly formatted text, plus a phonetic run (<rPh>) that is not part of the text.
  bool rich_text = false;
  /// Relationship targets written absolute ("/xl/worksheets/sheet1.xml"), as openpyxl does, instead of
  /// relative to the source part ("worksheets/sheet1.xml"), as Excel does.
  bool absolute_targets = false;
};

/// The parts of a workbook holding `sheets` (zip entry name -> bytes), for tests that alter a part
/// before zipping (a hand-written worksheet, a part left out).
std::map<std::string, std::string> xlsx_parts(const std::vector<XlsxSheet>& sheets,
                                              const XlsxWriteOptions& options = {});
/// Zips `parts` into `file` (replacing it). Throws IoError on failure.
void write_zip(const std::filesystem::path& file, const std::map<std::string, std::string>& parts);
void write_xlsx(const std::filesystem::path& file, const std::vector<XlsxSheet>& sheets,
                const XlsxWriteOptions& options = {});

/// A CSV file as one sheet: line n becomes sheet row n (blank lines become absent rows), so a table's
/// preamble and blank columns land where they are in the vendor sheet. Assumes no cell spans lines.
XlsxSheet sheet_from_csv(const std::filesystem::path& csv, const std::string& name);

/// 0 -> "A", 25 -> "Z", 26 -> "AA".
std::string column_name(int index);

}  // namespace mer
