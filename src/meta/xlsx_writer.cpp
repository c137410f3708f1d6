#include <mer/meta/xlsx_writer.hpp>

#include <mer/core/error.hpp>

#include <mer/meta/table.hpp>

#include <zip.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>
#include <stdexcept>

namespace mer {
namespace fs = std::filesystem;

namespace {

const char* const kMain = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const char* const kRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const char* const kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// What Excel stores as a number: no leading zeros, no trailing fractional zeros, no '+'.
bool stored_as_number(const std::string& s) {
  static const std::regex number(R"(-?(0|[1-9][0-9]{0,14})(\.[0-9]{0,14}[1-9])?)");
  return std::regex_match(s, number);
}

std::string t_element(const std::string& text) { return "<t xml:space=\"preserve\">" + xml_escape(text) + "</t>"; }

// Splits at a character boundary near the middle, never inside a UTF-8 sequence.
std::pair<std::string, std::string> split_utf8(const std::string& s) {
  std::size_t mid = s.size() / 2;
  while (mid > 0 && (static_cast<unsigned char>(s[mid]) & 0xC0) == 0x80) --mid;
  return {s.substr(0, mid), s.substr(mid)};
}

std::string relationships(const std::vector<std::pair<std::string, std::string>>& type_target) {
  std::string out = std::string(kDecl) +
                    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">";
  for (std::size_t i = 0; i < type_target.size(); ++i)
    out += "<Relationship Id=\"rId" + std::to_string(i + 1) + "\" Type=\"" + type_target[i].first + "\" Target=\"" +
           type_target[i].second + "\"/>";
  return out + "</Relationships>";
}

}  // namespace

std::string column_name(int index) {
  std::string s;
  for (int c = index + 1; c > 0; c = (c - 1) / 26) s.insert(s.begin(), static_cast<char>('A' + (c - 1) % 26));
  return s;
}

std::map<std::string, std::string> xlsx_parts(const std::vector<XlsxSheet>& sheets, const XlsxWriteOptions& options) {
  const std::string rel_type = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/";
  std::map<std::string, std::string> parts;
  std::vector<std::string> strings;
  std::map<std::string, std::size_t> string_index;

  std::string content_types = std::string(kDecl) +
                              "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                              "<Default Extension=\"rels\" ContentType=\"application/"
                              "vnd.openxmlformats-package.relationships+xml\"/>"
                              "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                              "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/"
                              "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>";
  std::string workbook = std::string(kDecl) + "<workbook xmlns=\"" + kMain + "\" xmlns:r=\"" + kRel + "\"><sheets>";
  std::vector<std::pair<std::string, std::string>> workbook_rels;
  const std::string prefix = options.absolute_targets ? "/xl/" : "";

  for (std::size_t k = 0; k < sheets.size(); ++k) {
    const auto& sheet = sheets[k];
    if (!sheet.lines.empty() && sheet.lines.size() != sheet.rows.size())
      throw ValueError("xlsx_parts: sheet '" + sheet.name + "' has " + std::to_string(sheet.rows.size()) +
                               " rows but " + std::to_string(sheet.lines.size()) + " row numbers");
    std::string data;
    for (std::size_t r = 0; r < sheet.rows.size(); ++r) {
      const std::string row = std::to_string(sheet.lines.empty() ? static_cast<int>(r) + 1 : sheet.lines[r]);
      data += "<row r=\"" + row + "\">";
      for (std::size_t c = 0; c < sheet.rows[r].size(); ++c) {
        const auto& cell = sheet.rows[r][c];
        if (cell.empty()) continue;
        const std::string ref = column_name(static_cast<int>(c)) + row;
        if (stored_as_number(cell)) {
          data += "<c r=\"" + ref + "\"><v>" + cell + "</v></c>";
        } else if (options.inline_strings) {
          data += "<c r=\"" + ref + "\" t=\"inlineStr\"><is>" + t_element(cell) + "</is></c>";
        } else {
          auto [it, fresh] = string_index.emplace(cell, strings.size());
          if (fresh) strings.push_back(cell);
          data += "<c r=\"" + ref + "\" t=\"s\"><v>" + std::to_string(it->second) + "</v></c>";
        }
      }
      data += "</row>";
    }
    const std::string file = "worksheets/sheet" + std::to_string(k + 1) + ".xml";
    parts["xl/" + file] = std::string(kDecl) + "<worksheet xmlns=\"" + kMain + "\" xmlns:r=\"" + kRel +
                          "\"><sheetData>" + data + "</sheetData></worksheet>";
    content_types += "<Override PartName=\"/xl/" + file +
                     "\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>";
    workbook += "<sheet name=\"" + xml_escape(sheet.name) + "\" sheetId=\"" + std::to_string(k + 1) + "\" r:id=\"rId" +
                std::to_string(k + 1) + "\"/>";
    workbook_rels.emplace_back(rel_type + "worksheet", prefix + file);
  }

  std::string sst = std::string(kDecl) + "<sst xmlns=\"" + kMain + "\" count=\"" + std::to_string(strings.size()) +
                    "\" uniqueCount=\"" + std::to_string(strings.size()) + "\">";
  for (const auto& s : strings) {
    if (options.rich_text && s.size() >= 2) {
      const auto [a, b] = split_utf8(s);
      sst += "<si><r><rPr><b/><sz val=\"11\"/></rPr>" + t_element(a) + "</r><r>" + t_element(b) +
             "</r><rPh sb=\"0\" eb=\"1\"><t>PHONETIC</t></rPh></si>";
    } else {
      sst += "<si>" + t_element(s) + "</si>";
    }
  }
  parts["xl/sharedStrings.xml"] = sst + "</sst>";
  content_types += "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/"
                   "vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>";
  workbook_rels.emplace_back(rel_type + "sharedStrings", prefix + "sharedStrings.xml");

  parts["[Content_Types].xml"] = content_types + "</Types>";
  parts["_rels/.rels"] = relationships({{rel_type + "officeDocument", "xl/workbook.xml"}});
  parts["xl/workbook.xml"] = workbook + "</sheets></workbook>";
  parts["xl/_rels/workbook.xml.rels"] = relationships(workbook_rels);
  return parts;
}

void write_zip(const fs::path& file, const std::map<std::string, std::string>& parts) {
  int code = 0;
  zip_t* zip = zip_open(file.string().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!zip)
    throw IoError("write_zip: cannot create " + file.string() + " (libzip error " + std::to_string(code) +
                             ")");
  for (const auto& [name, bytes] : parts) {
    // libzip reads the data only in zip_close, so it gets its own copy to free; an empty part gets no
    // buffer, because libzip does not free one of length 0 (a leak found by fuzzing).
    void* copy = nullptr;
    if (!bytes.empty()) {
      copy = std::malloc(bytes.size());
      std::memcpy(copy, bytes.data(), bytes.size());
    }
    zip_source_t* source = zip_source_buffer(zip, copy, bytes.size(), 1);
    if (!source || zip_file_add(zip, name.c_str(), source, ZIP_FL_ENC_UTF_8) < 0) {
      const std::string error = zip_strerror(zip);
      if (source) zip_source_free(source);
      else std::free(copy);
      zip_discard(zip);
      throw IoError("write_zip: cannot add " + name + " to " + file.string() + ": " + error);
    }
  }
  if (zip_close(zip) != 0) {
    const std::string error = zip_strerror(zip);
    zip_discard(zip);
    throw IoError("write_zip: cannot write " + file.string() + ": " + error);
  }
}

void write_xlsx(const fs::path& file, const std::vector<XlsxSheet>& sheets, const XlsxWriteOptions& options) {
  write_zip(file, xlsx_parts(sheets, options));
}

XlsxSheet sheet_from_csv(const fs::path& csv, const std::string& name) {
  const auto table = Table::read(csv, false);
  for (std::size_t r = 0; r < table.rows.size(); ++r)
    for (const auto& cell : table.rows[r])
      if (cell.find('\n') != std::string::npos)
        throw DataError("sheet_from_csv: " + table.where(r) +
                                 " has a cell spanning lines; CSV lines would no longer be sheet rows");
  return XlsxSheet{name, table.rows, table.lines};
}

}  // namespace mer
