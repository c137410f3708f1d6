#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/samm.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <map>

namespace mer {
namespace fs = std::filesystem;

namespace {


bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

std::size_t find_column(const Table& table, const std::string& name) {
  if (auto c = table.find_column(name)) return *c;
  std::string have;
  for (const auto& h : table.header)
    if (!trim(h).empty()) have += (have.empty() ? "" : ", ") + trim(h);
  throw DataError(table.file.string() + (table.sheet.empty() ? "" : "[" + table.sheet + "]") +
                  ": the SAMM table has no column '" + name + "'; its header row has: " + have);
}

}  // namespace

SammOptions SammOptions::from_config(const ConfigNode& node) {
  SammOptions o;
  o.root = node.required_path("root");
  o.table = node.get_path("table", o.table.string());
  o.sheet = node.get<std::string>("sheet", o.sheet);
  o.variant = node.get<std::string>("variant", o.variant);
  node.check_choice("variant", o.variant, {"raw", "cropped"});
  o.min_onset_to_apex = node.get<int>("min_onset_to_apex", o.min_onset_to_apex);
  if (o.min_onset_to_apex < 0)
    throw ConfigError(detail::concat(node.where("min_onset_to_apex"), ": '", node.key_path("min_onset_to_apex"),
                                     "' must be >= 0 frames, got ", o.min_onset_to_apex));
  o.common = AdapterOptions::from_config(node);
  return o;
}

std::vector<SammRow> read_samm_table(const fs::path& file, const std::string& sheet) {
  TableOptions options;
  options.sheet = sheet;
  // v2 puts 13 preamble rows above the header; other releases none. Found, not counted.
  options.header_with = {"Subject", "Filename"};
  const auto table = read_table(file, options);
  const auto c_subject = find_column(table, "Subject");
  const auto c_file = find_column(table, "Filename");
  const auto c_onset = find_column(table, "Onset Frame");
  const auto c_apex = find_column(table, "Apex Frame");
  const auto c_offset = find_column(table, "Offset Frame");
  const auto c_aus = find_column(table, "Action Units");
  const auto c_emotion = find_column(table, "Estimated Emotion");

  std::vector<SammRow> rows;
  rows.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    SammRow row;
    row.where = table.where(r);
    auto frame = [&](std::size_t col, const char* name) {
      const auto v = parse_int_cell(cells[col]);
      if (!v || *v < 0)
        throw DataError(detail::concat(row.where, ": column '", name,
                                       "' expects a frame number (whole number >= 0), got '", trim(cells[col]), "'"));
      return *v;
    };

    row.subject_in_table = trim(cells[c_subject]);
    if (all_digits(row.subject_in_table) && row.subject_in_table.size() >= 3) {
      row.subject = row.subject_in_table;
    } else if (const auto n = parse_int_cell(row.subject_in_table); n && *n >= 0) {
      // A sheet that went through a spreadsheet as a number ("6", "6.0") while the folder is still 006.
      row.subject = std::to_string(*n);
      if (row.subject.size() < 3) row.subject.insert(0, 3 - row.subject.size(), '0');
    } else {
      throw DataError(row.where + ": column 'Subject' expects a subject number such as '006', got '" +
                      row.subject_in_table + "'");
    }
    row.filename = trim(cells[c_file]);
    if (row.filename.empty())
      throw DataError(row.where + ": column 'Filename' is empty; expected a clip folder name such as '006_1_2'");
    // The frame files are named after the Subject column, the folder after Filename: they must agree.
    if (row.filename.rfind(row.subject + "_", 0) != 0)
      throw DataError(row.where + ": Filename '" + row.filename + "' does not start with '" + row.subject +
                      "_' (Subject '" + row.subject_in_table + "'); expected <subject>_<inducement>_<n>");
    row.onset = frame(c_onset, "Onset Frame");
    row.offset = frame(c_offset, "Offset Frame");
    const auto apex_cell = trim(cells[c_apex]);
    row.apex = apex_cell.empty() || apex_cell == "/" ? -1 : frame(c_apex, "Apex Frame");
    row.action_units = trim(cells[c_aus]);
    row.emotion = trim(cells[c_emotion]);
    rows.push_back(std::move(row));
  }
  return rows;
}

SammDataset::SammDataset(SammOptions options) : AnnotatedDataset("samm", options.common.labels), options_(std::move(options)) {
  const auto& o = options_;
  MER_CHECK(o.variant == "raw" || o.variant == "cropped", ValueError, "SAMM variant must be raw or cropped, got '",
            o.variant, "'");
  MER_CHECK(o.min_onset_to_apex >= 0, ValueError, "SAMM min_onset_to_apex must be >= 0, got ", o.min_onset_to_apex);
  o.common.check("samm");
  const fs::path& root = o.root;
  if (root.empty() || !fs::is_directory(root))
    throw DataError("SAMM root '" + root.string() +
                    "' is not an existing folder; expected the dataset folder holding SAMM/ (or SAMM_CROP/) and the "
                    "FACS coding table");
  const fs::path table = detail::find_table("samm", o.table.is_absolute() ? o.table : root / o.table,
                                            "SAMM_Micro_FACS_Codes_v2.xlsx or its CSV export (dataset.table, relative to root)");
  const bool raw = o.variant == "raw";
  // The documented place (root/SAMM/<subject>/...) or a common unpacking with the subject folders directly
  // in the root, next to the table: the first that holds a subject folder (three digits) is used.
  const fs::path frames_root = detail::find_frame_tree(
      "samm", {root / (raw ? "SAMM" : "SAMM_CROP"), root},
      [](const std::string& n) { return n.size() == 3 && std::all_of(n.begin(), n.end(), ::isdigit); },
      "<subject>/<clip>/<subject>_<frame:05d>.jpg (variant: " + o.variant + ")");

  detail::IdRegistry ids;
  for (const auto& row : read_samm_table(table, o.sheet)) {
    SampleMeta s;
    s.dataset = "samm";
    s.subject = row.subject;
    s.clip = row.filename;
    s.id = "samm/" + s.subject + "/" + s.clip;
    s.onset = row.onset;
    s.apex = row.apex;
    s.offset = row.offset;
    s.emotion = row.emotion;
    s.action_units = row.action_units;
    s.clip_dir = frames_root / s.subject / s.clip;
    s.frame_pattern = s.subject + "_{:05}.jpg";
    s.fps = 200;
    s.source = row.where;
    if (row.subject_in_table != row.subject)
      s.quirks.push_back("Subject '" + row.subject_in_table + "' stored as a number -> folder '" + row.subject + "'");

    ids.insert(s.id, row.where);

    // Rows the label map leaves out are excluded before any apex policy can fail on them.
    if (!labels().classify(s.emotion, s.action_units)) {
      add(std::move(s));
      continue;
    }

    const bool had_apex = s.apex >= 0;
    const auto quirks_before = s.quirks.size();
    std::string reason;
    if (!apply_apex_policies(o.common.policies, s, row.where, reason)) {
      exclude(s.id, "dataset", reason + (had_apex ? " (apex_out_of_range: skip)" : " (missing_apex: skip)"));
      continue;
    }
    // In range but implausibly close to the onset: the same policy as an apex outside the clip (unless
    // a policy has just placed the apex).
    if (s.quirks.size() == quirks_before && s.apex >= 0 && s.apex - s.onset < o.min_onset_to_apex) {
      const std::string what = detail::concat("apex ", s.apex, " is ", s.apex - s.onset, " frame(s) after onset ",
                                              s.onset, ", fewer than min_onset_to_apex ", o.min_onset_to_apex);
      const auto& policy = o.common.policies.apex_out_of_range;
      if (policy == "fail")
        throw DataError(row.where + ": sample " + s.id + ": " + what +
                        " (choose a policy: apex_out_of_range, or lower min_onset_to_apex)");
      if (policy == "skip") {
        exclude(s.id, "dataset", what + " (apex_out_of_range: skip)");
        continue;
      }
      const int before = s.apex;
      if (policy == "midpoint") s.apex = (s.onset + s.offset) / 2;
      else if (policy == "estimate") s.apex = -1;
      else s.apex = std::min(s.onset + o.min_onset_to_apex, s.offset);  // clamp
      s.quirks.push_back(detail::concat(what, " -> ", policy, s.apex >= 0 ? " " + std::to_string(s.apex) : "",
                                        " (was ", before, ")"));
    }

    if (!detail::check_clip_frames(s, row.where, s.id,
                                   {{"Onset Frame", s.onset}, {"Apex Frame", s.apex}, {"Offset Frame", s.offset}},
                                   o.common.check_frames, o.common.missing_frames, reason)) {
      exclude(s.id, "dataset", reason);
      continue;
    }
    add(std::move(s));
  }
  finish(o.common.sample_list);
}

}  // namespace mer
