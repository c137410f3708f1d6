#include <mer/core/error.hpp>
#include <mer/data/annotated.hpp>
#include <mer/data/check.hpp>
#include <mer/data/frames.hpp>
#include <mer/meta/table.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>

namespace mer {
namespace fs = std::filesystem;

namespace {

// A plain-text table: the first column left-aligned, the others right-aligned.
std::string text_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::ostringstream out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      const auto pad = std::string(width[c] - r[c].size(), ' ');
      line += c == 0 ? "  " + r[c] + pad : "  " + pad + r[c];
    }
    out << line << "\n";
  }
  return out.str();
}

std::int64_t sum(const std::vector<std::int64_t>& v) {
  std::int64_t s = 0;
  for (auto x : v) s += x;
  return s;
}

nlohmann::json per_class_json(const DatasetCounts& c) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t k = 0; k < c.classes.size(); ++k) j[c.classes[k]] = c.per_class[k];
  return j;
}

void check_frames(const SampleMeta& s, const DataCheckOptions& options, DataReport& report) {
  auto problem = [&](int frame, const fs::path& path, const char* what, const std::string& detail) {
    report.frame_problems.push_back({s.id, frame, path, what, detail});
  };
  std::set<int> missing;
  if (s.from_video()) {
    ++report.frames_checked;
    std::error_code ec;
    if (!fs::is_regular_file(s.video, ec)) {
      problem(-1, s.video, "missing", "video file '" + s.video.string() + "' does not exist");
      return;
    }
  } else if (options.all_frames) {
    for (int f = s.onset; f <= s.offset; ++f) {
      ++report.frames_checked;
      const auto path = s.frame_path(f);
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) {
        missing.insert(f);
        problem(f, path, "missing", "frame file '" + path.string() + "' does not exist");
      }
    }
  }
  if (!options.decode_key_frames) return;
  std::set<int> key = {s.onset, s.offset};
  if (s.apex >= 0) key.insert(s.apex);
  for (int f : key) {
    if (missing.count(f)) continue;
    try {
      ++report.frames_decoded;
      load_frame(s, f, ColorMode::Gray);
    } catch (const Error& e) {
      const auto path = s.from_video() ? s.video : s.frame_path(f);
      std::error_code ec;
      const bool there = fs::exists(path, ec);
      problem(f, path, there ? "unreadable" : "missing", e.message());
    }
  }
}

}  // namespace

DatasetCounts count_samples(const std::vector<SampleMeta>& samples, const std::vector<std::string>& classes) {
  DatasetCounts c;
  c.classes = classes;
  c.n_samples = samples.size();
  c.per_class.assign(classes.size(), 0);
  std::map<std::string, std::vector<std::int64_t>> by_subject;
  for (const auto& s : samples) {
    MER_CHECK(s.label >= 0 && s.label < static_cast<int>(classes.size()), ValueError, "sample ", s.id, " has label ",
              s.label, "; expected 0..", classes.size() - 1);
    ++c.per_class[static_cast<std::size_t>(s.label)];
    auto& row = by_subject[s.group_key()];
    row.resize(classes.size(), 0);
    ++row[static_cast<std::size_t>(s.label)];
  }
  for (auto& [subject, row] : by_subject) {
    c.subjects.push_back(subject);
    c.by_subject.push_back(std::move(row));
  }
  return c;
}

DataReport check_dataset(const Dataset& dataset, const DataCheckOptions& options) {
  DataReport r;
  r.dataset = dataset.name();
  const auto& samples = dataset.samples();
  r.counts = count_samples(samples, dataset.labels().classes());
  std::map<std::string, std::vector<SampleMeta>> by_source;
  for (const auto& s : samples) by_source[s.dataset].push_back(s);
  if (by_source.size() > 1)
    for (const auto& [source, list] : by_source) r.per_source[source] = count_samples(list, dataset.labels().classes());
  for (const auto& s : samples) {
    for (const auto& q : s.quirks) r.quirks.emplace_back(s.id, q);
    r.quirky_samples += !s.quirks.empty();
  }
  r.excluded = dataset.excluded();
  if (const auto* annotated = dynamic_cast<const AnnotatedDataset*>(&dataset);
      annotated && !annotated->sample_list_report().file.empty())
    r.sample_list = annotated->sample_list_report();

  if (options.all_frames || options.decode_key_frames) {
    Progress progress("checking frames of " + r.dataset, samples.size(), options.progress);
    for (const auto& s : samples) {
      check_frames(s, options, r);
      progress.tick();
    }
    progress.finish(std::to_string(r.frame_problems.size()) + " frame problem(s)");
  }
  return r;
}

std::string data_report_json(const DataReport& r) {
  using nlohmann::json;
  json j;
  j["dataset"] = r.dataset;
  j["n_samples"] = r.counts.n_samples;
  j["n_subjects"] = r.counts.subjects.size();
  j["classes"] = r.counts.classes;
  j["per_class"] = per_class_json(r.counts);
  json subjects = json::object();
  for (std::size_t i = 0; i < r.counts.subjects.size(); ++i) {
    json row = json::object();
    for (std::size_t k = 0; k < r.counts.classes.size(); ++k) row[r.counts.classes[k]] = r.counts.by_subject[i][k];
    subjects[r.counts.subjects[i]] = row;
  }
  j["per_subject"] = subjects;
  if (!r.per_source.empty()) {
    json sources = json::object();
    for (const auto& [source, c] : r.per_source)
      sources[source] = {{"n_samples", c.n_samples}, {"n_subjects", c.subjects.size()}, {"per_class", per_class_json(c)}};
    j["per_source"] = sources;
  }
  j["n_excluded"] = r.excluded.size();
  json excluded = json::array();
  for (const auto& x : r.excluded) excluded.push_back({{"sample_id", x.sample_id}, {"stage", x.stage}, {"reason", x.reason}});
  j["excluded"] = excluded;
  if (r.sample_list) {
    const auto& l = *r.sample_list;
    json unmatched = json::array();
    for (const auto& x : l.unmatched)
      unmatched.push_back({{"sample_id", x.sample_id}, {"stage", x.stage}, {"reason", x.reason}});
    j["sample_list"] = {{"file", l.file.string()},         {"rows", l.rows},
                        {"matched", l.matched},            {"unmatched", unmatched},
                        {"onset_differs", l.onset_differs}, {"apex_differs", l.apex_differs},
                        {"offset_differs", l.offset_differs}, {"frames_differ", l.frames_differ},
                        {"labels_differ", l.labels_differ}, {"differences", l.differences}};
  }
  j["quirks"] = r.quirks.size();
  j["quirky_samples"] = r.quirky_samples;
  json quirks = json::array();
  for (const auto& [id, q] : r.quirks) quirks.push_back({{"sample_id", id}, {"quirk", q}});
  j["quirk_list"] = quirks;
  j["frames_checked"] = r.frames_checked;
  j["frames_decoded"] = r.frames_decoded;
  json missing = json::array();
  for (const auto& p : r.frame_problems)
    missing.push_back({{"sample_id", p.sample_id}, {"frame", p.frame}, {"path", p.path.string()},
                       {"problem", p.problem}, {"detail", p.detail}});
  j["missing_frames"] = missing;
  j["usable"] = r.usable();
  return j.dump(2) + "\n";
}

std::string data_report_text(const DataReport& r) {
  const auto& c = r.counts;
  std::ostringstream out;
  out << "dataset " << r.dataset << ": " << c.n_samples << " samples, " << c.subjects.size() << " subjects, "
      << c.classes.size() << " classes\n\n";

  std::vector<std::vector<std::string>> rows = {{"class", "samples"}};
  for (std::size_t k = 0; k < c.classes.size(); ++k) rows.push_back({c.classes[k], std::to_string(c.per_class[k])});
  rows.push_back({"total", std::to_string(c.n_samples)});
  out << text_table(rows) << "\n";

  if (!r.per_source.empty()) {
    rows = {{"source", "samples", "subjects"}};
    for (const auto& name : c.classes) rows[0].push_back(name);
    for (const auto& [source, sc] : r.per_source) {
      rows.push_back({source, std::to_string(sc.n_samples), std::to_string(sc.subjects.size())});
      for (auto n : sc.per_class) rows.back().push_back(std::to_string(n));
    }
    out << "per source:\n" << text_table(rows) << "\n";
  }

  rows = {{"subject"}};
  for (const auto& name : c.classes) rows[0].push_back(name);
  rows[0].push_back("total");
  for (std::size_t i = 0; i < c.subjects.size(); ++i) {
    rows.push_back({c.subjects[i]});
    for (auto n : c.by_subject[i]) rows.back().push_back(std::to_string(n));
    rows.back().push_back(std::to_string(sum(c.by_subject[i])));
  }
  out << "per subject:\n" << text_table(rows) << "\n";

  out << "excluded: " << r.excluded.size() << " row(s)\n";
  if (!r.excluded.empty()) {
    // Reasons are free text: keep them left-aligned after the two short columns.
    std::size_t w0 = 0, w1 = 0;
    for (const auto& x : r.excluded) w0 = std::max(w0, x.sample_id.size()), w1 = std::max(w1, x.stage.size());
    for (const auto& x : r.excluded)
      out << "  " << x.sample_id << std::string(w0 - x.sample_id.size(), ' ') << "  " << x.stage
          << std::string(w1 - x.stage.size(), ' ') << "  " << x.reason << "\n";
  }
  if (r.sample_list) {
    const auto& l = *r.sample_list;
    out << "\nsample list " << l.file.string() << ": " << l.rows << " row(s), " << l.matched << " matched, "
        << l.unmatched.size() << " unmatched; frames differ on " << l.frames_differ << " sample(s) (onset "
        << l.onset_differs << ", apex " << l.apex_differs << ", offset " << l.offset_differs << "), emotions on "
        << l.labels_differ << "\n";
    for (const auto& x : l.unmatched) out << "  unmatched  " << x.reason << "\n";
    for (const auto& d : l.differences) out << "  " << d << "\n";
  }
  out << "\nquirk policies applied: " << r.quirks.size() << " (" << r.quirky_samples << " sample(s))\n";
  for (const auto& [id, q] : r.quirks) out << "  " << id << ": " << q << "\n";

  out << "\nframes: " << r.frames_checked << " frame file(s) looked for, " << r.frames_decoded
      << " key frame(s) decoded\n";
  if (r.usable()) {
    out << "no frame is missing or unreadable\n";
  } else {
    out << r.frame_problems.size() << " frame(s) missing or unreadable:\n";
    for (const auto& p : r.frame_problems)
      out << "  " << p.problem << "  " << p.sample_id << " frame " << p.frame << "  " << p.path.string() << "\n";
  }
  return out.str();
}

std::string class_subject_csv(const DatasetCounts& c) {
  std::string out = "subject";
  for (const auto& name : c.classes) out += "," + csv_escape(name);
  out += ",total\n";
  for (std::size_t i = 0; i < c.subjects.size(); ++i) {
    out += csv_escape(c.subjects[i]);
    for (auto n : c.by_subject[i]) out += "," + std::to_string(n);
    out += "," + std::to_string(sum(c.by_subject[i])) + "\n";
  }
  out += "total";
  for (auto n : c.per_class) out += "," + std::to_string(n);
  out += "," + std::to_string(c.n_samples) + "\n";
  return out;
}

}  // namespace mer
