// Synthetic MEGC2019 composite: the organisers' 442 samples (subjects, clip names and 3-class labels from
// the embedded official list) written as the three sources are distributed — CASME II (colour JPEG, coding
// table .xlsx), SAMM (greyscale JPEG with 5-digit frame numbers, the .xlsx with its preamble) and SMIC-HS
// (BMP frames in emotion folders) — at the sources' frame sizes, so configs/megc2019.yaml runs on it
// unchanged with MER_DATA_ROOT pointing at the output.
//
// People: the 68 subjects need more people than the media holds (31 here), so each source draws its
// subjects from the same pool (distinct within a source, at different offsets across sources). A person can
// thus appear as one subject of two sources: their appearance, never their clips, is shared across LOSO
// folds. The manifest lists who plays whom.
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/progress.hpp>
#include <mer/core/rng.hpp>
#include <mer/data/megc2019.hpp>
#include <mer/data/synth.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/meta/xlsx_writer.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "detail/synth_motion.hpp"

namespace mer {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "mer_synth.json";

struct SourceLayout {
  std::string database;  // as the list names it
  std::string folder;    // under the output root
  cv::Size frame;        // frame size written
  int person_offset;     // where this source starts in the people pool
  int first_onset, last_onset;
};

std::vector<SourceLayout> layouts(bool real_sizes) {
  // The sources' frame sizes: CASME II and SMIC-HS 640x480, SAMM 2040x1088 (real); half-size CASME II / SMIC
  // and 400x300 SAMM otherwise (the sizes of the performance issue's measurement).
  if (real_sizes)
    return {{"casme2", "CASME2", {640, 480}, 16, 10, 200},
            {"samm", "SAMM", {2040, 1088}, 9, 1000, 9000},
            {"smic", "SMIC", {640, 480}, 0, 100, 2000}};
  return {{"casme2", "CASME2", {320, 240}, 16, 10, 200},
          {"samm", "SAMM", {400, 300}, 9, 1000, 9000},
          {"smic", "SMIC", {320, 240}, 0, 100, 2000}};
}

// The face fills ~55 % of the frame height, as in the sources' frames.
int face_size_for(const cv::Size& frame) { return static_cast<int>(std::lround(0.55 * frame.height / 1.0)); }

// The motion model and the source's own emotion word for a 3-class label; negatives alternate between the
// two negative motions (and, for SAMM, its negative emotions) by position in the list.
struct Emotion {
  std::string motion, native;
};
Emotion emotion_for(const std::string& db, int label, int nth) {
  if (label == 1) return {"happiness", db == "samm" ? "Happiness" : db == "smic" ? "positive" : "happiness"};
  if (label == 2) return {"surprise", db == "samm" ? "Surprise" : db == "smic" ? "surprise" : "surprise"};
  const std::string motion = nth % 2 == 0 ? "disgust" : "repression";
  if (db == "samm") {
    static const char* const samm[] = {"Anger", "Contempt", "Disgust", "Fear", "Sadness"};
    return {motion, samm[nth % 5]};
  }
  if (db == "smic") return {motion, "negative"};
  return {motion, motion};
}

std::string pad(int n, int width) {
  auto s = std::to_string(n);
  return static_cast<int>(s.size()) < width ? std::string(static_cast<std::size_t>(width) - s.size(), '0') + s : s;
}

// The rendered face crop centred on a frame of `size`; where the crop does not cover the frame, a
// strongly blurred, stretched copy of it stands in for the room behind the subject.
cv::Mat compose(const cv::Mat& crop, const cv::Mat& backdrop) {
  cv::Mat out = backdrop.clone();
  const int ox = (out.cols - crop.cols) / 2, oy = (out.rows - crop.rows) / 2;
  const cv::Rect dst(std::max(0, ox), std::max(0, oy), std::min(out.cols, crop.cols + std::min(0, ox) * 2),
                     std::min(out.rows, crop.rows + std::min(0, oy) * 2));
  const cv::Rect src(dst.x - ox, dst.y - oy, dst.width, dst.height);
  crop(src & cv::Rect(0, 0, crop.cols, crop.rows)).copyTo(out(dst));
  return out;
}

cv::Mat make_backdrop(const cv::Mat& crop, cv::Size size) {
  cv::Mat stretched, blurred;
  cv::resize(crop, stretched, size, 0, 0, cv::INTER_LINEAR);
  cv::GaussianBlur(stretched, blurred, cv::Size(), 0.06 * size.width);
  return blurred;
}

detail::SynthFace scaled_face(const detail::SynthFace& face, int face_size) {
  if (std::lround(face.face_width) == face_size) return face;
  const double s = face_size / static_cast<double>(face.face_width);
  detail::SynthFace out = face;
  const int side = static_cast<int>(std::lround(face.image.cols * s));
  cv::resize(face.image, out.image, cv::Size(side, side), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  for (auto& p : out.landmarks) p = cv::Point2f(static_cast<float>((p.x + 0.5) * s - 0.5), static_cast<float>((p.y + 0.5) * s - 0.5));
  out.face_width = static_cast<float>(face_size);
  return out;
}

struct Clip {
  const SourceLayout* source;
  detail::ClipPlan plan;
  std::string native_emotion;
  std::string disk_subject, disk_clip;
  int person = 0;
};

}  // namespace

SynthReport synthesize_megc2019(const SynthOptions& options, const Megc2019SynthOptions& composite, const RunContext& ctx) {
  MER_CHECK(!options.out.empty(), ValueError, "synth: the output folder is empty");
  MER_CHECK(composite.samples >= 0 && composite.samples <= 442, ValueError,
            "synth: --samples must be in 0..442 (0: all of the official list), got ", composite.samples);
  const auto& list = megc2019_official_list();
  const auto sources = layouts(composite.real_sizes);

  // A subset keeps every (source, class) group's share of the list, spread over its rows.
  std::vector<const Megc2019Row*> rows;
  {
    std::map<std::pair<std::string, int>, int> group_size, seen;
    for (const auto& r : list) ++group_size[{r.database, r.label}];
    for (const auto& r : list) {
      const int rank = seen[{r.database, r.label}]++;
      const int n = group_size[{r.database, r.label}];
      const int want = composite.samples == 0 ? n : std::max(1, static_cast<int>(std::lround(double(n) * composite.samples / list.size())));
      if (static_cast<long>(rank + 1) * want / n > static_cast<long>(rank) * want / n) rows.push_back(&r);
    }
  }

  // Refuse to write over what mer synth did not write.
  for (const auto& s : sources) {
    const auto dir = options.out / s.folder;
    std::error_code ec;
    if (fs::exists(dir) && !fs::is_empty(dir, ec) && !fs::exists(options.out / kManifest))
      throw IoError("refusing to write into '" + options.out.string() + "': it holds " + s.folder +
                    "/ that mer synth did not write (no " + kManifest + "); expected an empty or new output folder");
  }

  // People: each source's subjects in list order, from the pool at that source's offset.
  std::map<std::string, std::map<std::string, int>> subject_index;  // database -> list subject -> index
  for (const auto* r : rows) {
    auto& m = subject_index[r->database];
    m.emplace(r->subject, static_cast<int>(m.size()));
  }
  int largest_face = 0;
  for (const auto& s : sources) largest_face = std::max(largest_face, face_size_for(s.frame));
  std::size_t max_subjects = 0;
  for (const auto& [db, m] : subject_index) max_subjects = std::max(max_subjects, m.size());
  // Every person the media holds; a source needs as many as it has subjects.
  const auto pool = detail::load_people(options.media_dir, options.landmark_model, -1, largest_face);
  const int people = static_cast<int>(pool.size());
  MER_CHECK(people >= static_cast<int>(max_subjects), DataError, "media folder '", options.media_dir.string(), "' has ",
            people, " distinct people; the MEGC2019 composite needs ", max_subjects, " for its largest source");
  logger()->info("synth: MEGC2019 composite, {} samples from {} people into {}", rows.size(), people, options.out.string());

  std::vector<Clip> clips;
  std::map<std::string, int> negatives;
  for (const auto* r : rows) {
    const SourceLayout* src = nullptr;
    for (const auto& s : sources)
      if (s.database == r->database) src = &s;
    MER_CHECK(src, InternalError, "synth: no layout for source ", r->database);
    Clip c;
    c.source = src;
    c.disk_subject = megc2019_disk_subject(r->database, r->subject);
    c.disk_clip = megc2019_disk_clip(r->database, r->filename);
    const int idx = subject_index[r->database][r->subject];
    c.person = (src->person_offset + idx) % people;
    const auto e = emotion_for(r->database, r->label, r->label == 0 ? negatives[r->database]++ : 0);
    c.native_emotion = e.native;
    auto& p = c.plan;
    p.subject_index = c.person;
    p.subject = c.disk_subject;
    p.table_subject = c.disk_subject;
    p.name = c.disk_clip;
    p.emotion = e.motion;
    p.seed = derive_seed(options.seed, r->database + "/" + r->subject + "/" + r->filename);
    SynthOptions per_source = options;
    per_source.face_size = face_size_for(src->frame);
    detail::draw_clip(p, per_source, src->first_onset, src->last_onset);
    clips.push_back(std::move(c));
  }

  // Faces at each source's size, computed once.
  std::map<std::pair<int, int>, detail::SynthFace> faces;  // (person, face size)
  for (const auto& c : clips) {
    const int size = face_size_for(c.source->frame);
    if (!faces.count({c.person, size})) faces.emplace(std::make_pair(c.person, size), scaled_face(pool[static_cast<std::size_t>(c.person)], size));
  }

  nlohmann::json manifest = {{"generator", "libmer synthesize_megc2019"},
                             {"note", "synthetic data: real faces with synthetic motions, not the MEGC2019 datasets"},
                             {"seed", options.seed},
                             {"samples", rows.size()},
                             {"real_sizes", composite.real_sizes},
                             {"people", people}};
  for (const auto& [db, m] : subject_index)
    for (const auto& [subject, idx] : m) {
      const SourceLayout* src = nullptr;
      for (const auto& s : sources)
        if (s.database == db) src = &s;
      manifest["subjects"].push_back({{"database", db}, {"subject", subject},
                                      {"person", pool[static_cast<std::size_t>((src->person_offset + idx) % people)].source}});
    }
  fs::create_directories(options.out);
  write_file_atomic(options.out / kManifest, manifest.dump(2) + "\n");
  for (const auto& s : sources) {
    std::error_code rm;
    fs::remove_all(options.out / s.folder, rm);
    if (rm) throw IoError("cannot remove '" + (options.out / s.folder).string() + "' before rewriting it: " + rm.message());
  }

  const auto frame_path = [&](const Clip& c, int f) {
    const auto& db = c.source->database;
    if (db == "casme2")
      return options.out / "CASME2" / "CASME2_RAW_selected" / c.disk_subject / c.disk_clip / ("img" + std::to_string(f) + ".jpg");
    if (db == "samm")
      return options.out / "SAMM" / "SAMM" / c.disk_subject / c.disk_clip / (c.disk_subject + "_" + pad(f, 5) + ".jpg");
    return options.out / "SMIC" / "SMIC_all_raw" / "HS" / c.disk_subject / "micro" / c.native_emotion / c.disk_clip /
           ("image" + pad(f, 6) + ".bmp");
  };

  SynthReport report;
  report.clips = static_cast<int>(clips.size());
  for (const auto& [db, m] : subject_index) report.subjects += static_cast<int>(m.size());
  const int threads = std::max(1, std::min(ctx.threads, static_cast<int>(clips.size())));
  Progress progress("synth megc2019", clips.size(), ctx.progress);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<int> frames_written{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    while (!failed) {
      const std::size_t i = next++;
      if (i >= clips.size()) return;
      const auto& c = clips[i];
      try {
        with_context("synthesising clip " + c.source->database + "/" + c.disk_subject + "/" + c.disk_clip, [&] {
          const auto& face = faces.at({c.person, face_size_for(c.source->frame)});
          const detail::ClipRenderer renderer(c.plan, face, options.noise);
          const auto backdrop = make_backdrop(face.image, c.source->frame);
          fs::create_directories(frame_path(c, c.plan.onset).parent_path());
          std::vector<uchar> bytes;
          for (int f = c.plan.onset; f <= c.plan.offset; ++f) {
            cv::Mat frame = compose(renderer.render(f), backdrop);
            const bool bmp = c.source->database == "smic";
            if (c.source->database == "samm") cv::cvtColor(frame, frame, cv::COLOR_BGR2GRAY);  // SAMM is greyscale
            cv::imencode(bmp ? ".bmp" : ".jpg", frame, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
            detail::write_bytes(frame_path(c, f), bytes);
            ++frames_written;
          }
        });
        progress.tick();
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  {
    const int saved = cv::getNumThreads();
    cv::setNumThreads(threads > 1 ? 1 : saved);
    std::vector<std::thread> pool_threads;
    for (int t = 1; t < threads; ++t) pool_threads.emplace_back(work);
    work();
    for (auto& t : pool_threads) t.join();
    cv::setNumThreads(saved);
  }
  if (error) std::rethrow_exception(error);

  // Tables last: a folder with its table is a complete dataset.
  std::vector<std::vector<std::string>> casme2 = {
      {"Subject", "Filename", "", "OnsetFrame", "ApexFrame", "OffsetFrame", "", "Action Units", "Estimated Emotion"}};
  std::vector<std::vector<std::string>> samm = {{"SAMM Dataset - Master FACS Codes (synthetic: written by mer synth, not SAMM)"}};
  while (samm.size() < 13) samm.push_back({});
  samm.push_back({"Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration", "Micro",
                  "Action Units", "Estimated Emotion", "Objective Classes", "Notes"});
  std::vector<int> samm_lines;
  for (int k = 1; k <= 14; ++k) samm_lines.push_back(k);
  for (const auto& c : clips) {
    const auto& p = c.plan;
    if (c.source->database == "casme2") {
      casme2.push_back({p.subject.substr(3), p.name, "", std::to_string(p.onset), std::to_string(p.apex),
                        std::to_string(p.offset), "", p.action_units, c.native_emotion});
    } else if (c.source->database == "samm") {
      samm.push_back({p.subject, p.name, "1", std::to_string(p.onset), std::to_string(p.apex), std::to_string(p.offset),
                      std::to_string(p.frames()), "Micro - 1/2", p.action_units, c.native_emotion, "", ""});
      samm_lines.push_back(samm_lines.back() + 1);
    }
    report.frames += p.frames();
  }
  if (casme2.size() > 1) {
    write_xlsx(options.out / "CASME2" / "CASME2-coding-20140508.xlsx", {XlsxSheet{"Sheet1", casme2, {}}});
  }
  if (samm.size() > 14) {
    std::vector<std::vector<std::string>> kept;
    std::vector<int> lines;
    // Empty preamble rows are left out of the sheet, as Excel does; the header stays on row 14.
    for (std::size_t k = 0; k < samm.size(); ++k)
      if (!samm[k].empty()) kept.push_back(samm[k]), lines.push_back(samm_lines[k]);
    write_xlsx(options.out / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx", {XlsxSheet{"MICRO_ONLY", kept, lines}});
  }
  report.table = options.out / "CASME2" / "CASME2-coding-20140508.xlsx";
  progress.finish(detail::concat(frames_written.load(), " frames"));
  logger()->info("synth: wrote {} clips ({} frames) of the MEGC2019 composite", report.clips, report.frames);
  return report;
}

}  // namespace mer
