// CASME (I): the coding sheet is not public (DATASETS.md §5, §13), so these tests use a small table
// written by hand in MEB's column layout (Subject, Filename, blank, OnsetF, ApexF1, ApexF2, OffsetF,
// blank, Emotion) with the quirks that layout allows: a second apex, a '/' apex, an unmapped emotion.
#include <mer/core/error.hpp>
#include <mer/data/casme.hpp>
#include <mer/data/frames.hpp>

#include <gtest/gtest.h>

#include <set>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

const char* const kHeader = "Subject,Filename,,OnsetF,ApexF1,ApexF2,OffsetF,,Emotion,AU\n";
const char* const kRows =
    "1,EP01_5,,100,113,,130,,disgust,4+9\n"
    "1,EP03_2,,20,31,35,60,,surprise,1+2\n"
    "2,EP07_1,,50,/,,80,,repression,14\n"
    "4,EP12_3,,10,15,,40,,happiness,12\n"
    "13,EP02_4,,5,9,,30,,tense,4\n";

// Writes <root>/casme.csv and the frame files the adapter checks (onset, apex, offset and the
// onset/offset midpoint) under Cropped/ and CASME_raw_selected/.
void make_tree(const fs::path& root, const std::string& rows = kRows) {
  test::write_bytes(root / "casme.csv", std::string(kHeader) + rows);
  const struct {
    const char* subject;
    const char* clip;
    std::vector<int> frames;
  } clips[] = {{"sub01", "EP01_5", {100, 113, 115, 130}},
               {"sub01", "EP03_2", {20, 31, 40, 60}},
               {"sub02", "EP07_1", {50, 65, 80}},
               {"sub04", "EP12_3", {10, 15, 25, 40}},
               {"sub13", "EP02_4", {5, 9, 17, 30}}};
  for (const auto& c : clips)
    for (int f : c.frames) {
      const std::string n = std::to_string(f);
      test::write_bytes(root / "Cropped" / c.subject / c.clip / ("reg_" + std::string(c.clip) + "-" + n + ".jpg"),
                        test::tiny_jpeg());
      test::write_bytes(root / "CASME_raw_selected" / c.subject / c.clip / (std::string(c.clip) + "-" + n + ".jpg"),
                        test::tiny_jpeg());
    }
}

std::string yaml(const fs::path& root, const std::string& extra = "", const std::string& table = "casme.csv") {
  return test::fill(R"(dataset:
  type: casme
  root: {ROOT}
  table: {TABLE}
{EXTRA}  labels:
    classes: [negative, positive, surprise]
    map: {disgust: negative, repression: negative, tense: negative, happiness: positive, surprise: surprise}
)",
                    {{"ROOT", root.string()}, {"EXTRA", extra}, {"TABLE", table}});
}

TEST(Casme1Dataset, LoadsTheCroppedTreeThroughTheRegistry) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto d = test::build_dataset(yaml(dir.path()));
  ASSERT_EQ(d->name(), "casme");
  ASSERT_EQ(d->samples().size(), 5u);
  EXPECT_TRUE(d->excluded().empty());

  const auto& first = d->samples()[0];
  EXPECT_EQ(first.id, "casme/sub01/EP01_5");
  EXPECT_EQ(first.subject, "sub01");  // Subject 1 -> %02d
  EXPECT_EQ(first.clip, "EP01_5");
  EXPECT_EQ(first.dataset, "casme");
  EXPECT_EQ(first.onset, 100);
  EXPECT_EQ(first.apex, 113);
  EXPECT_EQ(first.offset, 130);
  EXPECT_EQ(first.action_units, "4+9");
  EXPECT_EQ(first.fps, 60);
  EXPECT_EQ(first.label, 0);
  EXPECT_EQ(first.source, "casme.csv:2");
  EXPECT_TRUE(first.quirks.empty());
  EXPECT_EQ(first.frame_path(113), dir.path() / "Cropped" / "sub01" / "EP01_5" / "reg_EP01_5-113.jpg");
  EXPECT_EQ(load_frame(first, first.apex).size(), cv::Size(8, 8));

  // ApexF2 filled in: ApexF1 is the apex, the second one is reported.
  const auto* two = test::find_sample(*d, "casme/sub01/EP03_2");
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->apex, 31);
  ASSERT_EQ(two->quirks.size(), 1u);
  EXPECT_EQ(two->quirks[0], "ApexF2 35 also annotated; using ApexF1 31");

  // ApexF1 '/': the default missing_apex policy (midpoint), reported.
  const auto* slash = test::find_sample(*d, "casme/sub02/EP07_1");
  ASSERT_NE(slash, nullptr);
  EXPECT_EQ(slash->apex, 65);
  EXPECT_TRUE(test::has_quirk(*slash, "no usable apex -> midpoint 65"));

  EXPECT_NE(test::find_sample(*d, "casme/sub13/EP02_4"), nullptr);  // two-digit subject kept
}

TEST(Casme1Dataset, RawVariantUsesTheConfigurablePattern) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto d = test::build_dataset(yaml(dir.path(), "  variant: raw\n"));
  const auto& s = d->samples()[0];
  EXPECT_EQ(s.frame_path(113), dir.path() / "CASME_raw_selected" / "sub01" / "EP01_5" / "EP01_5-113.jpg");

  test::write_bytes(dir / "CASME_raw_selected/sub01/EP01_5/img0113.jpg", test::tiny_jpeg());
  CasmeOptions o;
  o.root = dir.path();
  o.table = "casme.csv";
  o.variant = "raw";
  o.raw_frame_pattern = "img{:04}.jpg";
  o.common.check_frames = false;
  o.common.labels = LabelMap({"disgust"}, {});
  const CasmeDataset custom(o);
  ASSERT_EQ(custom.samples().size(), 1u);
  EXPECT_EQ(custom.samples()[0].frame_path(113), dir.path() / "CASME_raw_selected/sub01/EP01_5/img0113.jpg");
  EXPECT_EQ(custom.excluded().size(), 4u);  // the label map keeps disgust only; the rest are listed
  EXPECT_EQ(test::find_excluded(custom, "casme/sub04/EP12_3")->stage, "label_map");
}

TEST(Casme1Dataset, MissingFramesFailOrSkipNamingTheFile) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto missing = dir.path() / "Cropped/sub04/EP12_3/reg_EP12_3-15.jpg";
  fs::remove(missing);
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {"casme.csv:5", "casme/sub04/EP12_3", missing.string(), "apex 15", "missing_frames"});
  const auto d = test::build_dataset(yaml(dir.path(), "  missing_frames: skip\n"));
  EXPECT_EQ(d->samples().size(), 4u);
  const auto* skipped = test::find_excluded(*d, "casme/sub04/EP12_3");
  ASSERT_NE(skipped, nullptr);
  EXPECT_NE(skipped->reason.find(missing.string()), std::string::npos) << skipped->reason;

  // check_frames: false loads without looking.
  EXPECT_EQ(test::build_dataset(yaml(dir.path(), "  check_frames: false\n"))->samples().size(), 5u);
}

TEST(Casme1Dataset, PoliciesAreExplicit) {
  test::TempDir dir;
  make_tree(dir.path(), std::string(kRows) + "5,EP09_1,,40,90,,60,,disgust,4\n");
  test::write_bytes(dir / "Cropped/sub05/EP09_1/reg_EP09_1-40.jpg", test::tiny_jpeg());
  test::write_bytes(dir / "Cropped/sub05/EP09_1/reg_EP09_1-60.jpg", test::tiny_jpeg());
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); },
                          {"casme.csv:7", "casme/sub05/EP09_1", "apex 90 outside onset..offset 40..60"});
  const auto clamped = test::build_dataset(yaml(dir.path(), "  apex_out_of_range: clamp\n"));
  const auto* s = test::find_sample(*clamped, "casme/sub05/EP09_1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->apex, 60);
  EXPECT_TRUE(test::has_quirk(*s, "-> clamp 60 (was 90)"));
  const auto skipped = test::build_dataset(yaml(dir.path(), "  missing_apex: skip\n  apex_out_of_range: skip\n"));
  EXPECT_EQ(skipped->samples().size(), 4u);  // EP07_1 ('/') and EP09_1 left out
  EXPECT_EQ(skipped->excluded().size(), 2u);
}

TEST(Casme1Dataset, MalformedRowsAndMissingPathsAreNamed) {
  test::TempDir dir;
  make_tree(dir.path());
  const auto table = (dir / "casme.csv").string();
  auto with_rows = [&](const std::string& rows) {
    test::write_bytes(dir / "casme.csv", std::string(kHeader) + rows);
    return test::build_dataset(yaml(dir.path()));
  };
  expect_error<DataError>([&] { with_rows("1,EP01_5,,1x0,113,,130,,disgust,4\n"); }, {table + ":2", "OnsetF", "'1x0'"});
  expect_error<DataError>([&] { with_rows("one,EP01_5,,100,113,,130,,disgust,4\n"); },
                          {table + ":2", "Subject", "'one'"});
  expect_error<DataError>([&] { with_rows("1,,,100,113,,130,,disgust,4\n"); }, {table + ":2", "Filename"});
  expect_error<DataError>([&] { with_rows("1,EP01_5,,100,113,,130,,disgust,4\n01,EP01_5,,100,113,,130,,disgust,4\n"); },
                          {table + ":3", "casme/sub01/EP01_5", table + ":2"});
  test::write_bytes(dir / "casme.csv", "Subject,Filename,OnsetF,OffsetF,Emotion\n1,EP01_5,100,130,disgust\n");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); }, {table, "ApexF1"});

  make_tree(dir.path());
  expect_error<DataError>([&] { test::build_dataset(yaml(dir / "nowhere")); }, {(dir / "nowhere").string(), "root"});
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path(), "", "other.csv")); },
                          {(dir / "other.csv").string(), "coding table"});
  fs::remove_all(dir / "Cropped");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir.path())); }, {(dir / "Cropped").string()});
}

// Common unpackings load the same samples as the documented Cropped/: the folder nested once more,
// Off-TANet's casme1_cropped/, the subject folders directly in the root; and a CSV export where the config
// names the workbook.
TEST(Casme1Layout, CommonUnpackingsLoadTheSameSamples) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  const auto keys = [&](const std::string& table = "casme.csv") {
    return test::sample_keys(*test::build_dataset(yaml(root, "", table)));
  };
  const auto documented = keys();
  ASSERT_EQ(documented.size(), 5u);
  test::nest_once(root / "Cropped");
  EXPECT_EQ(keys(), documented);
  fs::rename(root / "Cropped" / "Cropped", root / "casme1_cropped");
  fs::remove(root / "Cropped");
  EXPECT_EQ(keys(), documented);
  test::flatten_into_parent(root / "casme1_cropped");
  EXPECT_EQ(keys(), documented);
  EXPECT_EQ(test::build_dataset(yaml(root))->samples()[0].clip_dir, root / "sub01" / "EP01_5");
  EXPECT_EQ(keys("casme.xlsx"), documented);
  // The raw tree nested once more.
  test::nest_once(root / "CASME_raw_selected");
  EXPECT_EQ(test::sample_keys(*test::build_dataset(yaml(root, "  variant: raw\n"))), documented);
}

TEST(Casme1Layout, NoFrameTreeNamesEveryPlaceLookedIn) {
  test::TempDir dir;
  const auto root = dir.path();
  make_tree(root);
  fs::remove_all(root / "Cropped");
  test::expect_places_listed(yaml(root), {root / "Cropped", root / "Cropped" / "Cropped", root / "casme1_cropped", root});
  fs::remove_all(root / "CASME_raw_selected");
  test::expect_places_listed(yaml(root, "  variant: raw\n"),
                             {root / "CASME_raw_selected", root / "CASME_raw_selected" / "CASME_raw_selected", root});
}

TEST(Casme1Options, ConfigErrorsNameTheLine) {
  test::TempDir dir;
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  variant: croped\n")); },
                            {"test.yaml:5", "variant", "croped", "cropped | raw"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  raw_frame_pattern: img.jpg\n")); },
                            {"test.yaml:5", "raw_frame_pattern", "img.jpg"});
  expect_error<ConfigError>([&] { test::build_dataset(yaml(dir.path(), "  missing_frames: ignore\n")); },
                            {"test.yaml:5", "missing_frames", "fail | skip"});
  // The table has no well-known name, so it is required.
  expect_error<ConfigError>(
      [&] { test::build_dataset("dataset:\n  type: casme\n  root: " + dir.path().string() + "\n"); }, {"table"});
}

}  // namespace
}  // namespace mer
