#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/data/frames.hpp>
#include <mer/data/smic.hpp>
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

fs::path hs_list() { return test::annotations_dir() / "smic_hs.csv"; }

const std::string& tiny_bmp() {
  static const std::string bytes = [] {
    std::vector<uchar> buf;
    cv::imencode(".bmp", cv::Mat(4, 4, CV_8UC3, cv::Scalar(40, 80, 120)), buf);
    return std::string(buf.begin(), buf.end());
  }();
  return bytes;
}

std::string six_digits(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06d", n);
  return buf;
}

std::string emotion_of(const std::string& clip) {
  if (clip.find("_ne_") != std::string::npos) return "negative";
  if (clip.find("_po_") != std::string::npos) return "positive";
  return "surprise";
}

// <root>/<tree>/HS/s<N>/micro/<emotion>/s<N>_<abbr>_<NN>/<prefix><frame:06>.bmp for every frame
// onset..offset of every list row, folders unpadded as on disk; the list itself goes to <root>/smic_hs.csv.
void make_native_tree(const fs::path& root, const fs::path& list, const std::string& tree = "SMIC_all_raw",
                      const std::string& prefix = "image") {
  fs::copy_file(list, (fs::create_directories(root), root / "smic_hs.csv"), fs::copy_options::overwrite_existing);
  for (const auto& row : read_smic_list(list)) {
    const auto subject = *smic_unpadded(row.subject);
    const auto clip = root / tree / "HS" / subject / "micro" / row.emotion / *smic_unpadded(row.clip);
    fs::create_directories(clip);
    for (int f = row.onset; f <= row.offset; ++f) write_bytes(clip / (prefix + six_digits(f) + ".bmp"), tiny_bmp());
  }
}

class SmicTree : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    make_native_tree(root(), hs_list());
    // What the folder reader must pass over: non-micro clips, and a stray file inside a clip.
    const auto non_micro = root() / "SMIC_all_raw" / "HS" / "s1" / "non_micro" / "s1_nm_01";
    write_bytes(non_micro / "image000100.bmp", tiny_bmp());
    write_bytes(root() / "SMIC_all_raw" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01" / "Thumbs.db", "x");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path root() { return dir_->path() / "SMIC"; }
  static test::TempDir* dir_;
};
test::TempDir* SmicTree::dir_ = nullptr;

std::string yaml_for(const fs::path& root, const std::string& extra = "") {
  return "dataset:\n  type: smic\n  root: " + root.string() + "\n" + extra +
         "  labels:\n    classes: [negative, positive, surprise]\n";
}

TEST(SmicList, ParsesTheHsList) {
  const auto rows = read_smic_list(hs_list());
  ASSERT_EQ(rows.size(), 164u);
  std::set<std::string> subjects;
  std::map<std::string, int> emotions;
  for (const auto& r : rows) {
    subjects.insert(r.subject);
    ++emotions[r.emotion];
    EXPECT_EQ(r.clip.rfind(r.subject + "_", 0), 0u) << r.clip;
  }
  EXPECT_EQ(subjects.size(), 16u);
  EXPECT_EQ(emotions, (std::map<std::string, int>{{"negative", 70}, {"positive", 51}, {"surprise", 43}}));
  const auto& first = rows.front();
  EXPECT_EQ(first.subject, "s01");
  EXPECT_EQ(first.clip, "s01_ne_01");
  EXPECT_EQ(first.onset, 559740);
  EXPECT_EQ(first.apex, 559753);
  EXPECT_EQ(first.offset, 559775);
  EXPECT_EQ(first.label, 2);
  EXPECT_EQ(first.where, hs_list().string() + ":1");  // no header: row 1 is data
}

TEST(SmicList, MalformedRowsNameFileRowAndValue) {
  test::TempDir dir;
  const auto file = dir / "list.csv";
  auto list = [&](const std::string& bad) {
    write_bytes(file, "s01,s01_ne_01,559740,559753,559775,2\n" + bad);
    return file;
  };
  const std::string at = file.string() + ":2";
  expect_error<DataError>([&] { read_smic_list(list("s01,s01_ne_02,563854,563862,563885,4\n")); },
                          {at, "label", "'4'", "1 (positive)"});
  expect_error<DataError>([&] { read_smic_list(list("s01,s01_ne_02,563854,563862,563885,negative\n")); },
                          {at, "label", "'negative'"});
  expect_error<DataError>([&] { read_smic_list(list("s01,s01_ne_02,56x854,563862,563885,2\n")); },
                          {at, "onset", "'56x854'"});
  // A short row among full ones reads as an empty label; a list that is short throughout is named as such.
  expect_error<DataError>([&] { read_smic_list(list("s01,s01_ne_02,563854,563862,563885\n")); },
                          {at, "label", "got ''"});
  write_bytes(file, "s01,s01_ne_01,559740,559753,559775\n");
  expect_error<DataError>([&] { read_smic_list(file); }, {file.string() + ":1", "6 columns", "got 5"});
  expect_error<DataError>([&] { read_smic_list(list(",s01_ne_02,563854,563862,563885,2\n")); }, {at, "subject"});
}

TEST(SmicIds, PaddedListIdsMapToTheUnpaddedFolders) {
  EXPECT_EQ(smic_unpadded("s01"), "s1");
  EXPECT_EQ(smic_unpadded("s01_ne_01"), "s1_ne_01");
  EXPECT_EQ(smic_unpadded("s20_sur_05"), "s20_sur_05");
  EXPECT_EQ(smic_unpadded("s1_ne_01"), "s1_ne_01");  // already as on disk
  EXPECT_EQ(smic_unpadded("s10"), "s10");
  EXPECT_EQ(smic_unpadded("s00"), "s0");
  EXPECT_EQ(smic_unpadded("s"), std::nullopt);
  EXPECT_EQ(smic_unpadded("sub01"), std::nullopt);
  EXPECT_EQ(smic_unpadded("s01ne"), std::nullopt);
  EXPECT_EQ(smic_unpadded("01"), std::nullopt);
}

TEST_F(SmicTree, FoldersAndListGiveTheSameClips) {
  const auto folders = build_dataset(yaml_for(root()));
  const auto listed = build_dataset(yaml_for(root(), "  source: list\n  list: smic_hs.csv\n"));
  EXPECT_EQ(folders->name(), "smic");
  ASSERT_EQ(folders->samples().size(), 164u);
  ASSERT_EQ(listed->samples().size(), 164u);
  EXPECT_TRUE(folders->excluded().empty());
  EXPECT_TRUE(listed->excluded().empty());

  using Key = std::tuple<std::string, std::string, int>;
  auto keys = [](const Dataset& ds) {
    std::set<Key> out;
    for (const auto& s : ds.samples()) out.emplace(s.subject, s.clip, s.label);
    return out;
  };
  EXPECT_EQ(keys(*folders), keys(*listed));

  std::map<std::string, int> per_class;
  std::set<std::string> subjects;
  for (const auto& s : folders->samples()) {
    ++per_class[folders->labels().name(s.label)];
    subjects.insert(s.subject);
    EXPECT_EQ(s.emotion, emotion_of(s.clip)) << s.id;
    EXPECT_EQ(s.fps, 100);
    // No apex in SMIC: the midpoint, recorded.
    EXPECT_EQ(s.apex, (s.onset + s.offset) / 2) << s.id;
    ASSERT_EQ(s.quirks.size(), 1u) << s.id;
    EXPECT_NE(s.quirks[0].find("midpoint"), std::string::npos) << s.quirks[0];
    // Onset and offset found on disk are the list's.
    const auto* other = find_sample(*listed, s.id);
    ASSERT_NE(other, nullptr) << s.id;
    EXPECT_EQ(s.onset, other->onset) << s.id;
    EXPECT_EQ(s.offset, other->offset) << s.id;
    EXPECT_EQ(s.clip_dir, other->clip_dir) << s.id;
  }
  EXPECT_EQ(per_class, (std::map<std::string, int>{{"negative", 70}, {"positive", 51}, {"surprise", 43}}));
  EXPECT_EQ(subjects.size(), 16u);
  EXPECT_EQ(subjects.count("s1"), 1u);
  EXPECT_EQ(subjects.count("s01"), 0u);

  // Folder order: subjects numerically (s2 before s11), then class, then clip.
  EXPECT_EQ(folders->samples().front().id, "smic/s1/s1_ne_01");
  EXPECT_EQ(folders->samples()[6].subject, "s2");
  EXPECT_EQ(folders->samples().back().id, "smic/s20/s20_sur_05");

  const auto* s = find_sample(*folders, "smic/s1/s1_ne_01");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->onset, 559740);
  EXPECT_EQ(s->offset, 559775);
  EXPECT_EQ(s->clip_dir, root() / "SMIC_all_raw" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01");
  EXPECT_EQ(s->frame_path(559740), s->clip_dir / "image559740.bmp");
  EXPECT_EQ(s->source, "SMIC_all_raw/HS/s1/micro/negative/s1_ne_01");
  EXPECT_EQ(load_frame(*s, s->apex).channels(), 3);

  // A 5-digit frame number is padded to 6 in the file name.
  const auto* short_number = find_sample(*folders, "smic/s2/s2_po_01");
  ASSERT_NE(short_number, nullptr);
  EXPECT_EQ(short_number->onset, 76518);
  EXPECT_EQ(short_number->frame_path(76518).filename(), "image076518.bmp");

  // The list's padded IDs are mapped, and the mapping recorded.
  const auto* l = find_sample(*listed, "smic/s1/s1_ne_01");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->subject, "s1");
  EXPECT_EQ(l->clip, "s1_ne_01");
  EXPECT_EQ(l->source, (root() / "smic_hs.csv").string() + ":1");
  ASSERT_EQ(l->quirks.size(), 2u);
  EXPECT_EQ(l->quirks[0], "list ID s01/s01_ne_01 -> folder s1/s1_ne_01");
  EXPECT_EQ(l->apex, (559740 + 559775) / 2);  // the list's 559753 is not used by default
}

TEST_F(SmicTree, ListApexIsOptInAndOtherApexPolicies) {
  const auto with_apex = build_dataset(yaml_for(root(), "  source: list\n  list: smic_hs.csv\n  use_list_apex: true\n"));
  const auto* s = find_sample(*with_apex, "smic/s1/s1_ne_01");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->apex, 559753);
  ASSERT_EQ(s->quirks.size(), 1u);  // only the ID mapping

  const auto estimate = build_dataset(yaml_for(root(), "  missing_apex: estimate\n"));
  for (const auto& e : estimate->samples()) ASSERT_EQ(e.apex, -1) << e.id;

  expect_error<DataError>([&] { build_dataset(yaml_for(root(), "  missing_apex: fail\n")); },
                          {"SMIC_all_raw/HS/s1/micro/negative/s1_ne_01", "smic/s1/s1_ne_01", "no usable apex"});

  // skip leaves nothing here, which is an error of its own.
  expect_error<DataError>([&] { build_dataset(yaml_for(root(), "  missing_apex: skip\n")); }, {"smic", "no sample is left"});

  // Classes the map leaves out are excluded and listed.
  const auto two = build_dataset("dataset:\n  type: smic\n  root: " + root().string() +
                         "\n  labels: {classes: [negative, surprise]}\n");
  EXPECT_EQ(two->samples().size(), 70u + 43u);
  ASSERT_EQ(two->excluded().size(), 51u);
  EXPECT_EQ(two->excluded()[0].stage, "label_map");
}

TEST_F(SmicTree, TheCommittedConfigsLoad) {
  // configs/smic.yaml's dataset and label pieces.
  const auto experiment = dir_->path() / "smic_experiment.yaml";
  const auto base = test::source_dir() / "configs" / "_base_";
  write_bytes(experiment, "base:\n  - " + (base / "datasets" / "smic.yaml").string() + "\n  - " +
                              (base / "labels" / "smic_3class.yaml").string() + "\n");
  ::setenv("MER_DATA_ROOT", dir_->path().string().c_str(), 1);
  const auto config = Config::load(experiment);
  const auto ds = builtin_datasets().build(config.root().child("dataset"));
  ::unsetenv("MER_DATA_ROOT");
  EXPECT_EQ(ds->samples().size(), 164u);
}

TEST(SmicDataset, ListRowWhoseFolderIsMissingNamesRowAndFolder) {
  test::TempDir dir;
  const auto root = dir / "SMIC";
  const auto list = dir / "list.csv";
  write_bytes(list, "s01,s01_ne_01,100,105,110,2\ns03,s03_po_02,200,204,209,1\n");
  make_native_tree(root, list);
  const auto yaml = yaml_for(root, "  source: list\n  list: smic_hs.csv\n");
  EXPECT_EQ(build_dataset(yaml)->samples().size(), 2u);

  const auto clip = root / "SMIC_all_raw" / "HS" / "s3" / "micro" / "positive" / "s3_po_02";
  fs::remove_all(clip);
  expect_error<DataError>([&] { build_dataset(yaml); },
                          {(root / "smic_hs.csv").string() + ":2", clip.string(), "s03/s03_po_02", "does not exist"});

  // A missing frame the list names.
  const auto onset = root / "SMIC_all_raw" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01" / "image000100.bmp";
  fs::remove(onset);
  expect_error<DataError>([&] { build_dataset(yaml); }, {(root / "smic_hs.csv").string() + ":1", onset.string(), "onset"});

  write_bytes(onset, tiny_bmp());

  // Class in the name and label must agree; a clip must belong to its subject.
  write_bytes(root / "smic_hs.csv", "s01,s01_ne_01,100,105,110,1\n");
  expect_error<DataError>([&] { build_dataset(yaml); }, {":1", "'s01_ne_01'", "'ne'", "positive"});
  write_bytes(root / "smic_hs.csv", "s01,s02_ne_01,100,105,110,2\n");
  expect_error<DataError>([&] { build_dataset(yaml); }, {":1", "'s02_ne_01'", "'s01'"});
  write_bytes(root / "smic_hs.csv", "s01,s01_ne_01,100,105,110,2\ns1,s1_ne_01,100,105,110,2\n");
  expect_error<DataError>([&] { build_dataset(yaml); }, {":2", "smic/s1/s1_ne_01", "twice"});

  // The list file itself.
  expect_error<DataError>([&] { build_dataset(yaml_for(root, "  source: list\n  list: nope.csv\n")); },
                          {(root / "nope.csv").string(), "does not exist"});
}

TEST(SmicDataset, FolderTreeProblemsAreErrorsNamingThePath) {
  test::TempDir dir;
  const auto root = dir / "SMIC";
  const auto list = dir / "list.csv";
  write_bytes(list, "s01,s01_ne_01,100,105,110,2\ns03,s03_sur_02,200,204,209,3\n");
  make_native_tree(root, list);
  const auto hs = root / "SMIC_all_raw" / "HS";
  EXPECT_EQ(build_dataset(yaml_for(root))->samples().size(), 2u);

  // A gap inside a clip.
  const auto gap = hs / "s3" / "micro" / "surprise" / "s3_sur_02" / "image000206.bmp";
  fs::remove(gap);
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {(hs / "s3" / "micro" / "surprise" / "s3_sur_02").string(),
                                                           "image000206.bmp", "200..209"});
  EXPECT_EQ(build_dataset(yaml_for(root, "  check_frames: false\n"))->samples().size(), 2u);
  // missing_frames: skip leaves the clip out, saying which frame is missing.
  const auto skipped = build_dataset(yaml_for(root, "  missing_frames: skip\n"));
  EXPECT_EQ(skipped->samples().size(), 1u);
  const auto* left_out = test::find_excluded(*skipped, "smic/s3/s3_sur_02");
  ASSERT_NE(left_out, nullptr);
  EXPECT_NE(left_out->reason.find("image000206.bmp"), std::string::npos) << left_out->reason;
  EXPECT_NE(left_out->reason.find("(missing_frames: skip)"), std::string::npos) << left_out->reason;
  write_bytes(gap, tiny_bmp());

  // Frame names that are not zero-padded to 6 digits would never be found by the pattern.
  const auto unpadded = hs / "s1" / "micro" / "negative" / "s1_ne_01" / "image99.bmp";
  write_bytes(unpadded, tiny_bmp());
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {unpadded.string(), "image000099.bmp"});
  fs::remove(unpadded);

  // A clip filed under the wrong class, an unknown emotion folder, a folder that is not a subject.
  const auto misfiled = hs / "s1" / "micro" / "positive" / "s1_ne_02";
  write_bytes(misfiled / "image000300.bmp", tiny_bmp());
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {misfiled.string(), "s1_po_<NN>"});
  fs::remove_all(hs / "s1" / "micro" / "positive");
  const auto other = hs / "s1" / "micro" / "happiness";
  fs::create_directories(other);
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {other.string(), "negative, positive or surprise"});
  fs::remove_all(other);
  const auto stray = hs / "subject1";
  fs::create_directories(stray);
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {stray.string(), "s<N>"});
  fs::remove_all(stray);

  // An empty clip folder.
  const auto empty = hs / "s1" / "micro" / "negative" / "s1_ne_02";
  fs::create_directories(empty);
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {empty.string(), "no frame files", "image<NNNNNN>.bmp"});
  fs::remove_all(empty);

  // Other cameras and the cropped tree live elsewhere.
  expect_error<DataError>([&] { build_dataset(yaml_for(root, "  camera: NIR\n")); },
                          {(root / "SMIC_all_raw" / "NIR").string()});
  expect_error<DataError>([&] { build_dataset(yaml_for(root, "  variant: cropped\n")); },
                          {(root / "SMIC_all_cropped" / "HS").string()});
  expect_error<DataError>([&] { build_dataset(yaml_for(dir / "nothing")); }, {(dir / "nothing").string(), "SMIC_all_raw"});
}

// Common unpackings load the same clips as the documented SMIC_all_raw/HS/: the tree nested once more, the
// camera folder directly in the root, or the subject folders directly in the root; and a CSV list where the
// config names the workbook.
TEST(SmicLayout, CommonUnpackingsLoadTheSameSamples) {
  test::TempDir dir;
  const auto root = dir / "SMIC";
  const auto list = dir / "list.csv";
  write_bytes(list, "s01,s01_ne_01,100,105,110,2\ns03,s03_sur_02,200,204,209,3\ns03,s03_po_01,300,302,304,1\n");
  make_native_tree(root, list);
  const auto keys = [&](const std::string& extra = "") { return test::sample_keys(*build_dataset(yaml_for(root, extra))); };
  const char* const listed = "  source: list\n  list: smic_hs.xlsx\n";
  const auto documented = keys();
  ASSERT_EQ(documented.size(), 3u);
  EXPECT_EQ(keys(listed), documented);
  test::nest_once(root / "SMIC_all_raw");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(keys(listed), documented);
  fs::rename(root / "SMIC_all_raw" / "SMIC_all_raw" / "HS", root / "HS");
  fs::remove_all(root / "SMIC_all_raw");
  EXPECT_EQ(keys(), documented);
  test::flatten_into_parent(root / "HS");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(keys(listed), documented);
  EXPECT_EQ(build_dataset(yaml_for(root))->samples()[0].clip_dir, root / "s1" / "micro" / "negative" / "s1_ne_01");
}

TEST(SmicLayout, NoFrameTreeNamesEveryPlaceLookedIn) {
  test::TempDir dir;
  const auto root = dir / "SMIC";
  fs::create_directories(root);
  test::expect_places_listed(yaml_for(root), {root / "SMIC_all_raw" / "HS", root / "SMIC_all_raw" / "SMIC_all_raw" / "HS",
                                              root / "HS", root});
  test::expect_places_listed(yaml_for(root, "  variant: cropped\n  camera: VIS\n"),
                             {root / "SMIC_all_cropped" / "VIS", root / "SMIC_all_cropped" / "SMIC_all_cropped" / "VIS",
                              root / "VIS", root});
}

TEST(SmicDataset, CroppedTreeUsesRegImageFramesAndVisRunsAt25Fps) {
  test::TempDir dir;
  const auto root = dir / "SMIC";
  const auto list = dir / "list.csv";
  write_bytes(list, "s01,s01_ne_01,100,105,110,2\n");
  make_native_tree(root, list, "SMIC_all_cropped", "reg_image");
  const auto ds = build_dataset(yaml_for(root, "  variant: cropped\n"));
  ASSERT_EQ(ds->samples().size(), 1u);
  const auto& s = ds->samples()[0];
  EXPECT_EQ(s.frame_path(100), root / "SMIC_all_cropped" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01" /
                                   "reg_image000100.bmp");
  EXPECT_TRUE(fs::exists(s.frame_path(s.apex)));
  // The raw prefix does not match cropped frames.
  fs::rename(root / "SMIC_all_cropped", root / "SMIC_all_raw");
  expect_error<DataError>([&] { build_dataset(yaml_for(root)); }, {"no frame files", "image<NNNNNN>.bmp"});

  const auto vis_root = dir / "VIS";
  write_bytes(vis_root / "SMIC_all_raw" / "VIS" / "s1" / "micro" / "positive" / "s1_po_01" / "image000010.bmp",
              tiny_bmp());
  const auto vis = build_dataset(yaml_for(vis_root, "  camera: VIS\n"));
  ASSERT_EQ(vis->samples().size(), 1u);
  EXPECT_EQ(vis->samples()[0].fps, 25);
  EXPECT_EQ(vis->samples()[0].onset, 10);
  EXPECT_EQ(vis->samples()[0].apex, 10);
}

TEST(SmicOptions, BadValuesAreConfigErrorsWithLineAndDefaultsAreWrittenBack) {
  const std::string head = "dataset:\n  type: smic\n  root: /data/SMIC\n";
  const std::string labels = "  labels: {classes: [negative]}\n";
  expect_error<ConfigError>([&] { build_dataset(head + "  camera: hs\n" + labels); },
                            {"test.yaml:4", "camera", "'hs'", "HS | VIS | NIR"});
  expect_error<ConfigError>([&] { build_dataset(head + "  variant: crop\n" + labels); }, {"test.yaml:4", "variant"});
  expect_error<ConfigError>([&] { build_dataset(head + "  source: table\n" + labels); },
                            {"test.yaml:4", "source", "'table'", "folders | list"});
  expect_error<ConfigError>([&] { build_dataset(head + "  source: list\n" + labels); }, {"test.yaml:4", "list", "not set"});
  expect_error<ConfigError>([&] { build_dataset(head + "  missing_apex: guess\n" + labels); },
                            {"test.yaml:4", "missing_apex", "'guess'"});

  const auto config = Config::from_string("dataset:\n  root: /data/SMIC\n" + labels);
  const auto o = SmicOptions::from_config(config.root().child("dataset"));
  EXPECT_EQ(o.camera, "HS");
  EXPECT_EQ(o.variant, "raw");
  EXPECT_EQ(o.source, "folders");
  EXPECT_FALSE(o.use_list_apex);
  EXPECT_TRUE(o.common.check_frames);
  EXPECT_EQ(o.common.policies.missing_apex, "midpoint");
  const auto dump = config.dump();
  for (const char* key : {"camera: HS", "source: folders", "missing_apex: midpoint"})
    EXPECT_NE(dump.find(key), std::string::npos) << key << " not in:\n" << dump;

  const auto listed = Config::from_string("dataset:\n  root: /data/SMIC\n  source: list\n  list: l.csv\n" + labels);
  const auto lo = SmicOptions::from_config(listed.root().child("dataset"));
  EXPECT_EQ(lo.list, "l.csv");
  EXPECT_FALSE(lo.use_list_apex);
}

// ------------------------------------------------------------------------------------------------ SMIC-E
// No SMIC-E table is in shared/: these tests use a small table written here in the documented column
// layout (Subject, Filename, OnsetF, OffsetF, Emotion, FirstF), followed by text rows as in the HS sheet.

const char* const kSmicETable =
    "Subject,Filename,OnsetF,OffsetF,Emotion,FirstF\n"
    "1,s1_ne_01,559740,559775,negative,559700\n"
    "1,s1_po_01,701843,701865,positive,701800\n"
    "3,s3_sur_02,200,209,surprise,190\n"
    "Note: OnsetF and OffsetF are frame numbers of the long clip,,,,,\n"
    ",see the readme,,,,\n";

void write_long_clip(const fs::path& dir, int first, int count, const std::string& ext, int width) {
  for (int i = 0; i < count; ++i) {
    std::string n = std::to_string(first + i);
    if (static_cast<int>(n.size()) < width) n.insert(0, width - n.size(), '0');
    write_bytes(dir / ("image" + n + ext), tiny_bmp());
  }
}

class SmicETree : public ::testing::Test {
 protected:
  void SetUp() override {
    write_bytes(long_dir() / "SMIC-HS-E_annotation.csv", kSmicETable);
    // Files named by camera frame number from FirstF; one clip numbered from 0 instead, one padded.
    write_long_clip(frames() / "s01" / "s1_ne_01", 559700, 100, ".bmp", 0);
    write_long_clip(frames() / "s01" / "s1_po_01", 0, 80, ".jpg", 0);
    write_long_clip(frames() / "s03" / "s3_sur_02", 190, 30, ".bmp", 6);
  }
  fs::path root() const { return dir_.path() / "SMIC"; }
  fs::path long_dir() const { return root() / "SMIC-E_raw image" / "HS_long"; }
  fs::path frames() const { return long_dir() / "SMIC-HS-E"; }
  fs::path table() const { return long_dir() / "SMIC-HS-E_annotation.csv"; }
  std::string yaml(const std::string& extra = "") const {
    return "dataset:\n  type: smic_e\n  root: " + root().string() +
           "\n  table: SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.csv\n" + extra +
           "  labels:\n    classes: [negative, positive, surprise]\n";
  }
  test::TempDir dir_;
};

TEST_F(SmicETree, TableEndsAtTheFirstNonNumericSubject) {
  const auto parsed = read_smic_e_table(table());
  ASSERT_EQ(parsed.rows.size(), 3u);
  EXPECT_EQ(parsed.rows[0].subject, 1);
  EXPECT_EQ(parsed.rows[0].filename, "s1_ne_01");
  EXPECT_EQ(parsed.rows[0].onset, 559740);
  EXPECT_EQ(parsed.rows[0].offset, 559775);
  EXPECT_EQ(parsed.rows[0].first, 559700);
  EXPECT_EQ(parsed.rows[0].emotion, "negative");
  EXPECT_EQ(parsed.rows[2].where, table().string() + ":4");
  EXPECT_EQ(parsed.ended_at, "Note: OnsetF and OffsetF are frame numbers of the long clip");
  EXPECT_EQ(parsed.trailing, (std::vector<std::string>{table().string() + ":5", table().string() + ":6"}));
}

TEST_F(SmicETree, OnsetAndOffsetAreFoundByInClipIndex) {
  const auto ds = build_dataset(yaml());
  EXPECT_EQ(ds->name(), "smic_e");
  ASSERT_EQ(ds->samples().size(), 3u);

  const auto& ne = ds->samples()[0];
  EXPECT_EQ(ne.id, "smic_e/s01/s1_ne_01");
  EXPECT_EQ(ne.dataset, "smic_e");
  EXPECT_EQ(ne.subject, "s01");
  EXPECT_EQ(ne.clip_dir, frames() / "s01" / "s1_ne_01");
  EXPECT_EQ(ne.onset, 559740);
  EXPECT_EQ(ne.offset, 559775);
  EXPECT_EQ(ne.apex, (559740 + 559775) / 2);
  EXPECT_EQ(ne.fps, 100);
  EXPECT_EQ(ne.frame_path(ne.onset), ne.clip_dir / "image559740.bmp");
  EXPECT_EQ(ne.source, table().string() + ":2");
  ASSERT_EQ(ne.quirks.size(), 1u);  // the midpoint apex only

  // Numbered from 0: OnsetF 701843 − FirstF 701800 = index 43 → file image43.jpg, and that is recorded.
  const auto& po = ds->samples()[1];
  EXPECT_EQ(po.onset, 43);
  EXPECT_EQ(po.offset, 65);
  EXPECT_EQ(po.frame_path(43), po.clip_dir / "image43.jpg");
  ASSERT_EQ(po.quirks.size(), 2u);
  EXPECT_NE(po.quirks[0].find("numbered from 0, not FirstF 701800"), std::string::npos) << po.quirks[0];

  // Zero-padded names are read as such.
  const auto& sur = ds->samples()[2];
  EXPECT_EQ(sur.onset, 200);
  EXPECT_EQ(sur.frame_path(200), sur.clip_dir / "image000200.bmp");
  EXPECT_TRUE(fs::exists(sur.frame_path(sur.apex)));

  // The notes after the data are listed as left out, each with its row.
  ASSERT_EQ(ds->excluded().size(), 2u);
  EXPECT_EQ(ds->excluded()[0].sample_id, table().string() + ":5");
  EXPECT_EQ(ds->excluded()[1].sample_id, table().string() + ":6");
  EXPECT_NE(ds->excluded()[0].reason.find("not a number"), std::string::npos) << ds->excluded()[0].reason;
}

TEST_F(SmicETree, TheDefaultTableIsTheWorkbookBesideTheFrames) {
  const auto xlsx = long_dir() / "SMIC-HS-E_annotation.xlsx";
  test::write_xlsx(xlsx, {test::sheet_from_csv(table(), "Sheet1")});
  const auto ds = build_dataset("dataset:\n  type: smic_e\n  root: " + root().string() +
                        "\n  labels: {classes: [negative, positive, surprise]}\n");
  ASSERT_EQ(ds->samples().size(), 3u);
  EXPECT_EQ(ds->samples()[0].onset, 559740);
  EXPECT_EQ(ds->samples()[0].source, xlsx.string() + "[Sheet1]:2");
  ASSERT_EQ(ds->excluded().size(), 2u);
  EXPECT_EQ(ds->excluded()[0].sample_id, xlsx.string() + "[Sheet1]:5");
}

TEST_F(SmicETree, ProblemsNameTheRowAndThePath) {
  // Subject folders padded to one digit do not exist here.
  expect_error<DataError>([&] { build_dataset(yaml("  subject_digits: 1\n")); },
                          {table().string() + ":2", (frames() / "s1" / "s1_ne_01").string(), "does not exist"});

  // An offset past the clip's frames.
  write_bytes(table(), "Subject,Filename,OnsetF,OffsetF,Emotion,FirstF\n3,s3_sur_02,200,225,surprise,190\n");
  expect_error<DataError>([&] { build_dataset(yaml()); }, {table().string() + ":2", "in-clip index 35", "30 frames"});

  // Mixed names in one clip.
  write_bytes(table(), "Subject,Filename,OnsetF,OffsetF,Emotion,FirstF\n3,s3_sur_02,200,209,surprise,190\n");
  write_bytes(frames() / "s03" / "s3_sur_02" / "image250.bmp", tiny_bmp());
  expect_error<DataError>([&] { build_dataset(yaml()); }, {table().string() + ":2", "mixes frame file names", "image250.bmp"});

  // Malformed rows.
  write_bytes(table(), "Subject,Filename,OnsetF,OffsetF,Emotion,FirstF\n3,s3_sur_02,200,209,surprise,x\n");
  expect_error<DataError>([&] { build_dataset(yaml()); }, {table().string() + ":2", "FirstF", "'x'"});
  write_bytes(table(), "Subject,Filename,OnsetF,OffsetF,Emotion,FirstF\n3,s3_sur_02,200,209,surprise,201\n");
  expect_error<DataError>([&] { build_dataset(yaml()); }, {table().string() + ":2", "FirstF 201", "OnsetF 200"});
  write_bytes(table(), "Subject,Filename,OnsetF,OffsetF,Emotion\n3,s3_sur_02,200,209,surprise\n");
  expect_error<DataError>([&] { build_dataset(yaml()); }, {table().string(), "FirstF"});

  // The default table is the .xlsx as distributed, next to the frame folder, or its CSV export there.
  fs::remove(table());
  expect_error<DataError>(
      [&] { build_dataset("dataset:\n  type: smic_e\n  root: " + root().string() + "\n  labels: {classes: [negative]}\n"); },
      {(long_dir() / "SMIC-HS-E_annotation.xlsx").string(), "does not exist"});
  expect_error<ConfigError>([&] { build_dataset(yaml("  subject_digits: 0\n")); }, {"test.yaml:5", "subject_digits"});
  expect_error<ConfigError>([&] { build_dataset(yaml("  camera: IR\n")); }, {"test.yaml:5", "camera", "'IR'"});
}

// Common unpackings load the same clips as the documented "SMIC-E_raw image/HS_long/SMIC-HS-E/", with the
// default table looked for beside the frame folder wherever it is: the frame folder nested once more,
// HS_long/ directly in the root, the frame folder spelt SMIC_HS_E, the subject folders in the root.
TEST_F(SmicETree, CommonUnpackingsLoadTheSameSamples) {
  const std::string default_table = "  labels: {classes: [negative, positive, surprise]}\n";
  const auto keys = [&] {
    return test::sample_keys(*build_dataset("dataset:\n  type: smic_e\n  root: " + root().string() + "\n" + default_table));
  };
  const auto documented = keys();
  ASSERT_EQ(documented.size(), 3u);
  test::nest_once(frames());
  EXPECT_EQ(keys(), documented);
  fs::rename(long_dir(), root() / "HS_long");
  fs::remove(root() / "SMIC-E_raw image");
  test::flatten_into_parent(root() / "HS_long" / "SMIC-HS-E" / "SMIC-HS-E");
  EXPECT_EQ(keys(), documented);
  fs::rename(root() / "HS_long" / "SMIC-HS-E", root() / "HS_long" / "SMIC_HS_E");
  EXPECT_EQ(keys(), documented);
  test::flatten_into_parent(root() / "HS_long" / "SMIC_HS_E");
  fs::rename(root() / "HS_long" / "SMIC-HS-E_annotation.csv", root() / "SMIC-HS-E_annotation.csv");
  test::flatten_into_parent(root() / "HS_long");
  EXPECT_EQ(keys(), documented);
}

TEST_F(SmicETree, NoFrameTreeNamesEveryPlaceLookedIn) {
  fs::remove_all(frames());
  test::expect_places_listed(yaml(), {frames(), frames() / "SMIC-HS-E", root() / "HS_long" / "SMIC-HS-E",
                                      root() / "HS_long" / "SMIC_HS_E", root()});
}

}  // namespace
}  // namespace mer
