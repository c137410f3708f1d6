#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/casme2.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <map>

namespace mer {
namespace fs = std::filesystem;

namespace {

const char* const kVariants[] = {"raw", "cropped"};
const char* const kApexPolicies[] = {"midpoint", "skip", "fail"};

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
  o.variant = node.get<std::string>("variant", o.variant);
  if (!one_of(o.variant, kVariants))
    throw ConfigError(detail::concat(node.where("variant"), ": '", node.key_path("variant"), "' expects ",
                                     list_of(kVariants), ", got '", o.variant, "'"));
  o.apex_policy = node.get<std::string>("apex_policy", o.apex_policy);
  if (!one_of(o.apex_policy, kApexPolicies))
    throw ConfigError(detail::concat(node.where("apex_policy"), ": '", node.key_path("apex_policy"), "' expects ",
                                     list_of(kApexPolicies), ", got '", o.apex_policy, "'"));
  o.check_frames = node.get<bool>("check_frames", o.check_frames);
  o.labels = LabelMap::from_config(node.child("labels"));
  return o;
}

std::vector<Casme2Row> read_casme2_table(const fs::path& file) {
  const auto table = Table::read(file);
  // By name: the sheet has two blank columns (C and G), and other exports drop them.
  const auto c_subject = table.column("Subject");
  const auto c_file = table.column("Filename");
  const auto c_onset = table.column("OnsetFrame");
  const auto c_apex = table.column("ApexFrame");
  const auto c_offset = table.column("OffsetFrame");
  const auto c_aus = table.column("Action Units");
  const auto c_emotion = table.column("Estimated Emotion");

  std::vector<Casme2Row> rows;
  rows.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const auto where = table.where(r);
    auto frame = [&](std::size_t col, const char* name) {
      const auto v = parse_int_cell(cells[col]);
      if (!v || *v < 0)
        throw DataError(detail::concat(where, ": column '", name, "' expects a frame number (whole number >= 0), got '",
                                       trim(cells[col]), "'"));
      return *v;
    };
    Casme2Row row;
    row.line = table.lines[r];
    row.subject = trim(cells[c_subject]);
    if (row.subject.empty())
      throw DataError(where + ": column 'Subject' is empty; expected a subject number such as '01'");
    row.filename = trim(cells[c_file]);
    if (row.filename.empty())
      throw DataError(where + ": column 'Filename' is empty; expected a clip folder name such as 'EP02_01f'");
    row.onset = frame(c_onset, "OnsetFrame");
    row.offset = frame(c_offset, "OffsetFrame");
    // The 20140508 sheet has ApexFrame "/" for sub04/EP12_01f: a missing apex, left to the apex policy.
    const auto apex_cell = trim(cells[c_apex]);
    if (apex_cell.empty() || apex_cell == "/") {
      row.apex = -1;
    } else {
      row.apex = frame(c_apex, "ApexFrame");
    }
    if (row.onset > row.offset)
      throw DataError(detail::concat(where, ": OnsetFrame ", row.onset, " is after OffsetFrame ", row.offset,
                                     "; expected onset <= offset"));
    row.action_units = trim(cells[c_aus]);
    row.emotion = trim(cells[c_emotion]);
    rows.push_back(std::move(row));
  }
  return rows;
}

Casme2Dataset::Casme2Dataset(Casme2Options options) : options_(std::move(options)) {
  MER_CHECK(one_of(options_.variant, kVariants), ValueError, "CASME II variant must be ", list_of(kVariants),
            ", got '", options_.variant, "'");
  MER_CHECK(one_of(options_.apex_policy, kApexPolicies), ValueError, "CASME II apex_policy must be ",
            list_of(kApexPolicies), ", got '", options_.apex_policy, "'");
  const fs::path& root = options_.root;
  if (root.empty() || !fs::is_directory(root))
    throw DataError("CASME II root '" + root.string() +
                    "' is not an existing folder; expected the dataset folder holding CASME2_RAW_selected/ (or "
                    "Cropped/) and the coding table");
  const fs::path table = options_.table.is_absolute() ? options_.table : root / options_.table;
  if (!fs::is_regular_file(table))
    throw DataError("CASME II coding table '" + table.string() +
                    "' does not exist; expected the coding sheet exported as CSV (dataset.table, relative to root)");
  const bool raw = options_.variant == "raw";
  const fs::path frames_root = root / (raw ? "CASME2_RAW_selected" : "Cropped");
  if (!fs::is_directory(frames_root))
    throw DataError("CASME II frame folder '" + frames_root.string() + "' does not exist; expected " +
                    (raw ? "CASME2_RAW_selected/subNN/<clip>/img<N>.jpg" : "Cropped/subNN/<clip>/reg_img<N>.jpg") +
                    " under the root (variant: " + options_.variant + ")");

  const auto rows = read_casme2_table(table);
  const std::string table_name = table.filename().string();
  std::map<std::string, int> seen;  // id -> line, to catch a clip listed twice
  std::vector<std::string> midpoint;
  for (const auto& row : rows) {
    const std::string where = table.string() + ":" + std::to_string(row.line);
    const std::string subject = subject_folder(row.subject);
    const std::string id = "casme2/" + subject + "/" + row.filename;

    const auto label = options_.labels.index_of(row.emotion);
    if (!label) {
      excluded_.push_back({id, "label_map", "emotion '" + row.emotion + "' is not in the label map"});
      continue;
    }

    int apex = row.apex;
    if (apex < 0 || apex < row.onset || apex > row.offset) {
      const std::string problem =
          apex < 0 ? std::string("ApexFrame is missing ('/' or blank)")
                   : detail::concat("ApexFrame ", apex, " lies outside OnsetFrame..OffsetFrame ", row.onset, "..",
                                    row.offset);
      if (options_.apex_policy == "fail")
        throw DataError(where + ": sample " + id + ": " + problem +
                        "; expected onset <= apex <= offset (apex_policy: fail; use midpoint or skip to load it)");
      if (options_.apex_policy == "skip") {
        excluded_.push_back({id, "dataset", problem + " (apex_policy: skip)"});
        continue;
      }
      apex = (row.onset + row.offset) / 2;
      midpoint.push_back(detail::concat(id, " (", problem, " -> ", apex, ")"));
    }

    if (auto [it, fresh] = seen.emplace(id, row.line); !fresh)
      throw DataError(detail::concat(where, ": sample ", id, " is listed twice (also on line ", it->second,
                                     "); expected one row per clip"));

    SampleMeta s;
    s.id = id;
    s.dataset = "casme2";
    s.subject = subject;
    s.clip = row.filename;
    s.onset = row.onset;
    s.apex = apex;
    s.offset = row.offset;
    s.emotion = row.emotion;
    s.label = *label;
    s.action_units = row.action_units;
    s.clip_dir = frames_root / subject / row.filename;
    s.frame_pattern = raw ? "img{}.jpg" : "reg_img{}.jpg";
    s.source = table_name + ":" + std::to_string(row.line);

    if (!fs::is_directory(s.clip_dir))
      throw DataError(where + ": clip folder '" + s.clip_dir.string() + "' of sample " + id +
                      " does not exist; expected the clip's frames there");
    if (options_.check_frames) {
      const std::pair<const char*, int> needed[] = {{"OnsetFrame", s.onset}, {"ApexFrame", s.apex},
                                                   {"OffsetFrame", s.offset}};
      for (const auto& [column, frame] : needed) {
        const auto path = s.frame_path(frame);
        if (!fs::is_regular_file(path))
          throw DataError(detail::concat(where, ": frame file '", path.string(), "' of sample ", id,
                                         " does not exist; expected it for ", column, " ", frame));
      }
    }
    samples_.push_back(std::move(s));
  }

  if (!midpoint.empty()) {
    std::string list;
    for (const auto& m : midpoint) list += (list.empty() ? "" : "; ") + m;
    logger()->warn("casme2: {} sample(s) have no usable apex, using the onset/offset midpoint (apex_policy: "
                   "midpoint): {}",
                   midpoint.size(), list);
  }
  logger()->debug("casme2: {} samples from {} ({} excluded)", samples_.size(), table.string(), excluded_.size());
}

}  // namespace mer
