#include <mer/core/error.hpp>
#include <mer/meta/sample.hpp>

#include <cstdio>

namespace mer {

std::filesystem::path SampleMeta::frame_path(int frame) const {
  MER_CHECK(!from_video(), ValueError, "sample ", id, " is a video (", video.string(), "); it has no frame files");
  const auto open = frame_pattern.find('{');
  const auto close = frame_pattern.find('}', open);
  MER_CHECK(open != std::string::npos && close != std::string::npos, ValueError, "frame pattern '", frame_pattern,
            "' of sample ", id, " has no {} placeholder");
  const std::string spec = frame_pattern.substr(open + 1, close - open - 1);
  std::string number = std::to_string(frame);
  if (!spec.empty()) {
    // Only zero padding is supported: "{:05}".
    MER_CHECK(spec.size() >= 3 && spec[0] == ':' && spec[1] == '0', ValueError, "frame pattern '", frame_pattern,
              "': only {} and {:0N} are supported");
    const auto width = static_cast<std::size_t>(std::stoi(spec.substr(2)));
    if (number.size() < width) number.insert(0, width - number.size(), '0');
  }
  return clip_dir / (frame_pattern.substr(0, open) + number + frame_pattern.substr(close + 1));
}

std::vector<std::filesystem::path> SampleMeta::source_files() const {
  if (from_video()) return {video};
  std::vector<std::filesystem::path> out;
  for (int f : {onset, apex, offset})
    if (f >= 0) out.push_back(frame_path(f));
  return out;
}

}  // namespace mer
