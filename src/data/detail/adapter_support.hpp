#pragma once
// Private to libmer: the checks and policies that the CASME (I), CAS(ME)^2, MMEW, CAS(ME)^3 and manifest
// adapters share, so that each quirk is worded and reported the same way in every dataset.
#include <mer/core/config.hpp>
#include <mer/meta/sample.hpp>
#include <mer/meta/table.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mer::detail {

/// ConfigNode::get_choice's check for options built in C++ (ValueError naming the dataset and the option).
void check_choice(const std::string& dataset, const std::string& option, const std::string& value,
                  const std::vector<std::string>& allowed);

/// `path` if absolute (or empty), else `base / path`.
std::filesystem::path resolve_path(const std::filesystem::path& base, const std::filesystem::path& path);
/// DataError "<dataset>: <what> '<path>' is not an existing folder; expected <expected>".
void require_folder(const std::string& dataset, const std::string& what, const std::filesystem::path& path,
                    const std::string& expected);
/// DataError "<dataset>: <what> '<path>' does not exist; expected <expected>".
void require_file(const std::string& dataset, const std::string& what, const std::filesystem::path& path,
                  const std::string& expected);

/// Where a dataset's frame tree is: the first of `candidates` (the documented place first, then the other
/// common unpackings) that holds a subject folder, i.e. a folder whose name `is_subject` accepts. Logs the
/// place when it is not the documented one; DataError listing every place looked in when none is.
std::filesystem::path find_frame_tree(const std::string& dataset, const std::vector<std::filesystem::path>& candidates,
                                      bool (*is_subject)(const std::string&), const std::string& expected);
/// A CASME / CASME II subject folder: "sub" and digits ("sub01").
bool is_casme_subject(const std::string& name);
/// An annotation table: `path` as configured, or else its other form beside it (the .xlsx as distributed or
/// a CSV export of it, same stem), logged; DataError naming both when neither exists.
std::filesystem::path find_table(const std::string& dataset, const std::filesystem::path& path, const std::string& expected);

/// A frame-number cell of row r: a whole number >= 0, or nullopt for a blank cell (and for "/" or "-"
/// when `missing_marks` is set). Anything else is a DataError naming file:row, the column and the value.
std::optional<int> frame_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name,
                              bool missing_marks = true);
/// A frame-number cell that must be present.
int required_frame_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name);
/// A cell that must not be blank (trimmed); DataError naming file:row, the column and what was expected.
std::string required_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name,
                          const std::string& expected);

/// `missing_offset: apex | skip | fail` for a row whose offset was not annotated (0 in CAS(ME)^2 and
/// CAS(ME)^3). "apex" ends the clip at its apex (what SoftNet does) and records it on the sample. Returns
/// false with `skip_reason` set under "skip"; DataError naming `where` under "fail", or under "apex" when
/// the row has no apex at or after its onset to end on.
bool apply_missing_offset(const std::string& policy, SampleMeta& s, const std::string& where,
                          std::string& skip_reason);

/// `missing_frames: fail | skip` for something an adapter found missing: under "skip" returns false with
/// `skip_reason` = `problem` + " (missing_frames: skip)"; under "fail" throws DataError(`fail_message`),
/// the adapter's own wording of the same problem.
bool apply_missing_frames(const std::string& missing_frames, const std::string& problem,
                          const std::string& fail_message, std::string& skip_reason);

/// The frame files a sample's onset, apex and offset come from exist (for a frame-folder sample: the
/// folder too). `missing_frames: fail | skip`. Returns false with `skip_reason` under "skip".
bool check_key_frames(const SampleMeta& s, const std::string& where, const std::string& missing_frames,
                      std::string& skip_reason);
/// The frame check of the adapters that name their table's frame columns (CASME II, SAMM, SMIC lists):
/// the clip folder must exist, and with `check_frames` the file of each of `frames` ({column, number};
/// numbers < 0, an apex left to an estimating stage, are not looked for). DataError (missing_frames:
/// fail) naming `where`, the path, the column and `sample` (the id, plus how the table wrote it where
/// that differs); false with `skip_reason` under "skip".
bool check_clip_frames(const SampleMeta& s, const std::string& where, const std::string& sample,
                       const std::vector<std::pair<std::string, int>>& frames, bool check_frames,
                       const std::string& missing_frames, std::string& skip_reason);

/// Ids seen so far; a repeat is a DataError naming both rows.
class IdRegistry {
 public:
  void insert(const std::string& id, const std::string& where);

 private:
  std::map<std::string, std::string> seen_;
};

/// A subject number from a whole-number cell ("1", "1.0", "01"); DataError naming the row otherwise.
int subject_number(const Table& table, std::size_t r, std::size_t column, const std::string& name);
/// printf("%0*d", width, n).
std::string zero_pad(int n, int width);

}  // namespace mer::detail
