#include <mer/core/error.hpp>
#include <mer/data/casme.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

namespace mer {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kVariants = {"cropped", "raw"};
constexpr double kFps = 60;

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

// After "{clip}" is substituted the pattern must still hold the frame placeholder.
bool has_frame_placeholder(const std::string& pattern) {
  const auto rest = replace_all(pattern, "{clip}", "");
  const auto open = rest.find('{');
  return open != std::string::npos && rest.find('}', open) != std::string::npos;
}

}  // namespace

CasmeOptions CasmeOptions::from_config(const ConfigNode& node) {
  CasmeOptions o;
  o.root = node.required_path("root");
  o.table = node.required_path("table");
  o.variant = node.get_choice("variant", o.variant, kVariants);
  o.raw_frame_pattern = node.get<std::string>("raw_frame_pattern", o.raw_frame_pattern);
  if (!has_frame_placeholder(o.raw_frame_pattern))
    throw ConfigError(node.where("raw_frame_pattern") + ": '" + node.key_path("raw_frame_pattern") +
                      "' needs a frame placeholder {} or {:0N} (and may use {clip}), got '" + o.raw_frame_pattern +
                      "'");
  o.common = AdapterOptions::from_config(node);
  return o;
}

CasmeDataset::CasmeDataset(CasmeOptions options)
    : AnnotatedDataset("casme", options.common.labels), options_(std::move(options)) {
  detail::check_choice("casme", "variant", options_.variant, kVariants);
  options_.common.check("casme");
  MER_CHECK(has_frame_placeholder(options_.raw_frame_pattern), ValueError,
            "casme: raw_frame_pattern needs a frame placeholder {} or {:0N}, got '", options_.raw_frame_pattern, "'");

  const fs::path& root = options_.root;
  detail::require_folder("casme", "root", root, "the CASME folder holding Cropped/ or CASME_raw_selected/");
  const fs::path table_path = detail::find_table("casme", detail::resolve_path(root, options_.table),
                                                 "the CASME coding sheet (dataset.table: .csv or .xlsx, relative to root)");
  const bool raw = options_.variant == "raw";
  // The documented place, then the common unpackings: the folder nested once more (a zip of the folder
  // unpacked into one of the same name), Off-TANet's name for the cropped copy (DATASETS.md §5), or the
  // subject folders directly in the root.
  const std::string tree = raw ? "CASME_raw_selected" : "Cropped";
  std::vector<fs::path> places = {root / tree, root / tree / tree};
  if (!raw) places.push_back(root / "casme1_cropped");
  places.push_back(root);
  const fs::path frames_root = detail::find_frame_tree(
      "casme", places, detail::is_casme_subject,
      raw ? "subNN/<Filename>/ (variant: raw)" : "subNN/<Filename>/reg_<Filename>-<frame>.jpg (variant: cropped)");

  TableOptions table_options;
  table_options.header_with = {"Subject", "Filename", "OnsetF", "OffsetF"};
  const Table table = read_table(table_path, table_options);
  const auto c_subject = table.column("Subject");
  const auto c_file = table.column("Filename");
  const auto c_onset = table.column("OnsetF");
  const auto c_apex = table.column("ApexF1");
  const auto c_apex2 = table.find_column("ApexF2");
  const auto c_offset = table.column("OffsetF");
  const auto c_emotion = table.column("Emotion");
  auto c_aus = table.find_column("AU");
  if (!c_aus) c_aus = table.find_column("Action Units");

  detail::IdRegistry ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto where = table.where(r);
    SampleMeta s;
    s.dataset = "casme";
    s.subject = "sub" + detail::zero_pad(detail::subject_number(table, r, c_subject, "Subject"), 2);
    s.clip = detail::required_cell(table, r, c_file, "Filename", "a clip folder name such as 'EP01_5'");
    s.id = "casme/" + s.subject + "/" + s.clip;
    s.onset = detail::required_frame_cell(table, r, c_onset, "OnsetF");
    s.offset = detail::required_frame_cell(table, r, c_offset, "OffsetF");
    s.apex = detail::frame_cell(table, r, c_apex, "ApexF1").value_or(-1);
    s.emotion = detail::required_cell(table, r, c_emotion, "Emotion", "an emotion name");
    if (c_aus) s.action_units = trim(table.rows[r][*c_aus]);
    s.clip_dir = frames_root / s.subject / s.clip;
    s.frame_pattern = raw ? replace_all(options_.raw_frame_pattern, "{clip}", s.clip) : "reg_" + s.clip + "-{}.jpg";
    s.fps = kFps;
    s.source = table_path.filename().string() + where.substr(table_path.string().size());
    ids.insert(s.id, where);

    if (c_apex2) {
      if (const auto apex2 = detail::frame_cell(table, r, *c_apex2, "ApexF2")) {
        s.quirks.push_back(detail::concat("ApexF2 ", *apex2, " also annotated; using ApexF1",
                                          s.apex >= 0 ? " " + std::to_string(s.apex) : std::string(" (blank)")));
      }
    }
    admit(std::move(s), options_.common, where);
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
