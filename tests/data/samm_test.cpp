#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/data/frames.hpp>
#include <mer/data/samm.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "adapter_test_util.hpp"
#include "support/test_paths.hpp"
#include "support/xlsx_writer.hpp"

namespace mer {
namespace {

using test::build_dataset;
using test::expect_error;
using test::write_bytes;
using test::find_sample;
namespace fs = std::filesystem;

fs::path table_part() { return test::annotations_dir() / "samm_coding.csv"; }
fs::path full_sheet() { return test::annotations_dir() / "samm_coding_full_sheet.csv"; }

// One tiny greyscale JPEG, as SAMM's frames are single-channel; copied to every frame path.
const std::string& tiny_grey_jpeg() {
  static const std::string bytes = [] {
    std::vector<uchar> buf;
    cv::imencode(".jpg", cv::Mat(8, 8, CV_8UC1, cv::Scalar(120)), buf);
    return std::string(buf.begin(), buf.end());
  }();
  return bytes;
}

std::string frame_name(const std::string& subject, int frame) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s_%05d.jpg", subject.c_str(), frame);
  return buf;
}

// <root>/<frames_dir>/<subject>/<clip>/<subject>_<frame:05d>.jpg for every frame Onset..Offset of every row
// (a clip folder holds exactly those, as MEB checks), and the table copied to <root>/<table_name>.
void make_native_tree(const fs::path& root, const fs::path& table, const std::string& table_name,
                      const std::string& frames_dir = "SAMM") {
  fs::create_directories(root / frames_dir);
  fs::copy_file(table, root / table_name, fs::copy_options::overwrite_existing);
  for (const auto& row : read_samm_table(table)) {
    const auto clip = root / frames_dir / row.subject / row.filename;
    fs::create_directories(clip);
    for (int f = row.onset; f <= row.offset; ++f) write_bytes(clip / frame_name(row.subject, f), tiny_grey_jpeg());
  }
}

// The real v2 sheet (with its preamble) in a native tree, built once for the suite.
class SammTree : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    make_native_tree(root(), full_sheet(), "SAMM_Micro_FACS_Codes_v2.csv");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path root() { return dir_->path() / "SAMM"; }
  static fs::path table() { return root() / "SAMM_Micro_FACS_Codes_v2.csv"; }
  static std::string where(int line) { return table().string() + ":" + std::to_string(line); }
  static test::TempDir* dir_;
};
test::TempDir* SammTree::dir_ = nullptr;

std::string five_class_yaml(const fs::path& root, const std::string& extra = "") {
  return "dataset:\n  type: samm\n  root: " + root.string() +
         "\n  table: SAMM_Micro_FACS_Codes_v2.csv\n" + extra +
         "  labels:\n    classes: [Anger, Happiness, Contempt, Surprise, Other]\n";
}

TEST(SammTable, BothExportsOfTheV2SheetParseAlike) {
  const std::map<std::string, int> expected = {{"Anger", 57},   {"Other", 26},   {"Happiness", 26}, {"Surprise", 15},
                                               {"Contempt", 12}, {"Disgust", 9}, {"Fear", 8},       {"Sadness", 6}};
  for (const auto& [file, header_line] : {std::pair{table_part(), 1}, std::pair{full_sheet(), 14}}) {
    SCOPED_TRACE(file.string());
    const auto rows = read_samm_table(file);
    ASSERT_EQ(rows.size(), 159u);
    std::set<std::string> subjects;
    std::map<std::string, int> emotions;
    for (const auto& r : rows) {
      subjects.insert(r.subject);
      ++emotions[r.emotion];
      EXPECT_EQ(r.subject, r.subject_in_table);  // v2 stores text: nothing padded
    }
    EXPECT_EQ(subjects.size(), 29u);
    EXPECT_EQ(*subjects.begin(), "006");
    EXPECT_EQ(*subjects.rbegin(), "037");
    EXPECT_EQ(emotions, expected);

    // The header is found on its own line; the first data row follows it.
    const auto& first = rows.front();
    EXPECT_EQ(first.where, file.string() + ":" + std::to_string(header_line + 1));
    EXPECT_EQ(first.filename, "006_1_2");
    EXPECT_EQ(first.onset, 5562);
    EXPECT_EQ(first.apex, 5588);
    EXPECT_EQ(first.offset, 5632);
    EXPECT_EQ(first.action_units, "4+7");

    auto find = [&](const std::string& clip) {
      auto it = std::find_if(rows.begin(), rows.end(), [&](const SammRow& r) { return r.filename == clip; });
      EXPECT_NE(it, rows.end()) << clip;
      return *it;
    };
    EXPECT_EQ(find("033_1_4").action_units, "12+15");  // "12+15 " in the sheet
    const auto late = find("028_4_1");
    EXPECT_EQ(late.apex, 1143);
    EXPECT_EQ(late.offset, 1134);
    EXPECT_EQ(late.where, file.string() + ":" + std::to_string(header_line + 126));
  }
}

TEST(SammTable, NumericSubjectsArePaddedAndOtherReleasesHeadersFound) {
  test::TempDir dir;
  // A release with one title row above the header (read with skiprows=[0] elsewhere) and a Subject that
  // lost its zeros on the way through a spreadsheet.
  const auto file = dir / "samm_2018.csv";
  write_bytes(file,
              "SAMM Dataset - Master FACS Codes,,,,,,,,,,,\n"
              "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Micro,Action Units,"
              "Estimated Emotion,Objective Classes,Notes\n"
              "6,006_1_2,1,5562,5588,5632,71,Micro - 1/2, 4+7 , Anger ,3,\n"
              "6.0,006_1_3,1,3912,/,3988,77,Micro - 1/2,4,Anger,3,\n");
  const auto rows = read_samm_table(file);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].subject, "006");
  EXPECT_EQ(rows[0].subject_in_table, "6");
  EXPECT_EQ(rows[0].where, file.string() + ":3");
  EXPECT_EQ(rows[0].action_units, "4+7");
  EXPECT_EQ(rows[0].emotion, "Anger");
  EXPECT_EQ(rows[1].subject, "006");
  EXPECT_EQ(rows[1].apex, -1);

  // The padding is recorded on the loaded sample; the "/" apex goes through missing_apex.
  const auto root = dir / "SAMM";
  make_native_tree(root, file, "SAMM_Micro_FACS_Codes_v2.csv");
  SammOptions o;
  o.root = root;
  o.table = "SAMM_Micro_FACS_Codes_v2.csv";
  o.common.labels = LabelMap({"Anger"}, {});
  SammDataset ds(o);
  ASSERT_EQ(ds.samples().size(), 2u);
  const auto& s = ds.samples()[0];
  EXPECT_EQ(s.id, "samm/006/006_1_2");
  EXPECT_EQ(s.subject, "006");
  ASSERT_EQ(s.quirks.size(), 1u);
  EXPECT_NE(s.quirks[0].find("'6'"), std::string::npos) << s.quirks[0];
  EXPECT_NE(s.quirks[0].find("'006'"), std::string::npos) << s.quirks[0];
  EXPECT_EQ(ds.samples()[1].apex, (3912 + 3988) / 2);
  EXPECT_EQ(ds.samples()[1].quirks.size(), 2u);
}

TEST(SammTable, MalformedRowsNameFileRowColumnAndValue) {
  test::TempDir dir;
  const std::string header = "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Micro,"
                             "Action Units,Estimated Emotion,Objective Classes,Notes\n";
  const std::string good = "006,006_1_2,1,5562,5588,5632,71,Micro - 1/2,4+7,Anger,3,\n";
  const auto file = dir / "t.csv";
  auto table = [&](const std::string& bad) {
    write_bytes(file, header + good + bad);
    return file;
  };
  const std::string at = file.string() + ":3";
  expect_error<DataError>([&] { read_samm_table(table("006,006_1_3,1,39x2,3948,3988,77,M,4,Anger,3,\n")); },
                          {at, "Onset Frame", "'39x2'"});
  expect_error<DataError>([&] { read_samm_table(table("006,006_1_3,1,3912,?,3988,77,M,4,Anger,3,\n")); },
                          {at, "Apex Frame", "'?'"});
  expect_error<DataError>([&] { read_samm_table(table("S6,006_1_3,1,3912,3948,3988,77,M,4,Anger,3,\n")); },
                          {at, "Subject", "'S6'"});
  expect_error<DataError>([&] { read_samm_table(table("007,006_1_3,1,3912,3948,3988,77,M,4,Anger,3,\n")); },
                          {at, "Filename '006_1_3'", "'007_'"});
  expect_error<DataError>([&] { read_samm_table(table("006,,1,3912,3948,3988,77,M,4,Anger,3,\n")); },
                          {at, "Filename"});

  write_bytes(file, "Subject,Filename,Onset Frame,Apex Frame,Offset Frame,Action Units\n006,006_1_2,1,2,3,4\n");
  expect_error<DataError>([&] { read_samm_table(file); }, {file.string(), "Estimated Emotion"});
  write_bytes(file, "Title\nSubj,File\n");
  expect_error<DataError>([&] { read_samm_table(file); }, {file.string(), "'Subject'", "'Filename'"});
}

TEST_F(SammTree, FiveClassesThroughTheRegistry) {
  const auto ds = build_dataset(five_class_yaml(root(), "  apex_out_of_range: clamp\n"));
  EXPECT_EQ(ds->name(), "samm");
  ASSERT_EQ(ds->samples().size(), 136u);

  std::map<std::string, int> per_class;
  std::set<std::string> subjects;
  for (const auto& s : ds->samples()) {
    ++per_class[ds->labels().name(s.label)];
    subjects.insert(s.subject);
    EXPECT_EQ(s.dataset, "samm");
    EXPECT_EQ(s.fps, 200);
    EXPECT_LE(s.onset, s.apex) << s.id;
    EXPECT_LE(s.apex, s.offset) << s.id;
  }
  const std::map<std::string, int> expected = {
      {"Anger", 57}, {"Happiness", 26}, {"Contempt", 12}, {"Surprise", 15}, {"Other", 26}};
  EXPECT_EQ(per_class, expected);
  EXPECT_EQ(subjects.size(), 27u);
  EXPECT_EQ(subjects.count("024"), 0u);  // only Disgust/Fear/Sadness rows
  EXPECT_EQ(subjects.count("036"), 0u);

  ASSERT_EQ(ds->excluded().size(), 23u);
  std::map<std::string, int> left_out;
  for (const auto& skip : ds->excluded()) {
    EXPECT_EQ(skip.stage, "label_map");
    for (const char* e : {"Disgust", "Fear", "Sadness"})
      left_out[e] += skip.reason.find(std::string("'") + e + "'") != std::string::npos;
  }
  EXPECT_EQ(left_out, (std::map<std::string, int>{{"Disgust", 9}, {"Fear", 8}, {"Sadness", 6}}));

  const auto& first = ds->samples().front();
  EXPECT_EQ(first.id, "samm/006/006_1_2");
  EXPECT_EQ(first.subject, "006");
  EXPECT_EQ(first.group_key(), "samm/006");
  EXPECT_EQ(first.clip, "006_1_2");
  EXPECT_EQ(first.emotion, "Anger");
  EXPECT_EQ(first.label, 0);
  EXPECT_EQ(first.action_units, "4+7");
  EXPECT_EQ(first.source, where(15));
  EXPECT_EQ(first.clip_dir, root() / "SAMM" / "006" / "006_1_2");
  EXPECT_EQ(first.frame_path(5562), root() / "SAMM" / "006" / "006_1_2" / "006_05562.jpg");
  EXPECT_TRUE(first.quirks.empty());

  // Greyscale frames load, in either colour mode.
  const auto grey = load_frame(first, first.apex, ColorMode::Gray);
  EXPECT_EQ(grey.channels(), 1);
  EXPECT_EQ(load_frame(first, first.apex, ColorMode::Color).channels(), 3);
}

TEST_F(SammTree, FrameOrderQuirksFollowTheApexOutOfRangePolicy) {
  // fail (the default): the first bad row in table order stops the load, named by file:row and sample.
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root())); }, {where(140), "samm/028/028_4_1", "1143"});

  // skip: the three rows are excluded with their reasons.
  const auto skipped = build_dataset(five_class_yaml(root(), "  apex_out_of_range: skip\n"));
  EXPECT_EQ(skipped->samples().size(), 133u);
  std::map<std::string, std::string> reasons;
  for (const auto& r : skipped->excluded())
    if (r.stage == "dataset") reasons[r.sample_id] = r.reason;
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_NE(reasons["samm/028/028_4_1"].find("apex 1143 outside onset..offset 1071..1134"), std::string::npos);
  EXPECT_NE(reasons["samm/032/032_3_1"].find("apex 1930 outside onset..offset 4896..4970"), std::string::npos);
  EXPECT_NE(reasons["samm/032/032_3_2"].find("1 frame(s) after onset 5126"), std::string::npos);
  for (const auto& [id, reason] : reasons) EXPECT_NE(reason.find("apex_out_of_range: skip"), std::string::npos) << id;

  // clamp: kept, moved into range, and the move is recorded on exactly these samples.
  const auto clamped = build_dataset(five_class_yaml(root(), "  apex_out_of_range: clamp\n"));
  ASSERT_EQ(clamped->samples().size(), 136u);
  std::map<std::string, int> apex;
  for (const auto& s : clamped->samples()) {
    if (s.quirks.empty()) continue;
    ASSERT_EQ(s.quirks.size(), 1u) << s.id;
    EXPECT_NE(s.quirks[0].find("clamp"), std::string::npos) << s.quirks[0];
    apex[s.id] = s.apex;
  }
  EXPECT_EQ(apex, (std::map<std::string, int>{
                      {"samm/028/028_4_1", 1134}, {"samm/032/032_3_1", 4896}, {"samm/032/032_3_2", 5128}}));
  EXPECT_NE(find_sample(*clamped, "samm/032/032_3_2")->quirks[0].find("(was 5127)"), std::string::npos);

  // estimate leaves all three to an apex-spotting stage.
  const auto estimated = build_dataset(five_class_yaml(root(), "  apex_out_of_range: estimate\n"));
  for (const char* id : {"samm/028/028_4_1", "samm/032/032_3_1", "samm/032/032_3_2"}) {
    const auto* s = find_sample(*estimated, id);
    ASSERT_NE(s, nullptr) << id;
    EXPECT_EQ(s->apex, -1) << id;
    EXPECT_EQ(s->quirks.size(), 1u) << id;
  }

  // min_onset_to_apex: 0 accepts 032_3_2's one-frame rise; the two out-of-range rows remain.
  const auto lenient = build_dataset(five_class_yaml(root(), "  apex_out_of_range: skip\n  min_onset_to_apex: 0\n"));
  EXPECT_EQ(lenient->samples().size(), 134u);
  const auto* rise = find_sample(*lenient, "samm/032/032_3_2");
  ASSERT_NE(rise, nullptr);
  EXPECT_EQ(rise->apex, 5127);
  EXPECT_TRUE(rise->quirks.empty());
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root(), "  min_onset_to_apex: 0\n")); }, {where(140)});
}

TEST_F(SammTree, TheCommittedConfigsLoad) {
  // configs/samm.yaml's dataset and label pieces, with the CSV export in place of the workbook.
  const auto experiment = dir_->path() / "samm_experiment.yaml";
  const auto base = test::source_dir() / "configs" / "_base_";
  write_bytes(experiment, "base:\n  - " + (base / "datasets" / "samm.yaml").string() + "\n  - " +
                              (base / "labels" / "samm_5class.yaml").string() + "\n");
  ::setenv("MER_DATA_ROOT", dir_->path().string().c_str(), 1);
  const auto config = Config::load(experiment, {"dataset.table=SAMM_Micro_FACS_Codes_v2.csv"});
  const auto ds = builtin_datasets().build(config.root().child("dataset"));
  ::unsetenv("MER_DATA_ROOT");
  EXPECT_EQ(ds->samples().size(), 136u);
  // The three frame-order rows, by the config's apex_out_of_range: midpoint (values as in docs/datasets.md).
  std::map<std::string, int> moved;
  for (const auto& s : ds->samples())
    if (!s.quirks.empty()) moved[s.id] = s.apex;
  EXPECT_EQ(moved, (std::map<std::string, int>{
                       {"samm/028/028_4_1", 1102}, {"samm/032/032_3_1", 4933}, {"samm/032/032_3_2", 5166}}));

  // Lower-case names, as CASME II spells them, match nothing in SAMM.
  expect_error<DataError>(
      [&] {
        build_dataset("dataset:\n  type: samm\n  root: " + root().string() +
              "\n  table: SAMM_Micro_FACS_Codes_v2.csv\n  apex_out_of_range: skip\n"
              "  labels: {classes: [anger, other]}\n");
      },
      {"samm", "no sample is left"});
}

TEST_F(SammTree, TheWorkbookAsDistributedReadsLikeItsCsvExport) {
  // The v2 sheet rebuilt as a workbook (numbers as numbers, "006" as text, the preamble on rows 1-13).
  const auto xlsx = root() / "SAMM_Micro_FACS_Codes_v2.xlsx";
  test::write_xlsx(xlsx, {test::sheet_from_csv(full_sheet(), "MICRO_ONLY")});
  const auto from_xlsx = read_samm_table(xlsx);
  const auto from_csv = read_samm_table(full_sheet());
  ASSERT_EQ(from_xlsx.size(), 159u);
  for (std::size_t i = 0; i < from_csv.size(); ++i) {
    const auto &a = from_xlsx[i], &b = from_csv[i];
    EXPECT_EQ(std::tie(a.subject, a.subject_in_table, a.filename, a.onset, a.apex, a.offset, a.action_units, a.emotion),
              std::tie(b.subject, b.subject_in_table, b.filename, b.onset, b.apex, b.offset, b.action_units, b.emotion))
        << b.where;
  }
  EXPECT_EQ(from_xlsx.front().where, xlsx.string() + "[MICRO_ONLY]:15");

  // No table key: the workbook under its distributed name.
  const auto ds = build_dataset("dataset:\n  type: samm\n  root: " + root().string() +
                        "\n  apex_out_of_range: clamp\n"
                        "  labels:\n    classes: [Anger, Happiness, Contempt, Surprise, Other]\n");
  EXPECT_EQ(ds->samples().size(), 136u);
  EXPECT_EQ(ds->samples().front().source, xlsx.string() + "[MICRO_ONLY]:15");
  expect_error<DataError>(
      [&] {
        build_dataset("dataset:\n  type: samm\n  root: " + root().string() + "\n  labels: {classes: [Anger, Contempt]}\n");
      },
      {xlsx.string() + "[MICRO_ONLY]:140", "samm/028/028_4_1"});
  fs::remove(xlsx);
}

TEST(SammDataset, MissingThingsAreOneLineErrorsNamingThePath) {
  test::TempDir dir;
  const auto root = dir / "SAMM";
  const auto table = dir / "t.csv";
  write_bytes(table,
              "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Micro,Action Units,"
              "Estimated Emotion,Objective Classes,Notes\n"
              "006,006_1_2,1,5562,5588,5632,71,Micro - 1/2,4+7,Anger,3,\n"
              "007,007_3_1,3,100,120,150,51,Micro - 1/2,12,Happiness,1,\n");

  const auto yaml = five_class_yaml(root);
  expect_error<DataError>([&] { build_dataset(yaml); }, {root.string(), "SAMM/"});

  make_native_tree(root, table, "SAMM_Micro_FACS_Codes_v2.csv");
  const std::string at = (root / "SAMM_Micro_FACS_Codes_v2.csv").string();
  EXPECT_EQ(build_dataset(yaml)->samples().size(), 2u);

  // A frame the table needs.
  const auto apex = root / "SAMM" / "007" / "007_3_1" / "007_00120.jpg";
  fs::remove(apex);
  expect_error<DataError>([&] { build_dataset(yaml); }, {apex.string(), at + ":3", "Apex Frame 120"});
  EXPECT_EQ(build_dataset(five_class_yaml(root, "  check_frames: false\n"))->samples().size(), 2u);
  write_bytes(apex, tiny_grey_jpeg());

  // A clip folder.
  const auto clip = root / "SAMM" / "006" / "006_1_2";
  fs::remove_all(clip);
  expect_error<DataError>([&] { build_dataset(yaml); }, {clip.string(), at + ":2"});

  // The cropped tree.
  expect_error<DataError>([&] { build_dataset(five_class_yaml(root, "  variant: cropped\n")); },
                          {(root / "SAMM_CROP").string()});

  // The table, by default the .xlsx as distributed: its CSV export beside it is taken instead (the clip
  // removed above is then the error); with neither, both forms are named.
  expect_error<DataError>([&] { build_dataset("dataset:\n  type: samm\n  root: " + root.string() +
                                      "\n  labels: {classes: [Anger]}\n"); },
                          {clip.string()});
  const auto csv = root / "SAMM_Micro_FACS_Codes_v2.csv";
  fs::rename(csv, root / "elsewhere.csv");
  expect_error<DataError>([&] { build_dataset("dataset:\n  type: samm\n  root: " + root.string() +
                                      "\n  labels: {classes: [Anger]}\n"); },
                          {(root / "SAMM_Micro_FACS_Codes_v2.xlsx").string(), "does not exist", ".csv"});
  fs::rename(root / "elsewhere.csv", csv);

  // A clip listed twice.
  write_bytes(root / "SAMM_Micro_FACS_Codes_v2.csv",
              "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Micro,Action Units,"
              "Estimated Emotion,Objective Classes,Notes\n"
              "007,007_3_1,3,100,120,150,51,Micro - 1/2,12,Happiness,1,\n"
              "007,007_3_1,3,100,120,150,51,Micro - 1/2,12,Happiness,1,\n");
  expect_error<DataError>([&] { build_dataset(yaml); }, {at + ":3", "samm/007/007_3_1", "twice", at + ":2"});
}

TEST(SammOptions, BadValuesAreConfigErrorsWithLineAndDefaultsAreWrittenBack) {
  const std::string head = "dataset:\n  type: samm\n  root: /data/SAMM\n";
  const std::string labels = "  labels: {classes: [Anger]}\n";
  expect_error<ConfigError>([&] { build_dataset(head + "  variant: crop\n" + labels); },
                            {"test.yaml:4", "variant", "'crop'", "raw | cropped"});
  expect_error<ConfigError>([&] { build_dataset(head + "  apex_out_of_range: guess\n" + labels); },
                            {"test.yaml:4", "apex_out_of_range", "'guess'"});
  expect_error<ConfigError>([&] { build_dataset(head + "  missing_apex: clamp\n" + labels); },
                            {"test.yaml:4", "missing_apex", "'clamp'"});
  expect_error<ConfigError>([&] { build_dataset(head + "  min_onset_to_apex: -1\n" + labels); },
                            {"test.yaml:4", "min_onset_to_apex", "-1"});
  expect_error<ConfigError>([&] { build_dataset("dataset:\n  type: samm\n" + labels); }, {"root"});

  const auto config = Config::from_string("dataset:\n  root: /data/SAMM\n" + labels);
  const auto o = SammOptions::from_config(config.root().child("dataset"));
  EXPECT_EQ(o.root, "/data/SAMM");
  EXPECT_EQ(o.table, "SAMM_Micro_FACS_Codes_v2.xlsx");
  EXPECT_EQ(o.sheet, "");
  EXPECT_EQ(o.variant, "raw");
  EXPECT_EQ(o.min_onset_to_apex, 2);
  EXPECT_TRUE(o.common.check_frames);
  EXPECT_EQ(o.common.policies.missing_apex, "midpoint");
  EXPECT_EQ(o.common.policies.apex_out_of_range, "fail");
  const auto dump = config.dump();
  for (const char* key : {"variant: raw", "min_onset_to_apex: 2", "apex_out_of_range: fail", "check_frames: true"})
    EXPECT_NE(dump.find(key), std::string::npos) << key << " not in:\n" << dump;
}

TEST(SammLayout, SubjectFoldersDirectlyInTheRootAreFoundToo) {
  // A common unpacking: 006/, 007/ ... next to the table, without the SAMM/ level.
  test::TempDir dir;
  const auto root = dir / "SAMM";
  const auto table = dir / "t.csv";
  write_bytes(table,
              "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Micro,Action Units,"
              "Estimated Emotion,Objective Classes,Notes\n"
              "006,006_1_2,1,5562,5588,5632,71,Micro - 1/2,4+7,Anger,3,\n");
  make_native_tree(root, table, "SAMM_Micro_FACS_Codes_v2.csv", ".");
  const auto yaml = five_class_yaml(root);
  const auto d = build_dataset(yaml);
  ASSERT_EQ(d->samples().size(), 1u);
  EXPECT_EQ(d->samples()[0].clip_dir, root / "006" / "006_1_2");
  // Neither place: the error names both.
  fs::remove_all(root / "006");
  expect_error<DataError>([&] { build_dataset(yaml); }, {"looked for", (root / "SAMM").string() + "', '" + root.string() + "'"});
}

}  // namespace
}  // namespace mer
