#include <mer/core/error.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_paths.hpp"
#include "support/xlsx_writer.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

const std::vector<std::string> kSubjectFilename = {"Subject", "Filename"};

fs::path samm_full_csv() { return test::annotations_dir() / "samm_coding_full_sheet.csv"; }
fs::path casme2_csv() { return test::annotations_dir() / "casme2_coding.csv"; }

template <class E, class F>
std::string expect_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "message is not one line: " << what;
    return what;
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

void write_text(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A worksheet body between the <worksheet> tags Excel writes.
std::string worksheet(const std::string& sheet_data) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
         "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
         "<dimension ref=\"A1:AF9\"/><sheetData>" +
         sheet_data + "</sheetData></worksheet>";
}

TEST(Xlsx, SammSheetWithItsPreambleReadsLikeTheCsv) {
  test::TempDir dir;
  const auto file = dir / "SAMM_Micro_FACS_Codes_v2.xlsx";
  test::write_xlsx(file, {test::sheet_from_csv(samm_full_csv(), "MICRO_ONLY")});

  // Raw rows: the sheet's own row numbers, blank preamble rows dropped.
  const auto raw = read_xlsx(file);
  const auto csv_raw = Table::read(samm_full_csv(), false);
  EXPECT_EQ(raw.sheet, "MICRO_ONLY");
  EXPECT_EQ(raw.lines, csv_raw.lines);
  EXPECT_EQ(raw.lines.front(), 1);
  EXPECT_EQ(raw.lines.back(), 173);
  EXPECT_EQ(raw.rows.size(), 169u);  // rows 2, 5, 9 and 13 are empty

  const auto t = read_table(file, {"MICRO_ONLY", kSubjectFilename});
  const auto csv = read_table(samm_full_csv(), {"", kSubjectFilename});
  ASSERT_EQ(t.rows.size(), 159u);
  EXPECT_EQ(t.lines.front(), 15);  // the header is sheet row 14
  EXPECT_EQ(t.lines.back(), 173);
  const auto header_row = std::find(raw.lines.begin(), raw.lines.end(), 14) - raw.lines.begin();
  EXPECT_EQ(t.header, raw.rows.at(static_cast<std::size_t>(header_row)));
  EXPECT_EQ(t.header, csv.header);
  EXPECT_EQ(t.header.at(0), "Subject");
  EXPECT_EQ(t.header.at(11), "Notes");
  EXPECT_EQ(t.rows, csv.rows);
  EXPECT_EQ(t.lines, csv.lines);
  EXPECT_EQ(t.where(0), file.string() + "[MICRO_ONLY]:15");

  // Text as stored: Subject keeps its zeros, numbers read as written, the trailing space of 033_1_4's
  // AU cell survives (the adapters trim, the reader does not).
  EXPECT_EQ(t.rows[0][t.column("Subject")], "006");
  EXPECT_EQ(t.rows[0][t.column("Onset Frame")], "5562");
  const auto au = t.column("Action Units");
  const auto file_col = t.column("Filename");
  const auto row = std::find_if(t.rows.begin(), t.rows.end(), [&](const auto& r) { return r[file_col] == "033_1_4"; });
  ASSERT_NE(row, t.rows.end());
  EXPECT_EQ((*row)[au], "12+15 ");
}

TEST(Xlsx, Casme2SheetKeepsItsBlankHeaderColumns) {
  test::TempDir dir;
  const auto file = dir / "CASME2-coding-20140508.xlsx";
  test::write_xlsx(file, {test::sheet_from_csv(casme2_csv(), "Sheet1")});
  const auto t = read_table(file, {"", kSubjectFilename});
  const auto csv = read_table(casme2_csv(), {"", kSubjectFilename});
  ASSERT_EQ(t.rows.size(), 255u);
  ASSERT_EQ(t.header.size(), 9u);
  EXPECT_EQ(t.header[2], "");  // columns C and G: blank header, empty cells
  EXPECT_EQ(t.header[6], "");
  EXPECT_EQ(t.header[7], "Action Units");
  EXPECT_EQ(t.header, csv.header);
  EXPECT_EQ(t.rows, csv.rows);
  EXPECT_EQ(t.lines.front(), 2);
  EXPECT_EQ(t.lines.back(), 256);
  EXPECT_EQ(t.rows[0][0], "01");
  EXPECT_EQ(t.rows[29][4], "/");  // sub04/EP12_01f's ApexFrame, a text cell among numbers
}

TEST(Xlsx, WriterVariantsReadTheSame) {
  // Rich-text runs with a phonetic guide, inline strings and absolute part targets are all valid ways
  // a writer can store the same sheet.
  test::TempDir dir;
  const auto sheet = test::sheet_from_csv(samm_full_csv(), "MICRO_ONLY");
  const auto plain = dir / "plain.xlsx";
  test::write_xlsx(plain, {sheet});
  const auto expected = read_xlsx(plain);
  int k = 0;
  for (const auto& options : {test::XlsxWriteOptions{false, true, false}, test::XlsxWriteOptions{true, false, false},
                              test::XlsxWriteOptions{false, false, true}}) {
    const auto file = dir / ("variant" + std::to_string(k++) + ".xlsx");
    test::write_xlsx(file, {sheet}, options);
    const auto t = read_xlsx(file);
    EXPECT_EQ(t.rows, expected.rows) << file;
    EXPECT_EQ(t.lines, expected.lines) << file;
  }
}

TEST(Xlsx, SheetNamesAndSelectionByName) {
  test::TempDir dir;
  const auto file = dir / "two.xlsx";
  test::write_xlsx(file, {test::sheet_from_csv(casme2_csv(), "Sheet1"),
                          test::sheet_from_csv(samm_full_csv(), "MICRO_ONLY"), test::XlsxSheet{"Sheet3", {}, {}}});
  EXPECT_EQ(xlsx_sheet_names(file), (std::vector<std::string>{"Sheet1", "MICRO_ONLY", "Sheet3"}));

  EXPECT_EQ(read_xlsx(file).sheet, "Sheet1");  // "" takes the first
  EXPECT_EQ(read_xlsx(file).rows.size(), 256u);
  const auto samm = read_table(file, {"MICRO_ONLY", kSubjectFilename});
  EXPECT_EQ(samm.sheet, "MICRO_ONLY");
  EXPECT_EQ(samm.rows.size(), 159u);
  EXPECT_TRUE(read_xlsx(file, "Sheet3").rows.empty());

  expect_error<DataError>([&] { read_xlsx(file, "MICRO"); },
                          {file.string(), "'MICRO'", "'Sheet1', 'MICRO_ONLY', 'Sheet3'"});
  expect_error<DataError>([&] { read_table(file, {"Sheet3", kSubjectFilename}); },
                          {file.string() + "[Sheet3]", "'Subject', 'Filename'"});
}

TEST(Xlsx, CellTypesGapsAndColumnsBeyondZ) {
  test::TempDir dir;
  auto parts = test::xlsx_parts({test::XlsxSheet{"Codes", {}, {}}});
  parts["xl/sharedStrings.xml"] =
      "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
      "<si><t>Subject</t></si>"
      "<si><r><rPr><b/></rPr><t xml:space=\"preserve\">R14 </t></r><r><t>or 17A</t></r>"
      "<rPh sb=\"0\" eb=\"1\"><t>x</t></rPh></si>"
      "<si><t xml:space=\"preserve\"> </t></si>"
      "<si><t>line_x000D__x000A_two _x005F_x0041_</t></si>"
      "</sst>";
  parts["xl/worksheets/sheet1.xml"] = worksheet(
      // Row 3: a shared string, a gap (B), a number, then columns past Z.
      "<row r=\"3\"><c r=\"A3\" t=\"s\"><v>0</v></c><c r=\"C3\"><v>5562</v></c>"
      "<c r=\"Z3\" t=\"s\"><v>1</v></c><c r=\"AA3\" t=\"inlineStr\"><is><t>inline</t></is></c>"
      "<c r=\"AB3\" t=\"str\"><f>A3&amp;\"x\"</f><v>Subjectx</v></c><c r=\"AC3\" t=\"b\"><v>1</v></c>"
      "<c r=\"AD3\" t=\"b\"><v>0</v></c><c r=\"AE3\" t=\"e\"><v>#N/A</v></c>"
      "<c r=\"AF3\"><f>SUM(F3-D3)+1</f><v>71</v></c></row>"
      // A row of styled empty cells and a formula without a cached value: no content, dropped.
      "<row r=\"4\"><c r=\"A4\" s=\"1\"/><c r=\"B4\"><f>1+1</f></c></row>"
      // No references: the row follows row 4, the cells follow each other.
      "<row><c t=\"s\"><v>2</v></c><c><v>0.5</v></c><c t=\"s\"><v>3</v></c></row>"
      // Lower-case column letters and a single-space text cell kept verbatim.
      "<row r=\"9\"><c r=\"b9\"><v>-7</v></c><c r=\"C9\" t=\"s\"><v>2</v></c></row>");
  const auto file = dir / "types.xlsx";
  test::write_zip(file, parts);

  const auto t = read_xlsx(file);
  ASSERT_EQ(t.lines, (std::vector<int>{3, 5, 9}));
  ASSERT_EQ(t.rows[0].size(), 32u);  // A..AF
  for (const auto& r : t.rows) EXPECT_EQ(r.size(), 32u);  // short rows padded
  EXPECT_EQ(t.rows[0][0], "Subject");
  EXPECT_EQ(t.rows[0][1], "");
  EXPECT_EQ(t.rows[0][2], "5562");
  EXPECT_EQ(t.rows[0][25], "R14 or 17A");  // rich-text runs joined, the phonetic run left out
  EXPECT_EQ(t.rows[0][26], "inline");
  EXPECT_EQ(t.rows[0][27], "Subjectx");
  EXPECT_EQ(t.rows[0][28], "TRUE");
  EXPECT_EQ(t.rows[0][29], "FALSE");
  EXPECT_EQ(t.rows[0][30], "#N/A");
  EXPECT_EQ(t.rows[0][31], "71");
  EXPECT_EQ(t.rows[1][0], " ");
  EXPECT_EQ(t.rows[1][1], "0.5");
  EXPECT_EQ(t.rows[1][2], "line\r\ntwo _x0041_");
  EXPECT_EQ(t.rows[2][0], "");
  EXPECT_EQ(t.rows[2][1], "-7");
  EXPECT_EQ(t.rows[2][2], " ");
  EXPECT_EQ(t.where(1), file.string() + "[Codes]:5");
}

TEST(Xlsx, PrefixedElementsAndRelocatedParts) {
  // The .NET Open XML SDK writes "x:"-prefixed elements; the workbook need not live in xl/.
  test::TempDir dir;
  auto parts = test::xlsx_parts({test::XlsxSheet{"S", {}, {}}});
  parts.erase("xl/worksheets/sheet1.xml");
  parts.erase("xl/sharedStrings.xml");
  parts.erase("xl/workbook.xml");
  parts.erase("xl/_rels/workbook.xml.rels");
  const std::string rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/";
  parts["_rels/.rels"] =
      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"rId1\" Type=\"" + rel + "officeDocument\" Target=\"book/wb.xml\"/></Relationships>";
  parts["book/wb.xml"] =
      "<x:workbook xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
      "xmlns:rel=\"" + rel.substr(0, rel.size() - 1) + "\"><x:sheets>"
      "<x:sheet name=\"Chart\" sheetId=\"2\" rel:id=\"c\"/><x:sheet name=\"Data\" sheetId=\"1\" rel:id=\"d\"/>"
      "</x:sheets></x:workbook>";
  parts["book/_rels/wb.xml.rels"] =
      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"c\" Type=\"" + rel + "chartsheet\" Target=\"charts/c1.xml\"/>"
      "<Relationship Id=\"d\" Type=\"" + rel + "worksheet\" Target=\"../data/d.xml\"/>"
      "<Relationship Id=\"l\" Type=\"" + rel + "hyperlink\" Target=\"http://x\" TargetMode=\"External\"/>"
      "</Relationships>";
  parts["data/d.xml"] =
      "<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><x:sheetData>"
      "<x:row r=\"2\"><x:c r=\"A2\" t=\"inlineStr\"><x:is><x:t>Subject</x:t></x:is></x:c>"
      "<x:c r=\"B2\"><x:v>12</x:v></x:c></x:row></x:sheetData></x:worksheet>";
  const auto file = dir / "sdk.xlsx";
  test::write_zip(file, parts);
  EXPECT_EQ(xlsx_sheet_names(file), std::vector<std::string>{"Data"});  // the chart sheet holds no cells
  const auto t = read_xlsx(file);
  EXPECT_EQ(t.sheet, "Data");
  EXPECT_EQ(t.rows, (std::vector<std::vector<std::string>>{{"Subject", "12"}}));
}

TEST(Xlsx, DamagedOrForeignFilesAreDataErrorsNamingTheFile) {
  test::TempDir dir;
  const auto csv = dir / "exported.xlsx";
  write_text(csv, "Subject,Filename\n01,EP02_01f\n");
  expect_error<DataError>([&] { read_xlsx(csv); }, {csv.string(), "not a zip"});
  expect_error<DataError>([&] { xlsx_sheet_names(csv); }, {csv.string(), "not a zip"});
  expect_error<DataError>([&] { read_table(csv); }, {csv.string(), "not a zip"});

  const auto xls = dir / "legacy.xlsx";
  write_text(xls, std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(504, '\0'));
  expect_error<DataError>([&] { read_xlsx(xls); }, {xls.string(), "OLE2", ".xls"});

  expect_error<IoError>([&] { read_xlsx(dir / "missing.xlsx"); }, {(dir / "missing.xlsx").string()});

  const auto sheet = test::sheet_from_csv(casme2_csv(), "Sheet1");
  auto broken = [&](const std::string& name, auto&& change) {
    auto parts = test::xlsx_parts({sheet});
    change(parts);
    const auto file = dir / name;
    test::write_zip(file, parts);
    return file;
  };
  const auto no_workbook = broken("no_workbook.xlsx", [](auto& p) { p.erase("xl/workbook.xml"); });
  expect_error<DataError>([&] { xlsx_sheet_names(no_workbook); }, {no_workbook.string(), "workbook", "missing"});

  const auto no_sheet = broken("no_sheet.xlsx", [](auto& p) { p.erase("xl/worksheets/sheet1.xml"); });
  expect_error<DataError>([&] { read_xlsx(no_sheet); },
                          {no_sheet.string(), "worksheet 'Sheet1'", "xl/worksheets/sheet1.xml", "missing"});

  const auto no_strings = broken("no_strings.xlsx", [](auto& p) { p.erase("xl/sharedStrings.xml"); });
  expect_error<DataError>([&] { read_xlsx(no_strings); }, {no_strings.string(), "shared-string table", "missing"});

  const auto bad_xml =
      broken("bad_xml.xlsx", [](auto& p) { p["xl/worksheets/sheet1.xml"] = "<worksheet><sheetData>"; });
  expect_error<DataError>([&] { read_xlsx(bad_xml); }, {bad_xml.string(), "Sheet1", "not well-formed XML"});

  const auto bad_index = broken("bad_index.xlsx", [](auto& p) {
    p["xl/worksheets/sheet1.xml"] = worksheet("<row r=\"7\"><c r=\"H7\" t=\"s\"><v>99999</v></c></row>");
  });
  expect_error<DataError>([&] { read_xlsx(bad_index); }, {bad_index.string() + "[Sheet1]:7", "H7", "99999"});

  const auto bad_ref = broken("bad_ref.xlsx", [](auto& p) {
    p["xl/worksheets/sheet1.xml"] = worksheet("<row r=\"2\"><c r=\"7H\"><v>1</v></c></row>");
  });
  expect_error<DataError>([&] { read_xlsx(bad_ref); }, {bad_ref.string() + "[Sheet1]:2", "'7H'"});

  const auto far_ref = broken("far_ref.xlsx", [](auto& p) {
    p["xl/worksheets/sheet1.xml"] = worksheet("<row r=\"2\"><c r=\"XFE2\"><v>1</v></c></row>");
  });
  expect_error<DataError>([&] { read_xlsx(far_ref); }, {far_ref.string() + "[Sheet1]:2", "'XFE2'"});

  const auto unordered = broken("unordered.xlsx", [](auto& p) {
    p["xl/worksheets/sheet1.xml"] = worksheet("<row r=\"5\"><c r=\"A5\"><v>1</v></c></row><row r=\"3\"/>");
  });
  expect_error<DataError>([&] { read_xlsx(unordered); }, {unordered.string() + "[Sheet1]", "row number 3 after row 5"});

  const auto dangling = broken("dangling.xlsx", [](auto& p) { p["xl/_rels/workbook.xml.rels"] = "<Relationships/>"; });
  expect_error<DataError>([&] { read_xlsx(dangling); }, {dangling.string(), "sheet 'Sheet1'", "rId1"});
}

// A zero-byte part (found by tests/fuzz/xlsx_parts_fuzzer: write_zip leaked its buffer, which ASan's leak
// checker reports under scripts/test_asan.sh) is written as an empty entry and read as not well-formed.
TEST(Xlsx, EmptyPartIsWrittenAndRefused) {
  test::TempDir dir;
  auto parts = test::xlsx_parts({test::sheet_from_csv(casme2_csv(), "Sheet1")});
  parts["xl/worksheets/sheet1.xml"] = "";
  const auto file = dir / "empty_part.xlsx";
  test::write_zip(file, parts);
  expect_error<DataError>([&] { read_xlsx(file); }, {file.string(), "Sheet1"});
}

TEST(TableRead, CsvHeaderDetectionSkipsThePreamble) {
  const auto t = read_table(samm_full_csv(), {"", kSubjectFilename});
  EXPECT_TRUE(t.sheet.empty());
  ASSERT_EQ(t.rows.size(), 159u);
  EXPECT_EQ(t.lines.front(), 15);  // header on line 14, after 13 preamble lines
  EXPECT_EQ(t.header.at(0), "Subject");
  EXPECT_EQ(t.header.size(), 12u);
  EXPECT_EQ(t.rows[0][1], "006_1_2");
  EXPECT_EQ(t.where(0), samm_full_csv().string() + ":15");

  // The preamble-free export finds its header on line 1 and gives the same rows.
  const auto short_export = read_table(test::annotations_dir() / "samm_coding.csv", {"", kSubjectFilename});
  EXPECT_EQ(short_export.header, t.header);
  EXPECT_EQ(short_export.rows, t.rows);
  EXPECT_EQ(short_export.lines.front(), 2);

  // Without header_with the first row is the header, whatever it holds.
  const auto first = read_table(samm_full_csv());
  EXPECT_EQ(first.header.at(0), "SAMM Dataset - Master FACS Codes");
  EXPECT_EQ(first.rows.size(), 168u);

  expect_error<DataError>([&] { read_table(samm_full_csv(), {"", {"Subject", "Clip"}}); },
                          {samm_full_csv().string(), "no header row", "'Subject', 'Clip'"});
}

TEST(TableRead, WithoutHeaderEveryRowIsData) {
  TableOptions no_header;
  no_header.has_header = false;
  const auto t = read_table(test::annotations_dir() / "megc2019_composite.csv", no_header);
  EXPECT_TRUE(t.header.empty());
  ASSERT_EQ(t.rows.size(), 442u);
  EXPECT_EQ(t.lines.front(), 1);
  EXPECT_EQ(t.rows.front(), (std::vector<std::string>{"casme2", "sub01", "EP02_01f", "1"}));

  // has_header=false wins over header_with; the same holds for a workbook.
  no_header.header_with = kSubjectFilename;
  const auto samm = read_table(samm_full_csv(), no_header);
  EXPECT_EQ(samm.rows.size(), 169u);
  EXPECT_EQ(samm.lines.front(), 1);

  test::TempDir dir;
  const auto file = dir / "megc.XLSX";  // extension matched case-insensitively
  test::write_xlsx(file, {test::sheet_from_csv(test::annotations_dir() / "megc2019_composite.csv", "gt")});
  const auto x = read_table(file, no_header);
  EXPECT_EQ(x.sheet, "gt");
  EXPECT_EQ(x.rows, t.rows);
  EXPECT_EQ(x.lines, t.lines);
}

}  // namespace
}  // namespace mer
