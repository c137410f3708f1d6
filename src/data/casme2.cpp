#include <mer/core/error.hpp>
#include <mer/data/casme2.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <map>

namespace mer {
namespace fs = std::filesystem;

namespace {

// Yan et al. 2014: CASME II was recorded with a 200 fps camera.
constexpr double kFps = 200;

const char* const kVariants[] = {"raw", "cropped"};
const char* const kLabelColumns[] = {"Estimated Emotion", "Objective Classes"};
// As QuirkPolicies::from_config accepts them; options built in code bypass that check.
const char* const kMissingApex[] = {"estimate", "midpoint", "skip", "fail"};
const char* const kApexOutOfRange[] = {"clamp", "estimate", "midpoint", "skip", "fail"};

template <std::size_t N>
bool one_of(const std::string& value, const char* const (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

template <std::size_t N>
std::string list_of(const char* const (&allowed)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) out += (i ? (i + 1 == N ? " or " : ", ") : "") + std::string(allowed[i]);
  return out;
}

template <std::size_t N>
void check_config(const ConfigNode& node, const std::string& key, const std::string& value,
                  const char* const (&allowed)[N]) {
  if (!one_of(value, allowed))
    throw ConfigError(detail::concat(node.where(key), ": '", node.key_path(key), "' expects ", list_of(allowed),
                                     ", got '", value, "'"));
}

// The vendor sheet stores Subject as text "01"; a CSV export that went through a spreadsheet as a
// number loses the zero ("1"), while the folder on disk is still sub01.
std::string subject_folder(const std::string& subject) {
  const bool digits = !subject.empty() && std::all_of(subject.begin(), subject.end(), [](unsigned char c) {
    return c >= '0' && c <= '9';
  });
  return "sub" + (digits && subject.size() == 1 ? "0" + subject : subject);
}

}  // namespace

Casme2Options Casme2Options::from_config(const ConfigNode& node) {
  Casme2Options o;
  o.root = node.required_path("root");
  o.table = node.get_path("table", o.table.string());
  o.sheet = node.get<std::string>("sheet", o.sheet);
  o.variant = node.get<std::string>("variant", o.variant);
  check_config(node, "variant", o.variant, kVariants);
  o.label_column = node.get<std::string>("label_column", o.label_column);
  check_config(node, "label_column", o.label_column, kLabelColumns);
  o.common = AdapterOptions::from_config(node);
  return o;
}

std::vector<Casme2Row> read_casme2_table(const fs::path& file, const std::string& sheet) {
  // The header row is found, not assumed: exports differ in what they put above it.
  const auto table = read_table(file, {sheet, {"Subject", "Filename"}});
  // By name: the sheet has two blank columns (C and G), and other exports drop them.
  const auto c_subject = table.column("Subject");
  const auto c_file = table.column("Filename");
  const auto c_onset = table.column("OnsetFrame");
  const auto c_apex = table.column("ApexFrame");
  const auto c_offset = table.column("OffsetFrame");
  const auto c_aus = table.column("Action Units");
  const auto c_emotion = table.column("Estimated Emotion");
  const auto c_objective = table.find_column("Objective Classes");  // 20190701 release only
  const std::string name = file.filename().string() + (table.sheet.empty() ? "" : "[" + table.sheet + "]");

  std::vector<Casme2Row> rows;
  rows.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const auto where = table.where(r);
    auto frame = [&](std::size_t col, const char* column) {
      const auto v = parse_int_cell(cells[col]);
      if (!v || *v < 0)
        throw DataError(detail::concat(where, ": column '", column, "' expects a frame number (whole number >= 0), got '",
                                       trim(cells[col]), "'"));
      return *v;
    };
    Casme2Row row;
    row.line = table.lines[r];
    row.where = where;
    row.source = name + ":" + std::to_string(row.line);
    row.subject = trim(cells[c_subject]);
    if (row.subject.empty())
      throw DataError(where + ": column 'Subject' is empty; expected a subject number such as '01'");
    row.filename = trim(cells[c_file]);
    if (row.filename.empty())
      throw DataError(where + ": column 'Filename' is empty; expected a clip folder name such as 'EP02_01f'");
    row.onset = frame(c_onset, "OnsetFrame");
    row.offset = frame(c_offset, "OffsetFrame");
    // The sheet has ApexFrame "/" for sub04/EP12_01f: a missing apex, left to the quirk policy. Any other
    // text is a damaged cell, not a missing apex.
    row.apex_cell = trim(cells[c_apex]);
    row.apex = row.apex_cell.empty() || row.apex_cell == "/" ? -1 : frame(c_apex, "ApexFrame");
    if (row.onset > row.offset)
      throw DataError(detail::concat(where, ": OnsetFrame ", row.onset, " is after OffsetFrame ", row.offset,
                                     "; expected onset <= offset"));
    row.action_units = trim(cells[c_aus]);
    row.emotion = trim(cells[c_emotion]);
    if (c_objective) row.objective_class = trim(cells[*c_objective]);
    rows.push_back(std::move(row));
  }
  return rows;
}

Casme2Dataset::Casme2Dataset(Casme2Options options)
    : AnnotatedDataset("casme2", options.common.labels), options_(std::move(options)) {
  MER_CHECK(one_of(options_.variant, kVariants), ValueError, "CASME II variant must be ", list_of(kVariants),
            ", got '", options_.variant, "'");
  MER_CHECK(one_of(options_.label_column, kLabelColumns), ValueError, "CASME II label_column must be ",
            list_of(kLabelColumns), ", got '", options_.label_column, "'");
  options_.common.check("casme2");
  MER_CHECK(one_of(options_.common.policies.missing_apex, kMissingApex), ValueError, "CASME II missing_apex must be ",
            list_of(kMissingApex), ", got '", options_.common.policies.missing_apex, "'");
  MER_CHECK(one_of(options_.common.policies.apex_out_of_range, kApexOutOfRange), ValueError,
            "CASME II apex_out_of_range must be ", list_of(kApexOutOfRange), ", got '",
            options_.common.policies.apex_out_of_range, "'");
  const fs::path& root = options_.root;
  if (root.empty() || !fs::is_directory(root))
    throw DataError("CASME II root '" + root.string() +
                    "' is not an existing folder; expected the dataset folder holding CASME2_RAW_selected/ (or "
                    "Cropped/) and the coding table");
  const fs::path table = detail::find_table("casme2", options_.table.is_absolute() ? options_.table : root / options_.table,
                                            "the coding table, .xlsx as distributed or a CSV export (dataset.table, relative to root)");
  const bool raw = options_.variant == "raw";
  // The documented place, then the common unpackings: the folder nested once more (a zip of the folder
  // unpacked into one of the same name) or the subject folders directly in the root.
  const std::string tree = raw ? "CASME2_RAW_selected" : "Cropped";
  const fs::path frames_root = detail::find_frame_tree(
      "casme2", {root / tree, root / tree / tree, root},
      detail::is_casme_subject,
      std::string(raw ? "subNN/<clip>/img<N>.jpg" : "subNN/<clip>/reg_img<N>.jpg") + " (variant: " + options_.variant + ")");

  const auto rows = read_casme2_table(table, options_.sheet);
  const bool objective = options_.label_column == "Objective Classes";

  std::map<std::string, std::string> seen;  // id -> where, to catch a clip listed twice
  for (const auto& row : rows) {
    const std::string subject = subject_folder(row.subject);
    const std::string id = "casme2/" + subject + "/" + row.filename;
    if (auto [it, fresh] = seen.emplace(id, row.where); !fresh)
      throw DataError(detail::concat(row.where, ": sample ", id, " is listed twice (also at ", it->second,
                                     "); expected one row per clip"));

    if (objective && row.objective_class.empty())
      throw DataError(row.where + ": label_column is 'Objective Classes', but the row has none; only the 20190701 "
                      "release has that column (use label_column: Estimated Emotion for the 20140508 table)");

    SampleMeta s;
    s.id = id;
    s.dataset = "casme2";
    s.subject = subject;
    s.clip = row.filename;
    s.onset = row.onset;
    s.apex = row.apex;
    s.offset = row.offset;
    s.emotion = objective ? row.objective_class : row.emotion;
    s.action_units = row.action_units;
    s.clip_dir = frames_root / subject / row.filename;
    s.frame_pattern = raw ? "img{}.jpg" : "reg_img{}.jpg";
    s.fps = kFps;
    s.source = row.source;

    // Rows the label map leaves out are excluded first, so that a policy of "fail" only stops the load
    // for samples that would be used.
    if (!labels().classify(s.emotion, s.action_units)) {
      add(std::move(s));
      continue;
    }

    const bool missing = row.apex < 0;
    std::string skip_reason;
    const std::string apex_where = missing ? row.where + " (ApexFrame '" + row.apex_cell + "')" : row.where;
    if (!apply_apex_policies(options_.common.policies, s, apex_where, skip_reason)) {
      exclude(id, "dataset",
              detail::concat(missing ? "ApexFrame '" + row.apex_cell + "': " : std::string(), skip_reason, " (",
                             missing ? "missing_apex" : "apex_out_of_range", ": skip)"));
      continue;
    }
    if (missing && !s.quirks.empty()) s.quirks.back() = "ApexFrame '" + row.apex_cell + "': " + s.quirks.back();
    // Legal, but an apex on the first or last frame leaves no rise or no fall to learn from.
    if (!missing && row.apex == row.onset)
      s.quirks.push_back(detail::concat("apex equals onset (", row.apex, ")"));
    if (!missing && row.apex == row.offset)
      s.quirks.push_back(detail::concat("apex equals offset (", row.apex, ")"));

    if (!detail::check_clip_frames(s, row.where, id, {{"OnsetFrame", s.onset}, {"ApexFrame", s.apex}, {"OffsetFrame", s.offset}},
                                   options_.common.check_frames, options_.common.missing_frames, skip_reason)) {
      exclude(id, "dataset", skip_reason);
      continue;
    }
    add(std::move(s));
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
