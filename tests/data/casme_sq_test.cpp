#include <mer/core/error.hpp>
#include <mer/data/casme_sq.hpp>
#include <mer/data/frames.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"
#include "support/xlsx_writer.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

fs::path real_table() { return test::annotations_dir() / "casme_sq_code_final.csv"; }

// The frames every policy may point at: onset, apex, offset and the onset/offset midpoint.
std::set<int> key_frames(const CasmeSqRow& row) {
  std::set<int> frames = {row.onset};
  if (row.apex > 0) frames.insert(row.apex);
  if (row.offset > 0) frames.insert({row.offset, (row.onset + row.offset) / 2});
  return frames;
}

// rawpic/<column 11>/img<N>.jpg for every row of the real code sheet, and the sheet under the root.
void make_tree(const fs::path& root, const fs::path& table = real_table()) {
  fs::create_directories(root / "rawpic");
  fs::copy_file(table, root / "code.csv", fs::copy_options::overwrite_existing);
  for (const auto& row : read_casme_sq_table(real_table()))
    for (int f : key_frames(row))
      test::write_bytes(root / "rawpic" / row.folder / ("img" + std::to_string(f) + ".jpg"), test::tiny_jpeg());
}

std::string yaml(const fs::path& root, const std::string& extra = "") {
  return test::fill(R"(dataset:
  type: casme_sq
  root: {ROOT}
  table: code.csv
{EXTRA}  labels:
    classes: [negative, positive, surprise, others]
)",
                    {{"ROOT", root.string()}, {"EXTRA", extra}});
}

// The first nine columns only: the code sheet as the workbook has it, without the appended columns.
void write_nine_column_copy(const fs::path& out) {
  const Table t = read_table(real_table(), [] {
    TableOptions o;
    o.has_header = false;
    return o;
  }());
  std::ostringstream csv;
  for (const auto& row : t.rows) {
    for (int c = 0; c < 9; ++c) csv << (c ? "," : "") << csv_escape(row[c]);
    csv << "\n";
  }
  test::write_bytes(out, csv.str());
}

// Naming rules in the sheets' column layout, derived from column 11 of the saved copy.
void write_naming_rules(const fs::path& root, const std::string& subject_header = "participant,code,number\n",
                        const std::map<int, std::string>& subject_override = {}) {
  std::map<int, std::string> subjects;
  std::map<std::string, std::string> videos;
  for (const auto& row : read_casme_sq_table(real_table())) {
    subjects[row.subject] = row.folder.substr(0, row.folder.find('/'));  // "s15"
    videos[row.video] = row.folder.substr(row.folder.find('_') + 1, 4);    // "0401"
  }
  for (const auto& [n, code] : subject_override) subjects[n] = code;
  std::string s = subject_header, v = "code,video\n";
  for (const auto& [n, code] : subjects) s += "p" + std::to_string(n) + "," + code + "," + std::to_string(n) + "\n";
  for (const auto& [name, code] : videos) v += code + "," + name + "\n";
  test::write_bytes(root / "naming1.csv", s);
  test::write_bytes(root / "naming2.csv", v);
}

TEST(CasmeSqTable, TheSavedCodeSheetHasThePublishedCounts) {
  const auto rows = read_casme_sq_table(real_table());
  ASSERT_EQ(rows.size(), 357u);
  int micro = 0, macro = 0, offset_zero = 0, offset_zero_macro = 0, null_aus = 0;
  std::map<std::string, int> micro_emotions;
  std::set<int> micro_subjects, subjects;
  for (const auto& r : rows) {
    subjects.insert(r.subject);
    if (r.type == "micro-expression") {
      ++micro;
      ++micro_emotions[r.emotion];
      micro_subjects.insert(r.subject);
    } else {
      ++macro;
    }
    if (r.offset == 0) {
      ++offset_zero;
      offset_zero_macro += r.type == "macro-expression";
    }
    null_aus += r.action_units == "NULL";
  }
  EXPECT_EQ(micro, 57);
  EXPECT_EQ(macro, 300);
  const std::map<std::string, int> expected = {{"negative", 21}, {"others", 19}, {"surprise", 9}, {"positive", 8}};
  EXPECT_EQ(micro_emotions, expected);
  EXPECT_EQ(micro_subjects.size(), 14u);
  EXPECT_EQ(subjects.size(), 22u);
  EXPECT_EQ(offset_zero, 44);
  EXPECT_EQ(offset_zero_macro, 44);
  EXPECT_EQ(null_aus, 4);

  const auto& first = rows[0];
  EXPECT_EQ(first.subject, 1);
  EXPECT_EQ(first.expression, "anger1_1");
  EXPECT_EQ(first.video, "anger1");
  EXPECT_EQ(first.onset, 557);
  EXPECT_EQ(first.apex, 572);
  EXPECT_EQ(first.offset, 608);
  EXPECT_EQ(first.action_units, "4+10+14+15");
  EXPECT_EQ(first.emotion, "negative");
  EXPECT_EQ(first.self_report, "anger");
  EXPECT_EQ(first.folder, "s15/15_0401girlcrashing");
  EXPECT_EQ(first.where, real_table().string() + ":1");  // no header row
}

TEST(CasmeSqDataset, MicroExpressionsFromTheRealSheet) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto d = test::build_dataset(yaml(dir.path()));
  ASSERT_EQ(d->samples().size(), 57u);
  EXPECT_TRUE(d->excluded().empty());
  const std::map<std::string, int> expected = {{"negative", 21}, {"others", 19}, {"surprise", 9}, {"positive", 8}};
  EXPECT_EQ(test::count_emotions(*d), expected);
  std::set<std::string> subjects, ids;
  for (const auto& s : d->samples()) {
    subjects.insert(s.subject);
    ids.insert(s.id);
    EXPECT_EQ(s.fps, 30);
    EXPECT_TRUE(s.quirks.empty()) << s.id;  // no micro row needs a policy
  }
  EXPECT_EQ(subjects.size(), 14u);
  EXPECT_EQ(ids.size(), 57u);

  // "1,disgust2_3,699,703,707,NULL,others,micro-expression,disgust,8,s15/15_0102eatingworms"
  const auto* s = test::find_sample(*d, "casme_sq/s15/disgust2_3");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->subject, "s15");
  EXPECT_EQ(s->clip, "disgust2_3");
  EXPECT_EQ(s->onset, 699);
  EXPECT_EQ(s->apex, 703);
  EXPECT_EQ(s->offset, 707);
  EXPECT_EQ(s->action_units, "");  // NULL: none coded
  EXPECT_EQ(s->emotion, "others");
  EXPECT_EQ(s->clip_dir, dir.path() / "rawpic" / "s15" / "15_0102eatingworms");
  EXPECT_EQ(s->frame_path(703), dir.path() / "rawpic/s15/15_0102eatingworms/img703.jpg");
  EXPECT_EQ(s->source, "code.csv:11");
  EXPECT_EQ(load_frame(*s, s->apex).size(), cv::Size(8, 8));
}

// Common unpackings load the same samples as the documented rawpic/ (or cropped/): the folder nested once
// more, the subject folders directly in the root, and Off-TANet's casme^2_cropped/ for the cropped copy.
TEST(CasmeSqLayout, CommonUnpackingsLoadTheSameSamples) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  const auto keys = [&](const std::string& extra = "") {
    return test::sample_keys(*test::build_dataset(yaml(root, extra)));
  };
  const auto documented = keys();
  ASSERT_EQ(documented.size(), 57u);
  test::nest_once(root / "rawpic");
  EXPECT_EQ(keys(), documented);
  fs::rename(root / "rawpic" / "rawpic", root / "cropped");
  fs::remove(root / "rawpic");
  EXPECT_EQ(keys("  variant: cropped\n"), documented);
  fs::rename(root / "cropped", root / "casme^2_cropped");
  EXPECT_EQ(keys("  variant: cropped\n"), documented);
  test::flatten_into_parent(root / "casme^2_cropped");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(test::find_sample(*test::build_dataset(yaml(root)), "casme_sq/s15/disgust2_3")->clip_dir,
            root / "s15" / "15_0102eatingworms");
}

TEST(CasmeSqLayout, NoFrameTreeNamesEveryPlaceLookedIn) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  fs::remove_all(root / "rawpic");
  test::expect_places_listed(yaml(root), {root / "rawpic", root / "rawpic" / "rawpic", root});
  test::expect_places_listed(yaml(root, "  variant: cropped\n"),
                             {root / "cropped", root / "cropped" / "cropped", root / "casme^2_cropped", root});
}

TEST(CasmeSqDataset, MacroRowsGoThroughThePolicies) {
  test::TempDir dir;
  make_tree(dir.path());
  // Three macro rows have apex > offset (line 170 first); the default apex_out_of_range is fail.
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), "  expression_type: both\n")); },
                          {"code.csv:170", "casme_sq/s27/disgust1_5", "apex 1230 outside onset..offset 1221..1224"});
  // Offset 0 (44 macro rows; line 3 first) under missing_offset: fail.
  expect_error<DataError>(
      [&] { test::build_dataset(yaml(dir.path(), "  expression_type: macro\n  missing_offset: fail\n")); },
      {"code.csv:3", "casme_sq/s15/anger2_1", "offset not annotated (0)", "missing_offset: fail"});

  // Default missing_offset: skip, listed.
  const auto skipped = test::build_dataset(yaml(dir.path(), "  expression_type: both\n  apex_out_of_range: clamp\n"));
  EXPECT_EQ(skipped->samples().size(), 313u);
  ASSERT_EQ(skipped->excluded().size(), 44u);
  for (const auto& e : skipped->excluded()) {
    EXPECT_EQ(e.stage, "dataset");
    EXPECT_NE(e.reason.find("missing_offset: skip"), std::string::npos) << e.reason;
  }

  const auto all = test::build_dataset(
      yaml(dir.path(), "  expression_type: both\n  missing_offset: apex\n  apex_out_of_range: clamp\n"));
  ASSERT_EQ(all->samples().size(), 357u);
  int ended_at_apex = 0, clamped = 0, no_apex = 0;
  for (const auto& s : all->samples()) {
    ended_at_apex += test::has_quirk(s, "missing_offset: apex");
    clamped += test::has_quirk(s, "-> clamp");
    no_apex += test::has_quirk(s, "no usable apex");
  }
  EXPECT_EQ(ended_at_apex, 44);
  EXPECT_EQ(clamped, 3);
  EXPECT_EQ(no_apex, 1);  // "17,anger1_1,1763,0,1787": apex 0 is not annotated
  const auto* ended = test::find_sample(*all, "casme_sq/s15/anger2_1");
  ASSERT_NE(ended, nullptr);
  EXPECT_EQ(ended->offset, 2163);
  EXPECT_EQ(ended->quirks[0], "offset not annotated (0) -> apex 2163 (missing_offset: apex)");
  const auto* apex0 = test::find_sample(*all, "casme_sq/s34/anger1_1");
  ASSERT_NE(apex0, nullptr);
  EXPECT_EQ(apex0->apex, (1763 + 1787) / 2);

  const auto macro = test::build_dataset(
      yaml(dir.path(), "  expression_type: macro\n  missing_offset: apex\n  apex_out_of_range: clamp\n"));
  EXPECT_EQ(macro->samples().size(), 300u);
}

TEST(CasmeSqDataset, NamingRulesLocateTheSameFolders) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto by_column = test::build_dataset(yaml(dir.path()));
  std::map<std::string, fs::path> expected;
  for (const auto& s : by_column->samples()) expected[s.id] = s.clip_dir;

  write_nine_column_copy(dir / "code.csv");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {"code.csv:11", "disgust2_3", "no column 11", "subject_codes"});

  write_naming_rules(dir.path());
  const auto by_rules =
      test::build_dataset(yaml(dir.path(), "  subject_codes: naming1.csv\n  video_codes: naming2.csv\n"));
  std::map<std::string, fs::path> got;
  for (const auto& s : by_rules->samples()) got[s.id] = s.clip_dir;
  EXPECT_EQ(got, expected);

  // Subject codes written without the "s" (as numbers) name the same folders.
  std::map<int, std::string> digits;
  for (const auto& row : read_casme_sq_table(real_table())) digits[row.subject] = row.folder.substr(1, 2);
  write_naming_rules(dir.path(), "", digits);
  got.clear();
  const auto by_digits =
      test::build_dataset(yaml(dir.path(), "  subject_codes: naming1.csv\n  video_codes: naming2.csv\n"));
  for (const auto& s : by_digits->samples()) got[s.id] = s.clip_dir;
  EXPECT_EQ(got, expected);
}

TEST(CasmeSqDataset, TheWorkbooksNamingSheetsLocateTheSameFolders) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto by_column = test::build_dataset(yaml(dir.path()));
  std::map<std::string, fs::path> expected;
  for (const auto& s : by_column->samples()) expected[s.id] = s.clip_dir;

  // CAS(ME)^2code_final.xlsx as distributed: the code sheet (nine columns) and the two naming rules.
  write_nine_column_copy(dir / "code9.csv");
  write_naming_rules(dir.path());
  test::write_xlsx(dir / "CAS(ME)^2code_final.xlsx", {test::sheet_from_csv(dir / "code9.csv", "CASMEcode_final"),
                                                      test::sheet_from_csv(dir / "naming1.csv", "naming rule1"),
                                                      test::sheet_from_csv(dir / "naming2.csv", "naming rule2")});
  const auto d = test::build_dataset(test::replace_once(yaml(dir.path()), "  table: code.csv\n", ""));
  std::map<std::string, fs::path> got;
  for (const auto& s : d->samples()) got[s.id] = s.clip_dir;
  EXPECT_EQ(got, expected);
  const auto* s = test::find_sample(*d, "casme_sq/s15/disgust2_3");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->onset, 699);
  EXPECT_EQ(s->source, "CAS(ME)^2code_final.xlsx[CASMEcode_final]:11");
}

TEST(CasmeSqDataset, NamingRuleProblemsAreNamed) {
  test::TempDir dir;
  make_tree(dir.path());
  const std::string rules = "  subject_codes: naming1.csv\n  video_codes: naming2.csv\n";

  // Column 11 and the rules must agree.
  write_naming_rules(dir.path(), "participant,code,number\n", {{1, "s16"}});
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), rules)); },
                          {"code.csv:11", "s15/15_0102eatingworms", "disagrees"});

  // A video code whose leading zero was lost.
  write_naming_rules(dir.path());
  auto codes = test::read_text(dir / "naming2.csv");
  codes.replace(codes.find("0102,"), 5, "102,");
  test::write_bytes(dir / "naming2.csv", codes);
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), rules)); },
                          {(dir / "naming2.csv").string(), "'102'", "leading zeros"});

  // Without column 11 the folder is found on disk: none or several matches are errors.
  write_naming_rules(dir.path());
  write_nine_column_copy(dir / "code.csv");
  fs::create_directories(dir / "rawpic/s15/15_0102eatingworms_copy");
  fs::create_directories(dir / "rawpic/s15/15_0102other");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), rules)); },
                          {"code.csv:11", "15_0102eatingworms", "15_0102other", "several video folders"});
  fs::remove_all(dir / "rawpic/s15/15_0102other");
  fs::remove_all(dir / "rawpic/s15/15_0102eatingworms_copy");
  fs::rename(dir / "rawpic/s15/15_0102eatingworms", dir / "rawpic/s15/gone");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), rules)); },
                          {"code.csv:11", "casme_sq/s15/disgust2_3", "15_0102", "missing_frames"});
  const auto d = test::build_dataset(yaml(dir.path(), rules + "  missing_frames: skip\n"));
  EXPECT_EQ(d->samples().size(), 56u);
  ASSERT_EQ(d->excluded().size(), 1u);
  EXPECT_EQ(d->excluded()[0].sample_id, "casme_sq/s15/disgust2_3");

  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  subject_codes: naming1.csv\n")); },
                            {"test.yaml:5", "video_codes"});
}

TEST(CasmeSqDataset, MalformedRowsAndOptionsAreNamed) {
  test::TempDir dir;
  make_tree(dir.path());
  auto with_rows = [&](const std::string& rows) {
    test::write_bytes(dir / "code.csv", rows);
    return test::build_dataset(yaml(dir.path()));
  };
  const std::string table = (dir / "code.csv").string();
  const std::string good = "1,happy1_1,138,142,148,7,others,micro-expression,happiness,10,s15/15_0502funnyerrors\n";
  expect_error<DataError>([&] { with_rows(good + "1,happy1_2,13x,142,148,7,others,micro-expression,happiness\n"); },
                          {table + ":2", "3 (onset)", "'13x'"});
  expect_error<DataError>([&] { with_rows(good + "1,happy1,138,142,148,7,others,micro-expression,happiness\n"); },
                          {table + ":2", "'happy1'", "<video name>_<expression #>"});
  expect_error<DataError>([&] { with_rows(good + "1,happy1_2,138,142,148,7,others,micro,happiness\n"); },
                          {table + ":2", "type", "'micro'"});
  // A short row among full ones is padded with blanks and fails on the first cell it lacks; a table that is
  // short throughout is not a code sheet.
  expect_error<DataError>([&] { with_rows(good + "1,happy1_2,138,142,148,7,others\n"); },
                          {table + ":2", "column 8 (type)", "got ''"});
  expect_error<DataError>([&] { with_rows("1,happy1_2,138,142,148,7,others\n"); }, {table + ":1", "9 columns"});
  expect_error<DataError>([&] { with_rows(good + good); }, {table + ":2", "casme_sq/s15/happy1_1", table + ":1"});
  expect_error<DataError>(
      [&] { with_rows("1,happy1_1,138,142,148,7,others,micro-expression,happiness,10,15_0502funnyerrors\n"); },
      {table + ":1", "column 11", "'15_0502funnyerrors'"});

  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  expression_type: nano\n")); },
                            {"test.yaml:5", "expression_type", "micro | macro | both"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  missing_offset: guess\n")); },
                            {"test.yaml:5", "missing_offset", "apex | skip | fail"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  frame_pattern: img.jpg\n")); },
                            {"test.yaml:5", "frame_pattern", "'img.jpg'"});
  expect_error<DataError>([&] { test::build_dataset(yaml(dir / "absent")); }, {(dir / "absent").string()});
  fs::remove_all(dir / "rawpic");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); }, {(dir / "rawpic").string()});
}

}  // namespace
}  // namespace mer
