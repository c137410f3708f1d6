#include <mer/core/error.hpp>
#include <mer/data/manifest.hpp>
#include <mer/meta/table.hpp>

#include "detail/adapter_support.hpp"

#include <cmath>
#include <cstdlib>

namespace mer {
namespace fs = std::filesystem;

namespace {


bool valid_name(const std::string& name) { return !name.empty() && name.find('/') == std::string::npos; }

std::optional<double> parse_fps(const std::string& cell) {
  const auto t = trim(cell);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

ManifestOptions ManifestOptions::from_config(const ConfigNode& node) {
  ManifestOptions o;
  o.manifest = node.required_path("manifest");
  o.name = node.get<std::string>("name", o.name);
  if (!valid_name(o.name))
    throw ConfigError(node.where("name") + ": '" + node.key_path("name") +
                      "' must be a non-empty dataset name without '/', got '" + o.name + "'");
  o.frame_pattern = node.get<std::string>("frame_pattern", o.frame_pattern);
  o.fps = node.get<double>("fps", o.fps);
  if (!(o.fps >= 0) || !std::isfinite(o.fps))
    throw ConfigError(detail::concat(node.where("fps"), ": '", node.key_path("fps"), "' must be >= 0 (0 = none), got ",
                                     o.fps));
  o.common = AdapterOptions::from_config(node);
  return o;
}

ManifestDataset::ManifestDataset(ManifestOptions options)
    : AnnotatedDataset(options.name, options.common.labels), options_(std::move(options)) {
  const std::string& ds = options_.name;
  MER_CHECK(valid_name(ds), ValueError, "manifest: name must be a non-empty dataset name without '/', got '", ds, "'");
  MER_CHECK(options_.fps >= 0 && std::isfinite(options_.fps), ValueError, "manifest: fps must be >= 0, got ",
            options_.fps);
  options_.common.check(ds);
  detail::require_file(ds, "manifest", options_.manifest,
                       "a CSV with columns subject, clip, onset, offset, emotion and frames_dir or video "
                       "(dataset.manifest)");
  const fs::path base = options_.manifest.parent_path();

  const Table table = read_table(options_.manifest);
  const auto c_subject = table.column("subject");
  const auto c_clip = table.column("clip");
  const auto c_onset = table.column("onset");
  const auto c_offset = table.column("offset");
  const auto c_emotion = table.column("emotion");
  const auto c_id = table.find_column("id");
  const auto c_apex = table.find_column("apex");
  const auto c_dir = table.find_column("frames_dir");
  const auto c_pattern = table.find_column("frame_pattern");
  const auto c_video = table.find_column("video");
  const auto c_fps = table.find_column("fps");
  const auto c_aus = table.find_column("action_units");
  if (!c_dir && !c_video)
    throw DataError(options_.manifest.string() + ":1: expected a column 'frames_dir' or 'video' saying where each "
                    "clip's frames are");
  auto cell = [&](std::size_t r, std::optional<std::size_t> c) { return c ? trim(table.rows[r][*c]) : std::string(); };

  detail::IdRegistry ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto where = table.where(r);
    SampleMeta s;
    s.dataset = ds;
    s.subject = detail::required_cell(table, r, c_subject, "subject", "a subject name");
    s.clip = detail::required_cell(table, r, c_clip, "clip", "a clip name");
    const std::string id = cell(r, c_id);
    s.id = ds + "/" + (id.empty() ? s.subject + "/" + s.clip : id);
    s.onset = detail::required_frame_cell(table, r, c_onset, "onset");
    s.offset = detail::required_frame_cell(table, r, c_offset, "offset");
    s.apex = c_apex ? detail::frame_cell(table, r, *c_apex, "apex").value_or(-1) : -1;
    s.emotion = detail::required_cell(table, r, c_emotion, "emotion", "an emotion name");
    s.action_units = cell(r, c_aus);
    s.source = options_.manifest.filename().string() + where.substr(options_.manifest.string().size());

    const std::string dir = cell(r, c_dir), video = cell(r, c_video);
    if (dir.empty() == video.empty())
      throw DataError(where + ": sample " + s.id + " needs exactly one of 'frames_dir' and 'video', got " +
                      (dir.empty() ? "neither" : "both ('" + dir + "' and '" + video + "')"));
    if (!video.empty()) {
      s.video = detail::resolve_path(base, video);
    } else {
      s.clip_dir = detail::resolve_path(base, dir);
      s.frame_pattern = cell(r, c_pattern);
      if (s.frame_pattern.empty()) s.frame_pattern = options_.frame_pattern;
      try {
        s.frame_path(s.onset);
      } catch (const ValueError& e) {
        throw DataError(where + ": sample " + s.id + ": frame_pattern '" + s.frame_pattern +
                        "' is not usable: expected a file name with {} or {:0N} for the frame number (" +
                        e.message() + ")");
      }
    }
    const std::string fps_cell = cell(r, c_fps);
    if (!fps_cell.empty()) {
      const auto fps = parse_fps(fps_cell);
      if (!fps || *fps <= 0)
        throw DataError(where + ": column 'fps' expects frames per second (a number > 0), got '" + fps_cell + "'");
      s.fps = *fps;
    } else {
      s.fps = options_.fps;
    }
    if (s.fps <= 0)
      throw DataError(where + ": sample " + s.id + " has no fps: fill its 'fps' cell or set dataset.fps");
    ids.insert(s.id, where);

    admit(std::move(s), options_.common, where);
  }
  finish(options_.common.sample_list);
}

}  // namespace mer
