#include <mer/core/error.hpp>
#include <mer/data/megc2019.hpp>
#include <mer/eval/folds.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "support/native_trees.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

std::string without_cr(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

// (source, class) → count, and source → subjects, of a sample list.
struct Counts {
  std::map<std::string, std::map<std::string, int>> per_class;
  std::map<std::string, std::set<std::string>> subjects;
  std::set<std::string> groups;
};
Counts count(const std::vector<SampleMeta>& samples) {
  Counts c;
  for (const auto& s : samples) {
    ++c.per_class[s.dataset][megc2019_classes().at(static_cast<std::size_t>(s.label))];
    c.subjects[s.dataset].insert(s.subject);
    c.groups.insert(s.group_key());
  }
  return c;
}

// The organisers' guideline table (DATASETS.md §0), per source: negative, positive, surprise.
const std::map<std::string, std::map<std::string, int>> kGuideline = {
    {"smic", {{"negative", 70}, {"positive", 51}, {"surprise", 43}}},
    {"casme2", {{"negative", 88}, {"positive", 32}, {"surprise", 25}}},
    {"samm", {{"negative", 92}, {"positive", 26}, {"surprise", 15}}},
};
const std::map<std::string, std::size_t> kSubjects = {{"smic", 16}, {"casme2", 24}, {"samm", 28}};

void expect_guideline_counts(const std::vector<SampleMeta>& samples) {
  ASSERT_EQ(samples.size(), 442u);
  const auto c = count(samples);
  EXPECT_EQ(c.per_class, kGuideline);
  for (const auto& [source, n] : kSubjects) EXPECT_EQ(c.subjects.at(source).size(), n) << source;
  EXPECT_EQ(c.groups.size(), 68u);
  std::map<std::string, int> total;
  for (const auto& [source, classes] : c.per_class)
    for (const auto& [cls, n] : classes) total[cls] += n;
  EXPECT_EQ(total, (std::map<std::string, int>{{"negative", 250}, {"positive", 109}, {"surprise", 83}}));
}

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "message is not one line: " << what;
    return what;
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

// A loaded dataset held in memory, so the composite's matching can be tested on the real tables'
// sample names without frames on disk.
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(std::string name, LabelMap labels, std::vector<SampleMeta> samples, std::vector<SkipRecord> excluded = {})
      : name_(std::move(name)), labels_(std::move(labels)), samples_(std::move(samples)), excluded_(std::move(excluded)) {}
  std::string name() const override { return name_; }
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return labels_; }
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }

 private:
  std::string name_;
  LabelMap labels_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
};

SampleMeta sample(const std::string& dataset, const std::string& subject, const std::string& clip,
                  const std::string& emotion, const LabelMap& labels) {
  SampleMeta s;
  s.id = dataset + "/" + subject + "/" + clip;
  s.dataset = dataset;
  s.subject = subject;
  s.clip = clip;
  s.onset = 1, s.apex = 2, s.offset = 3;
  s.emotion = emotion;
  s.label = labels.index_of(emotion).value_or(-1);
  s.source = dataset + ".csv";
  return s;
}

// Emotion maps of the published relabelling rules (DATASETS.md §9); identity for the "permissive" case.
struct Source {
  std::string name;
  std::vector<std::pair<std::string, std::string>> rows;  // (subject on disk, clip on disk) → emotion below
  std::vector<std::string> emotions;
};

// Every row of the three real tables, named as on disk (SMIC s1/s1_ne_01, SAMM 006).
std::map<std::string, Source> real_sources() {
  std::map<std::string, Source> out;
  auto& casme2 = out["casme2"];
  casme2.name = "casme2";
  const auto ct = Table::read(test::annotations_dir() / "casme2_coding.csv");
  for (const auto& cells : ct.rows) {
    casme2.rows.push_back({"sub" + cells[ct.column("Subject")], cells[ct.column("Filename")]});
    casme2.emotions.push_back(cells[ct.column("Estimated Emotion")]);
  }
  auto& samm = out["samm"];
  samm.name = "samm";
  const auto st = Table::read(test::annotations_dir() / "samm_coding.csv");
  for (const auto& cells : st.rows) {
    samm.rows.push_back({cells[st.column("Subject")], cells[st.column("Filename")]});
    samm.emotions.push_back(cells[st.column("Estimated Emotion")]);
  }
  auto& smic = out["smic"];
  smic.name = "smic";
  const auto mt = Table::read(test::annotations_dir() / "smic_hs.csv", /*has_header=*/false);
  const std::map<std::string, std::string> smic_class = {{"1", "positive"}, {"2", "negative"}, {"3", "surprise"}};
  for (const auto& cells : mt.rows) {
    smic.rows.push_back({megc2019_disk_subject("smic", cells[0]), megc2019_disk_clip("smic", cells[1])});
    smic.emotions.push_back(smic_class.at(cells[5]));
  }
  return out;
}

std::map<std::string, std::unique_ptr<Dataset>> memory_sources(const std::map<std::string, LabelMap>& maps) {
  std::map<std::string, std::unique_ptr<Dataset>> out;
  for (const auto& [name, src] : real_sources()) {
    const auto& labels = maps.at(name);
    std::vector<SampleMeta> samples;
    std::vector<SkipRecord> excluded;
    for (std::size_t i = 0; i < src.rows.size(); ++i) {
      auto s = sample(name, src.rows[i].first, src.rows[i].second, src.emotions[i], labels);
      if (s.label < 0) excluded.push_back({s.id, "label_map", "emotion '" + s.emotion + "' is not in the label map"});
      else samples.push_back(std::move(s));
    }
    out[name] = std::make_unique<MemoryDataset>(name, labels, std::move(samples), std::move(excluded));
  }
  return out;
}

std::map<std::string, LabelMap> permissive_maps() {
  return {{"smic", LabelMap({"negative", "positive", "surprise"}, {})},
          {"casme2", LabelMap({"happiness", "surprise", "disgust", "repression", "others", "sadness", "fear"}, {})},
          {"samm", LabelMap({"Anger", "Contempt", "Disgust", "Fear", "Happiness", "Other", "Sadness", "Surprise"}, {})}};
}

std::map<std::string, LabelMap> published_rule_maps() {
  const std::vector<std::string> three = {"negative", "positive", "surprise"};
  return {{"smic", LabelMap(three, {})},
          {"casme2", LabelMap(three, {{"disgust", "negative"},
                                      {"repression", "negative"},
                                      {"happiness", "positive"},
                                      {"surprise", "surprise"}})},
          {"samm", LabelMap(three, {{"Anger", "negative"},
                                    {"Contempt", "negative"},
                                    {"Disgust", "negative"},
                                    {"Fear", "negative"},
                                    {"Sadness", "negative"},
                                    {"Happiness", "positive"},
                                    {"Surprise", "surprise"}})}};
}

TEST(Megc2019List, EmbeddedListIsTheOfficialFile) {
  const auto shared = read_file(test::annotations_dir() / "megc2019_composite.csv");
  ASSERT_NE(shared.find("\r\n"), std::string::npos) << "the saved official file has CRLF line ends";
  EXPECT_EQ(megc2019_official_list_text(), without_cr(shared));
}

TEST(Megc2019List, HasTheGuidelineCounts) {
  const auto& rows = megc2019_official_list();
  ASSERT_EQ(rows.size(), 442u);
  std::map<std::string, std::map<std::string, int>> per_class;
  std::map<std::string, std::set<std::string>> subjects;
  std::set<std::string> groups;
  for (const auto& r : rows) {
    ++per_class[r.database][megc2019_classes().at(static_cast<std::size_t>(r.label))];
    subjects[r.database].insert(r.subject);
    groups.insert(r.database + "/" + r.subject);
  }
  EXPECT_EQ(per_class, kGuideline);
  for (const auto& [source, n] : kSubjects) EXPECT_EQ(subjects.at(source).size(), n) << source;
  EXPECT_EQ(groups.size(), 68u);
  // Written as the organisers wrote it: the first row, SAMM subjects unpadded, SMIC padded.
  EXPECT_EQ(rows.front().database, "casme2");
  EXPECT_EQ(rows.front().subject, "sub01");
  EXPECT_EQ(rows.front().filename, "EP02_01f");
  EXPECT_EQ(rows.front().label, 1);
  EXPECT_EQ(rows.front().line, 1);
  EXPECT_TRUE(subjects.at("samm").count("6"));
  EXPECT_TRUE(subjects.at("smic").count("s01"));
  // The two CASME II clips the official file leaves out, and the SAMM row the earlier upload lacked.
  auto listed = [&](const std::string& db, const std::string& subject, const std::string& file) {
    return std::any_of(rows.begin(), rows.end(), [&](const Megc2019Row& r) {
      return r.database == db && r.subject == subject && r.filename == file;
    });
  };
  EXPECT_FALSE(listed("casme2", "sub04", "EP12_01f"));
  EXPECT_FALSE(listed("casme2", "sub05", "EP09_05f"));
  EXPECT_TRUE(listed("casme2", "sub05", "EP12_03f"));
  EXPECT_TRUE(listed("samm", "32", "032_3_1"));
}

TEST(Megc2019List, MalformedRowsNameTheLine) {
  auto what = error_of<DataError>([] { parse_megc2019_list("casme2,sub01,EP02_01f,1\r\nsmic,s01,s01_ne_01,3\r\n", "l.csv"); });
  EXPECT_NE(what.find("l.csv:2"), std::string::npos) << what;
  EXPECT_NE(what.find("'3'"), std::string::npos) << what;
  what = error_of<DataError>([] { parse_megc2019_list("casme,sub01,EP02_01f,1\n", "l.csv"); });
  EXPECT_NE(what.find("l.csv:1"), std::string::npos) << what;
  EXPECT_NE(what.find("'casme'"), std::string::npos) << what;
  what = error_of<DataError>([] { parse_megc2019_list("samm,6,006_1_2,0\nsamm,006,006_1_2,1\n", "l.csv"); });
  EXPECT_NE(what.find("l.csv:2"), std::string::npos) << what;
  EXPECT_NE(what.find("listed twice (also on line 1)"), std::string::npos) << what;
  what = error_of<DataError>([] { parse_megc2019_list("samm,6,006_1_2\n", "l.csv"); });
  EXPECT_NE(what.find("expected 4 cells"), std::string::npos) << what;
}

TEST(Megc2019Ids, ListConventionsMapToTheFolders) {
  EXPECT_EQ(megc2019_disk_subject("smic", "s01"), "s1");
  EXPECT_EQ(megc2019_disk_subject("smic", "s20"), "s20");
  EXPECT_EQ(megc2019_disk_subject("smic", "s1"), "s1");
  EXPECT_EQ(megc2019_disk_clip("smic", "s01_ne_01"), "s1_ne_01");
  EXPECT_EQ(megc2019_disk_clip("smic", "s11_sur_02"), "s11_sur_02");
  EXPECT_EQ(megc2019_disk_clip("smic", "s3_po_05"), "s3_po_05");
  EXPECT_EQ(megc2019_disk_subject("samm", "6"), "006");
  EXPECT_EQ(megc2019_disk_subject("samm", "32"), "032");
  EXPECT_EQ(megc2019_disk_subject("samm", "006"), "006");
  EXPECT_EQ(megc2019_disk_clip("samm", "006_1_2"), "006_1_2");
  EXPECT_EQ(megc2019_disk_subject("casme2", "sub01"), "sub01");
  EXPECT_EQ(megc2019_disk_clip("casme2", "EP02_01f"), "EP02_01f");
}

TEST(Megc2019Dataset, KeepsExactlyTheListedSamplesOfTheRealTables) {
  const Megc2019Dataset d({}, memory_sources(permissive_maps()));
  EXPECT_EQ(d.name(), "megc2019");
  EXPECT_EQ(d.labels().classes(), megc2019_classes());
  expect_guideline_counts(d.samples());

  // List order, source identity kept, labels from the list, the source emotion cited.
  const auto& first = d.samples().front();
  EXPECT_EQ(first.id, "casme2/sub01/EP02_01f");
  EXPECT_EQ(first.dataset, "casme2");
  EXPECT_EQ(first.emotion, "positive");
  EXPECT_EQ(first.label, 1);
  EXPECT_NE(first.source.find("combined_3class_gt.csv:1"), std::string::npos) << first.source;
  EXPECT_NE(first.source.find("happiness"), std::string::npos) << first.source;
  const auto smic = std::find_if(d.samples().begin(), d.samples().end(), [](auto& s) { return s.dataset == "smic"; });
  ASSERT_NE(smic, d.samples().end());
  EXPECT_EQ(smic->id, "smic/s1/s1_ne_01");
  EXPECT_EQ(smic->group_key(), "smic/s1");
  const auto samm = std::find_if(d.samples().begin(), d.samples().end(), [](auto& s) { return s.dataset == "samm"; });
  ASSERT_NE(samm, d.samples().end());
  EXPECT_EQ(samm->id, "samm/006/006_1_2");

  // 255 + 159 + 164 rows, 442 listed: the other 136 are reported, the two CASME II clips among them.
  ASSERT_EQ(d.excluded().size(), 136u);
  std::map<std::string, std::string> reasons;
  for (const auto& x : d.excluded()) reasons[x.sample_id] = x.stage + ": " + x.reason;
  EXPECT_EQ(reasons.at("casme2/sub04/EP12_01f"), "megc2019: not in the MEGC2019 list (emotion 'disgust')");
  EXPECT_EQ(reasons.at("casme2/sub05/EP09_05f"), "megc2019: not in the MEGC2019 list (emotion 'disgust')");
  EXPECT_EQ(reasons.at("samm/025/025_4_1").rfind("megc2019: not in the MEGC2019 list", 0), 0u);

  const auto folds = Loso().folds(d.samples(), 1);
  EXPECT_EQ(folds.size(), 68u);
}

TEST(Megc2019Dataset, PublishedRulesAgreeWithTheOfficialLabels) {
  // The per-source 3-class maps are cross-checked sample by sample; they leave out others/sadness/fear
  // (CASME II) and Other (SAMM), which the list leaves out too.
  const Megc2019Dataset d({}, memory_sources(published_rule_maps()));
  expect_guideline_counts(d.samples());
  std::map<std::string, int> stages;
  for (const auto& x : d.excluded()) ++stages[x.stage];
  // label_map: CASME II 99 others + 7 sadness + 2 fear, SAMM 26 Other; megc2019: the two CASME II clips.
  EXPECT_EQ(stages, (std::map<std::string, int>{{"label_map", 134}, {"megc2019", 2}}));
}

TEST(Megc2019Dataset, ARuleThatDisagreesWithTheListIsAnError) {
  auto maps = published_rule_maps();
  maps["casme2"] = LabelMap(megc2019_classes(), {{"disgust", "negative"},
                                                  {"repression", "positive"},
                                                  {"happiness", "positive"},
                                                  {"surprise", "surprise"}});
  const auto what = error_of<DataError>([&] { Megc2019Dataset({}, memory_sources(maps)); });
  EXPECT_NE(what.find("combined_3class_gt.csv:"), std::string::npos) << what;
  EXPECT_NE(what.find("'repression' to 'positive'"), std::string::npos) << what;
}

TEST(Megc2019Dataset, AMissingListedSampleNamesTheRowAndWhatWasLookedFor) {
  auto sources = memory_sources(permissive_maps());
  // SAMM without 006_1_2 (list row "samm,6,006_1_2,0"), as if the table lacked it.
  auto& samm = dynamic_cast<MemoryDataset&>(*sources["samm"]);
  std::vector<SampleMeta> kept;
  for (const auto& s : samm.samples())
    if (s.clip != "006_1_2") kept.push_back(s);
  sources["samm"] = std::make_unique<MemoryDataset>("samm", samm.labels(), kept);
  const auto what = error_of<DataError>([&] { Megc2019Dataset({}, std::move(sources)); });
  EXPECT_NE(what.find("combined_3class_gt.csv:"), std::string::npos) << what;
  EXPECT_NE(what.find("(samm,6,006_1_2,0)"), std::string::npos) << what;
  EXPECT_NE(what.find("subject '006' and clip '006_1_2'"), std::string::npos) << what;
  EXPECT_NE(what.find("on_missing"), std::string::npos) << what;

  // Under skip it is left out and reported; a source exclusion of a listed sample is quoted.
  auto again = memory_sources(permissive_maps());
  auto& smic = dynamic_cast<MemoryDataset&>(*again["smic"]);
  std::vector<SampleMeta> smic_kept;
  for (const auto& s : smic.samples())
    if (s.clip != "s1_ne_01") smic_kept.push_back(s);
  again["smic"] = std::make_unique<MemoryDataset>(
      "smic", smic.labels(), smic_kept,
      std::vector<SkipRecord>{{"smic/s1/s1_ne_01", "dataset", "onset frame image559740.bmp is missing"}});
  Megc2019Options skip;
  skip.on_missing = "skip";
  const Megc2019Dataset d(skip, std::move(again));
  EXPECT_EQ(d.samples().size(), 441u);
  const auto it = std::find_if(d.excluded().begin(), d.excluded().end(),
                               [](const SkipRecord& x) { return x.stage == "megc2019" && x.sample_id == "smic/s1/s1_ne_01"; });
  ASSERT_NE(it, d.excluded().end());
  EXPECT_NE(it->reason.find("(smic,s01,s01_ne_01,0)"), std::string::npos) << it->reason;
  EXPECT_NE(it->reason.find("image559740.bmp is missing"), std::string::npos) << it->reason;
}

TEST(Megc2019Dataset, ASourceOfAnotherKindIsRefused) {
  auto sources = memory_sources(permissive_maps());
  auto& casme2 = *sources["casme2"];
  sources["samm"] = std::make_unique<MemoryDataset>("casme2", casme2.labels(), casme2.samples());
  const auto what = error_of<ValueError>([&] { Megc2019Dataset({}, std::move(sources)); });
  EXPECT_NE(what.find("given as 'samm' is a 'casme2'"), std::string::npos) << what;
}

// MER_DATA_ROOT for one test; the composite's default roots are made of it.
class DataRoot {
 public:
  explicit DataRoot(const fs::path& root) {
    if (const char* old = std::getenv("MER_DATA_ROOT")) old_ = old, had_ = true;
    ::setenv("MER_DATA_ROOT", root.c_str(), 1);
  }
  ~DataRoot() {
    if (had_) ::setenv("MER_DATA_ROOT", old_.c_str(), 1);
    else ::unsetenv("MER_DATA_ROOT");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(Megc2019Dataset, LoadsTheThreeNativeTreesThroughTheRegistry) {
  test::TempDir dir;
  test::write_smic_tree(dir / "SMIC");
  test::write_casme2_tree(dir / "CASME2");
  test::write_samm_tree(dir / "SAMM");
  const DataRoot data_root(dir.path());
  // Nothing but the type: roots, tables, label maps and the SAMM apex policy are the composite's defaults.
  const auto config = Config::from_string("dataset:\n  type: megc2019\n", "megc.yaml");
  const auto d = builtin_datasets().build(config.root().child("dataset"));
  config.check_all_used();
  EXPECT_EQ(d->name(), "megc2019");
  expect_guideline_counts(d->samples());
  EXPECT_EQ(Loso().folds(d->samples(), 1).size(), 68u);

  // The sources' own records survive: frames in the native trees, SMIC's midpoint apex, SAMM's apex fixes.
  std::map<std::string, const SampleMeta*> by_id;
  for (const auto& s : d->samples()) by_id[s.id] = &s;
  ASSERT_TRUE(by_id.count("smic/s1/s1_ne_01"));
  const auto& smic = *by_id.at("smic/s1/s1_ne_01");
  EXPECT_EQ(smic.onset, 559740);
  EXPECT_EQ(smic.offset, 559775);
  EXPECT_EQ(smic.apex, (559740 + 559775) / 2);
  EXPECT_TRUE(fs::is_regular_file(smic.frame_path(smic.onset))) << smic.frame_path(smic.onset);
  ASSERT_TRUE(by_id.count("samm/032/032_3_1"));
  const auto& samm = *by_id.at("samm/032/032_3_1");
  EXPECT_EQ(samm.apex, (4896 + 4970) / 2);
  ASSERT_EQ(samm.quirks.size(), 1u);
  EXPECT_EQ(samm.label, 0);
  EXPECT_TRUE(fs::is_regular_file(by_id.at("casme2/sub01/EP02_01f")->frame_path(46)));

  // The filled-in defaults are in the resolved config, as every run saves it.
  const auto resolved = config.dump();
  EXPECT_NE(resolved.find("${MER_DATA_ROOT}/SAMM"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("apex_out_of_range: midpoint"), std::string::npos) << resolved;
}

TEST(Megc2019Dataset, ThePublishedRulesConfigAgreesOnTheNativeTrees) {
  test::TempDir dir;
  test::write_smic_tree(dir / "SMIC");
  test::write_casme2_tree(dir / "CASME2");
  test::write_samm_tree(dir / "SAMM");
  const DataRoot data_root(dir.path());
  const auto config = Config::load(test::source_dir() / "configs/megc2019.yaml");
  const auto d = builtin_datasets().build(config.root().child("dataset"));
  expect_guideline_counts(d->samples());
  // Only the dataset section is read here; a typo in it would remain unused.
  config.check_all_used({"base", "name", "preprocess", "model", "train", "protocol", "runtime"});

  // A listed clip whose row is gone from the CASME II table (its CSV export): named, then skipped when asked.
  auto table = read_file(dir / "CASME2" / "CASME2-coding-20140508.csv");
  const auto row = table.find("\n01,EP02_01f,");
  ASSERT_NE(row, std::string::npos);
  table.erase(row + 1, table.find('\n', row + 1) - row);
  write_file_atomic(dir / "CASME2" / "CASME2-coding-20140508.csv", table);
  const std::string csv = "dataset.casme2.table=CASME2-coding-20140508.csv";
  const auto fail = Config::load(test::source_dir() / "configs/megc2019.yaml", {csv});
  const auto what = error_of<DataError>([&] { builtin_datasets().build(fail.root().child("dataset")); });
  EXPECT_NE(what.find("combined_3class_gt.csv:1 (casme2,sub01,EP02_01f,1)"), std::string::npos) << what;
  EXPECT_NE(what.find("subject 'sub01' and clip 'EP02_01f'"), std::string::npos) << what;
  const auto skip = Config::load(test::source_dir() / "configs/megc2019.yaml", {csv, "dataset.on_missing=skip"});
  const auto skipped = builtin_datasets().build(skip.root().child("dataset"));
  EXPECT_EQ(skipped->samples().size(), 441u);
}

TEST(Megc2019Options, BadValuesAreConfigErrorsWithLine) {
  const auto config = Config::from_string("dataset:\n  type: megc2019\n  on_missing: ignore\n", "m.yaml");
  const auto what = error_of<ConfigError>([&] { Megc2019Options::from_config(config.root().child("dataset")); });
  EXPECT_NE(what.find("m.yaml:3"), std::string::npos) << what;
  const auto labels = Config::from_string("dataset:\n  type: megc2019\n  labels: {classes: [a]}\n", "m.yaml");
  const auto what2 = error_of<ConfigError>([&] { builtin_datasets().build(labels.root().child("dataset")); });
  EXPECT_NE(what2.find("m.yaml:3"), std::string::npos) << what2;
  EXPECT_NE(what2.find("official list"), std::string::npos) << what2;
}

}  // namespace
}  // namespace mer
