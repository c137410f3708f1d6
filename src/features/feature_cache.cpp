#include <mer/core/error.hpp>
#include <mer/core/rng.hpp>
#include <mer/features/feature_cache.hpp>
#include <mer/io/atomic_file.hpp>

#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>

namespace mer {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDescriptionFile = "pipeline.txt";
constexpr const char* kEntryExtension = ".mfc";

bool is_temporary(const fs::path& p) { return p.filename().string().rfind(".tmp-", 0) == 0; }

constexpr char kMagic[4] = {'M', 'E', 'R', 'F'};
// Bumped whenever the layout changes; an old file then reads as a miss and is rewritten.
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 4 + 4 * 4;  // magic, version, C, H, W
// Guards against allocating from a garbage header: far above any network input (3x224x224 is 150k).
constexpr std::uint64_t kMaxValues = std::uint64_t(1) << 30;

// Explicit little-endian encoding, so a cache folder can move between machines.
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
std::uint32_t get_u32(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

FeatureCache::FeatureCache(fs::path root, std::string pipeline_fingerprint)
    : folder_(std::move(root) / std::move(pipeline_fingerprint)) {}

fs::path FeatureCache::path_of(const std::string& key) const { return folder_ / (key + kEntryExtension); }

namespace {

// Reads an entry; on any defect returns nullopt with the reason in `why` (load treats it as a miss,
// verify_cache reports it). `decode` false checks the layout without converting the values.
std::optional<CachedFeatures> read_entry(const fs::path& path, std::string& why, bool decode) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot be opened";
    return std::nullopt;
  }
  unsigned char header[kHeaderBytes];
  if (!in.read(reinterpret_cast<char*>(header), kHeaderBytes)) {
    why = detail::concat("truncated header: ", in.gcount(), " of ", kHeaderBytes, " bytes");
    return std::nullopt;
  }
  if (std::memcmp(header, kMagic, 4) != 0) {
    why = "not a libmer cache entry (bad magic)";
    return std::nullopt;
  }
  if (get_u32(header + 4) != kVersion) {
    why = detail::concat("format version ", get_u32(header + 4), ", expected ", kVersion);
    return std::nullopt;
  }
  const std::uint32_t c = get_u32(header + 8), h = get_u32(header + 12), w = get_u32(header + 16);
  const std::uint64_t n = std::uint64_t(c) * h * w;
  if (c == 0 || h == 0 || w == 0 || n > kMaxValues) {
    why = detail::concat("implausible shape ", c, "x", h, "x", w);
    return std::nullopt;
  }
  std::string body(n * 4, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(body.size()))) {
    why = detail::concat("truncated: ", kHeaderBytes + static_cast<std::uint64_t>(in.gcount()), " of ",
                         kHeaderBytes + n * 4, " bytes");
    return std::nullopt;
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    why = detail::concat("trailing bytes after ", kHeaderBytes + n * 4, " bytes");
    return std::nullopt;
  }
  why.clear();
  CachedFeatures f;
  f.channels = static_cast<int>(c);
  f.height = static_cast<int>(h);
  f.width = static_cast<int>(w);
  if (!decode) return f;
  f.data.resize(n);
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint32_t bits = get_u32(p + 4 * i);
    std::memcpy(&f.data[i], &bits, 4);
  }
  return f;
}

}  // namespace

std::optional<CachedFeatures> FeatureCache::load(const std::string& key) const {
  std::string why;
  auto entry = read_entry(path_of(key), why, true);
  if (entry) {
    // One "key<TAB>value" line per note.
    std::ifstream in(folder_ / (key + ".notes"));
    for (std::string line; std::getline(in, line);)
      if (const auto tab = line.find('\t'); tab != std::string::npos) entry->notes[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return entry;
}

std::string FeatureCache::check_entry(const fs::path& path) {
  std::string why;
  read_entry(path, why, false);
  return why;
}

void FeatureCache::mark_used(const std::string& description) const {
  const auto file = folder_ / kDescriptionFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    write_file_atomic(file, description + "\n");
    return;
  }
  fs::last_write_time(file, fs::file_time_type::clock::now(), ec);
  if (ec) throw IoError("cannot stamp the last use of '" + file.string() + "': " + ec.message());
}

std::vector<CacheFolderInfo> list_cache_folders(const fs::path& root) {
  std::vector<CacheFolderInfo> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  fs::directory_iterator it(root, ec);
  if (ec) throw IoError("cannot list the cache '" + root.string() + "': " + ec.message());
  for (const auto& folder : it) {
    if (!folder.is_directory(ec)) continue;
    CacheFolderInfo info;
    info.fingerprint = folder.path().filename().string();
    info.path = folder.path();
    // Not file_time_type{}: libstdc++'s file clock counts from 2174, so today's times are negative.
    auto newest = fs::file_time_type::min();
    for (const auto& f : fs::directory_iterator(folder.path(), ec)) {
      if (!f.is_regular_file(ec)) continue;
      const auto size = f.file_size(ec);
      if (!ec) info.bytes += size;
      if (f.path().extension() == kEntryExtension && !is_temporary(f.path())) ++info.entries;
      newest = std::max(newest, f.last_write_time(ec));
    }
    const auto description = folder.path() / kDescriptionFile;
    if (fs::exists(description, ec)) {
      info.description = read_file(description);
      while (!info.description.empty() && info.description.back() == '\n') info.description.pop_back();
      info.last_used = fs::last_write_time(description, ec);
    } else {
      info.last_used = newest == fs::file_time_type::min() ? fs::file_time_type{} : newest;
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.fingerprint < b.fingerprint; });
  return out;
}

std::vector<CacheProblem> verify_cache(const fs::path& root, std::size_t* checked) {
  std::vector<CacheProblem> problems;
  std::size_t n = 0;
  for (const auto& folder : list_cache_folders(root)) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(folder.path, ec)) {
      if (f.is_regular_file(ec)) files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (is_temporary(f)) {
        problems.push_back({f, "temporary file left by an interrupted write"});
      } else if (f.extension() == kEntryExtension) {
        ++n;
        auto why = FeatureCache::check_entry(f);
        if (!why.empty()) problems.push_back({f, std::move(why)});
      }
    }
  }
  if (checked) *checked = n;
  return problems;
}

void FeatureCache::store(const std::string& key, const CachedFeatures& features) const {
  const auto path = path_of(key);
  const std::uint64_t n = std::uint64_t(features.channels) * std::uint64_t(features.height) * std::uint64_t(features.width);
  MER_CHECK(features.channels > 0 && features.height > 0 && features.width > 0, ValueError, "cannot cache '",
            path.string(), "': shape must be positive, got ", features.channels, "x", features.height, "x",
            features.width);
  MER_CHECK(features.data.size() == n, ValueError, "cannot cache '", path.string(), "': shape ", features.channels,
            "x", features.height, "x", features.width, " needs ", n, " values, got ", features.data.size());
  std::string content;
  content.reserve(kHeaderBytes + n * 4);
  content.append(kMagic, 4);
  put_u32(content, kVersion);
  put_u32(content, static_cast<std::uint32_t>(features.channels));
  put_u32(content, static_cast<std::uint32_t>(features.height));
  put_u32(content, static_cast<std::uint32_t>(features.width));
  for (float v : features.data) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_u32(content, bits);
  }
  if (!features.notes.empty()) {
    std::string notes;
    for (const auto& [k, v] : features.notes) notes += k + "\t" + v + "\n";
    write_file_atomic(folder_ / (key + ".notes"), notes);
  }
  // Atomic: concurrent runs and interrupted runs see a whole entry or none.
  write_file_atomic(path, content);
}

std::string FeatureCache::make_key(const std::string& sample_id, const std::vector<fs::path>& sources) {
  // Readable part for humans browsing the cache, hash part for uniqueness and staleness.
  std::string readable;
  for (char ch : sample_id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.';
    readable += ok ? ch : '_';
  }
  if (readable.size() > 80) readable.resize(80);
  std::string identity = sample_id;
  for (const auto& src : sources) {
    identity += '\n' + src.string() + '|';
    std::error_code ec;
    const auto size = fs::file_size(src, ec);
    if (ec) {
      identity += "missing";
      continue;
    }
    const auto mtime = fs::last_write_time(src, ec);
    if (ec) {
      identity += "missing";
      continue;
    }
    identity += std::to_string(size) + '|' + std::to_string(mtime.time_since_epoch().count());
  }
  return readable + "-" + hex64(stable_hash(identity));
}

}  // namespace mer
