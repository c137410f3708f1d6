#include <mer/core/error.hpp>
#include <mer/features/feature_cache.hpp>
#include <mer/io/atomic_file.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

namespace mer {
namespace {

namespace fs = std::filesystem;

CachedFeatures sample_features() {
  CachedFeatures f;
  f.channels = 3;
  f.height = 4;
  f.width = 5;
  for (int i = 0; i < 60; ++i) f.data.push_back(0.1f * static_cast<float>(i) - 2.5f);
  // Values a text format would mangle.
  f.data[7] = std::numeric_limits<float>::denorm_min();
  f.data[8] = -0.0f;
  f.data[9] = 1e30f;
  return f;
}

void write(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

TEST(FeatureCache, RoundTripIsBitExact) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "abc123");
  EXPECT_EQ(cache.folder(), dir.path() / "abc123");
  EXPECT_FALSE(cache.load("k").has_value());
  const auto f = sample_features();
  cache.store("k", f);
  EXPECT_TRUE(fs::exists(cache.path_of("k")));
  EXPECT_EQ(fs::file_size(cache.path_of("k")), 20u + 60u * 4u);
  const auto back = cache.load("k");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channels, 3);
  EXPECT_EQ(back->height, 4);
  EXPECT_EQ(back->width, 5);
  ASSERT_EQ(back->data.size(), f.data.size());
  for (std::size_t i = 0; i < f.data.size(); ++i) {
    EXPECT_EQ(std::memcmp(&back->data[i], &f.data[i], sizeof(float)), 0) << i;
  }
  // Another pipeline fingerprint is another folder: no cross-talk.
  EXPECT_FALSE(FeatureCache(dir.path(), "other").load("k").has_value());
  // No temporary files are left beside the entry.
  int files = 0;
  for (const auto& e : fs::directory_iterator(cache.folder())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// The stages' notes about a sample (which face detector served it) come back with its entry.
TEST(FeatureCache, NotesTravelWithTheEntry) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "abc123");
  auto f = sample_features();
  f.notes = {{"face_detector", "haar"}, {"other", "a value"}};
  cache.store("k", f);
  const auto back = cache.load("k");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->notes, f.notes);
  cache.store("plain", sample_features());
  EXPECT_TRUE(cache.load("plain")->notes.empty());
  std::size_t checked = 0;
  EXPECT_TRUE(verify_cache(dir.path(), &checked).empty());  // the notes file is no stray entry
  EXPECT_EQ(checked, 2u);
}

TEST(FeatureCache, CorruptTruncatedOrForeignFilesAreMisses) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "fp");
  cache.store("k", sample_features());
  const auto path = cache.path_of("k");
  const std::string good = read_file(path);
  ASSERT_EQ(good.substr(0, 4), "MERF");

  write(path, good.substr(0, good.size() - 3));  // truncated body
  EXPECT_FALSE(cache.load("k").has_value());
  write(path, good.substr(0, 10));  // truncated header
  EXPECT_FALSE(cache.load("k").has_value());
  write(path, "JUNK" + good.substr(4));  // foreign magic
  EXPECT_FALSE(cache.load("k").has_value());
  write(path, good + "extra");  // trailing bytes: not what we wrote
  EXPECT_FALSE(cache.load("k").has_value());
  std::string wrong_version = good;
  wrong_version[4] = 99;
  write(path, wrong_version);
  EXPECT_FALSE(cache.load("k").has_value());
  std::string huge = good;  // a header claiming far more data than there is
  huge[8] = huge[9] = huge[10] = huge[11] = '\x7f';
  write(path, huge);
  EXPECT_FALSE(cache.load("k").has_value());
  write(path, "");
  EXPECT_FALSE(cache.load("k").has_value());

  // A miss is rewritten whole by the next store.
  cache.store("k", sample_features());
  EXPECT_TRUE(cache.load("k").has_value());
}

TEST(FeatureCache, StoreChecksTheShape) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "fp");
  auto f = sample_features();
  f.data.pop_back();
  EXPECT_THROW(cache.store("k", f), ValueError);
  f = sample_features();
  f.channels = 0;
  EXPECT_THROW(cache.store("k", f), ValueError);
  EXPECT_FALSE(fs::exists(cache.path_of("k")));
}

TEST(FeatureCache, KeyFollowsTheSampleAndItsSourceFiles) {
  test::TempDir dir;
  const auto a = dir / "img1.jpg", b = dir / "img2.jpg";
  write(a, "onset");
  write(b, "apex");
  const auto key = FeatureCache::make_key("casme2/sub01/EP02_01f", {a, b});
  EXPECT_EQ(key, FeatureCache::make_key("casme2/sub01/EP02_01f", {a, b}));
  // Usable as a file name, and readable.
  EXPECT_EQ(key.find('/'), std::string::npos);
  EXPECT_EQ(key.rfind("casme2_sub01_EP02_01f-", 0), 0u) << key;

  EXPECT_NE(key, FeatureCache::make_key("casme2/sub01/EP02_01g", {a, b}));
  EXPECT_NE(key, FeatureCache::make_key("casme2/sub01/EP02_01f", {b, a}));

  // Same size, new modification time (a regenerated frame).
  fs::last_write_time(a, fs::last_write_time(a) + std::chrono::seconds(5));
  const auto touched = FeatureCache::make_key("casme2/sub01/EP02_01f", {a, b});
  EXPECT_NE(key, touched);
  // New size with the modification time put back.
  const auto mtime = fs::last_write_time(b);
  write(b, "apex, longer");
  fs::last_write_time(b, mtime);
  EXPECT_NE(touched, FeatureCache::make_key("casme2/sub01/EP02_01f", {a, b}));
  // A missing source still gives a key, different from the present one.
  const auto gone = FeatureCache::make_key("casme2/sub01/EP02_01f", {a, dir / "nope.jpg"});
  EXPECT_NE(gone, FeatureCache::make_key("casme2/sub01/EP02_01f", {a, b}));
  EXPECT_EQ(gone, FeatureCache::make_key("casme2/sub01/EP02_01f", {a, dir / "nope.jpg"}));
}

TEST(FeatureCache, MarkUsedWritesTheDescriptionOnceAndStampsTheLastUse) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "fp1");
  cache.mark_used("frames(v1; ...)\noutputs: flow");
  const auto file = cache.folder() / "pipeline.txt";
  EXPECT_EQ(read_file(file), "frames(v1; ...)\noutputs: flow\n");
  // An old stamp is moved to now; the text is kept (the fingerprint names the same pipeline).
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24 * 40);
  fs::last_write_time(file, old);
  cache.mark_used("ignored");
  EXPECT_EQ(read_file(file), "frames(v1; ...)\noutputs: flow\n");
  EXPECT_GT(fs::last_write_time(file), old + std::chrono::hours(24 * 39));
}

TEST(FeatureCache, ListsFoldersWithEntriesSizeLastUseAndDescription) {
  test::TempDir dir;
  EXPECT_TRUE(list_cache_folders(dir / "absent").empty());
  const FeatureCache a(dir.path(), "aaaa"), b(dir.path(), "bbbb");
  a.mark_used("pipeline A");
  a.store("k1", sample_features());
  a.store("k2", sample_features());
  b.store("k1", sample_features());  // a folder from before pipeline.txt existed
  write(dir / "stray.txt", "not a folder");
  const auto stamp = fs::file_time_type::clock::now() - std::chrono::hours(24 * 10);
  fs::last_write_time(a.folder() / "pipeline.txt", stamp);

  const auto folders = list_cache_folders(dir.path());
  ASSERT_EQ(folders.size(), 2u);
  EXPECT_EQ(folders[0].fingerprint, "aaaa");
  EXPECT_EQ(folders[0].entries, 2u);
  EXPECT_EQ(folders[0].bytes, 2u * 260u + std::string("pipeline A\n").size());
  EXPECT_EQ(folders[0].description, "pipeline A");
  EXPECT_EQ(folders[0].last_used, stamp);
  EXPECT_EQ(folders[1].fingerprint, "bbbb");
  EXPECT_EQ(folders[1].entries, 1u);
  EXPECT_EQ(folders[1].description, "");
  EXPECT_EQ(folders[1].last_used, fs::last_write_time(b.path_of("k1")));
}

TEST(FeatureCache, VerifyNamesEveryDamagedFileAndWhy) {
  test::TempDir dir;
  const FeatureCache cache(dir.path(), "fp");
  for (const auto* k : {"good", "short", "junk", "tail"}) cache.store(k, sample_features());
  const std::string good = read_file(cache.path_of("good"));
  write(cache.path_of("short"), good.substr(0, 100));
  write(cache.path_of("junk"), "JUNK" + good.substr(4));
  write(cache.path_of("tail"), good + "x");
  write(cache.folder() / ".tmp-123-0-k.mfc", "half");
  EXPECT_EQ(FeatureCache::check_entry(cache.path_of("good")), "");
  EXPECT_EQ(FeatureCache::check_entry(cache.path_of("short")), "truncated: 100 of 260 bytes");

  std::size_t checked = 0;
  const auto problems = verify_cache(dir.path(), &checked);
  EXPECT_EQ(checked, 4u);
  ASSERT_EQ(problems.size(), 4u);
  // Sorted by path within the folder: .tmp-..., junk, short, tail.
  EXPECT_EQ(problems[0].path.filename(), ".tmp-123-0-k.mfc");
  EXPECT_NE(problems[0].problem.find("interrupted"), std::string::npos);
  EXPECT_EQ(problems[1].path, cache.path_of("junk"));
  EXPECT_EQ(problems[1].problem, "not a libmer cache entry (bad magic)");
  EXPECT_EQ(problems[2].path, cache.path_of("short"));
  EXPECT_EQ(problems[3].problem, "trailing bytes after 260 bytes");
  // A folder with only good entries verifies clean; the damaged ones are what load() misses.
  for (const auto& p : problems) fs::remove(p.path);
  EXPECT_TRUE(verify_cache(dir.path()).empty());
  EXPECT_TRUE(cache.load("good").has_value());
}

}  // namespace
}  // namespace mer
