#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/data/megc2019.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_map>

namespace mer {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "s01" → "s1" ("s0" stays): the list pads SMIC subject numbers, the folders do not.
std::string unpad_smic_subject(const std::string& s) {
  if (s.size() < 2 || s[0] != 's' || !all_digits(s.substr(1))) return s;
  const auto first = s.find_first_not_of('0', 1);
  return first == std::string::npos ? "s0" : "s" + s.substr(first);
}

// Every emotion each source's table uses, so that the default label map drops nothing and a listed sample
// can only be missing because the data lacks it. SMIC's classes are its folder names.
const std::map<std::string, std::vector<std::string>>& permissive_classes() {
  static const std::map<std::string, std::vector<std::string>> classes = {
      {"smic", {"negative", "positive", "surprise"}},
      {"casme2", {"happiness", "surprise", "disgust", "repression", "others", "sadness", "fear"}},
      {"samm", {"Anger", "Contempt", "Disgust", "Fear", "Happiness", "Other", "Sadness", "Surprise"}},
  };
  return classes;
}

// The usual folder names under MER_DATA_ROOT.
const std::map<std::string, std::string>& default_roots() {
  static const std::map<std::string, std::string> roots = {
      {"smic", "${MER_DATA_ROOT}/SMIC"}, {"casme2", "${MER_DATA_ROOT}/CASME2"}, {"samm", "${MER_DATA_ROOT}/SAMM"}};
  return roots;
}

std::string key_of(const std::string& database, const std::string& subject, const std::string& clip) {
  return database + '\n' + megc2019_disk_subject(database, subject) + '\n' + megc2019_disk_clip(database, clip);
}

std::string row_text(const Megc2019Row& r) {
  return detail::concat(megc2019_list_name(), ":", r.line, " (", r.database, ",", r.subject, ",", r.filename, ",",
                        r.label, ")");
}

}  // namespace

const std::vector<std::string>& megc2019_classes() {
  static const std::vector<std::string> classes = {"negative", "positive", "surprise"};
  return classes;
}

const std::vector<std::string>& megc2019_sources() {
  static const std::vector<std::string> sources = {"casme2", "smic", "samm"};
  return sources;
}

const std::string& megc2019_list_name() {
  static const std::string name = "combined_3class_gt.csv";
  return name;
}

std::vector<Megc2019Row> parse_megc2019_list(const std::string& text, const std::string& name) {
  const auto table = Table::parse_csv(text, name, /*has_header=*/false);
  const auto& sources = megc2019_sources();
  std::vector<Megc2019Row> rows;
  rows.reserve(table.rows.size());
  std::map<std::string, int> seen;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const auto where = table.where(r);
    MER_CHECK(cells.size() >= 4, DataError, where, ": expected 4 cells (database, subject, filename, label), got ",
              cells.size());
    Megc2019Row row;
    row.line = table.lines[r];
    row.database = trim(cells[0]);
    row.subject = trim(cells[1]);
    row.filename = trim(cells[2]);
    MER_CHECK(std::find(sources.begin(), sources.end(), row.database) != sources.end(), DataError, where,
              ": database '", row.database, "' is not one of casme2, smic, samm");
    MER_CHECK(!row.subject.empty() && !row.filename.empty(), DataError, where, ": subject or filename is empty");
    const auto label = parse_int_cell(cells[3]);
    MER_CHECK(label && *label >= 0 && *label <= 2, DataError, where,
              ": label must be 0 (negative), 1 (positive) or 2 (surprise), got '", trim(cells[3]), "'");
    row.label = *label;
    if (auto [it, fresh] = seen.emplace(key_of(row.database, row.subject, row.filename), row.line); !fresh)
      throw DataError(detail::concat(where, ": ", row.database, " ", row.subject, "/", row.filename,
                                     " is listed twice (also on line ", it->second, ")"));
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::vector<Megc2019Row>& megc2019_official_list() {
  static const std::vector<Megc2019Row> rows = parse_megc2019_list(megc2019_official_list_text(), megc2019_list_name());
  return rows;
}

std::string megc2019_disk_subject(const std::string& database, const std::string& subject) {
  if (database == "smic") return unpad_smic_subject(subject);
  if (database == "samm" && all_digits(subject) && subject.size() < 3)
    return std::string(3 - subject.size(), '0') + subject;
  return subject;
}

std::string megc2019_disk_clip(const std::string& database, const std::string& filename) {
  if (database != "smic") return filename;
  // "s01_ne_01": only the subject part before the first '_' is padded in the list.
  const auto cut = filename.find('_');
  if (cut == std::string::npos) return filename;
  return unpad_smic_subject(filename.substr(0, cut)) + filename.substr(cut);
}

Megc2019Options Megc2019Options::from_config(const ConfigNode& node) {
  Megc2019Options o;
  o.on_missing = node.get<std::string>("on_missing", o.on_missing);
  if (o.on_missing != "fail" && o.on_missing != "skip")
    throw ConfigError(detail::concat(node.where("on_missing"), ": '", node.key_path("on_missing"),
                                     "' must be fail or skip, got '", o.on_missing, "'"));
  return o;
}

Megc2019Dataset::Megc2019Dataset(Megc2019Options options, std::map<std::string, std::unique_ptr<Dataset>> sources,
                                 const std::vector<Megc2019Row>& list)
    : options_(std::move(options)), labels_(megc2019_classes(), {}) {
  MER_CHECK(options_.on_missing == "fail" || options_.on_missing == "skip", ValueError,
            "megc2019 on_missing must be fail or skip, got '", options_.on_missing, "'");
  for (const auto& [key, source] : sources) {
    MER_CHECK(source != nullptr, ValueError, "megc2019: source '", key, "' is null");
    MER_CHECK(source->name() == key, ValueError, "megc2019: the source given as '", key, "' is a '", source->name(),
              "' dataset");
  }

  // Exclusions carry only the sample ID ("<dataset>/<subject>/<clip>"); "" when it has another shape.
  const auto excluded_key = [](const std::string& source, const SkipRecord& x) {
    const auto a = x.sample_id.find('/');
    const auto b = a == std::string::npos ? a : x.sample_id.find('/', a + 1);
    if (b == std::string::npos) return std::string();
    return key_of(source, x.sample_id.substr(a + 1, b - a - 1), x.sample_id.substr(b + 1));
  };
  // Everything each source loaded or left out, keyed in the on-disk ID convention.
  std::unordered_map<std::string, const SampleMeta*> loaded;
  std::unordered_map<std::string, const SkipRecord*> left_out;
  for (const auto& [key, source] : sources) {
    for (const auto& s : source->samples()) loaded.emplace(key_of(key, s.subject, s.clip), &s);
    for (const auto& x : source->excluded())
      if (auto k = excluded_key(key, x); !k.empty()) left_out.emplace(k, &x);
  }

  std::set<std::string> listed;
  std::vector<std::string> missing;
  for (const auto& row : list) {
    const auto key = key_of(row.database, row.subject, row.filename);
    listed.insert(key);
    const auto disk_subject = megc2019_disk_subject(row.database, row.subject);
    const auto disk_clip = megc2019_disk_clip(row.database, row.filename);
    const auto id = row.database + "/" + disk_subject + "/" + disk_clip;
    const auto src = sources.find(row.database);
    const auto hit = loaded.find(key);
    if (src == sources.end() || hit == loaded.end()) {
      std::string what = row_text(row) + ": ";
      if (src == sources.end()) {
        what += "no " + row.database + " dataset was given";
      } else {
        what += detail::concat("the ", row.database, " dataset (", src->second->samples().size(),
                               " samples) has no sample with subject '", disk_subject, "' and clip '", disk_clip, "'");
        if (auto x = left_out.find(key); x != left_out.end())
          what += detail::concat("; it left ", x->second->sample_id, " out (", x->second->stage, ": ",
                                 x->second->reason, ")");
      }
      if (options_.on_missing == "fail") throw DataError(what + " (on_missing: fail; use skip to leave it out)");
      excluded_.push_back({id, "megc2019", what});
      missing.push_back(id);
      continue;
    }
    const SampleMeta& found = *hit->second;
    const Dataset& source = *src->second;
    const auto& list_class = megc2019_classes()[static_cast<std::size_t>(row.label)];
    // A 3-class map on the source (the published rules) must agree with the organisers' labels.
    if (source.labels().classes() == megc2019_classes() && found.label != row.label)
      throw DataError(detail::concat(row_text(row), ": the list labels ", found.id, " '", list_class, "', but the ",
                                     row.database, " label map sends its emotion '", found.emotion, "' to '",
                                     source.labels().name(found.label), "' (", found.source, ")"));
    SampleMeta s = found;
    s.source = detail::concat(megc2019_list_name(), ":", row.line, " (", row.database, " emotion '", found.emotion,
                              "' at ", found.source, ")");
    s.emotion = list_class;
    s.label = row.label;
    samples_.push_back(std::move(s));
  }

  for (const auto& [key, source] : sources) {
    // A listed sample's own exclusion is already quoted in its megc2019 record.
    for (const auto& x : source->excluded())
      if (!listed.count(excluded_key(key, x))) excluded_.push_back(x);
    for (const auto& s : source->samples())
      if (!listed.count(key_of(key, s.subject, s.clip)))
        excluded_.push_back({s.id, "megc2019", "not in the MEGC2019 list (emotion '" + s.emotion + "')"});
  }

  MER_CHECK(!samples_.empty(), DataError, "megc2019: none of the ", list.size(), " listed samples was found");
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    logger()->warn("megc2019: {} listed sample(s) not found in their source and skipped (on_missing: skip): {}",
                   missing.size(), names);
  }
  std::map<std::string, std::size_t> per_source;
  for (const auto& s : samples_) ++per_source[s.dataset];
  std::string counts;
  for (const auto& [source, n] : per_source) counts += detail::concat(counts.empty() ? "" : ", ", source, " ", n);
  logger()->info("megc2019: {} of {} listed samples ({}); {} excluded", samples_.size(), list.size(), counts,
                 excluded_.size());
}

std::unique_ptr<Dataset> build_megc2019(const ConfigNode& node, const DatasetRegistry& registry) {
  if (node.has("labels"))
    throw ConfigError(node.where("labels") +
                      ": the megc2019 composite takes its labels from the official list; a label map belongs under "
                      "smic:, casme2: or samm: (e.g. configs/_base_/labels/megc2019_3class.yaml)");
  auto options = Megc2019Options::from_config(node);
  std::map<std::string, std::unique_ptr<Dataset>> sources;
  for (const auto& name : {"smic", "casme2", "samm"}) {
    const auto section = node.child(name);
    section.get<std::string>("type", name);
    section.get<std::string>("root", default_roots().at(name));
    if (!section.has("labels"))
      section.child("labels").get<std::vector<std::string>>("classes", permissive_classes().at(name));
    // The list keeps SAMM 028_4_1, 032_3_1 and 032_3_2, whose v2 apexes lie outside their clips; the
    // adapter's own default (fail) would refuse the composite as published.
    if (std::string(name) == "samm") section.get<std::string>("apex_out_of_range", "midpoint");
    // The registry adds "while datasets '<name>' at file:line" to any error, inside the composite's own.
    auto source = registry.build(section);
    if (source->name() != name)
      throw ConfigError(detail::concat(section.where("type"), ": '", section.key_path("type"), "' builds a '",
                                       source->name(), "' dataset; the megc2019 section '", name, "' needs ", name));
    sources.emplace(name, std::move(source));
  }
  return std::make_unique<Megc2019Dataset>(std::move(options), std::move(sources));
}

}  // namespace mer
