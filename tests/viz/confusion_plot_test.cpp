#include <mer/core/error.hpp>
#include <mer/viz/confusion_plot.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "support/test_paths.hpp"

namespace mer {
namespace {

TEST(ConfusionPlot, ShadesCellsByRowRateAndWritesPng) {
  const auto cm = confusion_matrix({0, 0, 0, 0, 1, 1, 2}, {0, 0, 0, 0, 0, 1, 1}, 3);
  const auto img = render_confusion(cm, {"negative", "positive", "surprise"}, "UF1 0.5");
  ASSERT_EQ(img.type(), CV_8UC3);
  // Cell (0,0) holds 100% of its row: dark; cell (0,1) holds 0%: white. Sample near a cell corner,
  // away from the printed numbers.
  const int cell = 110, left = 150, top = 110;
  const auto dark = img.at<cv::Vec3b>(top + 5, left + 5);
  const auto white = img.at<cv::Vec3b>(top + 5, left + cell + 5);
  EXPECT_LT(dark[2], 60);
  EXPECT_EQ(white, cv::Vec3b(255, 255, 255));
  // Row 1 is split 50/50: halfway between white (255) and the ramp's end (red channel 8).
  const auto half = img.at<cv::Vec3b>(top + cell + 5, left + 5);
  EXPECT_NEAR(half[2], (255 + 8) / 2.0, 1.0);

  test::TempDir dir;
  write_confusion_png(dir / "confusion.png", cm, {"negative", "positive", "surprise"}, "t");
  const auto back = cv::imread((dir / "confusion.png").string());
  EXPECT_EQ(back.size(), img.size());
}

TEST(ConfusionPlot, NamesMustMatchClasses) {
  const auto cm = confusion_matrix({0}, {0}, 2);
  EXPECT_THROW(render_confusion(cm, {"a"}, "t"), ValueError);
}

}  // namespace
}  // namespace mer
