#include <mer/core/error.hpp>
#include <mer/preprocess/stage.hpp>

#include <gtest/gtest.h>

namespace mer {
namespace {

TEST(Item, FramesTreatMatsAndSequencesAlikeAndKeepTheirKind) {
  Item item;
  item.set("apex", cv::Mat(2, 3, CV_8UC1, cv::Scalar(7)));
  item.set_sequence("clip", {cv::Mat(2, 3, CV_8UC1, cv::Scalar(1)), cv::Mat(2, 3, CV_8UC1, cv::Scalar(2))});

  auto apex = item.frames("apex");
  ASSERT_EQ(apex.size(), 1u);
  EXPECT_EQ(apex[0].at<uchar>(1, 2), 7);
  apex[0] = cv::Mat(4, 4, CV_32FC1, cv::Scalar(0.5));
  item.set_frames("apex", apex);
  EXPECT_FALSE(item.has_sequence("apex"));
  EXPECT_EQ(item.at("apex").size(), cv::Size(4, 4));

  auto clip = item.frames("clip");
  ASSERT_EQ(clip.size(), 2u);
  EXPECT_EQ(clip[1].at<uchar>(0, 0), 2);
  clip.push_back(clip[0]);
  item.set_frames("clip", clip);
  ASSERT_TRUE(item.has_sequence("clip"));
  EXPECT_EQ(item.seq("clip").size(), 3u);

  // A mat holds exactly one frame.
  EXPECT_THROW(item.set_frames("apex", clip), InternalError);
  EXPECT_THROW(item.frames("missing"), InternalError);
}

}  // namespace
}  // namespace mer
