#include <mer/core/error.hpp>
#include <mer/viz/class_subject_plot.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "support/test_paths.hpp"

namespace mer {
namespace {

// Pixels of exactly this BGR colour: cell fills are flat, so a shade's area tells which cells got it.
int pixels_of(const cv::Mat& img, cv::Vec3b colour) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) n += img.at<cv::Vec3b>(y, x) == colour;
  return n;
}

TEST(ClassSubjectPlot, ShadesCellsByCountAndGrowsWithSubjects) {
  const std::vector<std::string> classes = {"negative", "positive"};
  // The largest cell (4) gets the end of the ramp; 2 gets the middle; 0 stays white.
  const auto img = render_class_subject({"casme2/sub01", "casme2/sub02"}, classes, {{4, 0}, {2, 0}}, "t");
  ASSERT_EQ(img.type(), CV_8UC3);
  const int cell = 96 * 24;
  EXPECT_GT(pixels_of(img, {120, 48, 8}), cell / 2);
  EXPECT_GT(pixels_of(img, {188, 152, 132}), cell / 2);  // (255 + 120) / 2, (255 + 48) / 2, (255 + 8) / 2

  const auto taller =
      render_class_subject({"a", "b", "c", "d", "e"}, classes, {{1, 0}, {0, 1}, {1, 1}, {2, 0}, {0, 0}}, "t");
  EXPECT_EQ(taller.rows - img.rows, 3 * 24);

  test::TempDir dir;
  write_class_subject_png(dir / "class_by_subject.png", {"a"}, classes, {{1, 2}}, "t");
  EXPECT_FALSE(cv::imread((dir / "class_by_subject.png").string()).empty());
}

TEST(ClassSubjectPlot, CountsMustMatchSubjectsAndClasses) {
  EXPECT_THROW(render_class_subject({"a", "b"}, {"x"}, {{1}}, "t"), ValueError);
  EXPECT_THROW(render_class_subject({"a"}, {"x", "y"}, {{1}}, "t"), ValueError);
}

}  // namespace
}  // namespace mer
