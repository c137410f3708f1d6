#pragma once
/// Table: an annotation table as distributed — CSV (RFC 4180 quoting, CRLF or LF, UTF-8 BOM tolerated) or
/// a vendor .xlsx worksheet. Cells are kept as text exactly as written (numbers as stored: "46"), so an
/// adapter's error can name the file, the row and the column of a bad value.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct Table {
  std::filesystem::path file;
  std::string sheet;                           ///< worksheet name for .xlsx, "" for CSV
  std::vector<std::string> header;             ///< empty when read without a header
  std::vector<std::vector<std::string>> rows;  ///< data rows; short rows are padded with ""
  std::vector<int> lines;                      ///< 1-based line (CSV) or sheet row (xlsx) of each row
  int header_line = 1;                         ///< line or sheet row of the header (0: no header)

  /// Reads a CSV file; blank lines are skipped. IoError if unreadable, DataError on an unterminated
  /// quote (naming the line).
  static Table read(const std::filesystem::path& file, bool has_header = true);
  /// Parses CSV text; `name` stands in for the file name in messages.
  static Table parse_csv(const std::string& text, const std::string& name, bool has_header = true);

  /// Index of the column whose header (trimmed) equals `name`; DataError listing the header if absent.
  std::size_t column(const std::string& name) const;
  std::optional<std::size_t> find_column(const std::string& name) const;
  /// "file:line" (CSV) or "file[sheet]:row" (xlsx) of data row r, for messages.
  std::string where(std::size_t r) const;
};

struct TableOptions {
  /// Worksheet of an .xlsx file by name; "" takes the first sheet. Ignored for CSV.
  std::string sheet;
  /// Header detection: the header is the first row holding all of these cells (trimmed), and the rows
  /// above it (a preamble, like SAMM's 13 rows) are dropped. Empty: the first row is the header.
  std::vector<std::string> header_with;
  /// false: no header row at all (e.g. the MEGC2019 list, the CAS(ME)^2 code sheet).
  bool has_header = true;
};

/// Reads a .csv or .xlsx file (chosen by extension, case-insensitive) with header detection. DataError
/// naming the file and the cells looked for when no row holds them; IoError if unreadable.
Table read_table(const std::filesystem::path& file, const TableOptions& options = {});

/// Raw rows of an .xlsx worksheet: every cell as text (shared and inline strings resolved, numbers as
/// stored, booleans as "TRUE"/"FALSE"), empty rows dropped, `lines` = sheet row numbers.
/// Implemented in meta/xlsx.cpp (libzip + pugixml).
Table read_xlsx(const std::filesystem::path& file, const std::string& sheet = "");
/// Names of the worksheets of an .xlsx file, in workbook order.
std::vector<std::string> xlsx_sheet_names(const std::filesystem::path& file);

/// Parses a whole-number cell ("46", "46.0"); nullopt for anything else ("/", "", "?").
std::optional<int> parse_int_cell(const std::string& cell);
/// Quotes a cell for CSV output when it holds a comma, quote or newline.
std::string csv_escape(const std::string& cell);
/// Trims ASCII whitespace at both ends.
std::string trim(const std::string& s);

}  // namespace mer
