#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/smic.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <algorithm>
#include <map>
#include <regex>

namespace mer {
namespace fs = std::filesystem;

namespace {


const std::vector<std::string> kCameras = {"HS", "VIS", "NIR"};

// SMIC paper: the high-speed camera records at 100 fps, the visual and near-infrared ones at 25 fps.
double camera_fps(const std::string& camera) { return camera == "HS" ? 100.0 : 25.0; }

// The emotion folders and the abbreviations the clip names carry.
const std::pair<const char*, const char*> kEmotions[] = {
    {"negative", "ne"}, {"positive", "po"}, {"surprise", "sur"}};

std::string abbreviation(const std::string& emotion) {
  for (const auto& [name, abbr] : kEmotions)
    if (emotion == name) return abbr;
  return "";
}

// "s1_ne_01" -> {"s1", "ne", 1}; nullopt for any other shape.
struct ClipName {
  std::string subject, abbr;
  int index = 0;
};
std::optional<ClipName> parse_clip_name(const std::string& name) {
  static const std::regex re(R"((s\d+)_(ne|po|sur)_(\d+))");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return std::nullopt;
  return ClipName{m[1], m[2], std::stoi(m[3])};
}

std::string padded(long long n, std::size_t width) {
  auto s = std::to_string(n);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

// Numbered frame files of a clip folder: names <prefix><digits><ext>, anything else (Thumbs.db, ...)
// ignored. Returns (number, file name) sorted by number.
std::vector<std::pair<int, std::string>> numbered_files(const fs::path& dir, const std::string& prefix,
                                                        const std::string& ext) {
  std::vector<std::pair<int, std::string>> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const auto name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const auto dot = name.rfind('.');
    if (dot == std::string::npos || dot <= prefix.size()) continue;
    if (!ext.empty() && name.substr(dot) != ext) continue;
    const auto digits = name.substr(prefix.size(), dot - prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return c >= '0' && c <= '9'; })) continue;
    if (digits.size() > 9)
      throw DataError("frame file '" + entry.path().string() + "': frame number " + digits +
                      " has more than 9 digits; expected a camera frame index");
    out.emplace_back(std::stoi(digits), name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A subject folder on disk: s<N> (s1; SMIC-E copies pad it, s01).
bool is_subject_folder(const std::string& name) {
  return name.size() > 1 && name[0] == 's' &&
         std::all_of(name.begin() + 1, name.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

std::optional<std::string> smic_unpadded(const std::string& id) {
  if (id.size() < 2 || id[0] != 's') return std::nullopt;
  std::size_t end = 1;
  while (end < id.size() && id[end] >= '0' && id[end] <= '9') ++end;
  if (end == 1 || (end < id.size() && id[end] != '_')) return std::nullopt;
  std::size_t first = 1;
  while (first + 1 < end && id[first] == '0') ++first;
  return "s" + id.substr(first, end - first) + id.substr(end);
}

// ---------------------------------------------------------------------------------------------- SMIC

SmicOptions SmicOptions::from_config(const ConfigNode& node) {
  SmicOptions o;
  o.root = node.required_path("root");
  o.camera = node.get<std::string>("camera", o.camera);
  node.check_choice("camera", o.camera, kCameras);
  o.variant = node.get<std::string>("variant", o.variant);
  node.check_choice("variant", o.variant, {"raw", "cropped"});
  o.source = node.get<std::string>("source", o.source);
  node.check_choice("source", o.source, {"folders", "list"});
  if (o.source == "list") {
    if (!node.has("list"))
      throw ConfigError(node.where("source") + ": '" + node.key_path("source") + "' is list but '" +
                        node.key_path("list") + "' is not set; expected the list file (e.g. smic_hs.csv)");
    o.list = node.required_path("list");
    o.use_list_apex = node.get<bool>("use_list_apex", o.use_list_apex);
  }
  o.common = AdapterOptions::from_config(node);
  return o;
}

std::vector<SmicListRow> read_smic_list(const fs::path& file) {
  TableOptions options;
  options.has_header = false;
  const auto table = read_table(file, options);
  std::vector<SmicListRow> rows;
  rows.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    SmicListRow row;
    row.where = table.where(r);
    if (cells.size() < 6)
      throw DataError(detail::concat(row.where,
                                     ": expected 6 columns (subject, filename, onset, apex, offset, label), got ",
                                     cells.size()));
    auto number = [&](std::size_t col, const char* name) {
      const auto v = parse_int_cell(cells[col]);
      if (!v || *v < 0)
        throw DataError(detail::concat(row.where, ": column ", col + 1, " (", name,
                                       ") expects a frame number (whole number >= 0), got '", trim(cells[col]), "'"));
      return *v;
    };
    row.subject = trim(cells[0]);
    if (row.subject.empty()) throw DataError(row.where + ": column 1 (subject) is empty; expected e.g. 's01'");
    row.clip = trim(cells[1]);
    if (row.clip.empty()) throw DataError(row.where + ": column 2 (filename) is empty; expected e.g. 's01_ne_01'");
    row.onset = number(2, "onset");
    row.apex = number(3, "apex");
    row.offset = number(4, "offset");
    const auto label = parse_int_cell(cells[5]);
    static const char* const kNames[] = {"positive", "negative", "surprise"};
    if (!label || *label < 1 || *label > 3)
      throw DataError(row.where + ": column 6 (label) expects 1 (positive), 2 (negative) or 3 (surprise), got '" +
                      trim(cells[5]) + "'");
    row.label = *label;
    row.emotion = kNames[*label - 1];
    rows.push_back(std::move(row));
  }
  return rows;
}

SmicDataset::SmicDataset(SmicOptions options) : AnnotatedDataset("smic", options.common.labels), options_(std::move(options)) {
  const auto& o = options_;
  MER_CHECK(std::find(kCameras.begin(), kCameras.end(), o.camera) != kCameras.end(), ValueError,
            "SMIC camera must be HS, VIS or NIR, got '", o.camera, "'");
  MER_CHECK(o.variant == "raw" || o.variant == "cropped", ValueError, "SMIC variant must be raw or cropped, got '",
            o.variant, "'");
  MER_CHECK(o.source == "folders" || o.source == "list", ValueError, "SMIC source must be folders or list, got '",
            o.source, "'");
  if (o.root.empty() || !fs::is_directory(o.root))
    throw DataError("SMIC root '" + o.root.string() +
                    "' is not an existing folder; expected the dataset folder holding SMIC_all_raw/ (or "
                    "SMIC_all_cropped/)");
  // The documented place, then the common unpackings: the tree nested once more (a zip of the folder
  // unpacked into one of the same name), the camera folder directly in the root, or the subject folders
  // directly in the root (one camera's copy).
  const std::string tree = o.variant == "raw" ? "SMIC_all_raw" : "SMIC_all_cropped";
  const fs::path camera_dir = detail::find_frame_tree(
      "smic", {o.root / tree / o.camera, o.root / tree / tree / o.camera, o.root / o.camera, o.root}, is_subject_folder,
      "s<N>/micro/<emotion>/<clip>/ (variant: " + o.variant + ", camera: " + o.camera + ")");
  try {
    if (o.source == "folders") load_folders(camera_dir);
    else load_list(camera_dir);
  } catch (const fs::filesystem_error& e) {
    throw IoError(std::string("SMIC: cannot read the frame tree: ") + e.what());
  }
  finish(options_.common.sample_list);
}

void SmicDataset::load_folders(const fs::path& camera_dir) {
  const auto& o = options_;
  const std::string prefix = o.variant == "raw" ? "image" : "reg_image";

  std::vector<std::pair<int, fs::path>> subjects;
  static const std::regex subject_re(R"(s(\d+))");
  for (const auto& entry : fs::directory_iterator(camera_dir)) {
    if (!entry.is_directory()) continue;
    const auto name = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, subject_re))
      throw DataError("SMIC folder '" + entry.path().string() + "' is not a subject folder; expected only s<N> under " +
                      camera_dir.string());
    subjects.emplace_back(std::stoi(m[1]), entry.path());
  }
  std::sort(subjects.begin(), subjects.end());

  for (const auto& [number, subject_dir] : subjects) {
    const std::string subject = subject_dir.filename().string();
    // Only micro/: non_micro/ holds clips that are not micro-expressions.
    const fs::path micro = subject_dir / "micro";
    if (!fs::is_directory(micro)) {
      logger()->debug("smic: {} has no micro/ folder", subject_dir.string());
      continue;
    }
    for (const auto& entry : fs::directory_iterator(micro)) {
      if (entry.is_directory() && abbreviation(entry.path().filename().string()).empty())
        throw DataError("SMIC folder '" + entry.path().string() +
                        "' is not an emotion folder; expected negative, positive or surprise under " + micro.string());
    }
    for (const auto& [emotion, abbr] : kEmotions) {
      const fs::path emotion_dir = micro / emotion;
      if (!fs::is_directory(emotion_dir)) continue;
      std::vector<std::pair<int, fs::path>> clips;
      for (const auto& entry : fs::directory_iterator(emotion_dir)) {
        if (!entry.is_directory()) continue;
        const auto name = entry.path().filename().string();
        const auto parsed = parse_clip_name(name);
        if (!parsed || parsed->subject != subject || parsed->abbr != abbr)
          throw DataError("SMIC clip folder '" + entry.path().string() + "' is not named " + subject + "_" + abbr +
                          "_<NN>; expected the subject and class of the folders it is in");
        clips.emplace_back(parsed->index, entry.path());
      }
      std::sort(clips.begin(), clips.end());

      for (const auto& [index, clip_dir] : clips) {
        SampleMeta s;
        s.dataset = "smic";
        s.subject = subject;
        s.clip = clip_dir.filename().string();
        s.id = "smic/" + s.subject + "/" + s.clip;
        s.emotion = emotion;
        s.clip_dir = clip_dir;
        s.frame_pattern = prefix + "{:06}.bmp";
        s.fps = camera_fps(o.camera);
        s.source = fs::relative(clip_dir, o.root).generic_string();

        const auto frames = numbered_files(clip_dir, prefix, ".bmp");
        for (const auto& [n, name] : frames)
          if (name != prefix + padded(n, 6) + ".bmp")
            throw DataError("SMIC frame file '" + (clip_dir / name).string() + "' is not named " + prefix +
                            padded(n, 6) + ".bmp; expected frame numbers zero-padded to 6 digits");
        // The clip is its frames: none, or a gap between the first and the last, is a missing frame. Under
        // missing_frames: fail apply_missing_frames throws, so what follows it runs under skip only.
        std::string skip;
        const auto missing = [&](const std::string& problem, const std::string& expected) {
          detail::apply_missing_frames(o.common.missing_frames, "clip folder '" + clip_dir.string() + "' " + problem,
                                       "SMIC clip folder '" + clip_dir.string() + "' " + problem + expected, skip);
          exclude(s.id, "dataset", skip);
        };
        if (frames.empty()) {
          missing("holds no frame files " + prefix + "<NNNNNN>.bmp", "");
          continue;
        }
        const int first = frames.front().first, last = frames.back().first;
        if (o.common.check_frames && last - first + 1 != static_cast<int>(frames.size())) {
          int gap = first;
          for (const auto& [n, name] : frames) {
            if (n != gap) break;
            ++gap;
          }
          missing(detail::concat("lacks frame ", prefix, padded(gap, 6), ".bmp: it holds ", frames.size(),
                                 " frames numbered ", first, "..", last),
                  "; expected every frame in between (check_frames)");
          continue;
        }
        s.onset = first;
        s.offset = last;
        if (!labels().classify(s.emotion, s.action_units)) {
          add(std::move(s));
          continue;
        }
        std::string reason;
        if (!apply_apex_policies(o.common.policies, s, s.source, reason)) {
          exclude(s.id, "dataset", reason + " (missing_apex: skip)");
          continue;
        }
        add(std::move(s));
      }
    }
  }
}

void SmicDataset::load_list(const fs::path& camera_dir) {
  const auto& o = options_;
  const fs::path list = detail::find_table("smic", o.list.is_absolute() ? o.list : o.root / o.list,
                                           "a list like smic_hs.csv (dataset.list, relative to root)");
  const bool raw = o.variant == "raw";
  const std::string prefix = raw ? "image" : "reg_image";

  detail::IdRegistry ids;
  std::size_t renamed = 0;
  for (const auto& row : read_smic_list(list)) {
    const auto subject = smic_unpadded(row.subject);
    if (!subject || subject->find('_') != std::string::npos)
      throw DataError(row.where + ": subject '" + row.subject + "' is not a SMIC subject; expected s<N> (e.g. s01)");
    const auto clip = smic_unpadded(row.clip);
    const auto parsed = clip ? parse_clip_name(*clip) : std::nullopt;
    if (!parsed || parsed->subject != *subject)
      throw DataError(row.where + ": filename '" + row.clip + "' is not a clip of subject '" + row.subject +
                      "'; expected " + row.subject + "_<ne|po|sur>_<NN>");
    if (parsed->abbr != abbreviation(row.emotion))
      throw DataError(detail::concat(row.where, ": filename '", row.clip, "' names class '", parsed->abbr,
                                     "' but the label is ", row.label, " (", row.emotion,
                                     "); expected them to agree (1 po, 2 ne, 3 sur)"));

    SampleMeta s;
    s.dataset = "smic";
    s.subject = *subject;
    s.clip = *clip;
    s.id = "smic/" + s.subject + "/" + s.clip;
    s.onset = row.onset;
    s.apex = o.use_list_apex ? row.apex : -1;
    s.offset = row.offset;
    s.emotion = row.emotion;
    s.clip_dir = camera_dir / s.subject / "micro" / s.emotion / s.clip;
    s.frame_pattern = prefix + "{:06}.bmp";
    s.fps = camera_fps(o.camera);
    s.source = row.where;
    // Lists pad the IDs (s01_ne_01), the folders do not (s1_ne_01).
    if (s.subject != row.subject || s.clip != row.clip) {
      s.quirks.push_back("list ID " + row.subject + "/" + row.clip + " -> folder " + s.subject + "/" + s.clip);
      ++renamed;
    }

    ids.insert(s.id, row.where);
    if (!labels().classify(s.emotion, s.action_units)) {
      add(std::move(s));
      continue;
    }
    const bool had_apex = s.apex >= 0;
    std::string reason;
    if (!apply_apex_policies(o.common.policies, s, row.where, reason)) {
      exclude(s.id, "dataset", reason + (had_apex ? " (apex_out_of_range: skip)" : " (missing_apex: skip)"));
      continue;
    }
    if (!detail::check_clip_frames(s, row.where, s.id + " (listed as " + row.subject + "/" + row.clip + ")",
                                   {{"the onset", s.onset}, {"the apex", s.apex}, {"the offset", s.offset}},
                                   o.common.check_frames, o.common.missing_frames, reason)) {
      exclude(s.id, "dataset", reason);
      continue;
    }
    add(std::move(s));
  }
  if (renamed)
    logger()->info("smic: {} list IDs mapped from padded to the unpadded folder names (e.g. s01_ne_01 -> s1_ne_01)",
                   renamed);
}

// -------------------------------------------------------------------------------------------- SMIC-E

SmicEOptions SmicEOptions::from_config(const ConfigNode& node) {
  SmicEOptions o;
  o.root = node.required_path("root");
  o.camera = node.get<std::string>("camera", o.camera);
  node.check_choice("camera", o.camera, kCameras);
  o.table = node.get_path("table", o.table.string());
  o.sheet = node.get<std::string>("sheet", o.sheet);
  o.subject_digits = node.get<int>("subject_digits", o.subject_digits);
  if (o.subject_digits < 1 || o.subject_digits > 9)
    throw ConfigError(detail::concat(node.where("subject_digits"), ": '", node.key_path("subject_digits"),
                                     "' must be 1..9, got ", o.subject_digits));
  o.common = AdapterOptions::from_config(node);
  return o;
}

SmicETable read_smic_e_table(const fs::path& file, const std::string& sheet) {
  TableOptions options;
  options.sheet = sheet;
  options.header_with = {"Subject", "Filename", "OnsetF"};
  const auto table = read_table(file, options);
  std::vector<std::string> have;
  for (const auto& h : table.header)
    if (!trim(h).empty()) have.push_back(trim(h));
  auto column = [&](const std::string& name) {
    if (auto c = table.find_column(name)) return *c;
    throw DataError(table.file.string() + (table.sheet.empty() ? "" : "[" + table.sheet + "]") +
                    ": the SMIC-E table has no column '" + name + "'; its header row has: " + join_keys(have));
  };
  const auto c_subject = column("Subject");
  const auto c_file = column("Filename");
  const auto c_onset = column("OnsetF");
  const auto c_offset = column("OffsetF");
  const auto c_emotion = column("Emotion");
  const auto c_first = column("FirstF");

  SmicETable out;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const auto where = table.where(r);
    const auto subject = parse_int_cell(cells[c_subject]);
    if (!subject || *subject < 0) {
      // The HS sheet follows its 157 data rows with notes; the data ends at the first of them.
      out.ended_at = trim(cells[c_subject]);
      for (std::size_t t = r; t < table.rows.size(); ++t) out.trailing.push_back(table.where(t));
      break;
    }
    auto frame = [&](std::size_t col, const char* name) {
      const auto v = parse_int_cell(cells[col]);
      if (!v || *v < 0)
        throw DataError(detail::concat(where, ": column '", name, "' expects a frame number (whole number >= 0), got '",
                                       trim(cells[col]), "'"));
      return *v;
    };
    SmicERow row;
    row.where = where;
    row.subject = *subject;
    row.filename = trim(cells[c_file]);
    if (row.filename.empty())
      throw DataError(where + ": column 'Filename' is empty; expected a clip folder name such as 's1_ne_01'");
    row.onset = frame(c_onset, "OnsetF");
    row.offset = frame(c_offset, "OffsetF");
    row.first = frame(c_first, "FirstF");
    if (row.onset > row.offset)
      throw DataError(detail::concat(where, ": OnsetF ", row.onset, " is after OffsetF ", row.offset,
                                     "; expected OnsetF <= OffsetF"));
    if (row.first > row.onset)
      throw DataError(detail::concat(where, ": FirstF ", row.first, " is after OnsetF ", row.onset,
                                     "; expected the long clip to start at or before the onset"));
    row.emotion = trim(cells[c_emotion]);
    out.rows.push_back(std::move(row));
  }
  return out;
}

SmicEDataset::SmicEDataset(SmicEOptions options)
    : AnnotatedDataset("smic_e", options.common.labels), options_(std::move(options)) {
  const auto& o = options_;
  MER_CHECK(std::find(kCameras.begin(), kCameras.end(), o.camera) != kCameras.end(), ValueError,
            "SMIC-E camera must be HS, VIS or NIR, got '", o.camera, "'");
  MER_CHECK(o.subject_digits >= 1 && o.subject_digits <= 9, ValueError, "SMIC-E subject_digits must be 1..9, got ",
            o.subject_digits);
  if (o.root.empty() || !fs::is_directory(o.root))
    throw DataError("SMIC-E root '" + o.root.string() +
                    "' is not an existing folder; expected the dataset folder holding 'SMIC-E_raw image/'");
  // The documented place, then the common unpackings: the frame folder nested once more, the
  // <camera>_long folder directly in the root (without "SMIC-E_raw image/"), the same with the frame folder
  // spelt SMIC_<camera>_E (the third-party copy in DATASETS.md §4), or the subject folders in the root.
  const std::string long_name = o.camera + "_long", tree = "SMIC-" + o.camera + "-E";
  const fs::path long_dir = o.root / "SMIC-E_raw image" / long_name;
  const fs::path frames_root = detail::find_frame_tree(
      "smic_e",
      {long_dir / tree, long_dir / tree / tree, o.root / long_name / tree,
       o.root / long_name / ("SMIC_" + o.camera + "_E"), o.root},
      is_subject_folder, "s<NN>/<Filename>/image<N>.<ext> (camera: " + o.camera + ")");
  // The annotation sits beside the frame folder as distributed; by default it is looked for there, in
  // whichever unpacking the frames were found (beside the outer of a doubled folder; in the root when the
  // subject folders are).
  fs::path beside = frames_root == o.root ? o.root : frames_root.parent_path();
  if (beside != o.root && beside.filename() == frames_root.filename()) beside = beside.parent_path();
  const fs::path table = detail::find_table(
      "smic_e",
      o.table.empty() ? beside / ("SMIC-" + o.camera + "-E_annotation.xlsx")
                      : o.table.is_absolute() ? o.table : o.root / o.table,
      "SMIC-" + o.camera + "-E_annotation.xlsx or its CSV export (dataset.table, relative to root)");

  const auto parsed = read_smic_e_table(table, o.sheet);
  for (const auto& where : parsed.trailing)
    exclude(where, "dataset",
            "not a data row: the table's data ends at the first row whose Subject is not a number ('" +
                parsed.ended_at + "' at " + parsed.trailing.front() + ")");
  if (!parsed.trailing.empty())
    logger()->info("smic_e: data ends at {} (Subject '{}'); {} trailing row(s) ignored", parsed.trailing.front(),
                   parsed.ended_at, parsed.trailing.size());

  detail::IdRegistry ids;
  for (const auto& row : parsed.rows) {
    SampleMeta s;
    s.dataset = "smic_e";
    s.subject = "s" + padded(row.subject, static_cast<std::size_t>(o.subject_digits));
    s.clip = row.filename;
    s.id = "smic_e/" + s.subject + "/" + s.clip;
    s.emotion = row.emotion;
    s.clip_dir = frames_root / s.subject / s.clip;
    s.fps = camera_fps(o.camera);
    s.source = row.where;
    ids.insert(s.id, row.where);
    if (!labels().classify(s.emotion, s.action_units)) {
      add(std::move(s));
      continue;
    }
    // Everything below that is not there (folder, frames, the frames a row points at) is a missing frame.
    // Under missing_frames: fail apply_missing_frames throws, so `missing` excludes under skip only.
    std::string skip;
    const auto missing = [&](const std::string& problem, const std::string& fail_message) {
      detail::apply_missing_frames(o.common.missing_frames, problem, fail_message, skip);
      exclude(s.id, "dataset", skip);
    };
    if (!fs::is_directory(s.clip_dir)) {
      missing("clip folder '" + s.clip_dir.string() + "' does not exist",
              row.where + ": clip folder '" + s.clip_dir.string() + "' of sample " + s.id +
                  " does not exist; expected the long clip's frames there");
      continue;
    }

    // Extension and zero padding are read from the folder: the SMIC-E copies in circulation differ.
    std::vector<std::pair<int, std::string>> frames;
    try {
      frames = numbered_files(s.clip_dir, "image", "");
    } catch (const fs::filesystem_error& e) {
      throw IoError(row.where + ": cannot list clip folder '" + s.clip_dir.string() + "': " + e.what());
    }
    if (frames.empty()) {
      missing("clip folder '" + s.clip_dir.string() + "' holds no frame files image<N>.<ext>",
              row.where + ": clip folder '" + s.clip_dir.string() + "' of sample " + s.id +
                  " holds no frame files image<N>.<ext>");
      continue;
    }
    const auto ext = frames.front().second.substr(frames.front().second.rfind('.'));
    std::size_t width = 0;
    for (const auto& [n, name] : frames) {
      const auto digits = name.substr(5, name.rfind('.') - 5);
      if (digits.size() > 1 && digits[0] == '0') width = std::max(width, digits.size());
    }
    for (const auto& [n, name] : frames) {
      if (name != "image" + padded(n, width) + ext)
        throw DataError(row.where + ": clip folder '" + s.clip_dir.string() + "' mixes frame file names ('" +
                        frames.front().second + "', '" + name + "'); expected one extension and one zero padding");
    }
    s.frame_pattern = "image" + (width ? "{:0" + std::to_string(width) + "}" : std::string("{}")) + ext;

    // OnsetF − FirstF is the onset's position among the clip's frames.
    const long long count = static_cast<long long>(frames.size());
    const int on_index = row.onset - row.first, off_index = row.offset - row.first;
    if (off_index >= count) {
      const auto problem = detail::concat("OffsetF ", row.offset, " - FirstF ", row.first, " = in-clip index ",
                                          off_index, ", but clip folder '", s.clip_dir.string(), "' holds ", count,
                                          " frames (indices 0..", count - 1, ")");
      missing(problem, row.where + ": " + problem);
      continue;
    }
    s.onset = frames[static_cast<std::size_t>(on_index)].first;
    s.offset = frames[static_cast<std::size_t>(off_index)].first;
    if (frames.front().first != row.first)
      s.quirks.push_back(detail::concat("clip frames numbered from ", frames.front().first, ", not FirstF ", row.first,
                                        ": onset/offset taken by in-clip index (", on_index, ", ", off_index, ")"));

    if (!apply_apex_policies(o.common.policies, s, row.where, skip)) {
      exclude(s.id, "dataset", skip + " (missing_apex: skip)");
      continue;
    }
    if (o.common.check_frames && s.apex >= 0 && !fs::is_regular_file(s.frame_path(s.apex))) {
      missing(detail::concat("frame file '", s.frame_path(s.apex).string(), "' for the apex ", s.apex, " does not exist"),
              detail::concat(row.where, ": frame file '", s.frame_path(s.apex).string(), "' of sample ", s.id,
                             " does not exist; expected it for the apex ", s.apex));
      continue;
    }
    add(std::move(s));
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
