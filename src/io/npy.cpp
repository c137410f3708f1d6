#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/io/npy.hpp>

#include <cstdint>
#include <cstring>

namespace mer {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;
// NumPy aligns the data to 64 bytes (numpy.lib.format.ARRAY_ALIGN) so it can be memory-mapped.
constexpr std::size_t kAlign = 64;
// NumPy >= 1.24 leaves room after the dict for the first axis to grow to 21 digits, so a writer can
// append along it by rewriting the header in place; reproduced so our bytes match NumPy's exactly.
constexpr std::size_t kGrowthAxisDigits = 21;

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

std::string shape_tuple(const std::vector<std::size_t>& shape) {
  // Python's tuple repr: "()", "(5,)", "(3, 28, 28)".
  std::string t = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) t += ",";
  return t + ")";
}

std::size_t product(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// The value of `key` in the header dict: the text after "'key':" up to the next top-level comma.
std::string dict_value(const std::string& header, const std::string& key, const std::string& name) {
  const auto at = header.find("'" + key + "'");
  if (at == std::string::npos) throw DataError(name + ": NPY header lacks '" + key + "': " + header);
  auto p = header.find(':', at);
  if (p == std::string::npos) throw DataError(name + ": malformed NPY header: " + header);
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  int depth = 0;
  std::size_t end = p;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' || c == '}') && depth == 0) break;
  }
  return header.substr(p, end - p);
}

}  // namespace

std::string npy_encode(const std::vector<std::size_t>& shape, const std::vector<float>& data) {
  MER_CHECK(product(shape) == data.size(), ValueError, "npy: shape ", shape_tuple(shape), " holds ", product(shape),
            " values, got ", data.size());
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  if (!shape.empty()) dict += std::string(kGrowthAxisDigits - std::to_string(shape[0]).size(), ' ');
  const std::size_t prefix = kMagicBytes + 2 + 2;  // magic, version, uint16 header length
  const std::size_t with_newline = dict.size() + 1;
  const std::size_t pad = kAlign - (prefix + with_newline) % kAlign;
  const std::size_t header_len = with_newline + pad;
  MER_CHECK(header_len <= 0xffff, ValueError, "npy: a header of ", header_len, " bytes does not fit format 1.0");
  std::string out;
  out.reserve(prefix + header_len + 4 * data.size());
  out.append(kMagic, kMagicBytes);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header_len & 0xffu));
  out.push_back(static_cast<char>((header_len >> 8) & 0xffu));
  out += dict;
  out.append(pad, ' ');
  out.push_back('\n');
  // Explicit little-endian bytes ('<f4'), whatever the host order.
  for (float v : data) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_u32(out, bits);
  }
  return out;
}

void write_npy(const fs::path& file, const std::vector<std::size_t>& shape, const std::vector<float>& data) {
  write_file_atomic(file, npy_encode(shape, data));
}

NpyArray npy_decode(const std::string& bytes, const std::string& name) {
  if (bytes.size() < kMagicBytes + 4 || bytes.compare(0, kMagicBytes, kMagic, kMagicBytes) != 0) {
    throw DataError(name + ": not an NPY file (no \\x93NUMPY magic)");
  }
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = u[6];
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = std::size_t(u[8]) | (std::size_t(u[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    MER_CHECK(bytes.size() >= 12, DataError, name, ": truncated NPY header");
    header_len = std::size_t(u[8]) | (std::size_t(u[9]) << 8) | (std::size_t(u[10]) << 16) | (std::size_t(u[11]) << 24);
    start = 12;
  } else {
    throw DataError(detail::concat(name, ": NPY format version ", major, ".", int(u[7]), " is not supported"));
  }
  MER_CHECK(bytes.size() >= start + header_len, DataError, name, ": truncated NPY header (", bytes.size(),
            " bytes, header ends at ", start + header_len, ")");
  const std::string header = bytes.substr(start, header_len);
  const auto descr = dict_value(header, "descr", name);
  MER_CHECK(descr == "'<f4'", DataError, name, ": expected dtype '<f4' (float32, little-endian), got ", descr);
  const auto order = dict_value(header, "fortran_order", name);
  MER_CHECK(order == "False", DataError, name, ": expected C order (fortran_order False), got ", order);
  const auto tuple = dict_value(header, "shape", name);
  MER_CHECK(tuple.size() >= 2 && tuple.front() == '(' && tuple.back() == ')', DataError, name,
            ": malformed shape ", tuple);
  NpyArray a;
  std::string digits;
  for (std::size_t i = 1; i < tuple.size(); ++i) {
    const char c = tuple[i];
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c == ',' || c == ')') {
      // More digits than any real dimension has would overflow stoull (found by tests/fuzz/npy_fuzzer).
      MER_CHECK(digits.size() <= 15, DataError, name, ": shape ", tuple, " has a dimension of ", digits.size(),
                " digits");
      if (!digits.empty()) a.shape.push_back(static_cast<std::size_t>(std::stoull(digits)));
      digits.clear();
    } else if (c != ' ' && c != 'L') {
      throw DataError(name + ": malformed shape " + tuple);
    }
  }
  const std::size_t data_start = start + header_len;
  const std::size_t have = (bytes.size() - data_start) / 4;
  // The element count, checked against the data as it grows: a product of dimensions that wraps around
  // 2^64 could otherwise match the data's size and pass.
  std::size_t n = 1;
  for (const auto d : a.shape) {
    MER_CHECK(d == 0 || n <= have / d, DataError, name, ": shape ", tuple, " needs more data than the file's ",
              bytes.size() - data_start, " bytes");
    n *= d;
  }
  MER_CHECK(bytes.size() - data_start == 4 * n, DataError, name, ": shape ", tuple, " needs ", 4 * n,
            " bytes of data, the file has ", bytes.size() - data_start);
  a.data.resize(n);
  const auto* p = u + data_start;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bits = std::uint32_t(p[4 * i]) | (std::uint32_t(p[4 * i + 1]) << 8) |
                               (std::uint32_t(p[4 * i + 2]) << 16) | (std::uint32_t(p[4 * i + 3]) << 24);
    std::memcpy(&a.data[i], &bits, 4);
  }
  return a;
}

NpyArray read_npy(const fs::path& file) { return npy_decode(read_file(file), file.string()); }

}  // namespace mer
