#pragma once
// Shared by the libFuzzer targets (tests/fuzz/*_fuzzer.cpp, run by scripts/fuzz.sh): the one rule every
// parser of user input keeps is "a result or a mer::Error". Anything else escapes, std::terminate aborts,
// and libFuzzer saves the input as a crash; memory errors and leaks are caught by ASan (the fuzz preset).
#include <mer/core/error.hpp>
#include <mer/core/log.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace mer::fuzz {

template <class F>
void parse_or_refuse(F&& parse) {
  try {
    parse();
  } catch (const mer::Error&) {
    // A clear refusal is the expected outcome for most mutated inputs.
  }
}

inline std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// Splits `input` at `separator` into at most `max_parts` pieces (the last keeps any further separators).
inline std::vector<std::string> split_parts(const std::string& input, const std::string& separator, std::size_t max_parts) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (parts.size() + 1 < max_parts) {
    const auto next = input.find(separator, at);
    if (next == std::string::npos) break;
    parts.push_back(input.substr(at, next - at));
    at = next + separator.size();
  }
  parts.push_back(input.substr(at));
  return parts;
}

/// A private scratch folder for targets whose parser reads files (one per process, so parallel fuzzing
/// jobs do not share files); in /dev/shm when it exists because every execution writes to it.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto d = base / ("mer-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/// Writes `bytes` to scratch_dir()/name (plainly: atomic writes would cost an fsync per execution).
inline std::filesystem::path write_scratch(const std::string& name, const std::string& bytes) {
  const auto file = scratch_dir() / name;
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return file;
}

/// Quiet logging: a warning per execution would dominate the run time.
inline void quiet() { mer::set_log_level("off"); }

}  // namespace mer::fuzz
