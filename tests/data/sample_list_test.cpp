// Third-party sample lists (data/annotated.hpp) applied to the real annotation tables over native trees.
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/annotated.hpp>
#include <mer/data/check.hpp>
#include <mer/data/dataset.hpp>
#include <mer/data/megc2019.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "support/native_trees.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

fs::path list_file(const std::string& name) { return test::annotations_dir() / name; }

std::unique_ptr<Dataset> build(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "test.yaml");
  return builtin_datasets().build(config.root().child("dataset"));
}

const SampleListReport& report_of(const Dataset& ds) {
  const auto* annotated = dynamic_cast<const AnnotatedDataset*>(&ds);
  if (!annotated) throw std::logic_error(ds.name() + " is not an AnnotatedDataset");
  return annotated->sample_list_report();
}

const SampleMeta* find_sample(const Dataset& ds, const std::string& id) {
  for (const auto& s : ds.samples())
    if (s.id == id) return &s;
  return nullptr;
}

std::size_t count_stage(const Dataset& ds, const std::string& stage) {
  return static_cast<std::size_t>(std::count_if(ds.excluded().begin(), ds.excluded().end(),
                                                [&](const SkipRecord& r) { return r.stage == stage; }));
}

std::size_t count_list_quirks(const Dataset& ds) {
  std::size_t n = 0;
  for (const auto& s : ds.samples())
    n += std::any_of(s.quirks.begin(), s.quirks.end(),
                     [](const std::string& q) { return q.rfind("sample list ", 0) == 0; });
  return n;
}

template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "message is not one line: " << what;
  }
}

TEST(SampleListKeys, KnownIdConventionsMatch) {
  // CASME II folder vs table, SAMM text vs number, SMIC list vs folder, SMIC-E numeric subject.
  EXPECT_EQ(sample_list_subject_key("sub01"), sample_list_subject_key("01"));
  EXPECT_EQ(sample_list_subject_key("sub01"), "1");
  EXPECT_EQ(sample_list_subject_key("006"), sample_list_subject_key("6"));
  EXPECT_EQ(sample_list_subject_key("s01"), sample_list_subject_key("s1"));
  EXPECT_EQ(sample_list_subject_key("s20"), sample_list_subject_key("20"));
  EXPECT_EQ(sample_list_clip_key("s01_ne_01"), sample_list_clip_key("s1_ne_01"));
  EXPECT_EQ(sample_list_clip_key("EP02_01f"), "ep2_1f");
  EXPECT_EQ(sample_list_clip_key("006_1_2"), sample_list_clip_key("6_1_2"));
  // Different clips stay different.
  EXPECT_NE(sample_list_clip_key("EP02_01f"), sample_list_clip_key("EP02_01"));
  EXPECT_NE(sample_list_subject_key("sub10"), sample_list_subject_key("sub01"));
  EXPECT_EQ(sample_list_subject_key("sub00"), "0");
}

TEST(SampleListConfig, RejectsHalfADatasetFilterAndUnknownPolicies) {
  const auto options = [](const std::string& body) {
    const auto config = Config::from_string("sample_list:\n" + body, "list.yaml");
    return SampleListOptions::from_config(config.root().child("sample_list"));
  };
  EXPECT_FALSE(options("  file: ''\n").enabled());
  expect_error<ConfigError>([&] { options("  file: x.csv\n  dataset_column: Dataset\n"); }, {"list.yaml", "dataset"});
  expect_error<ConfigError>([&] { options("  file: x.csv\n  on_unmatched: ignore\n"); },
                            {"list.yaml:3", "on_unmatched", "report | fail"});
  expect_error<ConfigError>([&] { options("  file: x.csv\n  use_labels: true\n"); }, {"list.yaml:3", "label"});
  const auto o = options("  file: x.csv\n  label: 5\n  label_names: {1: happiness, 2: surprise}\n");
  EXPECT_EQ(o.label, "5");
  EXPECT_EQ(o.label_names, (std::map<std::string, std::string>{{"1", "happiness"}, {"2", "surprise"}}));
}

// The real 20140508 table in a native CASME II tree (key frames only), built once for the suite.
class SampleListCasme2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    test::write_casme2_tree(root());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path root() { return dir_->path() / "CASME2"; }
  static std::string benchmark_yaml(const std::string& extra = "") {
    return "dataset:\n  type: casme2\n  root: " + root().string() +
           "\n  labels:\n    classes: [happiness, surprise, disgust, repression, others]\n"
           "  sample_list:\n    file: " +
           list_file("casme2_5class_benchmark.csv").string() +
           "\n    onset: 2\n    apex: 3\n    offset: 4\n    label: 5\n"
           "    label_names: {1: happiness, 2: surprise, 3: disgust, 4: repression, 5: others}\n" +
           extra;
  }
  static test::TempDir* dir_;
};
test::TempDir* SampleListCasme2::dir_ = nullptr;

TEST_F(SampleListCasme2, BenchmarkListMatches246AndReportsItsExtraRow) {
  const auto ds = build(benchmark_yaml());
  const auto& rep = report_of(*ds);
  EXPECT_EQ(rep.rows, 247u);
  EXPECT_EQ(rep.matched, 246u);
  ASSERT_EQ(rep.unmatched.size(), 1u);
  // DATASETS.md §10: the list adds sub24/EP02_07, a clip the 20140508 table does not have (line 219).
  EXPECT_EQ(rep.unmatched[0].sample_id, "sub24/EP02_07");
  EXPECT_EQ(rep.unmatched[0].stage, "sample_list");
  EXPECT_NE(rep.unmatched[0].reason.find("casme2_5class_benchmark.csv:219"), std::string::npos)
      << rep.unmatched[0].reason;
  // All 246 five-class samples are listed, so nothing is excluded by the list.
  EXPECT_EQ(ds->samples().size(), 246u);
  EXPECT_EQ(count_stage(*ds, "sample_list"), 0u);
  EXPECT_EQ(rep.labels_differ, 0u);
  // DATASETS.md §10: the list changes 20 rows (20 apex, 5 offset, 2 onset values). One of the 20 apexes
  // is sub04/EP12_01f's "/", here the midpoint 291 under missing_apex, in the list 294.
  EXPECT_EQ(rep.apex_differs, 20u);
  EXPECT_EQ(rep.offset_differs, 5u);
  EXPECT_EQ(rep.onset_differs, 2u);
  EXPECT_EQ(rep.frames_differ, 20u);
  EXPECT_EQ(std::count_if(rep.differences.begin(), rep.differences.end(),
                          [](const std::string& d) { return d.find("casme2/sub04/EP12_01f: apex 291 (table) vs 294") == 0; }),
            1);
  // use_frames is off: the table's frames are kept and no quirk is recorded for the list.
  EXPECT_EQ(count_list_quirks(*ds), 0u);
}

TEST_F(SampleListCasme2, DataCheckReportsTheListsDifferences) {
  const auto ds = build(benchmark_yaml());
  DataCheckOptions options;
  options.all_frames = false;
  options.decode_key_frames = false;
  options.progress = ProgressStyle::None;
  const auto report = check_dataset(*ds, options);
  ASSERT_TRUE(report.sample_list.has_value());
  const auto j = nlohmann::json::parse(data_report_json(report));
  EXPECT_EQ(j["sample_list"]["rows"], 247);
  EXPECT_EQ(j["sample_list"]["matched"], 246);
  ASSERT_EQ(j["sample_list"]["unmatched"].size(), 1u);
  EXPECT_EQ(j["sample_list"]["unmatched"][0]["sample_id"], "sub24/EP02_07");
  EXPECT_EQ(j["sample_list"]["frames_differ"], 20);
  // 20 apex + 5 offset + 2 onset lines.
  EXPECT_EQ(j["sample_list"]["differences"].size(), 27u);
  const auto text = data_report_text(report);
  EXPECT_NE(text.find("247 row(s), 246 matched, 1 unmatched; frames differ on 20 sample(s) (onset 2, apex 20, "
                      "offset 5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("unmatched  " + list_file("casme2_5class_benchmark.csv").string() + ":219"), std::string::npos);
  // No list, no section.
  const auto plain = check_dataset(*build("dataset:\n  type: casme2\n  root: " + root().string() +
                                            "\n  labels:\n    classes: [happiness, surprise]\n"),
                                      options);
  EXPECT_FALSE(plain.sample_list.has_value());
  EXPECT_FALSE(nlohmann::json::parse(data_report_json(plain)).contains("sample_list"));
}

TEST_F(SampleListCasme2, UnmatchedRowFailsWhenAskedTo) {
  expect_error<DataError>([&] { build(benchmark_yaml("    on_unmatched: fail\n")); },
                          {"casme2_5class_benchmark.csv:219", "sub24/EP02_07", "on_unmatched"});
}

TEST_F(SampleListCasme2, ListFramesReplaceTheTablesWhenAsked) {
  const auto table_only = build("dataset:\n  type: casme2\n  root: " + root().string() +
                                "\n  labels:\n    classes: [happiness, surprise, disgust, repression, others]\n");
  // Key-frame tree: the list's changed frames have no files, so they are not checked here...
  const auto ds = build(benchmark_yaml("    use_frames: true\n    check_frames: false\n"));
  ASSERT_EQ(ds->samples().size(), table_only->samples().size());
  std::size_t changed = 0, onset = 0, apex = 0, offset = 0;
  for (const auto& s : ds->samples()) {
    const auto* t = find_sample(*table_only, s.id);
    ASSERT_NE(t, nullptr) << s.id;
    onset += s.onset != t->onset;
    apex += s.apex != t->apex;
    offset += s.offset != t->offset;
    changed += s.onset != t->onset || s.apex != t->apex || s.offset != t->offset;
  }
  EXPECT_EQ(changed, 20u);
  EXPECT_EQ(apex, 20u);
  EXPECT_EQ(offset, 5u);
  EXPECT_EQ(onset, 2u);
  EXPECT_EQ(count_list_quirks(*ds), 20u);
  const auto* s = find_sample(*ds, "casme2/sub04/EP12_01f");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(std::any_of(s->quirks.begin(), s->quirks.end(), [](const std::string& q) {
    return q == "sample list casme2_5class_benchmark.csv: apex 294 (table 291)";
  })) << s->quirks.size();
  EXPECT_EQ(s->apex, 294);
  // ...and with the check on, the first missing one is named with its list row.
  expect_error<DataError>([&] { build(benchmark_yaml("    use_frames: true\n")); },
                          {"casme2_5class_benchmark.csv:", "is missing", "check_frames"});
}

TEST_F(SampleListCasme2, ThreeClassCompositeListSelects145) {
  // Off-TANet's CASME-family list, only its casme2 rows, over every emotion of the table.
  const auto ds = build("dataset:\n  type: casme2\n  root: " + root().string() +
                        "\n  labels:\n    classes: [happiness, surprise, disgust, repression, others, sadness, fear]"
                        "\n  sample_list:\n    file: " + list_file("casme_family_3class_offtanet.csv").string() +
                        "\n    has_header: true\n    subject: Subject\n    clip: Sample\n    onset: Onset\n"
                        "    apex: Apex\n    dataset_column: Dataset\n    dataset: casme2\n");
  const auto& rep = report_of(*ds);
  EXPECT_EQ(rep.rows, 145u);
  EXPECT_EQ(rep.matched, 145u);
  EXPECT_TRUE(rep.unmatched.empty());
  EXPECT_EQ(ds->samples().size(), 145u);
  EXPECT_EQ(count_stage(*ds, "sample_list"), 255u - 145u);
}

TEST_F(SampleListCasme2, ExplainsRowsOfExcludedSamplesAndRejectsDuplicates) {
  test::TempDir dir;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string head = "dataset:\n  type: casme2\n  root: " + root().string() +
                           "\n  labels:\n    classes: [happiness, surprise, disgust, repression, others]\n"
                           "  sample_list:\n    file: ";
  // sub01/EP02_01f (happiness, written unpadded) and a sadness clip, which the 5-class map excludes.
  const auto ds = build(head + write("two.csv", "1,EP02_01f\nsub17,EP15_01\n") + "\n");
  const auto& rep = report_of(*ds);
  EXPECT_EQ(rep.matched, 1u);
  EXPECT_EQ(ds->samples().size(), 1u);
  EXPECT_EQ(ds->samples()[0].id, "casme2/sub01/EP02_01f");
  EXPECT_EQ(count_stage(*ds, "sample_list"), 245u);
  ASSERT_EQ(rep.unmatched.size(), 1u);
  EXPECT_NE(rep.unmatched[0].reason.find("two.csv:2"), std::string::npos) << rep.unmatched[0].reason;
  EXPECT_NE(rep.unmatched[0].reason.find("excluded at stage label_map"), std::string::npos) << rep.unmatched[0].reason;
  // The same clip twice under two spellings is an error naming both rows.
  expect_error<DataError>([&] { build(head + write("dup.csv", "sub01,EP02_01f\n01,ep02_01f\n") + "\n"); },
                          {"dup.csv:2", "dup.csv:1", "casme2/sub01/EP02_01f"});
  // A column named without a header.
  expect_error<DataError>([&] { build(head + write("one.csv", "sub01,EP02_01f\n") + "\n    clip: Filename\n"); },
                          {"one.csv", "has_header: false"});
}

TEST(SampleListSamm, BenchmarkListMatchesThe136FiveClassSamples) {
  test::TempDir dir;
  test::write_samm_tree(dir.path());
  const auto ds = build("dataset:\n  type: samm\n  root: " + dir.path().string() +
                        "\n  apex_out_of_range: midpoint\n"
                        "  labels:\n    classes: [Anger, Happiness, Contempt, Surprise, Other]\n"
                        "  sample_list:\n    file: " + list_file("samm_5class_benchmark.csv").string() +
                        "\n    onset: 2\n    apex: 3\n    offset: 4\n    label: 5\n"
                        "    label_names: {1: Anger, 2: Contempt, 3: Happiness, 4: Surprise, 5: Other}\n"
                        "    use_labels: true\n    on_unmatched: fail\n");
  const auto& rep = report_of(*ds);
  EXPECT_EQ(rep.rows, 136u);
  EXPECT_EQ(rep.matched, 136u);
  EXPECT_TRUE(rep.unmatched.empty());
  EXPECT_EQ(ds->samples().size(), 136u);
  EXPECT_EQ(count_stage(*ds, "sample_list"), 0u);
  EXPECT_EQ(rep.labels_differ, 0u);
  // The list carries the v2 sheet's frames except two of the three out-of-order apexes (DATASETS.md §3),
  // which the midpoint policy moved here: 028_4_1 (1102 vs 1088), 032_3_1 (4933 vs 4937) and 032_3_2 (5166
  // vs the sheet's 5127, which the list keeps).
  EXPECT_EQ(rep.frames_differ, 3u);
  EXPECT_EQ(rep.apex_differs, 3u);
  std::set<std::string> which;
  for (const auto& d : rep.differences) which.insert(d.substr(0, d.find(':')));
  EXPECT_EQ(which, (std::set<std::string>{"samm/028/028_4_1", "samm/032/032_3_1", "samm/032/032_3_2"}));
}

TEST(SampleListFiles, HtnetCompositeHoldsTheOfficialMegc2019Samples) {
  std::set<std::tuple<std::string, std::string, std::string, std::string>> htnet, official;
  for (const std::string db : {"casme2", "smic", "samm"}) {
    SampleListOptions o;
    o.file = list_file("megc2019_composite_htnet.csv");
    o.has_header = true;
    o.subject = "sub";
    o.clip = "filename_o";
    o.label = "label";
    o.dataset_column = "dataset";
    o.dataset = db;
    const auto rows = read_sample_list(o);
    EXPECT_EQ(rows.size(), db == "casme2" ? 145u : db == "smic" ? 164u : 133u) << db;
    for (const auto& r : rows) htnet.emplace(db, r.subject, r.clip, r.label);
  }
  for (const auto& r : megc2019_official_list()) {
    // The official list writes SAMM subjects unpadded ("6"); HTNet pads them as the folders are ("006").
    const auto subject = r.database == "samm" ? megc2019_disk_subject("samm", r.subject) : r.subject;
    official.emplace(r.database, subject, r.filename, std::to_string(r.label));
  }
  EXPECT_EQ(htnet.size(), 442u);
  EXPECT_EQ(official.size(), 442u);
  EXPECT_EQ(htnet, official);
}

SampleListOptions smic_e_list() {
  SampleListOptions o;
  o.file = list_file("smic_hs_e_apex.csv");
  o.has_header = true;
  o.subject = "subject";
  o.clip = "clip";
  o.onset = "onset_frame";
  o.apex = "apex_frame";
  o.offset = "offset_frame";
  o.label = "label";
  o.dataset_column = "data";
  o.dataset = "smic";
  return o;
}

TEST(SampleListFiles, SmicEListHasSevenRowsWithoutAnOffset) {
  const auto rows = read_sample_list(smic_e_list());
  ASSERT_EQ(rows.size(), 164u);
  std::vector<std::string> no_offset;
  for (const auto& r : rows) {
    if (r.offset < 0) no_offset.push_back(r.clip);
    EXPECT_GE(r.onset, 0) << r.where;
    EXPECT_GE(r.apex, 0) << r.where;
  }
  std::sort(no_offset.begin(), no_offset.end());
  EXPECT_EQ(no_offset, (std::vector<std::string>{"s1_ne_02", "s2_sur_05", "s3_ne_03", "s3_ne_20", "s4_ne_05",
                                                 "s4_ne_06", "s9_sur_02"}));
}

TEST(SampleListFiles, CasmeFamilyListCountsPerSource) {
  SampleListOptions o;
  o.file = list_file("casme_family_3class_offtanet.csv");
  o.has_header = true;
  o.subject = "Subject";
  o.clip = "Sample";
  o.onset = "Onset";
  o.apex = "Apex";
  o.label = "Class";
  o.dataset_column = "Dataset";
  std::map<std::string, std::size_t> sizes;
  for (const std::string db : {"casme1", "casme2", "casme^2"}) {
    o.dataset = db;
    sizes[db] = read_sample_list(o).size();
  }
  EXPECT_EQ(sizes, (std::map<std::string, std::size_t>{{"casme1", 114}, {"casme2", 145}, {"casme^2", 35}}));
  o.dataset = "casme1";
  std::map<std::string, int> classes;
  for (const auto& r : read_sample_list(o)) ++classes[r.label];
  EXPECT_EQ(classes, (std::map<std::string, int>{{"negative", 85}, {"positive", 10}, {"surprise", 19}}));
}

TEST(SampleListSmic, SmicEListFramesAreComparedAndBlankOffsetsReportedNotGuessed) {
  // The SMIC-E list numbers frames as the short clips of smic_hs.csv do, so it can be laid over the
  // folder tree: the differences are real ones, and its seven blank offsets must never be filled in.
  test::TempDir dir;
  test::write_smic_tree(dir.path());
  const auto yaml = [&](const std::string& extra) {
    return "dataset:\n  type: smic\n  root: " + dir.path().string() +
           "\n  labels:\n    classes: [negative, positive, surprise]\n  sample_list:\n    file: " +
           smic_e_list().file.string() +
           "\n    has_header: true\n    subject: subject\n    clip: clip\n    onset: onset_frame\n"
           "    apex: apex_frame\n    offset: offset_frame\n    label: label\n"
           "    label_names: {0: negative, 1: positive, 2: surprise}\n    on_unmatched: fail\n" +
           extra;
  };
  const auto ds = build(yaml(""));
  const auto& rep = report_of(*ds);
  EXPECT_EQ(rep.rows, 164u);
  EXPECT_EQ(rep.matched, 164u);
  EXPECT_EQ(ds->samples().size(), 164u);
  EXPECT_EQ(rep.labels_differ, 0u);
  // Onsets differ on s2_sur_05 and s3_ne_20; offsets on 4 clips by one or two frames plus the 7 blanks;
  // the list's third-party apex differs from the midpoint policy's on 150 of 164.
  EXPECT_EQ(rep.onset_differs, 2u);
  EXPECT_EQ(rep.offset_differs, 11u);
  EXPECT_EQ(rep.apex_differs, 150u);
  EXPECT_EQ(rep.frames_differ, 151u);
  std::vector<std::string> blank;
  for (const auto& d : rep.differences)
    if (d.find(": offset ") != std::string::npos && d.find("vs blank") != std::string::npos)
      blank.push_back(d.substr(0, d.find(':')));
  std::sort(blank.begin(), blank.end());
  EXPECT_EQ(blank, (std::vector<std::string>{"smic/s1/s1_ne_02", "smic/s2/s2_sur_05", "smic/s3/s3_ne_03",
                                             "smic/s3/s3_ne_20", "smic/s4/s4_ne_05", "smic/s4/s4_ne_06",
                                             "smic/s9/s9_sur_02"}));
  EXPECT_EQ(count_list_quirks(*ds), 0u);

  // use_frames: listed values replace the table's, blank ones keep it (s2_sur_05: onset from the list,
  // offset 219143 from the tree).
  const auto used = build(yaml("    use_frames: true\n    check_frames: false\n"));
  EXPECT_EQ(count_list_quirks(*used), 151u);
  const auto* s = find_sample(*used, "smic/s2/s2_sur_05");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->onset, 219124);
  EXPECT_EQ(s->offset, 219143);
  EXPECT_TRUE(std::none_of(s->quirks.begin(), s->quirks.end(),
                           [](const std::string& q) { return q.find(": offset") != std::string::npos; }));
}

}  // namespace
}  // namespace mer
