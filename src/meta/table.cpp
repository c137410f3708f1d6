#include <mer/core/error.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace mer {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string csv_escape(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::optional<int> parse_int_cell(const std::string& cell) {
  const auto t = trim(cell);
  if (t.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const double v = std::stod(t, &used);
    // Out of int's range is not a frame number, and casting it would be undefined (found by fuzzing).
    if (used != t.size() || v != std::floor(v) || v < std::numeric_limits<int>::min() ||
        v > std::numeric_limits<int>::max())
      return std::nullopt;
    return static_cast<int>(v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Table Table::read(const std::filesystem::path& file, bool has_header) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot read table '" + file.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  auto t = parse_csv(ss.str(), file.string(), has_header);
  t.file = file;
  return t;
}

Table Table::parse_csv(const std::string& text_in, const std::string& name, bool has_header) {
  std::string_view text(text_in);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  Table t;
  t.file = name;
  t.header_line = 0;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  int line = 1, row_line = 1;
  auto end_row = [&] {
    row.push_back(cell);
    cell.clear();
    bool blank = true;
    for (const auto& c : row) blank = blank && trim(c).empty();
    if (!blank) {
      if (has_header && t.header.empty() && t.rows.empty()) {
        t.header = row;
        t.header_line = row_line;
      } else {
        t.rows.push_back(row);
        t.lines.push_back(row_line);
      }
    }
    row.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') cell += '"', ++i;
        else quoted = false;
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(cell);
      cell.clear();
    } else if (c == '\r') {
      // CRLF: the '\n' ends the row.
    } else if (c == '\n') {
      end_row();
      ++line;
      row_line = line;
    } else {
      cell += c;
    }
  }
  if (quoted) throw DataError(name + ":" + std::to_string(row_line) + ": unterminated quoted cell");
  if (!cell.empty() || !row.empty()) end_row();
  std::size_t width = t.header.size();
  for (const auto& r : t.rows) width = std::max(width, r.size());
  for (auto& r : t.rows) r.resize(width);
  return t;
}

std::optional<std::size_t> Table::find_column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (trim(header[i]) == name) return i;
  return std::nullopt;
}

std::size_t Table::column(const std::string& name) const {
  if (auto c = find_column(name)) return *c;
  std::string have;
  for (const auto& h : header)
    if (!trim(h).empty()) have += (have.empty() ? "" : ", ") + trim(h);
  throw DataError(file.string() + (sheet.empty() ? "" : "[" + sheet + "]") + ":" + std::to_string(header_line) +
                  ": expected a column '" + name + "'; the header has: " + have);
}

std::string Table::where(std::size_t r) const {
  return file.string() + (sheet.empty() ? "" : "[" + sheet + "]") + ":" + std::to_string(lines.at(r));
}

namespace {
std::string lower_extension(const std::filesystem::path& file) {
  auto ext = file.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Moves the first row holding every wanted cell into the header and drops the rows above it.
void detect_header(Table& t, const std::vector<std::string>& wanted) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    bool all = true;
    for (const auto& w : wanted) {
      bool found = false;
      for (const auto& cell : t.rows[r]) found = found || trim(cell) == w;
      all = all && found;
    }
    if (!all) continue;
    t.header = t.rows[r];
    t.header_line = t.lines[r];
    t.rows.erase(t.rows.begin(), t.rows.begin() + static_cast<long>(r) + 1);
    t.lines.erase(t.lines.begin(), t.lines.begin() + static_cast<long>(r) + 1);
    return;
  }
  std::string list;
  for (const auto& w : wanted) list += (list.empty() ? "'" : ", '") + w + "'";
  throw DataError(t.file.string() + (t.sheet.empty() ? "" : "[" + t.sheet + "]") +
                  ": no header row found; expected a row with the columns " + list);
}
}  // namespace

Table read_table(const std::filesystem::path& file, const TableOptions& options) {
  const bool xlsx = lower_extension(file) == ".xlsx";
  // Without header detection the first row is the header; with it, every row is read as data first.
  const bool first_row_header = options.has_header && options.header_with.empty();
  Table t = xlsx ? read_xlsx(file, options.sheet) : Table::read(file, false);
  t.header_line = 0;
  if (first_row_header && !t.rows.empty()) {
    t.header = t.rows.front();
    t.header_line = t.lines.front();
    t.rows.erase(t.rows.begin());
    t.lines.erase(t.lines.begin());
  } else if (options.has_header) {
    detect_header(t, options.header_with);
  }
  std::size_t width = t.header.size();
  for (const auto& r : t.rows) width = std::max(width, r.size());
  for (auto& r : t.rows) r.resize(width);
  return t;
}

}  // namespace mer
