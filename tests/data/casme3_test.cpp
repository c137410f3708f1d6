#include <mer/core/error.hpp>
#include <mer/data/casme3.hpp>
#include <mer/data/frames.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

fs::path real_table() { return test::annotations_dir() / "casme3_partA_me.csv"; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// <root>/<Subject>/<filename>/color/<n>.jpg for every positive onset/apex/offset and onset/offset
// midpoint of the real table, in the lower-case folder (and, with `keep_case`, in the folder as written),
// and the table as <root>/label.csv.
void make_tree(const fs::path& root, bool keep_case = false) {
  fs::copy_file(real_table(), root / "label.csv", fs::copy_options::overwrite_existing);
  const Table t = read_table(real_table());
  const auto c_subject = t.column("Subject"), c_file = t.column("Filename");
  const auto c_onset = t.column("Onset"), c_apex = t.column("Apex"), c_offset = t.column("Offset");
  for (const auto& row : t.rows) {
    const int onset = *parse_int_cell(row[c_onset]), apex = *parse_int_cell(row[c_apex]),
              offset = *parse_int_cell(row[c_offset]);
    std::set<int> frames;
    for (int f : {onset, apex, offset, (onset + offset) / 2})
      if (f > 0) frames.insert(f);
    std::set<std::string> folders = {lower(row[c_file])};
    if (keep_case) folders.insert(row[c_file]);
    for (const auto& folder : folders)
      for (int f : frames)
        test::write_bytes(root / row[c_subject] / folder / "color" / (std::to_string(f) + ".jpg"), test::tiny_jpeg());
  }
}

std::string yaml(const fs::path& root, const std::string& extra = "") {
  return test::fill(R"(dataset:
  type: casme3
  root: {ROOT}
  table: label.csv
{EXTRA}  labels:
    classes: [disgust, surprise, others, fear, anger, sad, happy]
)",
                    {{"ROOT", root.string()}, {"EXTRA", extra}});
}

const char* const kPolicies =
    "  apex_out_of_range: clamp\n  missing_offset: apex\n  invalid_onset: skip\n  max_clip_frames: 1000\n";

TEST(Casme3Table, TheSavedLabelSheetHasThePublishedCounts) {
  const Table t = read_table(real_table());
  ASSERT_EQ(t.rows.size(), 860u);
  const auto c_subject = t.column("Subject"), c_file = t.column("Filename"), c_emotion = t.column("emotion");
  std::set<std::string> subjects;
  std::map<std::string, int> emotions;
  std::map<std::pair<std::string, std::string>, int> keys;
  for (const auto& row : t.rows) {
    subjects.insert(row[c_subject]);
    ++emotions[row[c_emotion]];
    ++keys[{row[c_subject], row[c_file]}];
  }
  EXPECT_EQ(subjects.size(), 94u);
  const std::map<std::string, int> expected = {{"disgust", 250}, {"surprise", 187}, {"others", 158}, {"Others", 3},
                                               {"fear", 86},     {"anger", 64},     {"sad", 57},     {"happy", 55}};
  EXPECT_EQ(emotions, expected);
  int repeated_keys = 0, rows_under_repeated_keys = 0;
  for (const auto& [key, n] : keys)
    if (n > 1) ++repeated_keys, rows_under_repeated_keys += n;
  EXPECT_EQ(repeated_keys, 191);
  EXPECT_EQ(rows_under_repeated_keys, 588);
}

TEST(Casme3Dataset, EveryRowGetsAUniqueIdAndTheBadRowsTheirPolicies) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto d = test::build_dataset(yaml(dir.path(), kPolicies));
  ASSERT_EQ(d->name(), "casme3");
  ASSERT_EQ(d->samples().size(), 857u);
  ASSERT_EQ(d->excluded().size(), 3u);

  std::set<std::string> ids;
  for (const auto& s : d->samples()) ids.insert(s.id);
  for (const auto& e : d->excluded()) ids.insert(e.sample_id);
  EXPECT_EQ(ids.size(), 860u);  // (Subject, Filename) repeats; the onset in the id tells them apart

  // "Others" is lower-cased (3 rows), reported; the three excluded rows are 2 others and 1 disgust.
  const std::map<std::string, int> expected = {{"disgust", 249}, {"surprise", 187}, {"others", 159},
                                               {"fear", 86},     {"anger", 64},     {"sad", 57},
                                               {"happy", 55}};
  EXPECT_EQ(test::count_emotions(*d), expected);
  int lowered = 0;
  for (const auto& s : d->samples()) lowered += test::has_quirk(s, "emotion 'Others' -> 'others'");
  EXPECT_EQ(lowered, 3);

  const auto& first = d->samples()[0];  // spNO.1,a,355,359,360,5,II,others
  EXPECT_EQ(first.id, "casme3/spNO.1/a_355");
  EXPECT_EQ(first.subject, "spNO.1");
  EXPECT_EQ(first.clip, "a_355");
  EXPECT_EQ(first.fps, 30);
  EXPECT_EQ(first.action_units, "5");
  EXPECT_EQ(first.frame_path(359), dir.path() / "spNO.1" / "a" / "color" / "359.jpg");
  EXPECT_EQ(first.source, "label.csv:2");
  EXPECT_EQ(load_frame(first, first.apex).size(), cv::Size(8, 8));

  // Line 130, spNO.149 d: apex 83 before onset 112 -> apex_out_of_range: clamp.
  const auto* before = test::find_sample(*d, "casme3/spNO.149/d_112");
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->apex, 112);
  EXPECT_TRUE(test::has_quirk(*before, "apex 83 outside onset..offset 112..358 -> clamp 112 (was 83)"));
  // Lines 798 and 800, spNO.40 e: offset 0 -> missing_offset: apex.
  const std::pair<std::string, int> ended_at_apex[] = {{"casme3/spNO.40/e_1812", 1824}, {"casme3/spNO.40/e_2327", 2363}};
  for (const auto& [id, apex] : ended_at_apex) {
    const auto* s = test::find_sample(*d, id);
    ASSERT_NE(s, nullptr) << id;
    EXPECT_EQ(s->offset, apex);
    EXPECT_TRUE(test::has_quirk(*s, "offset not annotated (0) -> apex")) << id;
  }
  // Line 751, spNO.216 d: onset 3647 after offset 2694; line 752, spNO.216 e: onset 0 -> invalid_onset.
  const auto* after = test::find_excluded(*d, "casme3/spNO.216/d_3647");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->reason, "onset 3647 after offset 2694 (invalid_onset: skip)");
  const auto* zero = test::find_excluded(*d, "casme3/spNO.216/e_0");
  ASSERT_NE(zero, nullptr);
  EXPECT_EQ(zero->reason, "onset not annotated (0) (invalid_onset: skip)");
  // Line 710, spNO.214 c: offset 3460 -> 3456 frames > max_clip_frames -> long_clip: skip.
  const auto* long_clip = test::find_excluded(*d, "casme3/spNO.214/c_5");
  ASSERT_NE(long_clip, nullptr);
  EXPECT_NE(long_clip->reason.find("3456 frames"), std::string::npos) << long_clip->reason;
  EXPECT_NE(long_clip->reason.find("long_clip: skip"), std::string::npos) << long_clip->reason;

  // spNO.14's upper-case "J" -> folder j, reported.
  int upper_j = 0;
  for (const auto& s : d->samples())
    if (test::has_quirk(s, "Filename 'J' -> 'j' (filename_case: lower)")) {
      ++upper_j;
      EXPECT_EQ(s.subject, "spNO.14");
      EXPECT_EQ(s.clip_dir, dir.path() / "spNO.14" / "j" / "color");
      EXPECT_EQ(s.clip.substr(0, 2), "j_");
    }
  EXPECT_EQ(upper_j, 1);
}

TEST(Casme3Dataset, DefaultsAndFailPoliciesStopAtTheRow) {
  test::TempDir dir;
  make_tree(dir.path(), true);
  const std::string table = (dir / "label.csv").string();
  // apex_out_of_range defaults to fail: line 130 needs a choice.
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {table + ":130", "casme3/spNO.149/d_112", "apex 83 outside"});
  const std::string clamp = "  apex_out_of_range: clamp\n";
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), clamp + "  invalid_onset: fail\n")); },
                          {table + ":751", "casme3/spNO.216/d_3647", "onset 3647 after offset 2694", "invalid_onset"});
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), clamp + "  missing_offset: fail\n")); },
                          {table + ":798", "casme3/spNO.40/e_1812", "missing_offset: fail"});
  expect_error<DataError>(
      [&] { test::build_dataset(yaml(dir.path(), clamp + "  max_clip_frames: 1000\n  long_clip: fail\n")); },
      {table + ":710", "casme3/spNO.214/c_5", "3456 frames", "long_clip"});

  // Defaults otherwise: offset-0 and invalid-onset rows are skipped and listed; no length limit.
  const auto d = test::build_dataset(yaml(dir.path(), clamp));
  EXPECT_EQ(d->samples().size(), 856u);
  EXPECT_EQ(d->excluded().size(), 4u);
  EXPECT_NE(test::find_sample(*d, "casme3/spNO.214/c_5"), nullptr);

  // filename_case: keep reads the folder as written.
  const auto kept = test::build_dataset(yaml(dir.path(), clamp + "  filename_case: keep\n"));
  int upper = 0;
  for (const auto& s : kept->samples())
    if (s.clip_dir == dir.path() / "spNO.14" / "J" / "color") {
      ++upper;
      EXPECT_EQ(s.clip.substr(0, 2), "J_");
      EXPECT_FALSE(test::has_quirk(s, "filename_case"));
    }
  EXPECT_EQ(upper, 1);

  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  filename_case: upper\n")); },
                            {"test.yaml:5", "filename_case", "lower | keep"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  max_clip_frames: -1\n")); },
                            {"test.yaml:5", "max_clip_frames"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  invalid_onset: fix\n")); },
                            {"test.yaml:5", "invalid_onset", "skip | fail"});
}

// Common unpackings load the same samples as the documented one (spNO.<n>/ in the root): MEB's ME_A/,
// or the root's folder nested once more (part_A/part_A/).
TEST(Casme3Layout, CommonUnpackingsLoadTheSameSamples) {
  test::TempDir dir;
  const auto root = dir / "part_A";
  fs::create_directories(root);
  make_tree(root);
  const auto keys = [&] { return test::sample_keys(*test::build_dataset(yaml(root, kPolicies))); };
  const auto documented = keys();
  ASSERT_GT(documented.size(), 800u);
  test::move_folders(root, root / "ME_A");
  EXPECT_EQ(keys(), documented);
  fs::rename(root / "ME_A", root / "part_A");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(test::build_dataset(yaml(root, kPolicies))->samples()[0].clip_dir.parent_path().parent_path().parent_path(),
            root / "part_A");
}

TEST(Casme3Layout, NoFrameTreeNamesEveryPlaceLookedIn) {
  test::TempDir dir;
  const auto root = dir / "part_A";
  fs::create_directories(root);
  fs::copy_file(real_table(), root / "label.csv");
  test::expect_places_listed(yaml(root, kPolicies), {root, root / "part_A", root / "ME_A"});
}

TEST(Casme3Dataset, RepeatedIdsAndMissingFramesAreNamed) {
  test::TempDir dir;
  make_tree(dir.path());
  const std::string table = (dir / "label.csv").string();
  test::write_bytes(dir / "label.csv",
                    "Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion\n"
                    "spNO.1,b,166,175,179,4,III,disgust\n"
                    "spNO.1,B,166,170,179,4,III,disgust\n");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {table + ":3", "casme3/spNO.1/b_166", table + ":2"});
  test::write_bytes(dir / "label.csv",
                    "Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion\n"
                    "spNO.1,b,166,175,179,4,III,disgust\n"
                    "spNO.1,b,1,2,3,4,III,disgust\n");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {table + ":3", "casme3/spNO.1/b_1", (dir / "spNO.1/b/color/1.jpg").string()});
  const auto d = test::build_dataset(yaml(dir.path(), "  missing_frames: skip\n"));
  EXPECT_EQ(d->samples().size(), 1u);
  ASSERT_EQ(d->excluded().size(), 1u);
  EXPECT_EQ(d->excluded()[0].sample_id, "casme3/spNO.1/b_1");
}

}  // namespace
}  // namespace mer
