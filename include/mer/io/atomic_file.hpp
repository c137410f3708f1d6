#pragma once
/// Atomic writes: a file appears whole or not at all (written beside its target, then renamed), so an
/// interrupted run never leaves a half-written result behind.
#include <filesystem>
#include <functional>
#include <string>

namespace mer {

/// Writes `content` to `path` atomically; creates parent folders. Throws IoError naming the path.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);
/// Calls `write(tmp)` to produce the file at a temporary path, then renames it to `path`; for writers
/// that only take a file name (cv::imwrite). A throwing writer leaves nothing behind.
void write_atomic_with(const std::filesystem::path& path, const std::function<void(const std::filesystem::path&)>& write);
/// Reads a whole file; IoError naming the path if it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace mer
