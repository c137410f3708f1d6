#pragma once
// Shared by the dataset adapter tests: native trees are built from tables with one tiny JPEG copied to
// every frame path the adapter looks at, and datasets are built through the registry as the CLI does.
#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/data/dataset.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace mer::test {

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One tiny JPEG, encoded once: the adapters only need files that exist.
inline const std::string& tiny_jpeg() {
  static const std::string bytes = [] {
    std::vector<uchar> buf;
    cv::imencode(".jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(90, 120, 150)), buf);
    return std::string(buf.begin(), buf.end());
  }();
  return bytes;
}

inline std::unique_ptr<Dataset> build_dataset(const std::string& yaml) {
  const auto config = Config::from_string(yaml, "test.yaml");
  return builtin_datasets().build(config.root().child("dataset"));
}

// Replaces every "{KEY}" in `text`.
inline std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    const std::string token = "{" + key + "}";
    for (auto pos = text.find(token); pos != std::string::npos; pos = text.find(token, pos + value.size()))
      text.replace(pos, token.size(), value);
  }
  return text;
}

// `text` with its first `from` replaced by `to` (which must be there).
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

// Expects `f` to throw E whose one-line message contains every string in `needles`.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "message is not one line: " << what;
  }
}

inline std::map<std::string, int> count_emotions(const Dataset& d) {
  std::map<std::string, int> out;
  for (const auto& s : d.samples()) ++out[s.emotion];
  return out;
}

inline const SampleMeta* find_sample(const Dataset& d, const std::string& id) {
  for (const auto& s : d.samples())
    if (s.id == id) return &s;
  return nullptr;
}

inline const SkipRecord* find_excluded(const Dataset& d, const std::string& id) {
  for (const auto& s : d.excluded())
    if (s.sample_id == id) return &s;
  return nullptr;
}

inline bool has_quirk(const SampleMeta& s, const std::string& part) {
  for (const auto& q : s.quirks)
    if (q.find(part) != std::string::npos) return true;
  return false;
}

// What a load produced, to compare two unpackings of the same data: id, frames and class of each sample,
// sorted (a folder walk and a list may give the same samples in different orders).
using SampleKey = std::tuple<std::string, int, int, int, int>;
inline std::vector<SampleKey> sample_keys(const Dataset& d) {
  std::vector<SampleKey> out;
  for (const auto& s : d.samples()) out.emplace_back(s.id, s.onset, s.apex, s.offset, s.label);
  std::sort(out.begin(), out.end());
  return out;
}

// Moves every folder in `from` into `to` (files stay): another way of unpacking the same tree.
inline void move_folders(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(from))
    if (e.is_directory()) folders.push_back(e.path());
  fs::create_directories(to);
  for (const auto& f : folders) fs::rename(f, to / f.filename());
}

// `dir` nested once more (dir/ -> dir/<its name>/), as a zip of the folder unpacked into one of its name.
inline void nest_once(const std::filesystem::path& dir) {
  const auto moving = dir.parent_path() / (dir.filename().string() + ".moving");
  std::filesystem::rename(dir, moving);
  std::filesystem::create_directories(dir);
  std::filesystem::rename(moving, dir / dir.filename());
}

// The folders in `dir` moved up into its parent and `dir` removed: the tree directly in the dataset root.
inline void flatten_into_parent(const std::filesystem::path& dir) {
  move_folders(dir, dir.parent_path());
  std::filesystem::remove_all(dir);
}

// Expects loading `yaml` to fail with a DataError listing every one of `places` as looked in.
inline void expect_places_listed(const std::string& yaml, const std::vector<std::filesystem::path>& places) {
  std::vector<std::string> needles = {"no frame folder found; looked for"};
  for (const auto& p : places) needles.push_back("'" + p.string() + "'");
  expect_error<DataError>([&] { build_dataset(yaml); }, needles);
}

}  // namespace mer::test
