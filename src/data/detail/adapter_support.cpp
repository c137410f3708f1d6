#include "adapter_support.hpp"

#include <mer/core/error.hpp>
#include <mer/core/log.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace mer::detail {
namespace fs = std::filesystem;

namespace {
std::string list_of(const std::vector<std::string>& allowed) {
  std::string out;
  for (const auto& a : allowed) out += (out.empty() ? "" : " | ") + a;
  return out;
}
bool contains(const std::vector<std::string>& allowed, const std::string& value) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}
}  // namespace

void check_choice(const std::string& dataset, const std::string& option, const std::string& value,
                  const std::vector<std::string>& allowed) {
  if (!contains(allowed, value))
    throw ValueError(dataset + ": option " + option + " must be one of " + list_of(allowed) + ", got '" + value + "'");
}

fs::path resolve_path(const fs::path& base, const fs::path& path) {
  return path.empty() || path.is_absolute() ? path : base / path;
}

void require_folder(const std::string& dataset, const std::string& what, const fs::path& path,
                    const std::string& expected) {
  std::error_code ec;
  if (path.empty() || !fs::is_directory(path, ec))
    throw DataError(dataset + ": " + what + " '" + path.string() + "' is not an existing folder; expected " + expected);
}

void require_file(const std::string& dataset, const std::string& what, const fs::path& path,
                  const std::string& expected) {
  std::error_code ec;
  if (path.empty() || !fs::is_regular_file(path, ec))
    throw DataError(dataset + ": " + what + " '" + path.string() + "' does not exist; expected " + expected);
}

fs::path find_frame_tree(const std::string& dataset, const std::vector<fs::path>& candidates,
                         bool (*is_subject)(const std::string&), const std::string& expected) {
  const auto holds_subjects = [&](const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return false;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory(ec) && is_subject(e.path().filename().string())) return true;
    return false;
  };
  for (const auto& c : candidates)
    if (holds_subjects(c)) {
      if (c != candidates.front())
        logger()->info("{}: frames found in '{}' (not in the documented '{}')", dataset, c.string(), candidates.front().string());
      return c;
    }
  std::string looked;
  for (const auto& c : candidates) looked += (looked.empty() ? "'" : ", '") + c.string() + "'";
  throw DataError(dataset + ": no frame folder found; looked for " + expected + " in " + looked);
}

bool is_casme_subject(const std::string& name) {
  return name.size() > 3 && name.compare(0, 3, "sub") == 0 &&
         std::all_of(name.begin() + 3, name.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

fs::path find_table(const std::string& dataset, const fs::path& path, const std::string& expected) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  auto ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<fs::path> others;
  for (const char* e : {".xlsx", ".csv", ".xls"})
    if (ext != e) others.push_back(fs::path(path).replace_extension(e));
  for (const auto& o : others)
    if (fs::is_regular_file(o, ec)) {
      logger()->info("{}: coding table '{}' not found; using '{}' beside it", dataset, path.filename().string(), o.filename().string());
      return o;
    }
  throw DataError(dataset + ": coding table '" + path.string() + "' does not exist, nor its " +
                  (others.empty() ? std::string("other forms") : others.front().extension().string() + " / " + others.back().extension().string()) +
                  " form beside it; expected " + expected);
}

std::optional<int> frame_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name,
                              bool missing_marks) {
  const auto cell = trim(table.rows[r][column]);
  if (cell.empty() || (missing_marks && (cell == "/" || cell == "-"))) return std::nullopt;
  const auto v = parse_int_cell(cell);
  if (!v || *v < 0)
    throw DataError(concat(table.where(r), ": column '", name, "' expects a frame number (whole number >= 0), got '",
                           cell, "'"));
  return v;
}

int required_frame_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name) {
  const auto v = frame_cell(table, r, column, name, false);
  if (!v) throw DataError(table.where(r) + ": column '" + name + "' is empty; expected a frame number");
  return *v;
}

std::string required_cell(const Table& table, std::size_t r, std::size_t column, const std::string& name,
                          const std::string& expected) {
  auto cell = trim(table.rows[r][column]);
  if (cell.empty()) throw DataError(table.where(r) + ": column '" + name + "' is empty; expected " + expected);
  return cell;
}

bool apply_missing_offset(const std::string& policy, SampleMeta& s, const std::string& where,
                          std::string& skip_reason) {
  const std::string what = "offset not annotated (0)";
  if (policy == "fail")
    throw DataError(concat(where, ": sample ", s.id, ": ", what,
                           " (missing_offset: fail; choose apex or skip to load the dataset)"));
  if (policy == "skip") {
    skip_reason = what + " (missing_offset: skip)";
    return false;
  }
  if (s.apex < 0 || s.apex < s.onset)
    throw DataError(concat(where, ": sample ", s.id, ": ", what, " and no apex at or after onset ", s.onset,
                           " to end the clip on (missing_offset: apex); choose skip or fail"));
  s.offset = s.apex;
  s.quirks.push_back(concat(what, " -> apex ", s.apex, " (missing_offset: apex)"));
  return true;
}

bool check_key_frames(const SampleMeta& s, const std::string& where, const std::string& missing_frames,
                      std::string& skip_reason) {
  std::string problem;
  std::error_code ec;
  if (s.from_video()) {
    if (!fs::is_regular_file(s.video, ec)) problem = "video file '" + s.video.string() + "' does not exist";
  } else if (!fs::is_directory(s.clip_dir, ec)) {
    problem = "clip folder '" + s.clip_dir.string() + "' does not exist";
  } else {
    const std::pair<const char*, int> needed[] = {{"onset", s.onset}, {"apex", s.apex}, {"offset", s.offset}};
    for (const auto& [what, frame] : needed) {
      if (frame < 0) continue;  // an apex left to an estimating stage ("estimate")
      const auto path = s.frame_path(frame);
      if (!fs::is_regular_file(path, ec)) {
        problem = concat("frame file '", path.string(), "' (", what, " ", frame, ") does not exist");
        break;
      }
    }
  }
  return problem.empty() ||
         apply_missing_frames(missing_frames, problem,
                              where + ": sample " + s.id + ": " + problem +
                                  " (missing_frames: fail; use skip to leave such samples out, listed)",
                              skip_reason);
}

bool apply_missing_frames(const std::string& missing_frames, const std::string& problem,
                          const std::string& fail_message, std::string& skip_reason) {
  if (missing_frames != "skip") throw DataError(fail_message);
  skip_reason = problem + " (missing_frames: skip)";
  return false;
}

bool check_clip_frames(const SampleMeta& s, const std::string& where, const std::string& sample,
                       const std::vector<std::pair<std::string, int>>& frames, bool check_frames,
                       const std::string& missing_frames, std::string& skip_reason) {
  std::error_code ec;
  if (!fs::is_directory(s.clip_dir, ec))
    return apply_missing_frames(missing_frames, "clip folder '" + s.clip_dir.string() + "' does not exist",
                                where + ": clip folder '" + s.clip_dir.string() + "' of sample " + sample +
                                    " does not exist; expected the clip's frames there",
                                skip_reason);
  if (!check_frames) return true;
  for (const auto& [column, frame] : frames) {
    if (frame < 0) continue;  // apex left to an estimating stage
    const auto path = s.frame_path(frame);
    if (!fs::is_regular_file(path, ec))
      return apply_missing_frames(missing_frames,
                                  concat("frame file '", path.string(), "' for ", column, " ", frame, " does not exist"),
                                  concat(where, ": frame file '", path.string(), "' of sample ", s.id,
                                         " does not exist; expected it for ", column, " ", frame),
                                  skip_reason);
  }
  return true;
}

void IdRegistry::insert(const std::string& id, const std::string& where) {
  const auto [it, fresh] = seen_.emplace(id, where);
  if (!fresh)
    throw DataError(where + ": sample " + id + " is listed twice (also at " + it->second +
                    "); expected one row per sample");
}

int subject_number(const Table& table, std::size_t r, std::size_t column, const std::string& name) {
  const auto cell = trim(table.rows[r][column]);
  const auto v = parse_int_cell(cell);
  if (!v || *v < 0)
    throw DataError(table.where(r) + ": column '" + name + "' expects a subject number (whole number), got '" + cell +
                    "'");
  return *v;
}

std::string zero_pad(int n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*d", width, n);
  return buf;
}

}  // namespace mer::detail
