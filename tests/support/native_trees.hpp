#pragma once
/// Dataset trees in their native layouts, driven by the real annotation tables in annotations_dir(), with
/// tiny frames: every table row gets its clip folder and the frame files the adapters and `mer data check`
/// look at. Frames of one tree are hard links of one image (copies where links fail), so replace a frame
/// (remove it, then write) rather than writing into it.
#include <filesystem>

namespace mer::test {

enum class TreeFrames {
  Key,  ///< onset, apex, offset and the onset/offset midpoint (what the adapters check when loading)
  All,  ///< every frame from onset to offset
};

/// <root>/CASME2-coding-20140508.xlsx and .csv (casme2_coding.csv) and
/// CASME2_RAW_selected/subNN/<clip>/img<N>.jpg.
void write_casme2_tree(const std::filesystem::path& root, TreeFrames frames = TreeFrames::Key);
/// <root>/SAMM_Micro_FACS_Codes_v2.xlsx (samm_coding_full_sheet.csv as sheet MICRO_ONLY, preamble
/// included) and SAMM/<subject>/<clip>/<subject>_<N:05>.jpg for the rows of samm_coding.csv.
void write_samm_tree(const std::filesystem::path& root, TreeFrames frames = TreeFrames::Key);
/// <root>/SMIC_all_raw/HS/s<N>/micro/<emotion>/<clip>/image<N:06>.bmp from smic_hs.csv, always every
/// frame (the folder reader takes onset and offset from the files and wants no gaps); the list itself is
/// copied to <root>/smic_hs.csv.
void write_smic_tree(const std::filesystem::path& root);

}  // namespace mer::test
