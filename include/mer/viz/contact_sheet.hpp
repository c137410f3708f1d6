#pragma once
/// ContactSheet: what preprocessing did to a few samples, as one picture with a row of labelled tiles per
/// sample (`mer preprocess --visualize N`).
///
/// Fed by Pipeline::run_one's after-stage observer, it draws every entry a stage writes by its type:
///   8-bit frames (CV_8UC1/3)          the picture; when a stage rewrites a frame or a clip keeping its
///                                     size (magnification), the version before it as well
///   2-channel float fields (flow)     HSV colour: hue = direction, value = magnitude (scaled to the
///                                     field's largest), plus a colour-wheel legend once per row
///   1-channel float maps (strain)     cv::applyColorMap (viridis) over the map's own min..max, printed
///   3-channel float images            min..max stretched to 8 bits (dynamic images)
///   sequences                         a strip of a few evenly spaced frames, each drawn as above
///   "face", "landmarks"               the box and points drawn on the frame they belong to
///   "rois" (N×4 int x, y, w, h)       rectangles drawn on the current (aligned) frame
/// Other small mats (under 4 pixels a side: frame numbers, scores) are not drawn. Each tile is labelled
/// with the stage and the entry name.
#include <mer/meta/sample.hpp>
#include <mer/preprocess/stage.hpp>

#include <opencv2/core.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mer {

struct ContactSheetOptions {
  /// Height of every tile's picture in pixels; widths follow the entries' aspect ratios.
  int tile_size = 128;
  /// Frames drawn from each sequence, evenly spaced, first and last included.
  int sequence_frames = 6;
};

/// One labelled picture of a row.
struct SheetTile {
  std::string stage;  ///< first label line: the stage that produced the entry
  std::string entry;  ///< second label line: the entry ("flow", "onset + landmarks", "clip (12 frames)")
  std::string note;   ///< optional third line ("min -0.02 max 0.31")
  cv::Mat image;      ///< CV_8UC3, tile_size rows
};

struct SheetRow {
  std::string title;
  std::vector<SheetTile> tiles;
};

class ContactSheet {
 public:
  explicit ContactSheet(ContactSheetOptions options = {});

  /// Starts the row of `sample` (titled with its id and emotion).
  void begin_row(const SampleMeta& sample);
  /// Adds the tiles for the entries `writes` that `item` holds after the stage labelled `stage`.
  void add_stage(const std::string& stage, const std::vector<std::string>& writes, const Item& item);
  /// An observer for Pipeline::run_one that calls add_stage; valid while this sheet lives.
  std::function<void(const Stage&, const Item&)> observer();
  /// Ends the current row with a text tile, e.g. why the sample failed.
  void add_note(const std::string& stage, const std::string& text);

  const std::vector<SheetRow>& rows() const { return rows_; }
  /// All rows stacked, CV_8UC3. ValueError when there is no row.
  cv::Mat render() const;
  /// Renders and writes a PNG atomically (IoError on failure).
  void write_png(const std::filesystem::path& file) const;

 private:
  SheetRow& row();
  ContactSheetOptions options_;
  std::vector<SheetRow> rows_;
  SampleMeta sample_;
  Item previous_;  // the item before the current stage, to spot rewritten entries
  bool legend_drawn_ = false;
};

/// A displacement field (CV_32FC2) as colour: hue = direction, value = magnitude / `max_magnitude` (the
/// field's largest magnitude when <= 0). Returns CV_8UC3.
cv::Mat flow_to_color(const cv::Mat& flow, double max_magnitude = 0);
/// The legend of flow_to_color: a disk of `size` pixels whose colour at each point is that of the vector
/// from the centre to it (the rim at full magnitude).
cv::Mat flow_color_wheel(int size);
/// A 1-channel float map through the viridis colour map over its finite min..max (returned in `lo`, `hi`).
cv::Mat colorize_map(const cv::Mat& map, double& lo, double& hi);

}  // namespace mer
