// The committed configs: every label fragment gives the documented counts on the real tables, and the
// experiment files whose datasets can be synthesised load them through nothing but MER_DATA_ROOT.
// (tests/cli/bad_input_test.sh checks every experiment file's other sections through `mer config print`.)
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>
#include <mer/meta/label_map.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include "support/native_trees.hpp"
#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

using Counts = std::map<std::string, int>;

fs::path labels_dir() { return test::source_dir() / "configs/_base_/labels"; }

// The emotion column of a saved table, as the adapter sees it.
std::vector<std::string> column(const std::string& file, const std::string& name) {
  const auto t = Table::read(test::annotations_dir() / file);
  std::vector<std::string> out;
  for (const auto& row : t.rows) out.push_back(trim(row[t.column(name)]));
  return out;
}

std::vector<std::string> casme2_emotions() { return column("casme2_coding.csv", "Estimated Emotion"); }
std::vector<std::string> samm_emotions() { return column("samm_coding.csv", "Estimated Emotion"); }
std::vector<std::string> mmew_emotions() { return column("mmew_micro_no_others_htnet.csv", "Estimated Emotion"); }
std::vector<std::string> casme3_emotions() {
  auto out = column("casme3_partA_me.csv", "emotion");
  // The adapter lower-cases the sheet's three "Others".
  for (auto& e : out) std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
std::vector<std::string> smic_emotions() {
  const auto t = Table::read(test::annotations_dir() / "smic_hs.csv", /*has_header=*/false);
  const std::map<std::string, std::string> names = {{"1", "positive"}, {"2", "negative"}, {"3", "surprise"}};
  std::vector<std::string> out;
  for (const auto& row : t.rows) out.push_back(names.at(trim(row[5])));
  return out;
}
std::vector<std::string> casme_sq_micro_emotions() {
  const auto t = Table::read(test::annotations_dir() / "casme_sq_code_final.csv", /*has_header=*/false);
  std::vector<std::string> out;
  for (const auto& row : t.rows)
    if (trim(row[7]) == "micro-expression") out.push_back(trim(row[6]));
  return out;
}

Counts count_classes(const LabelMap& labels, const std::vector<std::string>& emotions) {
  Counts c;
  for (const auto& e : emotions)
    if (auto index = labels.index_of(e)) ++c[labels.name(*index)];
  return c;
}

// Loads a fragment and reads the label map at `path` ("dataset" or "dataset.casme2"); every key of the
// file must be read (a typo such as `clases` or `mapp` fails here).
LabelMap fragment(const std::string& name, const std::vector<std::string>& path = {"dataset"}) {
  const auto config = Config::load(labels_dir() / name);
  auto node = config.root();
  for (const auto& p : path) node = node.child(p);
  return LabelMap::from_config(node.child("labels"));
}

int total(const Counts& c) {
  int n = 0;
  for (const auto& [k, v] : c) n += v;
  return n;
}

TEST(LabelFragments, GiveTheDocumentedCountsOnTheRealTables) {
  EXPECT_EQ(count_classes(fragment("casme2_5class.yaml"), casme2_emotions()),
            (Counts{{"happiness", 32}, {"surprise", 25}, {"disgust", 63}, {"repression", 27}, {"others", 99}}));
  EXPECT_EQ(total(count_classes(fragment("casme2_5class.yaml"), casme2_emotions())), 246);
  EXPECT_EQ(count_classes(fragment("casme2_3class.yaml"), casme2_emotions()),
            (Counts{{"negative", 90}, {"positive", 32}, {"surprise", 25}}));
  EXPECT_EQ(count_classes(fragment("samm_5class.yaml"), samm_emotions()),
            (Counts{{"anger", 57}, {"happiness", 26}, {"contempt", 12}, {"surprise", 15}, {"other", 26}}));
  EXPECT_EQ(count_classes(fragment("samm_3class.yaml"), samm_emotions()),
            (Counts{{"negative", 92}, {"positive", 26}, {"surprise", 15}}));
  EXPECT_EQ(count_classes(fragment("smic_3class.yaml"), smic_emotions()),
            (Counts{{"negative", 70}, {"positive", 51}, {"surprise", 43}}));
  EXPECT_EQ(count_classes(fragment("casme_sq_4class.yaml"), casme_sq_micro_emotions()),
            (Counts{{"negative", 21}, {"positive", 8}, {"surprise", 9}, {"others", 19}}));
  EXPECT_EQ(total(count_classes(fragment("casme_sq_3class.yaml"), casme_sq_micro_emotions())), 38);
  const Counts mmew = {{"surprise", 89}, {"disgust", 72}, {"happiness", 36},
                       {"fear", 16},     {"sadness", 13}, {"anger", 8}};
  EXPECT_EQ(count_classes(fragment("mmew_6class.yaml"), mmew_emotions()), mmew);
  EXPECT_EQ(count_classes(fragment("mmew_7class.yaml"), mmew_emotions()), mmew);
  EXPECT_EQ(count_classes(fragment("casme3_7class.yaml"), casme3_emotions()),
            (Counts{{"disgust", 250}, {"surprise", 187}, {"others", 161}, {"fear", 86}, {"anger", 64},
                    {"sad", 57}, {"happy", 55}}));
  EXPECT_EQ(count_classes(fragment("casme3_4class.yaml"), casme3_emotions()),
            (Counts{{"negative", 457}, {"positive", 55}, {"surprise", 187}, {"others", 161}}));
  EXPECT_EQ(count_classes(fragment("casme3_3class.yaml"), casme3_emotions()),
            (Counts{{"negative", 457}, {"positive", 55}, {"surprise", 187}}));
  // The CASME (I) table is not public: every emotion name CASME uses lands in one of the four classes.
  const auto casme = fragment("casme_4class.yaml");
  std::set<std::string> used;
  for (const char* e : {"happiness", "surprise", "disgust", "sadness", "fear", "contempt", "repression", "tense"}) {
    ASSERT_TRUE(casme.index_of(e)) << e;
    used.insert(casme.name(*casme.index_of(e)));
  }
  EXPECT_EQ(used.size(), 4u);
}

TEST(LabelFragments, MegcRulesPerSourceGiveThePublishedCounts) {
  EXPECT_EQ(count_classes(fragment("megc2019_3class.yaml", {"dataset", "smic"}), smic_emotions()),
            (Counts{{"negative", 70}, {"positive", 51}, {"surprise", 43}}));
  // Two more than the official list: the rules cannot know of the two left-out CASME II clips.
  EXPECT_EQ(count_classes(fragment("megc2019_3class.yaml", {"dataset", "casme2"}), casme2_emotions()),
            (Counts{{"negative", 90}, {"positive", 32}, {"surprise", 25}}));
  EXPECT_EQ(count_classes(fragment("megc2019_3class.yaml", {"dataset", "samm"}), samm_emotions()),
            (Counts{{"negative", 92}, {"positive", 26}, {"surprise", 15}}));
}

TEST(LabelFragments, EveryFragmentIsADatasetLabelsPieceWithNoStrayKey) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(labels_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    SCOPED_TRACE(entry.path().filename().string());
    const auto config = Config::load(entry.path());
    const auto dataset = config.root().child("dataset");
    const auto keys = dataset.keys();
    ASSERT_FALSE(keys.empty());
    if (keys == std::vector<std::string>{"labels"}) {
      LabelMap::from_config(dataset.child("labels"));
    } else {
      // Per-source maps of a composite.
      for (const auto& source : keys) LabelMap::from_config(dataset.child(source).child("labels"));
    }
    EXPECT_NO_THROW(config.check_all_used());
  }
  EXPECT_GE(n, 14u);
}

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

// Builds the dataset section of an experiment file and checks that section has no unread key.
std::unique_ptr<Dataset> dataset_of(const std::string& experiment) {
  const auto config = Config::load(test::source_dir() / "configs" / experiment);
  auto d = builtin_datasets().build(config.root().child("dataset"));
  std::vector<std::string> others;
  for (const auto& key : config.root().keys())
    if (key != "dataset") others.push_back(key);
  config.check_all_used(others);
  return d;
}

TEST(ExperimentConfigs, LoadTheirDatasetsFromMerDataRootAlone) {
  test::TempDir dir;
  test::write_casme2_tree(dir / "CASME2");
  test::write_samm_tree(dir / "SAMM");
  test::write_smic_tree(dir / "SMIC");
  const DataRoot root(dir.path());

  const auto casme2 = dataset_of("casme2.yaml");
  EXPECT_EQ(casme2->samples().size(), 246u);
  EXPECT_EQ(casme2->labels().num_classes(), 5);
  const auto samm = dataset_of("samm.yaml");
  EXPECT_EQ(samm->samples().size(), 136u);
  const auto smic = dataset_of("smic.yaml");
  EXPECT_EQ(smic->samples().size(), 164u);
  const auto megc = dataset_of("megc2019.yaml");
  EXPECT_EQ(megc->samples().size(), 442u);
  EXPECT_EQ(megc->name(), "megc2019");
}

TEST(ExperimentConfigs, EveryConfigComposesAndNeedsNoAbsolutePath) {
  std::size_t n = 0;
  for (const auto& dir : {test::source_dir() / "configs", test::source_dir() / "configs/_base_/datasets"}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".yaml") continue;
      ++n;
      SCOPED_TRACE(entry.path().string());
      const auto config = Config::load(entry.path());
      const auto text = config.dump();
      EXPECT_EQ(text.find(": /"), std::string::npos) << "absolute path in\n" << text;
      ASSERT_TRUE(config.root().has("dataset"));
      EXPECT_TRUE(config.root().child("dataset").has("type"));
    }
  }
  EXPECT_GE(n, 14u);
}

}  // namespace
}  // namespace mer
