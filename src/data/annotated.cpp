#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/annotated.hpp>

#include "detail/adapter_support.hpp"
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace mer {


QuirkPolicies QuirkPolicies::from_config(const ConfigNode& node, const std::string& missing_default) {
  QuirkPolicies p;
  p.missing_apex = node.get<std::string>("missing_apex", missing_default);
  p.apex_out_of_range = node.get<std::string>("apex_out_of_range", p.apex_out_of_range);
  node.check_choice("missing_apex", p.missing_apex, {"estimate", "midpoint", "skip", "fail"});
  node.check_choice("apex_out_of_range", p.apex_out_of_range, {"clamp", "estimate", "midpoint", "skip", "fail"});
  return p;
}

namespace {
const std::vector<std::string> kMissingFrames = {"fail", "skip"};
}  // namespace

AdapterOptions AdapterOptions::from_config(const ConfigNode& node) {
  AdapterOptions o;
  o.check_frames = node.get<bool>("check_frames", o.check_frames);
  o.missing_frames = node.get_choice("missing_frames", o.missing_frames, kMissingFrames);
  o.policies = QuirkPolicies::from_config(node);
  o.labels = LabelMap::from_config(node.child("labels"));
  o.sample_list = SampleListOptions::from_config(node.child("sample_list"));
  return o;
}

void AdapterOptions::check(const std::string& dataset) const {
  detail::check_choice(dataset, "missing_frames", missing_frames, kMissingFrames);
}

bool apply_apex_policies(const QuirkPolicies& p, SampleMeta& s, const std::string& where, std::string& skip_reason) {
  if (s.onset < 0 || s.offset < 0 || s.onset > s.offset)
    throw DataError(detail::concat(where, ": sample ", s.id, " has onset ", s.onset, " and offset ", s.offset,
                                   "; expected 0 <= onset <= offset"));
  const auto resolve = [&](const std::string& policy, const std::string& what) {
    if (policy == "fail")
      throw DataError(detail::concat(where, ": sample ", s.id, ": ", what,
                                     " (choose a policy: missing_apex / apex_out_of_range)"));
    if (policy == "skip") {
      skip_reason = what;
      return false;
    }
    const int before = s.apex;
    if (policy == "midpoint") s.apex = (s.onset + s.offset) / 2;
    else if (policy == "estimate") s.apex = -1;
    else if (policy == "clamp") s.apex = std::clamp(s.apex, s.onset, s.offset);
    s.quirks.push_back(detail::concat(what, " -> ", policy, policy == "estimate" ? "" : " " + std::to_string(s.apex),
                                      before >= 0 ? " (was " + std::to_string(before) + ")" : ""));
    return true;
  };
  if (s.apex < 0) return resolve(p.missing_apex, "no usable apex");
  if (s.apex < s.onset || s.apex > s.offset)
    return resolve(p.apex_out_of_range, detail::concat("apex ", s.apex, " outside onset..offset ", s.onset, "..", s.offset));
  return true;
}

bool AnnotatedDataset::add(SampleMeta s) {
  const auto index = labels_.classify(s.emotion, s.action_units);
  if (!index) {
    exclude(s.id, "label_map", "emotion '" + s.emotion + "' is not mapped to a class");
    return false;
  }
  s.label = *index;
  samples_.push_back(std::move(s));
  return true;
}

void AnnotatedDataset::admit(SampleMeta s, const AdapterOptions& options, const std::string& where,
                             const std::function<bool(SampleMeta&, std::string&)>& extra) {
  if (!labels_.classify(s.emotion, s.action_units)) {
    add(std::move(s));  // recorded as excluded by the label map
    return;
  }
  std::string skip;
  const bool kept = (!extra || extra(s, skip)) && apply_apex_policies(options.policies, s, where, skip) &&
                    (!options.check_frames || detail::check_key_frames(s, where, options.missing_frames, skip));
  if (kept) add(std::move(s));
  else exclude(s.id, "dataset", skip);
}

void AnnotatedDataset::exclude(const std::string& sample_id, const std::string& stage, const std::string& reason) {
  excluded_.push_back(SkipRecord{sample_id, stage, reason});
}

SampleListOptions SampleListOptions::from_config(const ConfigNode& node) {
  SampleListOptions o;
  o.file = node.get_path("file", o.file.string());
  o.sheet = node.get<std::string>("sheet", o.sheet);
  o.has_header = node.get<bool>("has_header", o.has_header);
  o.subject = node.get<std::string>("subject", o.subject);
  o.clip = node.get<std::string>("clip", o.clip);
  o.onset = node.get<std::string>("onset", o.onset);
  o.apex = node.get<std::string>("apex", o.apex);
  o.offset = node.get<std::string>("offset", o.offset);
  o.label = node.get<std::string>("label", o.label);
  o.dataset_column = node.get<std::string>("dataset_column", o.dataset_column);
  o.dataset = node.get<std::string>("dataset", o.dataset);
  o.label_names = node.get_string_map("label_names");
  o.use_frames = node.get<bool>("use_frames", o.use_frames);
  o.use_labels = node.get<bool>("use_labels", o.use_labels);
  o.check_frames = node.get<bool>("check_frames", o.check_frames);
  o.on_unmatched = node.get<std::string>("on_unmatched", o.on_unmatched);
  node.check_choice("on_unmatched", o.on_unmatched, {"report", "fail"});
  // A dataset filter with one half missing would silently keep every row (or none).
  if (o.dataset_column.empty() != o.dataset.empty())
    throw ConfigError(node.where() + ": '" + node.key_path("dataset_column") + "' and '" + node.key_path("dataset") +
                      "' go together; got only one of them");
  if (o.use_labels && o.label.empty())
    throw ConfigError(node.where("use_labels") + ": '" + node.key_path("use_labels") +
                      "' needs a 'label' column");
  if (o.use_frames && o.onset.empty() && o.apex.empty() && o.offset.empty())
    throw ConfigError(node.where("use_frames") + ": '" + node.key_path("use_frames") +
                      "' needs at least one of the onset / apex / offset columns");
  return o;
}

namespace {

// Lower case, and every run of digits without its leading zeros: "EP02_01f" -> "ep2_1f", "006" -> "6".
std::string normalise_id(const std::string& id) {
  std::string out;
  const std::string t = trim(id);
  for (std::size_t i = 0; i < t.size();) {
    if (std::isdigit(static_cast<unsigned char>(t[i]))) {
      std::size_t j = i;
      while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) ++j;
      std::size_t k = i;
      while (k + 1 < j && t[k] == '0') ++k;
      out.append(t, k, j - k);
      i = j;
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
      ++i;
    }
  }
  return out;
}

std::optional<std::size_t> resolve_column(const Table& table, const std::string& spec, const std::string& key) {
  if (spec.empty()) return std::nullopt;
  const std::string t = trim(spec);
  if (std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); })) {
    const std::size_t index = std::stoul(t);
    std::size_t width = table.header.size();
    for (const auto& row : table.rows) width = std::max(width, row.size());
    MER_CHECK(index < width, DataError, table.file.string(), ": sample_list column '", key, "' is index ", index,
              " but the widest row has ", width, " columns");
    return index;
  }
  MER_CHECK(!table.header.empty(), DataError, table.file.string(), ": sample_list column '", key, "' names '", t,
            "' but the list is read without a header (has_header: false); give a 0-based index");
  return table.column(t);
}

}  // namespace

std::string sample_list_subject_key(const std::string& subject) {
  std::string key = normalise_id(subject);
  // CASME II folders are "sub01", its table writes "01"; SMIC folders "s1", SMIC-E lists write "1".
  for (const std::string prefix : {"sub", "s"})
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
        std::isdigit(static_cast<unsigned char>(key[prefix.size()])))
      return key.substr(prefix.size());
  return key;
}

std::string sample_list_clip_key(const std::string& clip) { return normalise_id(clip); }

std::vector<SampleListRow> read_sample_list(const SampleListOptions& o) {
  MER_CHECK(o.enabled(), ValueError, "read_sample_list: no file given");
  TableOptions topts;
  topts.sheet = o.sheet;
  topts.has_header = o.has_header;
  const Table table = read_table(o.file, topts);
  const auto c_subject = resolve_column(table, o.subject, "subject");
  const auto c_clip = resolve_column(table, o.clip, "clip");
  MER_CHECK(c_subject && c_clip, DataError, o.file.string(), ": sample_list needs the subject and clip columns");
  const auto c_onset = resolve_column(table, o.onset, "onset");
  const auto c_apex = resolve_column(table, o.apex, "apex");
  const auto c_offset = resolve_column(table, o.offset, "offset");
  const auto c_label = resolve_column(table, o.label, "label");
  const auto c_dataset = resolve_column(table, o.dataset_column, "dataset_column");

  std::vector<SampleListRow> rows;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const auto cell = [&](std::optional<std::size_t> c) { return c && *c < cells.size() ? trim(cells[*c]) : ""; };
    if (c_dataset && cell(c_dataset) != o.dataset) continue;
    SampleListRow row;
    row.where = table.where(r);
    row.subject = cell(c_subject);
    row.clip = cell(c_clip);
    MER_CHECK(!row.subject.empty() && !row.clip.empty(), DataError, row.where, ": sample list row has subject '",
              row.subject, "' and clip '", row.clip, "'; both are needed");
    const auto frame = [&](std::optional<std::size_t> c, const char* what) {
      const std::string v = cell(c);
      if (v.empty() || v == "/") return -1;
      const auto n = parse_int_cell(v);
      MER_CHECK(n && *n >= 0, DataError, row.where, ": sample list ", what, " '", v,
                "' is not a frame number (blank or '/' mark a missing one)");
      return *n;
    };
    row.onset = frame(c_onset, "onset");
    row.apex = frame(c_apex, "apex");
    row.offset = frame(c_offset, "offset");
    row.label = cell(c_label);
    rows.push_back(std::move(row));
  }
  return rows;
}

void AnnotatedDataset::apply_sample_list(const SampleListOptions& list) {
  namespace fs = std::filesystem;
  const auto rows = read_sample_list(list);
  auto& rep = list_report_;
  rep = {};
  rep.file = list.file;
  rep.rows = rows.size();
  const std::string file_name = list.file.filename().string();

  const auto key_of = [](const std::string& subject, const std::string& clip) {
    return sample_list_subject_key(subject) + "/" + sample_list_clip_key(clip);
  };
  std::map<std::string, std::size_t> by_key;
  for (std::size_t i = 0; i < samples_.size(); ++i) by_key.emplace(key_of(samples_[i].subject, samples_[i].clip), i);
  // A listed sample the adapter already left out is still unmatched, but the message says why.
  std::map<std::string, const SkipRecord*> excluded_by_key;
  for (const auto& e : excluded_) {
    const auto last = e.sample_id.rfind('/');
    const auto prev = last == std::string::npos || last == 0 ? std::string::npos : e.sample_id.rfind('/', last - 1);
    if (prev == std::string::npos) continue;
    excluded_by_key.emplace(key_of(e.sample_id.substr(prev + 1, last - prev - 1), e.sample_id.substr(last + 1)), &e);
  }

  std::vector<const SampleListRow*> row_of(samples_.size(), nullptr);
  for (const auto& row : rows) {
    const auto key = key_of(row.subject, row.clip);
    const auto it = by_key.find(key);
    if (it == by_key.end()) {
      std::string reason = detail::concat(row.where, ": no sample ", row.subject, "/", row.clip, " in ", name_);
      if (const auto ex = excluded_by_key.find(key); ex != excluded_by_key.end())
        reason += detail::concat(" (", ex->second->sample_id, " was excluded at stage ", ex->second->stage, ": ",
                                 ex->second->reason, ")");
      MER_CHECK(list.on_unmatched != "fail", DataError, reason, " (sample_list.on_unmatched: fail)");
      rep.unmatched.push_back(SkipRecord{row.subject + "/" + row.clip, "sample_list", reason});
      continue;
    }
    MER_CHECK(row_of[it->second] == nullptr, DataError, row.where, ": sample list row ", row.subject, "/", row.clip,
              " matches ", samples_[it->second].id, ", already matched by ", row_of[it->second]->where);
    row_of[it->second] = &row;
  }

  std::vector<SampleMeta> kept;
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    auto& s = samples_[i];
    const SampleListRow* row = row_of[i];
    if (!row) {
      exclude(s.id, "sample_list", "not in " + file_name);
      continue;
    }
    ++rep.matched;
    bool frames_differ = false;
    const auto frame = [&](const std::string& column, int listed, int& value, const char* what, std::size_t& count) {
      if (column.empty() || listed == value) return;
      frames_differ = true;
      ++count;
      if (listed < 0) {
        // A blank cell is not a claim about the frame: report it and keep the table's value.
        rep.differences.push_back(detail::concat(s.id, ": ", what, " ", value, " (table) vs blank (list, ", row->where,
                                                 ") -> table"));
        return;
      }
      const bool apply = list.use_frames;
      rep.differences.push_back(detail::concat(s.id, ": ", what, " ", value, " (table) vs ", listed, " (list, ",
                                               row->where, ") -> ", apply ? "list" : "table"));
      if (!apply) return;
      s.quirks.push_back(detail::concat("sample list ", file_name, ": ", what, " ", listed, " (table ", value, ")"));
      value = listed;
    };
    frame(list.onset, row->onset, s.onset, "onset", rep.onset_differs);
    frame(list.apex, row->apex, s.apex, "apex", rep.apex_differs);
    frame(list.offset, row->offset, s.offset, "offset", rep.offset_differs);
    rep.frames_differ += frames_differ;
    if (frames_differ && list.use_frames) {
      MER_CHECK(s.onset >= 0 && s.onset <= s.offset && (s.apex < 0 || (s.apex >= s.onset && s.apex <= s.offset)),
                DataError, row->where, ": sample ", s.id, " with the list's frames has onset ", s.onset, ", apex ",
                s.apex, ", offset ", s.offset, "; expected onset <= apex <= offset");
      if (list.check_frames && !s.from_video() && !s.clip_dir.empty())
        for (const int f : {s.onset, s.apex, s.offset}) {
          if (f < 0) continue;
          const fs::path path = s.frame_path(f);
          MER_CHECK(fs::exists(path), DataError, row->where, ": sample ", s.id, ": the list's frame ", f,
                    " is missing (", path.string(), "); sample_list.check_frames: false skips this check");
        }
    }

    if (!list.label.empty()) {
      std::string emotion = row->label;
      if (!list.label_names.empty()) {
        const auto it = list.label_names.find(row->label);
        MER_CHECK(it != list.label_names.end(), DataError, row->where, ": sample list label '", row->label,
                  "' is not in sample_list.label_names");
        emotion = it->second;
      }
      if (emotion != s.emotion) {
        ++rep.labels_differ;
        rep.differences.push_back(detail::concat(s.id, ": emotion '", s.emotion, "' (table) vs '", emotion,
                                                 "' (list, ", row->where, ") -> ", list.use_labels ? "list" : "table"));
        if (list.use_labels) {
          const auto index = labels_.classify(emotion, s.action_units);
          if (!index) {
            exclude(s.id, "sample_list",
                    detail::concat(row->where, ": the list's emotion '", emotion, "' is not mapped to a class"));
            continue;
          }
          s.quirks.push_back(detail::concat("sample list ", file_name, ": emotion '", emotion, "' (table '", s.emotion,
                                            "')"));
          s.emotion = emotion;
          s.label = *index;
        }
      }
    }
    kept.push_back(std::move(s));
  }
  samples_ = std::move(kept);

  logger()->info("{}: sample list {}: {} rows, {} matched, {} unmatched; frames differ on {} samples (onset {}, "
                 "apex {}, offset {}){}, emotions on {}{}",
                 name_, file_name, rep.rows, rep.matched, rep.unmatched.size(), rep.frames_differ, rep.onset_differs,
                 rep.apex_differs, rep.offset_differs, list.use_frames ? ", list frames used" : ", table frames kept",
                 rep.labels_differ, list.use_labels ? ", list labels used" : ", table labels kept");
  if (!rep.unmatched.empty()) {
    std::string which;
    for (const auto& u : rep.unmatched) which += (which.empty() ? "" : "; ") + u.reason;
    logger()->warn("{}: {} sample list rows match no sample: {}", name_, rep.unmatched.size(), which);
  }
}

void AnnotatedDataset::finish(const SampleListOptions& sample_list) {
  if (sample_list.enabled()) apply_sample_list(sample_list);
  if (const int min = labels_.min_samples_per_class(); min > 0) {
    std::vector<int> count(labels_.num_classes(), 0);
    for (const auto& s : samples_) ++count[s.label];
    std::vector<std::string> keep;
    for (int c = 0; c < labels_.num_classes(); ++c)
      if (count[c] >= min) keep.push_back(labels_.name(c));
    if (static_cast<int>(keep.size()) < labels_.num_classes()) {
      MER_CHECK(!keep.empty(), DataError, name_, ": no class has at least ", min, " samples (min_samples_per_class)");
      const auto old = labels_;
      labels_ = labels_.restricted_to(keep);
      std::vector<SampleMeta> kept;
      for (auto& s : samples_) {
        if (auto index = labels_.classify(s.emotion, s.action_units)) {
          s.label = *index;
          kept.push_back(std::move(s));
        } else {
          exclude(s.id, "min_samples_per_class",
                  detail::concat("class '", old.name(s.label), "' has ", count[s.label], " samples, fewer than ", min));
        }
      }
      samples_ = std::move(kept);
    }
  }
  MER_CHECK(!samples_.empty(), DataError, name_, ": no sample is left after the label map (", excluded_.size(),
            " excluded); check dataset.labels");
  std::size_t quirky = 0;
  for (const auto& s : samples_) quirky += !s.quirks.empty();
  logger()->info("{}: {} samples, {} classes; {} excluded; quirk policies applied to {} samples", name_,
                 samples_.size(), labels_.num_classes(), excluded_.size(), quirky);
}

}  // namespace mer
