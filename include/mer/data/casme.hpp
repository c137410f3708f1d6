#pragma once
/// CASME (I) in its native layout (Yan et al. 2013): 195 micro-expressions filmed at 60 fps.
///
///   <root>/CASME_raw_selected/sub01/EP01_5/EP01_5-113.jpg   (variant: raw; naming unverified, see below)
///   <root>/Cropped/sub01/EP01_5/reg_EP01_5-113.jpg           (variant: cropped)
///
/// The frame tree is looked for in the documented place and then in the common unpackings: the folder
/// nested once more (Cropped/Cropped/), for the cropped variant Off-TANet's casme1_cropped/, and the
/// subject folders directly in the root. The first that holds a subNN folder is used (logged when it is
/// not the documented one); none is a DataError listing every place looked in. The table may be the
/// .xlsx or a CSV export beside it, whichever `table` names.
///
/// The coding sheet itself is not public. Its columns are taken from MEB's reader (tvaranka/meb :
/// meb/datasets/datasets.py, which reads `casme.xlsx`): Subject (a number; folder sub%02d), Filename, a
/// blank column, OnsetF, ApexF1, ApexF2, OffsetF, a blank column, Emotion. Columns are located by header
/// name, so the blank columns may be there or not. MEB also reads an "AU" column, so one is taken as the
/// action units when present ("AU" or "Action Units"); without it action_units stays empty.
///
/// Frame numbers are the numbers in the file names. Cropped frames are reg_<Filename>-<frame>.jpg
/// (ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet : data.py). No public source names the raw frames;
/// CASME II's cropped names are "reg_" + its raw names, so raw_frame_pattern defaults to
/// "{clip}-{}.jpg" ("{clip}" = Filename, "{}" = frame) — check it against your copy. The default variant
/// is therefore the verified one, cropped.
///
/// Quirks, each reported on the sample (SampleMeta::quirks) or listed in excluded():
///  - ApexF2 filled in: ApexF1 is the apex; "ApexF2 <n> also annotated" is recorded.
///  - ApexF1 blank or "/": missing_apex policy; outside OnsetF..OffsetF: apex_out_of_range.
///  - MEB moves onset/offset of five rows "based on the image folders"; nothing is moved here: with
///    check_frames such a row fails naming the frame file that is not there (missing_frames: skip leaves
///    it out instead, listed).
///
///   dataset:
///     type: casme
///     root: ${MER_DATA_ROOT}/CASME
///     table: casme.csv                  # required (the file name is not public); .csv or .xlsx, relative to root
///     variant: cropped                  # cropped | raw
///     raw_frame_pattern: "{clip}-{}.jpg"
///     check_frames: true                # onset/apex/offset frame files must exist when loading
///     missing_frames: fail              # fail | skip
///     missing_apex: midpoint            # data/annotated.hpp
///     apex_out_of_range: fail
///     labels: {classes: [...], map: {...}}
///
/// Samples: id "casme/sub01/EP01_5", subject "sub01", fps 60. Throws DataError for a missing root, table
/// or frame tree, a malformed row (file:row, column, value), a repeated clip, or (missing_frames: fail)
/// a missing frame.
#include <mer/data/annotated.hpp>

#include <filesystem>
#include <string>

namespace mer {

struct CasmeOptions {
  /// Dataset root: holds CASME_raw_selected/ and/or Cropped/.
  std::filesystem::path root;
  /// Coding sheet (.csv or .xlsx); relative paths are resolved against root. Required.
  std::filesystem::path table;
  /// "cropped" (Cropped/, reg_<Filename>-<frame>.jpg) or "raw" (CASME_raw_selected/, raw_frame_pattern).
  std::string variant = "cropped";
  /// Raw frame file names: "{clip}" is replaced by the Filename, "{}" (or "{:0N}") is the frame number.
  std::string raw_frame_pattern = "{clip}-{}.jpg";
  /// check_frames, missing_frames, missing_apex / apex_out_of_range, labels, sample_list (data/annotated.hpp).
  AdapterOptions common;

  static CasmeOptions from_config(const ConfigNode& node);
};

class CasmeDataset : public AnnotatedDataset {
 public:
  explicit CasmeDataset(CasmeOptions options);

 private:
  CasmeOptions options_;
};

}  // namespace mer
