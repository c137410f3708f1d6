#pragma once
/// Learning curves: what a run's folds did epoch by epoch, as a picture (learning_curves.png in a run).
#include <opencv2/core.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mer {

/// One fold's history: series name ("train_loss", "val_loss", "train_accuracy", "val_accuracy") → value per
/// epoch (epoch 1 first). Folds may have run different numbers of epochs (early stopping).
using FoldCurves = std::map<std::string, std::vector<double>>;

/// Two panels, loss and accuracy: per series the mean over the folds that reached each epoch, with a band
/// from the lowest to the highest fold; the legend says how many folds each curve averages. `title` on top.
/// `per_fold`: every fold's curve drawn thin instead of the band.
cv::Mat render_learning_curves(const std::vector<FoldCurves>& folds, const std::string& title, bool per_fold = false);
/// Renders and writes a PNG atomically (IoError on failure); ValueError when no fold has any point.
void write_learning_curves_png(const std::filesystem::path& file, const std::vector<FoldCurves>& folds,
                               const std::string& title, bool per_fold = false);
/// The histories of a run's finished folds (folds/*.json, in file-name order). DataError naming a file that
/// is not JSON.
std::vector<FoldCurves> read_fold_curves(const std::filesystem::path& run_dir);

}  // namespace mer
