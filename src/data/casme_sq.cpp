#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/casme_sq.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace mer {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kVariants = {"raw", "cropped"};
const std::vector<std::string> kTypes = {"micro", "macro", "both"};
const std::vector<std::string> kMissingOffset = {"apex", "skip", "fail"};
constexpr double kFps = 30;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}
bool has_digit(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}
bool lower_ext_is(const fs::path& p, const std::string& ext) {
  auto e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ext;
}

// The subject code as it appears in folder names ("15" of s15/15_0401...). The sheet may hold "15",
// "s15" or, after a spreadsheet round trip, "15.0".
std::optional<std::string> subject_code_digits(std::string cell) {
  cell = trim(cell);
  if (!cell.empty() && (cell[0] == 's' || cell[0] == 'S')) cell.erase(0, 1);
  if (all_digits(cell)) return cell;
  if (const auto v = parse_int_cell(cell); v && *v >= 0) return std::to_string(*v);
  return std::nullopt;
}

struct Naming {
  std::map<int, std::string> subject;      // subject number -> code digits
  std::map<std::string, std::string> video;  // video name -> 4-digit code
};

// Naming rule 1: column 2 subject code, column 3 subject number.
void read_subject_rule(const Table& t, Naming& naming) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string number_cell = row.size() > 2 ? trim(row[2]) : "";
    if (r == 0 && !has_digit(number_cell)) continue;  // a header row
    const auto number = parse_int_cell(number_cell);
    const auto code = row.size() > 1 ? subject_code_digits(row[1]) : std::nullopt;
    if (!number || !code)
      throw DataError(t.where(r) + ": subject naming rule expects column 2 = subject code ('15' or 's15') and column 3 "
                      "= subject number, got '" + (row.size() > 1 ? trim(row[1]) : "") + "' and '" + number_cell + "'");
    if (auto [it, fresh] = naming.subject.emplace(*number, *code); !fresh && it->second != *code)
      throw DataError(detail::concat(t.where(r), ": subject ", *number, " is given code '", *code,
                                     "' here and '", it->second, "' on an earlier row"));
  }
}

// Naming rule 2: column 1 the 4-digit video code, column 2 the video name.
void read_video_rule(const Table& t, Naming& naming) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string code = trim(row[0]);
    const std::string name = row.size() > 1 ? trim(row[1]) : "";
    if (r == 0 && !has_digit(code)) continue;  // a header row
    if (code.size() != 4 || !all_digits(code))
      throw DataError(t.where(r) + ": video naming rule expects column 1 = a 4-digit video code such as '0401', got '" +
                      code + "'" + (all_digits(code) ? " (leading zeros lost? the code must be stored as text)" : ""));
    if (name.empty())
      throw DataError(t.where(r) + ": video naming rule expects column 2 = a video name such as 'anger1'");
    if (auto [it, fresh] = naming.video.emplace(name, code); !fresh && it->second != code)
      throw DataError(t.where(r) + ": video '" + name + "' is given code '" + code + "' here and '" + it->second +
                      "' on an earlier row");
  }
}

// Column 11: "s15/15_0401girlcrashing" -> subject folder, video folder, subject code, video code.
struct FolderRef {
  std::string subject_folder, video_folder, subject_digits, video_code;
};
std::optional<FolderRef> parse_folder(const std::string& cell) {
  const auto slash = cell.find('/');
  if (slash == std::string::npos) return std::nullopt;
  FolderRef f{cell.substr(0, slash), cell.substr(slash + 1), "", ""};
  if (f.subject_folder.size() < 2 || f.subject_folder[0] != 's' || !all_digits(f.subject_folder.substr(1)))
    return std::nullopt;
  f.subject_digits = f.subject_folder.substr(1);
  const std::string prefix = f.subject_digits + "_";
  if (f.video_folder.compare(0, prefix.size(), prefix) != 0 || f.video_folder.size() < prefix.size() + 4)
    return std::nullopt;
  f.video_code = f.video_folder.substr(prefix.size(), 4);
  if (!all_digits(f.video_code)) return std::nullopt;
  return f;
}

}  // namespace

std::vector<CasmeSqRow> read_casme_sq_table(const fs::path& file) {
  TableOptions no_header;
  no_header.has_header = false;
  const Table t = read_table(file, no_header);
  std::vector<CasmeSqRow> rows;
  rows.reserve(t.rows.size());
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& cells = t.rows[r];
    if (cells.size() < 9)
      throw DataError(detail::concat(t.where(r), ": expected 9 columns (subject, expression, onset, apex, offset, AUs, "
                                                 "emotion, type, self-report), got ", cells.size()));
    CasmeSqRow row;
    row.where = t.where(r);
    row.subject = detail::subject_number(t, r, 0, "1 (subject)");
    row.expression = detail::required_cell(t, r, 1, "2 (expression)", "an expression name such as 'anger1_1'");
    const auto underscore = row.expression.rfind('_');
    if (underscore == std::string::npos || underscore == 0 || !all_digits(row.expression.substr(underscore + 1)))
      throw DataError(row.where + ": column 2 (expression) expects '<video name>_<expression #>' such as 'anger1_1', "
                                  "got '" + row.expression + "'");
    row.video = row.expression.substr(0, underscore);
    row.onset = detail::required_frame_cell(t, r, 2, "3 (onset)");
    row.apex = detail::required_frame_cell(t, r, 3, "4 (apex)");
    row.offset = detail::required_frame_cell(t, r, 4, "5 (offset)");
    row.action_units = trim(cells[5]);
    row.emotion = detail::required_cell(t, r, 6, "7 (emotion)", "an emotion such as 'negative'");
    row.type = trim(cells[7]);
    if (row.type != "micro-expression" && row.type != "macro-expression")
      throw DataError(row.where + ": column 8 (type) expects 'micro-expression' or 'macro-expression', got '" +
                      row.type + "'");
    row.self_report = trim(cells[8]);
    if (cells.size() > 10) row.folder = trim(cells[10]);
    rows.push_back(std::move(row));
  }
  return rows;
}

CasmeSqOptions CasmeSqOptions::from_config(const ConfigNode& node) {
  CasmeSqOptions o;
  o.root = node.required_path("root");
  o.table = node.get_path("table", o.table.string());
  o.subject_codes = node.get_path("subject_codes", o.subject_codes.string());
  o.video_codes = node.get_path("video_codes", o.video_codes.string());
  if (o.subject_codes.empty() != o.video_codes.empty()) {
    const std::string given = o.subject_codes.empty() ? "video_codes" : "subject_codes";
    const std::string other = o.subject_codes.empty() ? "subject_codes" : "video_codes";
    throw ConfigError(node.where(given) + ": '" + node.key_path(given) + "' needs '" + node.key_path(other) +
                      "' too: the folder names need both the subject and the video codes");
  }
  o.variant = node.get_choice("variant", o.variant, kVariants);
  o.frame_pattern = node.get<std::string>("frame_pattern", o.frame_pattern);
  if (const auto open = o.frame_pattern.find('{');
      open == std::string::npos || o.frame_pattern.find('}', open) == std::string::npos)
    throw ConfigError(node.where("frame_pattern") + ": '" + node.key_path("frame_pattern") +
                      "' needs a frame placeholder {} or {:0N}, got '" + o.frame_pattern + "'");
  o.expression_type = node.get_choice("expression_type", o.expression_type, kTypes);
  o.missing_offset = node.get_choice("missing_offset", o.missing_offset, kMissingOffset);
  o.common = AdapterOptions::from_config(node);
  return o;
}

CasmeSqDataset::CasmeSqDataset(CasmeSqOptions options)
    : AnnotatedDataset("casme_sq", options.common.labels), options_(std::move(options)) {
  const std::string ds = "casme_sq";
  detail::check_choice(ds, "variant", options_.variant, kVariants);
  detail::check_choice(ds, "expression_type", options_.expression_type, kTypes);
  detail::check_choice(ds, "missing_offset", options_.missing_offset, kMissingOffset);
  options_.common.check(ds);
  MER_CHECK(options_.subject_codes.empty() == options_.video_codes.empty(), ValueError,
            "casme_sq: subject_codes and video_codes are given together or not at all");

  const fs::path& root = options_.root;
  detail::require_folder(ds, "root", root, "the CAS(ME)^2 folder holding rawpic/ (or cropped/) and the code sheet");
  const fs::path table_path =
      detail::find_table(ds, detail::resolve_path(root, options_.table),
                         "CAS(ME)^2code_final.xlsx or a CSV export of its first sheet (dataset.table, relative to root)");
  // The documented place, then the common unpackings: the folder nested once more (a zip of the folder
  // unpacked into one of the same name), Off-TANet's name for the cropped copy (DATASETS.md §6), or the
  // subject folders directly in the root.
  const bool raw = options_.variant == "raw";
  const std::string tree = raw ? "rawpic" : "cropped";
  std::vector<fs::path> places = {root / tree, root / tree / tree};
  if (!raw) places.push_back(root / "casme^2_cropped");
  places.push_back(root);
  const fs::path frames_root = detail::find_frame_tree(
      ds, places, [](const std::string& n) { return n.size() > 1 && n[0] == 's' && all_digits(n.substr(1)); },
      "s<code>/<code>_<video code><name>/img<N>.jpg (variant: " + options_.variant + ")");

  std::optional<Naming> naming;
  std::string naming_source, no_naming = "no naming rules were given (set dataset.subject_codes and "
                                         "dataset.video_codes, or use the .xlsx with its naming-rule sheets)";
  if (!options_.subject_codes.empty()) {
    const auto subjects = detail::resolve_path(root, options_.subject_codes);
    const auto videos = detail::resolve_path(root, options_.video_codes);
    detail::require_file(ds, "subject naming rule", subjects, "naming rule 1 as CSV (dataset.subject_codes)");
    detail::require_file(ds, "video naming rule", videos, "naming rule 2 as CSV (dataset.video_codes)");
    TableOptions no_header;
    no_header.has_header = false;
    naming.emplace();
    read_subject_rule(read_table(subjects, no_header), *naming);
    read_video_rule(read_table(videos, no_header), *naming);
    naming_source = "subject_codes/video_codes";
  } else if (lower_ext_is(table_path, ".xlsx")) {
    const auto sheets = xlsx_sheet_names(table_path);
    if (sheets.size() >= 3) {
      naming.emplace();
      read_subject_rule(read_xlsx(table_path, sheets[1]), *naming);
      read_video_rule(read_xlsx(table_path, sheets[2]), *naming);
      naming_source = "the workbook's naming-rule sheets";
    } else {
      no_naming = detail::concat("the workbook has ", sheets.size(), " sheet(s), not the three with the naming rules "
                                 "(set dataset.subject_codes and dataset.video_codes)");
    }
  }

  std::map<fs::path, std::vector<std::string>> listings;  // subject folder -> its entries, read once
  auto find_video_folder = [&](const fs::path& subject_dir, const std::string& prefix, const std::string& where,
                               const std::string& id) -> std::optional<std::string> {
    auto it = listings.find(subject_dir);
    if (it == listings.end()) {
      std::vector<std::string> names;
      std::error_code ec;
      if (fs::is_directory(subject_dir, ec))
        for (const auto& e : fs::directory_iterator(subject_dir)) names.push_back(e.path().filename().string());
      std::sort(names.begin(), names.end());
      it = listings.emplace(subject_dir, std::move(names)).first;
    }
    std::vector<std::string> found;
    // "15_0401" must not match "15_04011...": the description after the code starts with a non-digit.
    for (const auto& n : it->second)
      if (n.compare(0, prefix.size(), prefix) == 0 &&
          (n.size() == prefix.size() || !std::isdigit(static_cast<unsigned char>(n[prefix.size()]))))
        found.push_back(n);
    if (found.size() > 1) {
      std::string list;
      for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
      throw DataError(where + ": sample " + id + ": several video folders in '" + subject_dir.string() +
                      "' start with '" + prefix + "' (" + list + "); expected one");
    }
    if (found.empty()) return std::nullopt;
    return found.front();
  };

  const std::string wanted = options_.expression_type == "both" ? "" : options_.expression_type + "-expression";
  std::size_t other_type = 0;
  detail::IdRegistry ids;
  for (const auto& row : read_casme_sq_table(table_path)) {
    if (!wanted.empty() && row.type != wanted) {
      ++other_type;
      continue;
    }
    if (row.onset == 0)
      throw DataError(row.where + ": onset is 0 (not annotated) for " + row.expression +
                      "; no policy can place a clip without its onset");

    // Where the frames are: the naming rules, or column 11, or both (then they must agree).
    std::string subject_digits, video_folder;
    const std::string video_code_of_row = naming && naming->video.count(row.video) ? naming->video.at(row.video) : "";
    std::optional<FolderRef> ref;
    if (!row.folder.empty()) {
      ref = parse_folder(row.folder);
      if (!ref)
        throw DataError(row.where + ": column 11 expects a folder such as 's15/15_0401girlcrashing', got '" +
                        row.folder + "'");
    }
    if (naming) {
      const auto s = naming->subject.find(row.subject);
      if (s == naming->subject.end())
        throw DataError(detail::concat(row.where, ": subject ", row.subject, " is not in the subject naming rule (",
                                       naming_source, ")"));
      if (video_code_of_row.empty())
        throw DataError(row.where + ": video '" + row.video + "' is not in the video naming rule (" + naming_source +
                        ")");
      subject_digits = s->second;
      if (ref && (ref->subject_digits != subject_digits || ref->video_code != video_code_of_row))
        throw DataError(row.where + ": column 11 '" + row.folder + "' disagrees with " + naming_source + " (subject " +
                        std::to_string(row.subject) + " -> s" + subject_digits + ", video " + row.video + " -> " +
                        video_code_of_row + ")");
      if (ref) video_folder = ref->video_folder;
    } else if (ref) {
      subject_digits = ref->subject_digits;
      video_folder = ref->video_folder;
    } else {
      throw DataError(row.where + ": cannot name the folder of " + row.expression + ": the table has no column 11 and " +
                      no_naming);
    }

    SampleMeta s;
    s.dataset = ds;
    s.subject = "s" + subject_digits;
    s.clip = row.expression;
    s.id = ds + "/" + s.subject + "/" + s.clip;
    s.onset = row.onset;
    s.apex = row.apex == 0 ? -1 : row.apex;
    s.offset = row.offset;
    s.emotion = row.emotion;
    s.action_units = row.action_units == "NULL" ? "" : row.action_units;
    s.frame_pattern = options_.frame_pattern;
    s.fps = kFps;
    s.source = table_path.filename().string() + row.where.substr(table_path.string().size());
    ids.insert(s.id, row.where);

    const fs::path subject_dir = frames_root / s.subject;
    if (video_folder.empty()) {
      if (const auto found = find_video_folder(subject_dir, subject_digits + "_" + video_code_of_row, row.where, s.id))
        video_folder = *found;
    }
    if (!video_folder.empty()) s.clip_dir = subject_dir / video_folder;

    // Dataset-specific checks first: the video folder, then the offset; then the common ones.
    const auto checks = [&](SampleMeta& s, std::string& skip) {
      if (video_folder.empty()) {
        // Named by the rules but not on disk: as good as a missing frame folder.
        const std::string problem = "no video folder '" + subject_digits + "_" + video_code_of_row + "<name>' in '" +
                                    subject_dir.string() + "'";
        return detail::apply_missing_frames(options_.common.missing_frames, problem,
                                            row.where + ": sample " + s.id + ": " + problem +
                                                " (missing_frames: fail; use skip to leave such samples out, listed)",
                                            skip);
      }
      return s.offset != 0 || detail::apply_missing_offset(options_.missing_offset, s, row.where, skip);
    };
    admit(std::move(s), options_.common, row.where, checks);
  }
  if (other_type)
    logger()->info("casme_sq: {} rows of other expression types left out (expression_type: {})", other_type,
                   options_.expression_type);
  finish(options_.common.sample_list);
}

}  // namespace mer
