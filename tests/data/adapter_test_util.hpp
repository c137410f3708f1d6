#pragma once
// Shared by the dataset adapter tests: native trees are built from tables with one tiny JPEG copied to
// every frame path the adapter looks at, and datasets are built through the registry as the CLI does.
#include <mer/core/config.hpp>
#include <mer/data/dataset.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
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

}  // namespace mer::test
