#pragma once
/// CsvTable: an annotation table read from CSV (RFC 4180 quoting, CRLF or LF, UTF-8 BOM tolerated).
/// Cells are kept as text exactly as written; parsing numbers is the adapter's job, so that an error can
/// name the file, the row and the column.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct CsvTable {
  std::filesystem::path file;
  std::vector<std::string> header;             ///< Empty when read without a header.
  std::vector<std::vector<std::string>> rows;  ///< Data rows; short rows are padded with "".
  std::vector<int> lines;                      ///< 1-based line number of each row in the file.

  /// Reads `file`; blank lines are skipped. Throws IoError if unreadable, DataError on an unterminated
  /// quote (naming the line).
  static CsvTable read(const std::filesystem::path& file, bool has_header = true);
  /// Parses CSV text; `name` stands in for the file name in messages.
  static CsvTable parse(const std::string& text, const std::string& name, bool has_header = true);

  /// Index of the column whose header (trimmed) equals `name`; DataError listing the header if absent.
  std::size_t column(const std::string& name) const;
  std::optional<std::size_t> find_column(const std::string& name) const;
  /// "file:line" of row r, for messages.
  std::string where(std::size_t r) const;
};

/// Parses a whole-number cell ("46", "46.0"); nullopt for anything else ("/", "", "?").
std::optional<int> parse_int_cell(const std::string& cell);
/// Quotes a cell for CSV output when it holds a comma, quote or newline.
std::string csv_escape(const std::string& cell);
/// Trims ASCII whitespace at both ends.
std::string trim(const std::string& s);

}  // namespace mer
