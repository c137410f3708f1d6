// Reads worksheets of an Office Open XML workbook (.xlsx): a zip archive of XML parts. The parts are
// found the way the package format defines it (relationships), not by fixed names, because writers
// differ: Excel writes relative targets ("worksheets/sheet1.xml"), openpyxl absolute ones
// ("/xl/worksheets/sheet1.xml"), the .NET SDK prefixes every element ("x:row").
#include <mer/core/error.hpp>
#include <mer/meta/table.hpp>

#include <pugixml.hpp>
#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

namespace mer {
namespace {
namespace fs = std::filesystem;

// Excel's limits (XFD, 1048576); a reference beyond them is corrupt, not a big table.
constexpr long kMaxColumns = 16384;
constexpr long kMaxRows = 1048576;
// A part larger than this is not an annotation table (the largest public one, CAS(ME)^3's, unpacks to a few
// MB); refusing it keeps a corrupt or hostile archive (a zip bomb) from exhausting memory.
constexpr zip_uint64_t kMaxPartBytes = zip_uint64_t{64} << 20;

// Element and attribute names without their namespace prefix ("x:row" -> "row").
const char* local_name(const char* name) {
  const char* colon = std::strrchr(name, ':');
  return colon ? colon + 1 : name;
}

bool is(const pugi::xml_node& node, const char* name) {
  return node.type() == pugi::node_element && std::strcmp(local_name(node.name()), name) == 0;
}

pugi::xml_node child(const pugi::xml_node& node, const char* name) {
  for (auto c : node.children())
    if (is(c, name)) return c;
  return {};
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// OOXML stores characters XML cannot carry (CR, control codes) as "_xHHHH_", and a literal "_x" that
// would look like one as "_x005F_x"; Excel shows the decoded text, so that is the cell's text.
std::string decode_escapes(const char* raw) {
  std::string s(raw);
  if (s.find("_x") == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i + 6 < s.size() && s[i + 1] == 'x' && s[i + 6] == '_' &&
        std::all_of(s.begin() + static_cast<long>(i) + 2, s.begin() + static_cast<long>(i) + 6,
                    [](unsigned char c) { return std::isxdigit(c) != 0; })) {
      append_utf8(out, static_cast<unsigned>(std::stoul(s.substr(i + 2, 4), nullptr, 16)));
      i += 6;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The text of a shared string <si> or an inline string <is>: plain <t>, or rich-text runs <r><t>
// concatenated. Phonetic guides (<rPh>, furigana) are annotations on the text, not part of it.
std::string string_item_text(const pugi::xml_node& item) {
  std::string out;
  for (auto c : item.children()) {
    if (is(c, "t")) {
      out += decode_escapes(c.text().get());
    } else if (is(c, "r")) {
      for (auto t : c.children())
        if (is(t, "t")) out += decode_escapes(t.text().get());
    }
  }
  return out;
}

struct Relationship {
  std::string type;    // full type URI; compared by its last segment ("/worksheet")
  std::string target;  // resolved part name inside the archive, no leading '/'
};

// "xl/" + "../docProps/x.xml" -> "docProps/x.xml"; "/xl/a.xml" (absolute) -> "xl/a.xml".
std::string resolve_target(const std::string& base_dir, const std::string& target) {
  const std::string joined = !target.empty() && target[0] == '/' ? target.substr(1) : base_dir + target;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= joined.size()) {
    const auto slash = joined.find('/', start);
    const auto part = joined.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string folder_of(const std::string& part) {
  const auto slash = part.rfind('/');
  return slash == std::string::npos ? "" : part.substr(0, slash + 1);
}

// "_rels/.rels" for the package, "xl/_rels/workbook.xml.rels" for "xl/workbook.xml".
std::string rels_part_of(const std::string& part) {
  return folder_of(part) + "_rels/" + part.substr(folder_of(part).size()) + ".rels";
}

class Archive {
 public:
  explicit Archive(const fs::path& file) : file_(file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw IoError("cannot read workbook '" + file.string() + "': no such file");
    int code = 0;
    zip_ = zip_open(file.string().c_str(), ZIP_RDONLY, &code);
    if (zip_) return;
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS) {
      // Legacy .xls files and password-protected .xlsx files are OLE2 compound documents, not zips.
      char magic[8] = {};
      std::ifstream(file, std::ios::binary).read(magic, sizeof magic);
      if (std::memcmp(magic, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0)
        throw DataError("'" + file.string() +
                        "' is an OLE2 compound file (a legacy .xls or a password-protected workbook), not an .xlsx "
                        "zip archive; save it unprotected as .xlsx or export the sheet to CSV");
      throw DataError("'" + file.string() + "' is not an .xlsx workbook: not a zip archive (" + zip_message(code) +
                      ")");
    }
    throw IoError("cannot read workbook '" + file.string() + "': " + zip_message(code));
  }
  ~Archive() { zip_discard(zip_); }
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  bool has(const std::string& part) const { return zip_name_locate(zip_, part.c_str(), ZIP_FL_NOCASE) >= 0; }

  // `what` says what the part is for, so a missing one reads "worksheet 'Sheet1' (xl/worksheets/...)".
  std::string read(const std::string& part, const std::string& what) const {
    const zip_int64_t index = zip_name_locate(zip_, part.c_str(), ZIP_FL_NOCASE);
    if (index < 0)
      throw DataError("'" + file_.string() + "' is not a complete .xlsx workbook: " + what + " (part '" + part +
                      "') is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw DataError("'" + file_.string() + "': cannot read the size of part '" + part + "': " +
                      zip_strerror(zip_));
    if (st.size > kMaxPartBytes)
      throw DataError("'" + file_.string() + "': part '" + part + "' unpacks to " + std::to_string(st.size) +
                      " bytes, more than an annotation table can be (limit " + std::to_string(kMaxPartBytes) + ")");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(zip_, static_cast<zip_uint64_t>(index), 0),
                                                        zip_fclose);
    if (!f) throw DataError("'" + file_.string() + "': cannot open part '" + part + "': " + zip_strerror(zip_));
    std::string bytes(static_cast<std::size_t>(st.size), '\0');
    zip_uint64_t done = 0;
    while (done < st.size) {
      const zip_int64_t n = zip_fread(f.get(), bytes.data() + done, st.size - done);
      if (n <= 0)
        throw DataError("'" + file_.string() + "': part '" + part + "' is damaged: " + zip_file_strerror(f.get()));
      done += static_cast<zip_uint64_t>(n);
    }
    return bytes;
  }

  pugi::xml_document xml(const std::string& part, const std::string& what) const {
    const std::string bytes = read(part, what);
    pugi::xml_document doc;
    // Keeps a shared string that is a single space (" "): it is a cell value, not formatting.
    const auto result = doc.load_buffer(bytes.data(), bytes.size(), pugi::parse_default | pugi::parse_ws_pcdata_single);
    if (!result)
      throw DataError("'" + file_.string() + "': " + what + " (part '" + part + "') is not well-formed XML at byte " +
                      std::to_string(result.offset) + ": " + result.description());
    return doc;
  }

  std::map<std::string, Relationship> relationships(const std::string& part) const {
    std::map<std::string, Relationship> out;
    const auto rels = rels_part_of(part);
    if (!has(rels)) return out;
    const auto doc = xml(rels, "the relationships of '" + part + "'");
    for (auto r : doc.document_element().children()) {
      if (!is(r, "Relationship")) continue;
      if (std::strcmp(r.attribute("TargetMode").value(), "External") == 0) continue;
      out[r.attribute("Id").value()] = {r.attribute("Type").value(),
                                        resolve_target(folder_of(part), r.attribute("Target").value())};
    }
    return out;
  }

  const fs::path& file() const { return file_; }

 private:
  static std::string zip_message(int code) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string msg = zip_error_strerror(&error);
    zip_error_fini(&error);
    return msg;
  }

  fs::path file_;
  zip_t* zip_ = nullptr;
};

struct SheetEntry {
  std::string name;
  std::string part;
};

struct WorkbookIndex {
  std::vector<SheetEntry> sheets;  // worksheets only, in tab order
  std::string shared_strings;      // part name, "" if the workbook has none
};

WorkbookIndex index_workbook(const Archive& zip) {
  std::string workbook = "xl/workbook.xml";
  for (const auto& [id, rel] : zip.relationships(""))
    if (ends_with(rel.type, "/officeDocument")) workbook = rel.target;
  const auto rels = zip.relationships(workbook);
  const auto doc = zip.xml(workbook, "the workbook");

  WorkbookIndex index;
  for (const auto& [id, rel] : rels)
    if (ends_with(rel.type, "/sharedStrings")) index.shared_strings = rel.target;
  for (auto sheet : child(doc.document_element(), "sheets").children()) {
    if (!is(sheet, "sheet")) continue;
    std::string rid;
    for (auto a : sheet.attributes())
      if (std::strcmp(local_name(a.name()), "id") == 0) rid = a.value();
    const std::string name = sheet.attribute("name").value();
    const auto rel = rels.find(rid);
    if (rel == rels.end())
      throw DataError("'" + zip.file().string() + "' is not a complete .xlsx workbook: sheet '" + name +
                      "' refers to relationship '" + rid + "', which '" + rels_part_of(workbook) + "' does not list");
    // Chart sheets and dialog sheets are tabs too, but hold no cells.
    if (ends_with(rel->second.type, "/worksheet")) index.sheets.push_back({name, rel->second.target});
  }
  return index;
}

std::vector<std::string> read_shared_strings(const Archive& zip, const std::string& part) {
  std::vector<std::string> out;
  if (part.empty()) return out;
  const auto doc = zip.xml(part, "the shared-string table");
  for (auto si : doc.document_element().children())
    if (is(si, "si")) out.push_back(string_item_text(si));
  return out;
}

// "H14" -> column 7 (0-based) and row 14; false if malformed or beyond Excel's limits.
bool parse_reference(const char* ref, long& column, long& row) {
  column = 0;
  row = 0;
  const char* p = ref;
  while (std::isalpha(static_cast<unsigned char>(*p))) {
    column = column * 26 + (std::toupper(static_cast<unsigned char>(*p)) - 'A' + 1);
    if (column > kMaxColumns) return false;
    ++p;
  }
  if (p == ref) return false;
  const char* digits = p;
  while (std::isdigit(static_cast<unsigned char>(*p))) {
    row = row * 10 + (*p - '0');
    if (row > kMaxRows) return false;
    ++p;
  }
  --column;
  return *p == '\0' && p != digits && row >= 1;
}

std::string column_letters(long column) {
  std::string s;
  for (long c = column + 1; c > 0; c = (c - 1) / 26) s.insert(s.begin(), static_cast<char>('A' + (c - 1) % 26));
  return s;
}

}  // namespace

std::vector<std::string> xlsx_sheet_names(const fs::path& file) {
  const Archive zip(file);
  std::vector<std::string> names;
  for (const auto& s : index_workbook(zip).sheets) names.push_back(s.name);
  return names;
}

Table read_xlsx(const fs::path& file, const std::string& sheet) {
  const Archive zip(file);
  const auto index = index_workbook(zip);
  if (index.sheets.empty()) throw DataError("'" + file.string() + "': the workbook has no worksheet");
  const SheetEntry* entry = &index.sheets.front();
  if (!sheet.empty()) {
    const auto it = std::find_if(index.sheets.begin(), index.sheets.end(),
                                 [&](const SheetEntry& s) { return s.name == sheet; });
    if (it == index.sheets.end()) {
      std::string names;
      for (const auto& s : index.sheets) names += (names.empty() ? "'" : ", '") + s.name + "'";
      throw DataError("'" + file.string() + "' has no worksheet named '" + sheet + "'; its worksheets are " + names);
    }
    entry = &*it;
  }

  const auto strings = read_shared_strings(zip, index.shared_strings);
  const auto doc = zip.xml(entry->part, "worksheet '" + entry->name + "'");
  const std::string at = file.string() + "[" + entry->name + "]";

  Table t;
  t.file = file;
  t.sheet = entry->name;
  std::size_t width = 0;
  long previous_row = 0;
  for (auto row : child(doc.document_element(), "sheetData").children()) {
    if (!is(row, "row")) continue;
    // Rows and cells may omit their reference; they then follow the previous one.
    long row_number = row.attribute("r").as_llong(previous_row + 1);
    if (row_number <= previous_row || row_number > kMaxRows)
      throw DataError(detail::concat(at, ": row number ", row.attribute("r").value(), " after row ", previous_row,
                                     "; expected rows in ascending order (a damaged worksheet)"));
    previous_row = row_number;

    std::vector<std::string> cells;
    long previous_column = -1;
    for (auto c : row.children()) {
      if (!is(c, "c")) continue;
      long column = previous_column + 1;
      if (const auto ref = c.attribute("r")) {
        long ref_row = 0;
        if (!parse_reference(ref.value(), column, ref_row))
          throw DataError(detail::concat(at, ":", row_number, ": cell reference '", ref.value(),
                                         "' is malformed; expected a column and row such as 'H14'"));
      }
      if (column <= previous_column)
        throw DataError(detail::concat(at, ":", row_number, ": cell ", column_letters(column), row_number,
                                       " comes after ", column_letters(previous_column), row_number,
                                       "; expected cells in column order (a damaged worksheet)"));
      previous_column = column;

      const std::string type = c.attribute("t").value();
      const auto v = child(c, "v");
      std::string value;
      if (type == "s") {
        const char* raw = v.text().get();
        const auto i = v.text().as_llong(-1);
        if (*raw == '\0' || i < 0 || static_cast<std::size_t>(i) >= strings.size())
          throw DataError(detail::concat(at, ":", row_number, ": cell ", column_letters(column), row_number,
                                         " refers to shared string '", raw, "', but the shared-string table has ",
                                         strings.size(), " entries"));
        value = strings[static_cast<std::size_t>(i)];
      } else if (type == "inlineStr") {
        const auto is_node = child(c, "is");
        value = is_node ? string_item_text(is_node) : decode_escapes(v.text().get());
      } else if (type == "b") {
        const std::string raw = v.text().get();
        value = raw == "1" ? "TRUE" : raw == "0" ? "FALSE" : raw;
      } else {
        // Numbers (t="n" or none), formula results (t="str"), errors (t="e", "#N/A") and ISO dates (t="d"),
        // as stored. A formula cell without a cached result reads as empty: there is nothing to show.
        value = type == "str" ? decode_escapes(v.text().get()) : v.text().get();
      }
      if (value.empty()) continue;  // styled but empty cells must not widen the table
      if (cells.size() <= static_cast<std::size_t>(column)) cells.resize(static_cast<std::size_t>(column) + 1);
      cells[static_cast<std::size_t>(column)] = std::move(value);
    }
    if (std::all_of(cells.begin(), cells.end(), [](const std::string& s) { return trim(s).empty(); })) continue;
    width = std::max(width, cells.size());
    t.rows.push_back(std::move(cells));
    t.lines.push_back(static_cast<int>(row_number));
  }
  for (auto& r : t.rows) r.resize(width);
  return t;
}

}  // namespace mer
