#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>
#include <mer/data/mmew.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

fs::path real_table() { return test::annotations_dir() / "mmew_micro_no_others_htnet.csv"; }

// Micro_Expression/<emotion>/<Filename>/<n>.jpg for the onset, apex, offset and midpoint of every row of
// the saved table, and the table itself as <root>/mmew.csv.
void make_tree(const fs::path& root) {
  fs::copy_file(real_table(), root / "mmew.csv", fs::copy_options::overwrite_existing);
  const Table t = read_table(real_table());
  const auto c_file = t.column("Filename"), c_emotion = t.column("Estimated Emotion");
  const std::size_t frame_columns[] = {t.column("OnsetFrame"), t.column("ApexFrame"), t.column("OffsetFrame")};
  for (const auto& row : t.rows) {
    const auto clip = root / "Micro_Expression" / row[c_emotion] / row[c_file];
    std::set<int> frames;
    for (auto c : frame_columns) frames.insert(*parse_int_cell(row[c]));
    frames.insert((*frames.begin() + *frames.rbegin()) / 2);
    for (int f : frames) test::write_bytes(clip / (std::to_string(f) + ".jpg"), test::tiny_jpeg());
  }
}

std::string yaml(const fs::path& root, const std::string& extra = "") {
  return test::fill(R"(dataset:
  type: mmew
  root: {ROOT}
  table: mmew.csv
{EXTRA}  labels:
    classes: [happiness, surprise, disgust, fear, sadness, anger]
)",
                    {{"ROOT", root.string()}, {"EXTRA", extra}});
}

TEST(MmewDataset, TheSavedTableLoadsFromANativeTree) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto d = test::build_dataset(yaml(dir.path()));
  ASSERT_EQ(d->name(), "mmew");
  ASSERT_EQ(d->samples().size(), 234u);
  EXPECT_TRUE(d->excluded().empty());
  const std::map<std::string, int> expected = {{"surprise", 89}, {"disgust", 72}, {"happiness", 36},
                                               {"fear", 16},     {"sadness", 13}, {"anger", 8}};
  EXPECT_EQ(test::count_emotions(*d), expected);
  std::set<std::string> subjects, ids;
  for (const auto& s : d->samples()) {
    subjects.insert(s.subject);
    ids.insert(s.id);
    EXPECT_EQ(s.fps, 90);
    EXPECT_EQ(s.onset, 1) << s.id;  // frames count from 1 in each clip
    EXPECT_TRUE(s.quirks.empty()) << s.id;
  }
  EXPECT_EQ(subjects.size(), 30u);
  EXPECT_EQ(ids.size(), 234u);

  // The apex frame is where HTNet's imagename column says it is.
  const Table t = read_table(real_table());
  const auto c_image = t.column("imagename");
  ASSERT_EQ(t.rows.size(), d->samples().size());
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& s = d->samples()[r];
    EXPECT_EQ(s.frame_path(s.apex), dir.path() / "Micro_Expression" / t.rows[r][c_image]) << s.id;
  }

  const auto& first = d->samples()[0];  // 1,S01-01-001,1,15,31,6+12,happiness
  EXPECT_EQ(first.id, "mmew/S01/S01-01-001");
  EXPECT_EQ(first.subject, "S01");
  EXPECT_EQ(first.apex, 15);
  EXPECT_EQ(first.offset, 31);
  EXPECT_EQ(first.action_units, "6+12");
  EXPECT_EQ(first.source, "mmew.csv:2");
  EXPECT_EQ(load_frame(first, first.apex, ColorMode::Gray).channels(), 1);
}

TEST(MmewDataset, LabelMapAndFramePoliciesListWhatIsLeftOut) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto three = test::build_dataset(test::fill(R"(dataset:
  type: mmew
  root: {ROOT}
  table: mmew.csv
  labels:
    classes: [negative, positive, surprise]
    map: {disgust: negative, fear: negative, sadness: negative, anger: negative, happiness: positive, surprise: surprise}
    min_samples_per_class: 40
)",
                                                    {{"ROOT", dir.path().string()}}));
  // positive has 36 < 40 samples: dropped after loading and listed.
  EXPECT_EQ(three->labels().classes(), (std::vector<std::string>{"negative", "surprise"}));
  EXPECT_EQ(three->samples().size(), 109u + 89u);
  EXPECT_EQ(three->excluded().size(), 36u);

  fs::remove_all(dir / "Micro_Expression/anger");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {"mmew.csv:", (dir / "Micro_Expression/anger").string(), "missing_frames: fail"});
  const auto skipped = test::build_dataset(yaml(dir.path(), "  missing_frames: skip\n"));
  EXPECT_EQ(skipped->samples().size(), 226u);
  EXPECT_EQ(skipped->excluded().size(), 8u);
}

// Common unpackings load the same samples as the documented Micro_Expression/: the folder nested once
// more, or the emotion folders directly in the root.
TEST(MmewLayout, CommonUnpackingsLoadTheSameSamples) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  const auto keys = [&] { return test::sample_keys(*test::build_dataset(yaml(root))); };
  const auto documented = keys();
  ASSERT_EQ(documented.size(), 234u);
  test::nest_once(root / "Micro_Expression");
  EXPECT_EQ(keys(), documented);
  test::flatten_into_parent(root / "Micro_Expression" / "Micro_Expression");
  test::flatten_into_parent(root / "Micro_Expression");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(test::build_dataset(yaml(root))->samples()[0].clip_dir.parent_path().parent_path(), root);
}

TEST(MmewLayout, NoFrameTreeNamesEveryPlaceLookedIn) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  fs::remove_all(root / "Micro_Expression");
  // Macro_Expression/ beside it is not an emotion folder.
  fs::create_directories(root / "Macro_Expression" / "happiness");
  test::expect_places_listed(yaml(root),
                             {root / "Micro_Expression", root / "Micro_Expression" / "Micro_Expression", root});
}

TEST(MmewDataset, BadRowsAndPathsAreNamed) {
  test::TempDir dir;
  make_tree(dir.path());
  const std::string header =
      "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion,remarks\n";
  const std::string table = (dir / "mmew.csv").string();
  auto with_rows = [&](const std::string& rows) {
    test::write_bytes(dir / "mmew.csv", header + rows);
    return test::build_dataset(yaml(dir.path()));
  };
  expect_error<DataError>([&] { with_rows("2,S01-01-001,1,15,31,6+12,happiness,\n"); },
                          {table + ":2", "Subject 2", "S01-01-001"});
  expect_error<DataError>([&] { with_rows("1,S01-01-001,1,1.5,31,6+12,happiness,\n"); },
                          {table + ":2", "ApexFrame", "'1.5'"});
  expect_error<DataError>([&] { with_rows("1,S01-01-001,1,40,31,6+12,happiness,\n"); },
                          {table + ":2", "apex 40 outside onset..offset 1..31"});
  // A blank apex goes to missing_apex (midpoint by default), reported.
  const auto d = with_rows("1,S01-01-001,1,,31,6+12,happiness,\n");
  ASSERT_EQ(d->samples().size(), 1u);
  EXPECT_EQ(d->samples()[0].apex, 16);
  EXPECT_TRUE(test::has_quirk(d->samples()[0], "no usable apex -> midpoint 16"));

  test::write_bytes(dir / "mmew.csv", "Subject,Filename,OnsetFrame,OffsetFrame\n1,S01-01-001,1,31\n");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); }, {table, "ApexFrame"});
  expect_error<DataError>([&] { test::build_dataset(yaml(dir / "none")); }, {(dir / "none").string(), "root"});
  fs::remove_all(dir / "Micro_Expression");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); }, {(dir / "Micro_Expression").string()});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  missing_apex: guess\n")); },
                            {"test.yaml:5", "missing_apex"});
}

}  // namespace
}  // namespace mer
