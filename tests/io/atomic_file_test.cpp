#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/io/run_dir.hpp>

#include <gtest/gtest.h>

#include "support/test_paths.hpp"

namespace mer {
namespace {
namespace fs = std::filesystem;

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(AtomicFile, WritesWholeFileAndCreatesFolders) {
  test::TempDir dir;
  write_file_atomic(dir / "a/b/c.txt", "hello");
  EXPECT_EQ(read_file(dir / "a/b/c.txt"), "hello");
  write_file_atomic(dir / "a/b/c.txt", "again");
  EXPECT_EQ(read_file(dir / "a/b/c.txt"), "again");
  EXPECT_EQ(count_files(dir.path()), 1u);  // no temporary left behind
}

TEST(AtomicFile, FailingWriterLeavesNothing) {
  test::TempDir dir;
  write_file_atomic(dir / "keep.txt", "old");
  EXPECT_THROW(write_atomic_with(dir / "keep.txt",
                                 [](const fs::path& tmp) {
                                   write_file_atomic(tmp, "partial");
                                   throw IoError("disk full");
                                 }),
               IoError);
  EXPECT_EQ(read_file(dir / "keep.txt"), "old");
  EXPECT_EQ(count_files(dir.path()), 1u);
}

TEST(AtomicFile, UnwritableTargetIsAnIoErrorNamingThePath) {
  try {
    write_file_atomic("/proc/mer-cannot-write/x.txt", "x");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/mer-cannot-write"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_file("/nonexistent/file"), IoError);
}

TEST(RunDir, TimestampedFoldersAreUnique) {
  test::TempDir dir;
  const auto a = RunDir::create_timestamped(dir.path(), "demo");
  const auto b = RunDir::create_timestamped(dir.path(), "demo");
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(a.path().filename().string().rfind("demo-", 0), 0u);
  a.write("x.txt", "1");
  EXPECT_TRUE(a.has("x.txt"));
}

}  // namespace
}  // namespace mer
