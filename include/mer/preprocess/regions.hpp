#pragma once
/// Regions of interest on the face and maps derived from landmarks and motion (survey §4.1, Fig. 4; §4.2).
///
/// Geometry only: every function here works on dlib's 68 landmarks (the order of `landmarks`, see
/// stage.hpp) in the pixel coordinates of the image they describe, usually the aligned crop. The
/// pipeline stage that applies them is `roi`:
///
///   - {type: roi, method: grid, rows: 4, cols: 4, apply: crop, keys: [flow]}
///   - {type: roi, method: facs, apply: crop, size: 24, keys: [flow, strain]}
///   - {type: roi, method: eye_cheek_mask, margin: 0.1, keys: [flow, strain]}      # apply: mask
///   - {type: roi, method: eyes_mouth, keys: [flow]}
///   - {type: roi, method: heatmap, heatmap: configs/heat/casme2.yml, rows: 8, cols: 8, top_k: 12}
///   - {type: roi, method: landmark_patches, patch_size: 24, apply: crop, keys: [apex]}
///
/// Sizes are relative to the inter-ocular distance (outer eye corners 36 and 45) so that one setting
/// fits any crop size.
#include <opencv2/core.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

/// A named box in image pixels. `x`, `y` may be negative and the box may reach past the image: crops
/// pad by replicating the border, masks clip.
struct FaceRegion {
  std::string name;
  cv::Rect box;
};

/// `rows`×`cols` blocks tiling a `size` image exactly: block edges at round(i * width / cols), so the
/// blocks differ by at most one pixel when the size does not divide. ValueError unless 1 <= rows <=
/// height and 1 <= cols <= width.
std::vector<cv::Rect> grid_blocks(cv::Size size, int rows, int cols);

/// Distance between the outer eye corners (landmarks 36 and 45), the unit of every region size here.
/// ValueError unless there are 68 points and the corners are apart.
double interocular_distance(const std::vector<cv::Point2f>& landmarks);

/// The FACS-inspired regions (brows, glabella, eyes, nose, cheeks, nasolabial folds, mouth corners,
/// chin; the table is in stages_regions.cpp), in that order. "left"/"right" are sides of the image.
/// Boxes are the landmarks' bounding box grown by a margin (a fraction of the inter-ocular distance).
std::vector<FaceRegion> facs_regions(const std::vector<cv::Point2f>& landmarks);
/// The names facs_regions gives, in order.
const std::vector<std::string>& facs_region_names();

/// The polygon of each eye (landmarks 36-41 and 42-47), pushed out from its centroid by `margin` times
/// the inter-ocular distance (lashes, lids and the skin that moves with a blink).
std::vector<std::vector<cv::Point>> eye_polygons(const std::vector<cv::Point2f>& landmarks, double margin);

/// Liong et al. (2018)'s mask: 255 on the face (convex hull of the 68 landmarks) with both eye polygons
/// (eye_polygons(landmarks, margin)) cleared to 0; CV_8UC1 of `size`. Eye blinks cause larger flow than
/// a micro-expression; the cheeks, brows and mouth stay.
cv::Mat eye_cheek_mask(const std::vector<cv::Point2f>& landmarks, cv::Size size, double margin);

/// Three boxes: left eye with brow, right eye with brow, mouth; each the landmarks' bounding box grown by
/// `margin` times the inter-ocular distance (Liong et al. 2018, hybrid facial regions).
std::vector<FaceRegion> eyes_mouth_regions(const std::vector<cv::Point2f>& landmarks, double margin);

/// Square `patch_size` boxes centred on the given landmarks: box.x = round(x) - patch_size / 2 (integer
/// division), likewise y. ValueError for an index outside 0..67.
std::vector<FaceRegion> landmark_patches(const std::vector<cv::Point2f>& landmarks, const std::vector<int>& indices,
                                         int patch_size);
/// The default patch centres: brows (17, 19, 21, 22, 24, 26), inner and outer eye corners (36, 39, 42,
/// 45), nose tip (30), mouth corners and lip centres (48, 51, 54, 57): where the action units of
/// micro-expressions (AU1, 2, 4, 6, 7, 9, 12, 14, 15, 17) move the skin.
const std::vector<int>& default_patch_landmarks();

/// The mean of per-sample flow magnitude maps (label-free: where faces of a data set move at all).
/// Each entry is a CV_32FC1 magnitude or a CV_32FC2 flow (its magnitude is taken); all of one size.
/// ValueError when empty, of mixed sizes or of another type.
cv::Mat motion_heatmap(const std::vector<cv::Mat>& magnitudes);
/// Writes a heat map (CV_32FC1): ".yml", ".yaml", ".xml" or ".json" through cv::FileStorage (node
/// "heatmap", exact values), ".png" as 16-bit scaled to its maximum, ".exr" as float. IoError on failure.
void write_heatmap(const std::filesystem::path& file, const cv::Mat& heatmap);
/// Reads what write_heatmap writes (any 8/16-bit or float image for ".png"/".exr"), as CV_32FC1.
/// IoError when the file cannot be read or holds no single-channel map.
cv::Mat read_heatmap(const std::filesystem::path& file);
/// The indices of the `top_k` blocks of grid_blocks(heatmap.size(), rows, cols) with the highest mean
/// heat, hottest first (ties: lower index first). ValueError when top_k is not in 1..rows*cols.
std::vector<int> hottest_blocks(const cv::Mat& heatmap, int rows, int cols, int top_k);

/// One Gaussian bump exp(-d^2 / (2 sigma^2)) (peak 1) per point on a CV_32FC1 `size` map, combined by
/// "sum" or "max". Points are in the map's pixels.
cv::Mat landmark_heatmap(const std::vector<cv::Point2f>& points, cv::Size size, double sigma,
                         const std::string& combine);

}  // namespace mer
