#include <mer/core/error.hpp>
#include <mer/data/mmew.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <cctype>

namespace mer {
namespace fs = std::filesystem;

namespace {

constexpr double kFps = 90;

// "S01-01-001" -> 1; -1 when the file name does not start with S<digits>-.
int subject_in_filename(const std::string& filename) {
  if (filename.size() < 3 || filename[0] != 'S') return -1;
  std::size_t i = 1;
  int n = 0;
  while (i < filename.size() && std::isdigit(static_cast<unsigned char>(filename[i])) && i < 6)
    n = n * 10 + (filename[i++] - '0');
  return i > 1 && i < filename.size() && filename[i] == '-' ? n : -1;
}

}  // namespace

MmewOptions MmewOptions::from_config(const ConfigNode& node) {
  MmewOptions o;
  o.root = node.required_path("root");
  o.table = node.get_path("table", o.table.string());
  o.common = AdapterOptions::from_config(node);
  return o;
}

MmewDataset::MmewDataset(MmewOptions options) : AnnotatedDataset("mmew", options.common.labels), options_(std::move(options)) {
  options_.common.check("mmew");
  const fs::path& root = options_.root;
  detail::require_folder("mmew", "root", root, "the MMEW folder holding Micro_Expression/ and the table");
  const fs::path table_path = detail::find_table("mmew", detail::resolve_path(root, options_.table),
                                                 "MMEW_Micro_Exp.xlsx or a CSV export of it (dataset.table, relative to root)");
  // The documented place, then the common unpackings: the folder nested once more (a zip of the folder
  // unpacked into one of the same name) or the emotion folders directly in the root. The tree is grouped
  // by emotion, not subject: an emotion folder is a lower-case word, as the table writes emotions, which
  // tells it from Micro_Expression/ and Macro_Expression/ beside it.
  const fs::path frames_root = detail::find_frame_tree(
      "mmew", {root / "Micro_Expression", root / "Micro_Expression" / "Micro_Expression", root},
      [](const std::string& n) {
        return !n.empty() && std::all_of(n.begin(), n.end(), [](unsigned char c) { return c >= 'a' && c <= 'z'; });
      },
      "<emotion>/<Filename>/<n>.jpg");

  TableOptions table_options;
  table_options.header_with = {"Subject", "Filename", "OnsetFrame", "OffsetFrame"};
  const Table table = read_table(table_path, table_options);
  const auto c_subject = table.column("Subject");
  const auto c_file = table.column("Filename");
  const auto c_onset = table.column("OnsetFrame");
  const auto c_apex = table.column("ApexFrame");
  const auto c_offset = table.column("OffsetFrame");
  const auto c_aus = table.column("Action Units");
  const auto c_emotion = table.column("Estimated Emotion");

  detail::IdRegistry ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto where = table.where(r);
    const int subject = detail::subject_number(table, r, c_subject, "Subject");
    SampleMeta s;
    s.dataset = "mmew";
    s.subject = "S" + detail::zero_pad(subject, 2);
    s.clip = detail::required_cell(table, r, c_file, "Filename", "a clip folder name such as 'S01-01-001'");
    if (const int in_name = subject_in_filename(s.clip); in_name >= 0 && in_name != subject)
      throw DataError(detail::concat(where, ": Subject ", subject, " disagrees with Filename '", s.clip,
                                     "' (subject ", in_name, "); expected the same subject in both"));
    s.id = "mmew/" + s.subject + "/" + s.clip;
    s.onset = detail::required_frame_cell(table, r, c_onset, "OnsetFrame");
    s.apex = detail::frame_cell(table, r, c_apex, "ApexFrame").value_or(-1);
    s.offset = detail::required_frame_cell(table, r, c_offset, "OffsetFrame");
    s.action_units = trim(table.rows[r][c_aus]);
    s.emotion = detail::required_cell(table, r, c_emotion, "Estimated Emotion", "an emotion such as 'happiness'");
    s.clip_dir = frames_root / s.emotion / s.clip;
    s.frame_pattern = "{}.jpg";
    s.fps = kFps;
    s.source = table_path.filename().string() + where.substr(table_path.string().size());
    ids.insert(s.id, where);

    admit(std::move(s), options_.common, where);
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
