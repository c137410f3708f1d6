#include <mer/core/error.hpp>
#include <mer/data/check.hpp>
#include <mer/io/atomic_file.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "support/native_trees.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<Dataset> samm_five_class(const fs::path& root) {
  const auto config = Config::from_string("dataset:\n  type: samm\n  root: " + root.string() +
                                              "\n  apex_out_of_range: midpoint\n"
                                              "  labels: {classes: [Anger, Happiness, Contempt, Surprise, Other]}\n",
                                          "samm.yaml");
  return builtin_datasets().build(config.root().child("dataset"));
}

DataCheckOptions quiet() {
  DataCheckOptions o;
  o.progress = ProgressStyle::None;
  return o;
}

const SampleMeta& find(const Dataset& d, const std::string& id) {
  const auto it = std::find_if(d.samples().begin(), d.samples().end(), [&](const SampleMeta& s) { return s.id == id; });
  if (it == d.samples().end()) throw std::runtime_error("no sample " + id);
  return *it;
}

TEST(DataCheck, CountsQuirksAndExclusionsOfACompleteTree) {
  test::TempDir dir;
  test::write_samm_tree(dir / "SAMM", test::TreeFrames::All);
  const auto d = samm_five_class(dir / "SAMM");
  const auto r = check_dataset(*d, quiet());

  // SAMM 5-class (DATASETS.md §10): 136 samples of 27 subjects; Disgust, Fear, Sadness left out.
  EXPECT_EQ(r.dataset, "samm");
  EXPECT_EQ(r.counts.n_samples, 136u);
  EXPECT_EQ(r.counts.subjects.size(), 27u);
  EXPECT_EQ(r.counts.per_class, (std::vector<std::int64_t>{57, 26, 12, 15, 26}));
  EXPECT_EQ(r.excluded.size(), 23u);
  EXPECT_TRUE(r.per_source.empty());
  // 028_4_1 (apex after offset) and 032_3_1 (apex before onset) and 032_3_2 (apex one frame after onset).
  EXPECT_EQ(r.quirky_samples, 3u);
  std::vector<std::string> quirky;
  for (const auto& [id, q] : r.quirks) quirky.push_back(id);
  EXPECT_EQ(quirky, (std::vector<std::string>{"samm/028/028_4_1", "samm/032/032_3_1", "samm/032/032_3_2"}));

  std::size_t frames = 0;
  for (const auto& s : d->samples()) frames += static_cast<std::size_t>(s.offset - s.onset + 1);
  EXPECT_EQ(r.frames_checked, frames);
  EXPECT_GE(r.frames_decoded, 2 * 136u);
  EXPECT_TRUE(r.usable());

  // The subject table: 006 has 7 Anger and 2 Surprise in the 5 classes (its Fear and Sadness are left out).
  const auto csv = class_subject_csv(r.counts);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "subject,Anger,Happiness,Contempt,Surprise,Other,total");
  EXPECT_NE(csv.find("\ntotal,57,26,12,15,26,136\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nsamm/006,7,0,0,2,0,9\n"), std::string::npos) << csv;
}

TEST(DataCheck, ListsAMissingFrameAndAnUnreadableOnsetFrame) {
  test::TempDir dir;
  test::write_samm_tree(dir / "SAMM", test::TreeFrames::All);
  const auto d = samm_five_class(dir / "SAMM");
  const auto& a = find(*d, "samm/006/006_1_2");
  const auto& b = find(*d, "samm/007/007_6_5");
  const int middle = a.onset + 3;
  ASSERT_NE(middle, a.apex);
  fs::remove(a.frame_path(middle));
  // The frames are hard links of one image: replace the file, do not write into it.
  fs::remove(b.frame_path(b.onset));
  write_file_atomic(b.frame_path(b.onset), "not a JPEG at all");

  const auto r = check_dataset(*d, quiet());
  EXPECT_FALSE(r.usable());
  ASSERT_EQ(r.frame_problems.size(), 2u);
  EXPECT_EQ(r.frame_problems[0].sample_id, "samm/006/006_1_2");
  EXPECT_EQ(r.frame_problems[0].frame, middle);
  EXPECT_EQ(r.frame_problems[0].problem, "missing");
  EXPECT_EQ(r.frame_problems[0].path, a.frame_path(middle));
  EXPECT_EQ(r.frame_problems[1].sample_id, "samm/007/007_6_5");
  EXPECT_EQ(r.frame_problems[1].frame, b.onset);
  EXPECT_EQ(r.frame_problems[1].problem, "unreadable");
  EXPECT_NE(r.frame_problems[1].detail.find("cannot decode"), std::string::npos) << r.frame_problems[1].detail;

  const auto j = nlohmann::json::parse(data_report_json(r));
  EXPECT_EQ(j["n_samples"], 136);
  EXPECT_EQ(j["n_subjects"], 27);
  EXPECT_EQ(j["per_class"]["Anger"], 57);
  EXPECT_EQ(j["n_excluded"], 23);
  EXPECT_EQ(j["quirks"], 3);
  EXPECT_FALSE(j["usable"].get<bool>());
  ASSERT_EQ(j["missing_frames"].size(), 2u);
  EXPECT_EQ(j["missing_frames"][0]["path"], a.frame_path(middle).string());
  EXPECT_EQ(j["missing_frames"][1]["problem"], "unreadable");
  EXPECT_FALSE(j.contains("per_source"));

  const auto text = data_report_text(r);
  EXPECT_NE(text.find("2 frame(s) missing or unreadable"), std::string::npos) << text;
  EXPECT_NE(text.find(a.frame_path(middle).string()), std::string::npos);

  // Key frames only: the missing middle frame is not looked for, the corrupt onset still is.
  DataCheckOptions keys = quiet();
  keys.all_frames = false;
  const auto k = check_dataset(*d, keys);
  ASSERT_EQ(k.frame_problems.size(), 1u);
  EXPECT_EQ(k.frame_problems[0].problem, "unreadable");
}

// A composite's samples held in memory: counts per source, no frames.
class TwoSources : public Dataset {
 public:
  TwoSources() : labels_({"negative", "positive"}, {}) {
    auto add = [&](const std::string& db, const std::string& subject, const std::string& clip, int label) {
      SampleMeta s;
      s.id = db + "/" + subject + "/" + clip;
      s.dataset = db;
      s.subject = subject;
      s.clip = clip;
      s.label = label;
      samples_.push_back(s);
    };
    add("casme2", "sub01", "a", 0);
    add("casme2", "sub01", "b", 1);
    add("casme2", "sub02", "c", 0);
    add("smic", "s1", "d", 1);
    add("samm", "006", "e", 0);
    // Same subject name as a CASME II one: a different person, a different LOSO group.
    add("samm", "sub01", "f", 0);
  }
  std::string name() const override { return "composite"; }
  const std::vector<SampleMeta>& samples() const override { return samples_; }
  const LabelMap& labels() const override { return labels_; }
  const std::vector<SkipRecord>& excluded() const override { return excluded_; }

 private:
  LabelMap labels_;
  std::vector<SampleMeta> samples_;
  std::vector<SkipRecord> excluded_;
};

TEST(DataCheck, CompositesAreCountedPerSource) {
  DataCheckOptions counts_only = quiet();
  counts_only.all_frames = false;
  counts_only.decode_key_frames = false;
  const auto r = check_dataset(TwoSources(), counts_only);
  EXPECT_EQ(r.counts.n_samples, 6u);
  EXPECT_EQ(r.counts.subjects,
            (std::vector<std::string>{"casme2/sub01", "casme2/sub02", "samm/006", "samm/sub01", "smic/s1"}));
  EXPECT_EQ(r.counts.by_subject[0], (std::vector<std::int64_t>{1, 1}));
  ASSERT_EQ(r.per_source.size(), 3u);
  EXPECT_EQ(r.per_source.at("casme2").n_samples, 3u);
  EXPECT_EQ(r.per_source.at("casme2").subjects.size(), 2u);
  EXPECT_EQ(r.per_source.at("casme2").per_class, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(r.per_source.at("samm").per_class, (std::vector<std::int64_t>{2, 0}));
  EXPECT_EQ(r.frames_checked, 0u);

  const auto j = nlohmann::json::parse(data_report_json(r));
  EXPECT_EQ(j["per_source"]["smic"]["n_samples"], 1);
  EXPECT_EQ(j["per_source"]["samm"]["n_subjects"], 2);
  EXPECT_EQ(j["per_source"]["casme2"]["per_class"]["negative"], 2);
  EXPECT_TRUE(j["usable"].get<bool>());
  const auto text = data_report_text(r);
  EXPECT_NE(text.find("per source:"), std::string::npos) << text;
}

TEST(DataCheck, LabelsOutsideTheClassesAreAnError) {
  SampleMeta s;
  s.id = "x/y/z";
  s.label = 2;
  EXPECT_THROW(count_samples({s}, {"a", "b"}), ValueError);
}

}  // namespace
}  // namespace mer
