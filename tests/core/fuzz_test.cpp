// Mutation fuzzing of the parsers that read what users hand in: CSV tables, .xlsx workbooks, YAML configs,
// prediction CSVs and MEGC2019 logs. Each starts from a valid input and tries a few thousand seeded
// mutations (bit flips, byte overwrites, insertions, deletions, truncations, duplicated spans); every
// outcome must be a result or a mer::Error, never another exception or a crash. Deterministic (fixed
// seeds), so a failure reproduces; under the asan preset (scripts/test_asan.sh) memory errors surface too.
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/eval/megc_log.hpp>
#include <mer/eval/predictions.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/meta/table.hpp>
#include <mer/meta/xlsx_writer.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

namespace mer {
namespace {

std::string mutate(std::string s, std::mt19937_64& rng) {
  const auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // overwrite a byte with one the parsers care about
        if (!s.empty()) s[pick(s.size())] = "\n,;\"'{}[]:-\0<>&#/\xff"[rng() % 19];
        break;
      case 2:  // insert bytes
        s.insert(pick(s.size() + 1), std::string(1 + pick(8), static_cast<char>(rng())));
        break;
      case 3:  // delete a span
        if (!s.empty()) {
          const auto at = pick(s.size());
          s.erase(at, 1 + pick(16));
        }
        break;
      case 4:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      default:  // duplicate a span
        if (!s.empty()) {
          const auto at = pick(s.size());
          s.insert(pick(s.size() + 1), s.substr(at, 1 + pick(32)));
        }
    }
  }
  return s;
}

// Runs `parse` on `rounds` mutations of `valid`; counts how many parsed and how many were refused.
void fuzz(const std::string& what, const std::string& valid, int rounds, const std::function<void(const std::string&)>& parse) {
  std::mt19937_64 rng(std::hash<std::string>{}(what));
  ASSERT_NO_THROW(parse(valid)) << what << ": the seed input must parse";
  int parsed = 0, refused = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto input = mutate(valid, rng);
    try {
      parse(input);
      ++parsed;
    } catch (const Error&) {
      ++refused;
    } catch (const std::exception& e) {
      std::string shown;
      for (const unsigned char c : input.substr(0, 400))
        shown += c >= 32 && c < 127 ? std::string(1, static_cast<char>(c)) : "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
      ADD_FAILURE() << what << " round " << r << ": not a mer::Error: " << e.what() << "\ninput: " << shown;
      return;
    }
  }
  std::printf("[ fuzz     ] %s: %d mutations, %d parsed, %d refused with a mer::Error\n", what.c_str(), rounds, parsed, refused);
  EXPECT_GT(refused, 0) << what;  // the mutations do reach the checks
}

const char* const kTable =
    "Subject,Filename,,OnsetFrame,ApexFrame,OffsetFrame,,Action Units,Estimated Emotion\n"
    "01,EP02_01f,,46,59,86,,12,happiness\n"
    "01,EP03_02,,131,139,161,,18,others\n"
    "\"02\",\"EP, quoted\",,10,20,30,,\"4+L10\",disgust\n";

TEST(Fuzz, CsvTables) {
  fuzz("csv table", kTable, 20000, [](const std::string& text) {
    const auto t = Table::parse_csv(text, "fuzz.csv");
    if (!t.rows.empty()) t.column("Subject");
  });
}

TEST(Fuzz, XlsxWorkbooks) {
  test::TempDir dir;
  const auto seed = dir / "seed.xlsx";
  write_xlsx(seed, {XlsxSheet{"Sheet1", {{"Subject", "Filename", "OnsetFrame"}, {"01", "EP02_01f", "46"}, {"02", "EP03", "7"}}, {}}});
  const auto bytes = read_file(seed);
  const auto file = dir / "fuzz.xlsx";
  fuzz("xlsx workbook", bytes, 600, [&](const std::string& b) {
    write_file_atomic(file, b);
    read_xlsx(file);
  });
  // The XML inside the archive, mutated and re-zipped: the zip layer no longer shields the XML parser.
  const auto parts = xlsx_parts({XlsxSheet{"Sheet1", {{"Subject", "Filename"}, {"01", "EP02_01f"}}, {}}});
  const std::string sheet_part = "xl/worksheets/sheet1.xml";
  ASSERT_TRUE(parts.count(sheet_part));
  fuzz("xlsx sheet xml", parts.at(sheet_part), 1500, [&](const std::string& xml) {
    auto p = parts;
    p[sheet_part] = xml;
    write_zip(file, p);
    read_xlsx(file);
  });
}

TEST(Fuzz, YamlConfigs) {
  const std::string yaml =
      "base: []\nname: fuzz\ndataset: {type: casme2, root: /data, labels: {classes: [a, b]}}\n"
      "train:\n  epochs: 3\n  losses: [{type: cross_entropy}]\nruntime: {threads: 1}\n";
  fuzz("yaml config", yaml, 20000, [](const std::string& text) {
    const auto c = Config::from_string(text, "fuzz.yaml");
    const auto root = c.root();
    if (root.has("train")) root.child("train").get<int>("epochs", 1);
    c.dump();
  });
}

TEST(Fuzz, PredictionsAndMegcLogs) {
  const std::vector<std::string> classes = {"negative", "positive", "surprise"};
  const std::string preds =
      "sample_id,subject,fold,true_label,pred_label,p_negative,p_positive,p_surprise\n"
      "casme2/sub01/EP02,casme2/sub01,casme2/sub01,positive,positive,0.1,0.8,0.1\n"
      "samm/006/006_1_2,samm/006,samm/006,negative,surprise,0.3,0.2,0.5\n";
  fuzz("predictions csv", preds, 20000, [&](const std::string& text) { predictions_from_csv(text, "fuzz.csv", classes); });
  const std::string log = "casme2 sub01\nEP02_01f 1 1\nEP03_02 0 2\nsamm 006\n006_1_2 0 0\n";
  fuzz("megc2019 log", log, 20000, [](const std::string& text) { parse_megc_log(text, "fuzz.txt"); });
}

}  // namespace
}  // namespace mer
