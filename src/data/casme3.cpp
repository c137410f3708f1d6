#include <mer/core/error.hpp>
#include <mer/data/casme3.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <cctype>

namespace mer {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kFilenameCase = {"lower", "keep"};
const std::vector<std::string> kInvalidOnset = {"skip", "fail"};
const std::vector<std::string> kMissingOffset = {"apex", "skip", "fail"};
const std::vector<std::string> kLongClip = {"skip", "fail"};
constexpr double kFps = 30;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Casme3Options Casme3Options::from_config(const ConfigNode& node) {
  Casme3Options o;
  o.root = node.required_path("root");
  o.table = node.get_path("table", o.table.string());
  o.sheet = node.get<std::string>("sheet", o.sheet);
  o.filename_case = node.get_choice("filename_case", o.filename_case, kFilenameCase);
  o.invalid_onset = node.get_choice("invalid_onset", o.invalid_onset, kInvalidOnset);
  o.missing_offset = node.get_choice("missing_offset", o.missing_offset, kMissingOffset);
  o.max_clip_frames = node.get<int>("max_clip_frames", o.max_clip_frames);
  if (o.max_clip_frames < 0)
    throw ConfigError(detail::concat(node.where("max_clip_frames"), ": '", node.key_path("max_clip_frames"),
                                     "' must be >= 0 (0 = no limit), got ", o.max_clip_frames));
  o.long_clip = node.get_choice("long_clip", o.long_clip, kLongClip);
  o.common = AdapterOptions::from_config(node);
  return o;
}

Casme3Dataset::Casme3Dataset(Casme3Options options)
    : AnnotatedDataset("casme3", options.common.labels), options_(std::move(options)) {
  const std::string ds = "casme3";
  detail::check_choice(ds, "filename_case", options_.filename_case, kFilenameCase);
  detail::check_choice(ds, "invalid_onset", options_.invalid_onset, kInvalidOnset);
  detail::check_choice(ds, "missing_offset", options_.missing_offset, kMissingOffset);
  detail::check_choice(ds, "long_clip", options_.long_clip, kLongClip);
  options_.common.check(ds);
  MER_CHECK(options_.max_clip_frames >= 0, ValueError, "casme3: max_clip_frames must be >= 0, got ",
            options_.max_clip_frames);

  const fs::path& root = options_.root;
  detail::require_folder(ds, "root", root, "the Part A folder holding spNO.<n>/<task>/color/<frame>.jpg");
  const fs::path table_path = detail::find_table(ds, detail::resolve_path(root, options_.table),
                                                 "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx or a CSV export of its "
                                                 "sheet 'label' (dataset.table, relative to root)");
  // The documented place is the root itself; then the common unpackings: the root's folder nested once
  // more (part_A/part_A/, a zip unpacked into a folder of its name) and MEB's folder name ME_A/.
  const fs::path root_name = root.filename().empty() ? root.parent_path().filename() : root.filename();
  const fs::path frames_root = detail::find_frame_tree(
      ds, {root, root / root_name, root / "ME_A"},
      [](const std::string& n) {
        return n.size() > 5 && n.compare(0, 5, "spNO.") == 0 &&
               std::all_of(n.begin() + 5, n.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
      },
      "spNO.<n>/<task>/color/<frame>.jpg");

  TableOptions table_options;
  table_options.sheet = options_.sheet;
  table_options.header_with = {"Subject", "Filename", "Onset", "Offset"};
  const Table table = read_table(table_path, table_options);
  const auto c_subject = table.column("Subject");
  const auto c_file = table.column("Filename");
  const auto c_onset = table.column("Onset");
  const auto c_apex = table.column("Apex");
  const auto c_offset = table.column("Offset");
  const auto c_aus = table.column("AU");
  const auto c_emotion = table.column("emotion");

  detail::IdRegistry ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto where = table.where(r);
    SampleMeta s;
    s.dataset = ds;
    s.subject = detail::required_cell(table, r, c_subject, "Subject", "a subject such as 'spNO.1'");
    const std::string filename = detail::required_cell(table, r, c_file, "Filename", "a task video letter a-m");
    const std::string folder = options_.filename_case == "lower" ? lower(filename) : filename;
    s.onset = detail::required_frame_cell(table, r, c_onset, "Onset");
    s.apex = detail::required_frame_cell(table, r, c_apex, "Apex");
    s.offset = detail::required_frame_cell(table, r, c_offset, "Offset");
    s.clip = folder + "_" + std::to_string(s.onset);
    s.id = ds + "/" + s.subject + "/" + s.clip;
    s.action_units = trim(table.rows[r][c_aus]);
    const std::string emotion = detail::required_cell(table, r, c_emotion, "emotion", "an emotion such as 'disgust'");
    s.emotion = lower(emotion);
    s.clip_dir = frames_root / s.subject / folder / "color";
    s.frame_pattern = "{}.jpg";
    s.fps = kFps;
    s.source = table_path.filename().string() + where.substr(table_path.string().size());
    ids.insert(s.id, where);
    if (folder != filename)
      s.quirks.push_back("Filename '" + filename + "' -> '" + folder + "' (filename_case: lower)");
    if (s.emotion != emotion) s.quirks.push_back("emotion '" + emotion + "' -> '" + s.emotion + "' (lower-cased)");

    // Dataset-specific checks first (their reasons name CAS(ME)^3's own policies), then the common ones.
    const auto checks = [&](SampleMeta& s, std::string& skip) {
      auto invalid_onset = [&](const std::string& what) {
        if (options_.invalid_onset == "fail")
          throw DataError(where + ": sample " + s.id + ": " + what + " (invalid_onset: fail; use skip to leave it out)");
        skip = what + " (invalid_onset: skip)";
        return false;
      };
      if (s.apex == 0) s.apex = -1;  // not annotated: missing_apex decides
      bool kept = s.onset != 0 || invalid_onset("onset not annotated (0)");
      kept = kept && (s.offset != 0 || detail::apply_missing_offset(options_.missing_offset, s, where, skip));
      kept = kept && (s.onset <= s.offset ||
                      invalid_onset(detail::concat("onset ", s.onset, " after offset ", s.offset)));
      if (kept && options_.max_clip_frames > 0 && s.offset - s.onset + 1 > options_.max_clip_frames) {
        const auto what = detail::concat(s.offset - s.onset + 1, " frames (onset ", s.onset, ", offset ", s.offset,
                                         ") exceed max_clip_frames ", options_.max_clip_frames);
        if (options_.long_clip == "fail")
          throw DataError(where + ": sample " + s.id + ": " + what + " (long_clip: fail; use skip to leave it out)");
        skip = what + " (long_clip: skip)";
        kept = false;
      }
      return kept;
    };
    admit(std::move(s), options_.common, where, checks);
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
