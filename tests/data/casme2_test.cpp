#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/casme2.hpp>
#include <mer/data/dataset.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "adapter_test_util.hpp"
#include "support/test_paths.hpp"
#include "support/xlsx_writer.hpp"

namespace mer {
namespace {

using test::build_dataset;
using test::expect_error;
using test::write_bytes;
using test::tiny_jpeg;
namespace fs = std::filesystem;

fs::path real_table() { return test::annotations_dir() / "casme2_coding.csv"; }
fs::path table_2019() { return test::annotations_dir() / "casme2_coding_20190701.csv"; }

// Builds <root>/<frames_dir>/subNN/<clip>/<prefix><N>.jpg for every row of `table` (the onset, apex,
// offset and onset/offset midpoint frames, which is all the adapter looks at) and copies the table to
// <root>/<table_name>.
void make_native_tree(const fs::path& root, const fs::path& table, const std::string& frames_dir = "CASME2_RAW_selected",
                      const std::string& prefix = "img",
                      const std::string& table_name = "CASME2-coding-20140508.csv") {
  fs::create_directories(root / frames_dir);
  fs::copy_file(table, root / table_name, fs::copy_options::overwrite_existing);
  for (const auto& row : read_casme2_table(table)) {
    const auto subject = row.subject.size() == 1 ? "0" + row.subject : row.subject;
    const auto clip = root / frames_dir / ("sub" + subject) / row.filename;
    fs::create_directories(clip);
    std::set<int> frames = {row.onset, row.offset, (row.onset + row.offset) / 2};
    if (row.apex >= 0) frames.insert(row.apex);
    for (int f : frames) write_bytes(clip / (prefix + std::to_string(f) + ".jpg"), tiny_jpeg());
  }
}

const char* const kFiveClassYaml = R"(dataset:
  type: casme2
  root: {ROOT}
  missing_apex: {POLICY}
  labels:
    classes: [happiness, surprise, disgust, repression, others]
)";

std::string five_class_yaml(const fs::path& root, const std::string& policy = "midpoint") {
  std::string y = kFiveClassYaml;
  y.replace(y.find("{ROOT}"), 6, root.string());
  y.replace(y.find("{POLICY}"), 8, policy);
  return y;
}

std::string fill_root(std::string yaml, const fs::path& root) {
  yaml.replace(yaml.find("{ROOT}"), 6, root.string());
  return yaml;
}

const SampleMeta& find_sample(const Dataset& ds, const std::string& id) {
  const auto it =
      std::find_if(ds.samples().begin(), ds.samples().end(), [&](const SampleMeta& s) { return s.id == id; });
  if (it == ds.samples().end()) throw std::runtime_error("no sample " + id);
  return *it;
}

Casme2Options five_class_options(const fs::path& root) {
  Casme2Options o;
  o.root = root;
  o.common.labels = LabelMap({"happiness", "surprise", "disgust", "repression", "others"}, {});
  return o;
}

TEST(Casme2Table, ParsesTheRealCodingSheet) {
  const auto rows = read_casme2_table(real_table());
  ASSERT_EQ(rows.size(), 255u);

  std::set<std::string> subjects;
  std::map<std::string, int> emotions;
  for (const auto& r : rows) {
    subjects.insert(r.subject);
    ++emotions[r.emotion];
  }
  EXPECT_EQ(subjects.size(), 26u);
  EXPECT_EQ(*subjects.begin(), "01");  // text, zero kept
  const std::map<std::string, int> expected = {{"happiness", 32}, {"surprise", 25}, {"disgust", 63},
                                               {"repression", 27}, {"others", 99},   {"sadness", 7},
                                               {"fear", 2}};
  EXPECT_EQ(emotions, expected);

  auto find = [&](const std::string& subject, const std::string& file) {
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const Casme2Row& r) { return r.subject == subject && r.filename == file; });
    EXPECT_NE(it, rows.end()) << subject << "/" << file;
    return *it;
  };
  const auto first = find("01", "EP02_01f");
  EXPECT_EQ(first.onset, 46);
  EXPECT_EQ(first.apex, 59);
  EXPECT_EQ(first.offset, 86);
  EXPECT_EQ(first.action_units, "12");  // a numeric cell, kept as text
  EXPECT_EQ(first.emotion, "happiness");
  EXPECT_EQ(first.line, 2);

  const auto slash = find("04", "EP12_01f");
  EXPECT_EQ(slash.apex, -1);
  EXPECT_EQ(slash.onset, 261);
  EXPECT_EQ(slash.offset, 321);
  EXPECT_EQ(slash.line, 31);

  EXPECT_EQ(find("01", "EP19_05f").action_units, "4+L10");
  EXPECT_EQ(find("05", "EP05_03").action_units, "?");
}

TEST(Casme2Table, MalformedRowsNameFileLineColumnAndValue) {
  test::TempDir dir;
  const std::string header = "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n";
  const std::string good = "01,EP02_01f,,46,59,86,,12,happiness\n";
  auto table = [&](const std::string& bad) {
    const auto path = dir / "table.csv";
    write_bytes(path, header + good + bad);
    return path;
  };
  const std::string at = (dir / "table.csv").string() + ":3";
  expect_error<DataError>([&] { read_casme2_table(table("01,EP03_02,,abc,139,161,,18,others\n")); },
                          {at, "OnsetFrame", "'abc'"});
  expect_error<DataError>([&] { read_casme2_table(table("01,EP03_02,,131,139,x9,,18,others\n")); },
                          {at, "OffsetFrame", "'x9'"});
  expect_error<DataError>([&] { read_casme2_table(table("01,EP03_02,,131,?,161,,18,others\n")); },
                          {at, "ApexFrame", "'?'"});
  expect_error<DataError>([&] { read_casme2_table(table("01,EP03_02,,161,139,131,,18,others\n")); },
                          {at, "OnsetFrame 161", "OffsetFrame 131"});
  expect_error<DataError>([&] { read_casme2_table(table(" ,EP03_02,,131,139,161,,18,others\n")); },
                          {at, "Subject"});
  expect_error<DataError>([&] { read_casme2_table(table("01,,,131,139,161,,18,others\n")); }, {at, "Filename"});

  // A blank apex is a missing apex, like "/".
  EXPECT_EQ(read_casme2_table(table("01,EP03_02,,131,,161,,18,others\n")).at(1).apex, -1);

  const auto no_emotion = dir / "short.csv";
  write_bytes(no_emotion, "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units\n01,EP02_01f,46,59,86,12\n");
  expect_error<DataError>([&] { read_casme2_table(no_emotion); }, {no_emotion.string(), "Estimated Emotion"});

  // Without the blank columns (as some exports have it) the columns are still found by name.
  const auto compact = dir / "compact.csv";
  write_bytes(compact, "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n"
                       "01,EP02_01f,46,59,86,12,happiness\n");
  const auto rows = read_casme2_table(compact);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].apex, 59);
  EXPECT_EQ(rows[0].emotion, "happiness");
}

TEST(Casme2Dataset, LoadsTheNativeLayoutWithFiveClassesThroughTheRegistry) {
  test::TempDir dir;
  const auto root = dir / "CASME2";
  make_native_tree(root, real_table());

  const auto ds = build_dataset(five_class_yaml(root));
  EXPECT_EQ(ds->name(), "casme2");
  ASSERT_EQ(ds->samples().size(), 246u);
  ASSERT_EQ(ds->excluded().size(), 9u);
  int sadness = 0, fear = 0;
  for (const auto& skip : ds->excluded()) {
    EXPECT_EQ(skip.stage, "label_map");
    sadness += skip.reason.find("'sadness'") != std::string::npos;
    fear += skip.reason.find("'fear'") != std::string::npos;
  }
  EXPECT_EQ(sadness, 7);
  EXPECT_EQ(fear, 2);

  std::map<std::string, int> per_class;
  std::set<std::string> ids;
  for (const auto& s : ds->samples()) {
    ++per_class[ds->labels().name(s.label)];
    ids.insert(s.id);
    EXPECT_EQ(s.dataset, "casme2");
    EXPECT_LE(s.onset, s.apex) << s.id;
    EXPECT_LE(s.apex, s.offset) << s.id;
  }
  EXPECT_EQ(ids.size(), 246u);
  const std::map<std::string, int> expected = {
      {"happiness", 32}, {"surprise", 25}, {"disgust", 63}, {"repression", 27}, {"others", 99}};
  EXPECT_EQ(per_class, expected);

  const auto& first = ds->samples().front();
  EXPECT_EQ(first.id, "casme2/sub01/EP02_01f");
  EXPECT_EQ(first.subject, "sub01");
  EXPECT_EQ(first.group_key(), "casme2/sub01");
  EXPECT_EQ(first.clip, "EP02_01f");
  EXPECT_EQ(first.emotion, "happiness");
  EXPECT_EQ(first.label, 0);
  EXPECT_EQ(first.action_units, "12");
  EXPECT_EQ(first.source, "CASME2-coding-20140508.csv:2");
  EXPECT_EQ(first.clip_dir, root / "CASME2_RAW_selected" / "sub01" / "EP02_01f");
  EXPECT_EQ(first.frame_path(46), root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img46.jpg");

  auto slash = std::find_if(ds->samples().begin(), ds->samples().end(),
                            [](const SampleMeta& s) { return s.id == "casme2/sub04/EP12_01f"; });
  ASSERT_NE(slash, ds->samples().end());
  EXPECT_EQ(slash->apex, (261 + 321) / 2);
  EXPECT_EQ(slash->quirks, std::vector<std::string>{"ApexFrame '/': no usable apex -> midpoint 291"});
  EXPECT_EQ(first.fps, 200);
  EXPECT_TRUE(first.quirks.empty());

  // Legal but worth knowing: the apex on the onset (sub05/EP09_05f) or on the offset (four clips).
  std::map<std::string, std::vector<std::string>> noted;
  for (const auto& s : ds->samples())
    if (!s.quirks.empty() && s.id != "casme2/sub04/EP12_01f") noted[s.id] = s.quirks;
  const std::map<std::string, std::vector<std::string>> expected_notes = {
      {"casme2/sub05/EP09_05f", {"apex equals onset (69)"}},
      {"casme2/sub05/EP16_04f", {"apex equals offset (181)"}},
      {"casme2/sub12/EP09_06", {"apex equals offset (111)"}},
      {"casme2/sub20/EP16_01", {"apex equals offset (111)"}},
      {"casme2/sub25/EP18_04f", {"apex equals offset (116)"}}};
  EXPECT_EQ(noted, expected_notes);
}

TEST(Casme2Dataset, MissingApexPolicyDecidesAboutTheSlashApex) {
  test::TempDir dir;
  const auto root = dir / "CASME2";
  make_native_tree(root, real_table());

  const auto skipped = build_dataset(five_class_yaml(root, "skip"));
  EXPECT_EQ(skipped->samples().size(), 245u);
  ASSERT_EQ(skipped->excluded().size(), 10u);
  const auto it = std::find_if(skipped->excluded().begin(), skipped->excluded().end(),
                               [](const SkipRecord& r) { return r.sample_id == "casme2/sub04/EP12_01f"; });
  ASSERT_NE(it, skipped->excluded().end());
  EXPECT_EQ(it->stage, "dataset");
  EXPECT_EQ(it->reason, "ApexFrame '/': no usable apex (missing_apex: skip)");

  expect_error<DataError>([&] { build_dataset(five_class_yaml(root, "fail")); },
                          {"CASME2-coding-20140508.csv:31", "ApexFrame '/'", "casme2/sub04/EP12_01f", "missing_apex"});

  // estimate: the apex stays unknown for an apex-spotting stage, and no apex frame is looked for.
  fs::remove(root / "CASME2_RAW_selected" / "sub04" / "EP12_01f" / "img291.jpg");
  const auto estimated = build_dataset(five_class_yaml(root, "estimate"));
  EXPECT_EQ(estimated->samples().size(), 246u);
  const auto& s = find_sample(*estimated, "casme2/sub04/EP12_01f");
  EXPECT_EQ(s.apex, -1);
  EXPECT_EQ(s.quirks, std::vector<std::string>{"ApexFrame '/': no usable apex -> estimate"});
  // ... while midpoint needs the midpoint frame it chose.
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root, "midpoint")); }, {"img291.jpg", "ApexFrame 291"});
}

TEST(Casme2Dataset, ApexOutsideTheClipFollowsThePolicy) {
  test::TempDir dir;
  const auto table = dir / "table.csv";
  write_bytes(table,
              "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
              "01,EP02_01f,,46,59,86,,12,happiness\n"
              "02,EP09_06,,10,95,50,,4,others\n"
              "03,EP01_01,,10,99,50,,4,sadness\n");  // out of range too, but not in the label map
  const auto root = dir / "CASME2";
  make_native_tree(root, table);

  auto options = five_class_options(root);
  options.common.policies.apex_out_of_range = "midpoint";
  Casme2Dataset mid(options);
  ASSERT_EQ(mid.samples().size(), 2u);
  EXPECT_EQ(mid.samples()[1].apex, 30);
  EXPECT_EQ(mid.samples()[1].quirks,
            std::vector<std::string>{"apex 95 outside onset..offset 10..50 -> midpoint 30 (was 95)"});
  ASSERT_EQ(mid.excluded().size(), 1u);
  EXPECT_EQ(mid.excluded()[0].stage, "label_map");

  options.common.policies.apex_out_of_range = "clamp";
  Casme2Dataset clamp(options);
  EXPECT_EQ(clamp.samples()[1].apex, 50);

  options.common.policies.apex_out_of_range = "skip";
  Casme2Dataset skip(options);
  ASSERT_EQ(skip.samples().size(), 1u);
  ASSERT_EQ(skip.excluded().size(), 2u);
  EXPECT_EQ(skip.excluded()[0].reason, "apex 95 outside onset..offset 10..50 (apex_out_of_range: skip)");

  // Options built in code are checked as the YAML path checks them.
  options.common.policies.apex_out_of_range = "guess";
  expect_error<ValueError>([&] { Casme2Dataset{options}; }, {"apex_out_of_range", "'guess'", "clamp"});

  // The default is fail; the excluded sadness row never reaches the policy.
  options.common.policies = QuirkPolicies{};
  expect_error<DataError>([&] { Casme2Dataset{options}; },
                          {"CASME2-coding-20140508.csv:3", "casme2/sub02/EP09_06", "apex 95", "10..50"});
}

TEST(Casme2Dataset, CroppedVariantUsesRegImgFrames) {
  test::TempDir dir;
  const auto table = dir / "table.csv";
  write_bytes(table,
              "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
              "1,EP02_01f,,46,59,86,,12,happiness\n");
  const auto root = dir / "CASME2";
  make_native_tree(root, table, "Cropped", "reg_img");  // subject "1" (lost its zero) lives in sub01

  auto options = five_class_options(root);
  options.variant = "cropped";
  Casme2Dataset ds(options);
  ASSERT_EQ(ds.samples().size(), 1u);
  const auto& s = ds.samples()[0];
  EXPECT_EQ(s.subject, "sub01");
  EXPECT_EQ(s.frame_path(59), root / "Cropped" / "sub01" / "EP02_01f" / "reg_img59.jpg");
  EXPECT_TRUE(fs::exists(s.frame_path(59)));

  // The raw variant looks elsewhere and says where.
  options.variant = "raw";
  expect_error<DataError>([&] { Casme2Dataset{options}; }, {(root / "CASME2_RAW_selected").string()});
}

TEST(Casme2Dataset, BadInputGivesOneLineErrorsNamingTheThing) {
  test::TempDir dir;
  const auto missing_root = dir / "no-such-root";
  expect_error<DataError>([&] { build_dataset(five_class_yaml(missing_root)); }, {missing_root.string(), "CASME2_RAW_selected"});

  const auto root = dir / "CASME2";
  const auto table = dir / "table.csv";
  write_bytes(table,
              "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
              "01,EP02_01f,,46,59,86,,12,happiness\n"
              "01,EP03_02,,131,139,161,,18,others\n");
  make_native_tree(root, table);

  // A frame file the table needs is missing.
  const auto apex = root / "CASME2_RAW_selected" / "sub01" / "EP03_02" / "img139.jpg";
  fs::remove(apex);
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root)); }, {apex.string(), "CASME2-coding-20140508.csv:3"});
  auto options = five_class_options(root);
  options.common.check_frames = false;
  EXPECT_EQ(Casme2Dataset(options).samples().size(), 2u);
  // missing_frames: skip leaves the sample out, saying which file is missing.
  options.common.check_frames = true;
  options.common.missing_frames = "skip";
  const Casme2Dataset skipped(options);
  EXPECT_EQ(skipped.samples().size(), 1u);
  ASSERT_EQ(skipped.excluded().size(), 1u);
  EXPECT_EQ(skipped.excluded()[0].reason, "frame file '" + apex.string() + "' for ApexFrame 139 does not exist (missing_frames: skip)");
  options.common.missing_frames = "fail";
  options.common.check_frames = false;

  // A whole clip folder is missing.
  const auto clip = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f";
  fs::remove_all(clip);
  expect_error<DataError>([&] { Casme2Dataset{options}; }, {clip.string(), "CASME2-coding-20140508.csv:2"});

  // A malformed row, found through the registry path.
  write_bytes(root / "CASME2-coding-20140508.csv",
              "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
              "01,EP03_02,,abc,139,161,,18,others\n");
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root)); },
                          {(root / "CASME2-coding-20140508.csv").string() + ":2", "OnsetFrame", "'abc'"});

  // The table is missing.
  fs::remove(root / "CASME2-coding-20140508.csv");
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root)); }, {"CASME2-coding-20140508.csv", "does not exist"});
}

// Common unpackings: the frame tree nested once more, or the subject folders directly in the root; and a
// CSV export of the table where the config names the .xlsx. Anything else names every place looked in.
TEST(Casme2Layout, CommonUnpackingsAreFoundAndNamedWhenAbsent) {
  const auto count = [](const fs::path& root, const std::string& extra = "") {
    return build_dataset(five_class_yaml(root) + extra)->samples().size();
  };
  test::TempDir dir;
  const auto documented = dir / "a";
  make_native_tree(documented, real_table());
  const auto n = count(documented);
  ASSERT_GT(n, 0u);
  const auto nested = dir / "b";
  make_native_tree(nested, real_table(), "CASME2_RAW_selected/CASME2_RAW_selected");
  EXPECT_EQ(count(nested), n);
  const auto flat = dir / "c";
  make_native_tree(flat, real_table(), ".");
  EXPECT_EQ(count(flat), n);
  EXPECT_EQ(build_dataset(five_class_yaml(flat))->samples()[0].clip_dir.parent_path().parent_path(), flat);
  // The config names the workbook; only its CSV export is there.
  EXPECT_EQ(count(documented, "  table: CASME2-coding-20140508.xlsx\n"), n);
  const auto empty = dir / "d";
  fs::create_directories(empty);
  fs::copy_file(real_table(), empty / "CASME2-coding-20140508.csv");
  expect_error<DataError>([&] { build_dataset(five_class_yaml(empty)); },
                          {"looked for", (empty / "CASME2_RAW_selected").string(), (empty / "CASME2_RAW_selected/CASME2_RAW_selected").string()});
  fs::remove(empty / "CASME2-coding-20140508.csv");
  expect_error<DataError>([&] { build_dataset(five_class_yaml(empty) + "  table: CASME2-coding-20140508.xlsx\n"); },
                          {"CASME2-coding-20140508.xlsx", "does not exist", ".csv"});
}

TEST(Casme2Dataset, TheVendorXlsxLoadsLikeItsCsvExport) {
  test::TempDir dir;
  const auto root = dir / "CASME2";
  make_native_tree(root, real_table());
  // The workbook as distributed: the coding sheet first, then two empty sheets.
  test::write_xlsx(root / "CASME2-coding-20140508.xlsx",
                   {test::sheet_from_csv(real_table(), "Sheet1"), test::XlsxSheet{"Sheet2", {}, {}},
                    test::XlsxSheet{"Sheet3", {}, {}}});

  const auto csv = build_dataset(five_class_yaml(root));
  const auto xlsx = build_dataset(five_class_yaml(root) + "  table: CASME2-coding-20140508.xlsx\n");
  ASSERT_EQ(xlsx->samples().size(), csv->samples().size());
  for (std::size_t i = 0; i < csv->samples().size(); ++i) {
    const auto& a = csv->samples()[i];
    const auto& b = xlsx->samples()[i];
    EXPECT_EQ(b.id, a.id);
    EXPECT_EQ(b.subject, a.subject);
    EXPECT_EQ(std::make_tuple(b.onset, b.apex, b.offset), std::make_tuple(a.onset, a.apex, a.offset)) << a.id;
    EXPECT_EQ(b.emotion, a.emotion);
    EXPECT_EQ(b.label, a.label);
    EXPECT_EQ(b.action_units, a.action_units);
    EXPECT_EQ(b.clip_dir, a.clip_dir);
    EXPECT_EQ(b.fps, a.fps);
    EXPECT_EQ(b.quirks, a.quirks);
    // The same row, named the workbook's way.
    EXPECT_EQ(b.source, "CASME2-coding-20140508.xlsx[Sheet1]" + a.source.substr(a.source.find(':'))) << b.source;
  }
  ASSERT_EQ(xlsx->excluded().size(), csv->excluded().size());
  for (std::size_t i = 0; i < csv->excluded().size(); ++i)
    EXPECT_EQ(xlsx->excluded()[i].sample_id, csv->excluded()[i].sample_id);

  // Errors name the sheet and its row.
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root, "fail") + "  table: CASME2-coding-20140508.xlsx\n"); },
                          {"CASME2-coding-20140508.xlsx[Sheet1]:31", "ApexFrame '/'"});
  expect_error<DataError>(
      [&] { build_dataset(five_class_yaml(root) + "  table: CASME2-coding-20140508.xlsx\n  sheet: Sheet4\n"); },
      {"CASME2-coding-20140508.xlsx", "'Sheet4'", "'Sheet1', 'Sheet2', 'Sheet3'"});
  expect_error<DataError>(
      [&] { build_dataset(five_class_yaml(root) + "  table: CASME2-coding-20140508.xlsx\n  sheet: Sheet2\n"); },
      {"CASME2-coding-20140508.xlsx[Sheet2]", "no header row", "'Subject', 'Filename'"});
}

TEST(Casme2Dataset, The20190701TableGives249SamplesInFiveClasses) {
  test::TempDir dir;
  const auto root = dir / "CASME2";
  make_native_tree(root, table_2019(), "CASME2_RAW_selected", "img", "CASME2-coding-20190701.csv");
  const auto ds = build_dataset(five_class_yaml(root) + "  table: CASME2-coding-20190701.csv\n");
  ASSERT_EQ(ds->samples().size(), 249u);
  std::map<std::string, int> per_class;
  for (const auto& s : ds->samples()) ++per_class[ds->labels().name(s.label)];
  const std::map<std::string, int> expected = {
      {"happiness", 32}, {"surprise", 28}, {"disgust", 63}, {"repression", 27}, {"others", 99}};
  EXPECT_EQ(per_class, expected);
  // The three relabelled sub24 clips.
  for (const auto* id : {"casme2/sub24/EP07_01", "casme2/sub24/EP07_04f", "casme2/sub24/EP10_03"})
    EXPECT_EQ(find_sample(*ds, id).emotion, "surprise") << id;
  EXPECT_EQ(ds->excluded().size(), 6u);  // 4 sadness + 2 fear

  const auto rows = read_casme2_table(table_2019());
  ASSERT_EQ(rows.size(), 255u);
  EXPECT_EQ(rows.front().objective_class, "1");
  EXPECT_TRUE(read_casme2_table(real_table()).front().objective_class.empty());

  // Objective Classes as labels: the seven classes with the release's counts.
  const auto objective = build_dataset(fill_root(R"(dataset:
  type: casme2
  root: {ROOT}
  table: CASME2-coding-20190701.csv
  label_column: Objective Classes
  labels:
    classes: ['1', '2', '3', '4', '5', '6', '7']
)", root));
  std::map<std::string, int> per_objective;
  for (const auto& s : objective->samples()) ++per_objective[s.emotion];
  const std::map<std::string, int> objective_expected = {{"1", 30}, {"2", 18}, {"3", 93}, {"4", 15},
                                                         {"5", 18}, {"6", 2},  {"7", 79}};
  EXPECT_EQ(per_objective, objective_expected);

  // The 20140508 table has no such column: said, not guessed.
  make_native_tree(root, real_table());
  expect_error<DataError>([&] { build_dataset(fill_root("dataset:\n  type: casme2\n  root: {ROOT}\n  label_column: Objective "
                                                "Classes\n  labels: {classes: ['1']}\n", root)); },
                          {"CASME2-coding-20140508.csv:2", "Objective Classes", "20190701"});
}

TEST(Casme2Dataset, MinSamplesPerClassDropsFearAndSadnessAndSaysSo) {
  test::TempDir dir;
  const auto root = dir / "CASME2";
  make_native_tree(root, real_table());
  const auto ds = build_dataset(fill_root(R"(dataset:
  type: casme2
  root: {ROOT}
  labels:
    classes: [happiness, surprise, disgust, repression, others, sadness, fear]
    min_samples_per_class: 11
)", root));
  EXPECT_EQ(ds->labels().classes(),
            (std::vector<std::string>{"happiness", "surprise", "disgust", "repression", "others"}));
  ASSERT_EQ(ds->samples().size(), 246u);
  for (const auto& s : ds->samples()) EXPECT_EQ(ds->labels().name(s.label), s.emotion) << s.id;
  ASSERT_EQ(ds->excluded().size(), 9u);
  int sadness = 0, fear = 0;
  for (const auto& skip : ds->excluded()) {
    EXPECT_EQ(skip.stage, "min_samples_per_class") << skip.sample_id;
    sadness += skip.reason == "class 'sadness' has 7 samples, fewer than 11";
    fear += skip.reason == "class 'fear' has 2 samples, fewer than 11";
  }
  EXPECT_EQ(sadness, 7);
  EXPECT_EQ(fear, 2);
}

TEST(Casme2Options, BadValuesAreConfigErrorsWithLine) {
  const std::string yaml = "dataset:\n  type: casme2\n  root: /data/CASME2\n  variant: croped\n"
                           "  labels: {classes: [happiness]}\n";
  expect_error<ConfigError>([&] { build_dataset(yaml); }, {"test.yaml:4", "variant", "'croped'", "raw", "cropped"});

  const std::string policy = "dataset:\n  type: casme2\n  root: /data/CASME2\n  missing_apex: guess\n"
                             "  labels: {classes: [happiness]}\n";
  expect_error<ConfigError>([&] { build_dataset(policy); }, {"test.yaml:4", "missing_apex", "'guess'", "midpoint"});
  const std::string column = "dataset:\n  type: casme2\n  root: /data/CASME2\n  label_column: Emotion\n"
                             "  labels: {classes: [happiness]}\n";
  expect_error<ConfigError>([&] { build_dataset(column); }, {"test.yaml:4", "label_column", "'Emotion'", "Objective Classes"});

  // The old single apex_policy key is gone; a config still using it is caught as an unknown key.
  const auto old = Config::from_string("dataset:\n  type: casme2\n  root: /data/CASME2\n  apex_policy: midpoint\n"
                                       "  labels: {classes: [happiness]}\n", "old.yaml");
  old.root().child("dataset").get<std::string>("type", "");  // what the registry reads
  Casme2Options::from_config(old.root().child("dataset"));
  expect_error<ConfigError>([&] { old.check_all_used(); }, {"old.yaml:4", "apex_policy"});

  expect_error<ConfigError>([&] { build_dataset("dataset:\n  type: casme2\n  labels: {classes: [happiness]}\n"); },
                            {"root"});
  expect_error<RegistryError>([&] { build_dataset("dataset:\n  type: casme22\n  root: /x\n"); },
                              {"test.yaml:2", "'casme22'", "casme2"});

  // Defaults are written back into the document, so the resolved config shows them.
  const auto config = Config::from_string("dataset:\n  root: /data/CASME2\n  labels: {classes: [happiness]}\n");
  const auto o = Casme2Options::from_config(config.root().child("dataset"));
  EXPECT_EQ(o.root, "/data/CASME2");
  EXPECT_EQ(o.table, "CASME2-coding-20140508.csv");
  EXPECT_EQ(o.variant, "raw");
  EXPECT_EQ(o.sheet, "");
  EXPECT_EQ(o.label_column, "Estimated Emotion");
  EXPECT_EQ(o.common.policies.missing_apex, "midpoint");
  EXPECT_EQ(o.common.policies.apex_out_of_range, "fail");
  EXPECT_TRUE(o.common.check_frames);
  EXPECT_EQ(o.common.labels.num_classes(), 1);
  EXPECT_NE(config.dump().find("missing_apex: midpoint"), std::string::npos) << config.dump();
  EXPECT_NE(config.dump().find("apex_out_of_range: fail"), std::string::npos) << config.dump();
}

}  // namespace
}  // namespace mer
