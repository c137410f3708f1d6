#pragma once
/// Stage: one step of preprocessing, applied to one sample at a time.
///
/// A sample travels through the pipeline as an Item: named cv::Mats ("onset", "apex", "landmarks",
/// "flow", ...) and named sequences of cv::Mats (a whole clip, "clip"). Mats and sequences share one
/// name space: a name is one or the other. Each stage declares the names it reads and writes; Pipeline
/// checks the chain when it is built, before any frame is decoded. A deterministic stage has a fingerprint (its resolved options and
/// an algorithm version) that keys the on-disk cache.
///
/// Conventions for item entries:
///   frames ("onset", "apex", ...)   CV_8UC1 or CV_8UC3
///   "face"                          CV_32FC1 1x4: x, y, width, height of the detected face
///   "landmarks"                     CV_32FC2 68x1: dlib 68-point order, in the current frame coordinates
///   "flow"                          CV_32FC2: (u, v) in pixels of the current grid
///   "strain", "magnitude"           CV_32FC1
///   sequences ("clip")              frames in time order, all of one size and type
///   "clip_frames"                   CV_32SC1 1xT: the frame number of each frame of "clip"
#include <mer/core/config.hpp>
#include <mer/core/registry.hpp>
#include <mer/meta/sample.hpp>

#include <opencv2/core.hpp>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mer {

struct Item {
  std::map<std::string, cv::Mat> mats;
  std::map<std::string, std::vector<cv::Mat>> sequences;
  /// Facts a stage records about the sample for reports (detect_face: "face_detector" = hog | haar | lbp |
  /// mmod | whole_frame); kept with the sample's cache entry and in FeatureSet::notes.
  std::map<std::string, std::string> notes;

  /// True when `key` is a mat or a sequence.
  bool has(const std::string& key) const { return mats.count(key) > 0 || sequences.count(key) > 0; }
  bool has_sequence(const std::string& key) const { return sequences.count(key) > 0; }
  /// The mat `key`; InternalError if absent (the pipeline's chain check makes that a bug).
  const cv::Mat& at(const std::string& key) const;
  cv::Mat& at(const std::string& key);
  /// The sequence `key`; InternalError if absent.
  const std::vector<cv::Mat>& seq(const std::string& key) const;
  std::vector<cv::Mat>& seq(const std::string& key);
  /// Stores a mat under `key`, dropping a sequence of that name (a stage may turn a clip into one image).
  void set(const std::string& key, cv::Mat value);
  /// Stores a sequence under `key`, dropping a mat of that name.
  void set_sequence(const std::string& key, std::vector<cv::Mat> value);
  /// The frames of `key` for stages that treat mats and sequences alike: a sequence's frames, or the mat as
  /// a one-frame list (headers only, the pixels are shared).
  std::vector<cv::Mat> frames(const std::string& key) const;
  /// Stores `frames` back under `key` as the kind it is now: a sequence stays one, a mat takes the single
  /// frame (InternalError for another count).
  void set_frames(const std::string& key, std::vector<cv::Mat> frames);
  /// All names, mats and sequences, sorted.
  std::vector<std::string> names() const;
};

/// An expected per-sample failure (no face found, unreadable frame): recorded as a skip under
/// `on_error: skip`, fatal under `on_error: fail`.
class SampleError : public DataError {
 public:
  using DataError::DataError;
};

/// A sample that a stage's own policy leaves out (detect_face's `no_face: skip`): recorded as a skip
/// whatever `on_error` says, because the user asked for exactly that.
class SkipSample : public SampleError {
 public:
  using SampleError::SampleError;
};

class Stage {
 public:
  virtual ~Stage() = default;
  /// Registry name ("flow").
  virtual std::string type() const = 0;
  virtual std::vector<std::string> reads() const = 0;
  virtual std::vector<std::string> writes() const = 0;
  /// Resolved options plus an algorithm version; changes whenever the output would.
  virtual std::string fingerprint() const = 0;
  virtual bool deterministic() const { return true; }
  /// Transforms `item` in place. Must be safe to call concurrently from several threads.
  /// Throws SampleError for expected per-sample failures.
  virtual void apply(const SampleMeta& sample, Item& item) const = 0;
};

/// "type(v1; key=value; ...)": the fingerprint format of the built-in stages, for stages written elsewhere
/// too. Values are written exactly (doubles with 17 significant digits) so two option sets that behave
/// differently never share a cache entry.
std::string stage_fingerprint(const std::string& type, const std::string& version,
                              const std::vector<std::pair<std::string, std::string>>& options);
std::string fingerprint_value(double v);
std::string fingerprint_value(const std::vector<std::string>& v);

using StageRegistry = Registry<Stage>;
/// Adds the built-in stages of mer_vision (`mer list stages` prints them with a line each). The learn layer
/// adds Torch-backed stages on top: all_stages() in <mer/models/stages.hpp>.
void register_builtin_stages(StageRegistry& registry);
const StageRegistry& builtin_stages();

}  // namespace mer
