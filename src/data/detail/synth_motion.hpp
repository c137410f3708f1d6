#pragma once
// Private to libmer: the pieces of the synthetic CASME II generator (data/synth.hpp), split out so that
// tests can check each one with numbers — the clip plan, the displacement field, the rendering.
#include <mer/data/synth.hpp>

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace mer::detail {

/// mt19937_64 with distributions written out here: the standard ones are implementation-defined, and a
/// seed must give the same dataset with any standard library.
class SynthRng {
 public:
  explicit SynthRng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi);
  /// Uniform integer in [lo, hi] (inclusive).
  int uniform_int(int lo, int hi);
  std::uint64_t bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

/// A real person's face prepared for synthesis: an upright colour crop (eyes level) with the face
/// `face_width` px wide at its centre, and dlib's 68 landmarks found on that crop.
struct SynthFace {
  cv::Mat image;  ///< CV_8UC3, square, side = face_width * (1 + 2 * margin)
  std::vector<cv::Point2f> landmarks;
  float face_width = 0;
  std::string source;  ///< media file (relative to the media folder) and, for group photos, which face
};

/// The media files that hold real people, in the order subjects are given them (documented in synth.cpp).
struct PersonSource {
  std::string file;  ///< relative to the media folder
  bool group = false;  ///< a group photo: every face dlib finds is a different person
};
const std::vector<PersonSource>& person_sources();

/// Finds the first `count` distinct people in `media_dir` (person_sources() order, portraits and
/// group-photo faces interleaved) and prepares their faces. Throws DataError saying how many people
/// are available when there are fewer than `count`. count -1: every person the media holds.
std::vector<SynthFace> load_people(const std::filesystem::path& media_dir, const std::filesystem::path& landmark_model,
                                   int count, int face_size);

/// One Gaussian bump of a displacement field: d(x) = direction * exp(-|x - centre|^2 / (2 sigma^2)).
/// `direction` carries the bump's relative weight in its length.
struct MotionBump {
  cv::Point2f centre;
  cv::Point2f direction;
  float sigma = 0;
};

/// Everything random about one clip, drawn from derive_seed(options.seed, "<subject>/<clip>").
struct ClipPlan {
  int subject_index = 0;
  std::string table_subject;  ///< "01", as the coding table writes it
  std::string subject;        ///< "sub01", the folder
  std::string name;           ///< "EP05_02f"
  std::string emotion;
  std::string action_units;  ///< consistent with the motion ("6+12", "15", ...)
  int onset = 0, apex = 0, offset = 0;
  std::uint64_t seed = 0;
  double amplitude = 0;     ///< peak displacement at the apex, px
  double sigma_factor = 0;  ///< bump sigma as a fraction of the face width
  std::vector<double> bump_gain;  ///< per-bump weight jitter (asymmetry between the two sides)
  bool chin = false;         ///< repression with a chin raise (AU17)
  // Head pose relative to the photo: a static offset for this recording, then a smooth drift.
  cv::Point2f static_offset;
  cv::Point2f drift;        ///< translation reached at the offset frame (|drift| <= head_motion)
  double wobble = 0;        ///< sideways bow of the drift path, px (perpendicular to drift)
  double rotation_deg = 0;  ///< in-plane rotation reached at the offset frame
  double gain = 1;          ///< this recording's exposure

  int frames() const { return offset - onset + 1; }
};

/// Plans the clips of subject `subject_index` (0-based): names unique within the subject, emotions
/// round-robin over options.emotions from a subject-dependent start, frames, amplitudes, head motion.
std::vector<ClipPlan> plan_subject(const SynthOptions& options, int subject_index);
/// Writes an encoded frame (IoError naming the file on failure).
void write_bytes(const std::filesystem::path& path, const std::vector<uchar>& bytes);

/// Draws everything random about a clip whose subject, name, emotion and seed are set: frames (onset in
/// [first_onset, last_onset]), amplitude, bump jitter, head motion, gain, and AUs matching the emotion.
void draw_clip(ClipPlan& plan, const SynthOptions& options, int first_onset, int last_onset);

/// The bumps of the plan's emotion placed on a face's 68 landmarks (sigma = plan.sigma_factor *
/// face_width, weights jittered by plan.bump_gain).
std::vector<MotionBump> emotion_bumps(const ClipPlan& plan, const std::vector<cv::Point2f>& landmarks,
                                      float face_width);

/// Sum of the bumps sampled on a `size` grid (CV_32FC2, x then y), scaled so that its largest
/// displacement magnitude on the grid is exactly 1 px.
cv::Mat unit_displacement_field(const std::vector<MotionBump>& bumps, cv::Size size);

/// Largest displacement magnitude of a CV_32FC2 field, px.
double peak_displacement(const cv::Mat& field);

/// Raised-cosine expression profile: 0 at onset, rising to 1 at apex, back to 0 at offset.
double expression_profile(int frame, int onset, int apex, int offset);

/// Renders one clip of one face. Frame n is the face deformed by amplitude * profile(n) * unit field,
/// then moved rigidly by the head pose at n, then given sensor noise (JPEG is applied by the writer).
class ClipRenderer {
 public:
  /// Keeps references: `plan` and `face` must outlive the renderer.
  ClipRenderer(const ClipPlan& plan, const SynthFace& face, double noise);
  /// The expression's displacement at frame n, in face coordinates (CV_32FC2, px).
  cv::Mat displacement(int frame) const;
  /// Frame n as 8-bit BGR.
  cv::Mat render(int frame) const;
  /// Rigid head pose at frame n: the 2x3 matrix taking face coordinates to frame coordinates.
  cv::Matx23d head_pose(int frame) const;
  /// Where the expression moves (unit field magnitude), for measuring.
  const cv::Mat& unit_field() const { return unit_; }

 private:
  const ClipPlan& plan_;
  const SynthFace& face_;
  double noise_;
  cv::Mat face_f32_;
  cv::Mat unit_;
};

}  // namespace mer::detail
