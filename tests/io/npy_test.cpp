#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/io/npy.hpp>

#include "support/test_paths.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

namespace mer {
namespace {

// What numpy.save(f, np.arange(6, dtype='<f4').reshape(2, 3)) writes (NumPy >= 1.24; older NumPy writes
// the same bytes here because the growth spaces and the alignment spaces are one run of blanks).
std::string numpy_header_2x3() {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string h("\x93NUMPY\x01\x00", 8);
  h += static_cast<char>(118);  // header length, little-endian uint16: 10 + 118 = 128 = 2 * 64
  h += '\0';
  h += dict;
  h += std::string(118 - dict.size() - 1, ' ');
  h += '\n';
  return h;
}

TEST(Npy, HeaderMatchesNumpyBytesExactly) {
  const std::vector<float> data = {0, 1, 2, 3, 4, 5};
  const auto bytes = npy_encode({2, 3}, data);
  const auto expected = numpy_header_2x3();
  ASSERT_EQ(bytes.size(), 128u + 6u * 4u);
  EXPECT_EQ(bytes.substr(0, 128), expected);
  // Data: little-endian IEEE float32; 1.0f is 00 00 80 3f.
  EXPECT_EQ(bytes.substr(128 + 4, 4), std::string("\x00\x00\x80\x3f", 4));
}

TEST(Npy, DataStartsAtAMultipleOf64ForAnyShape) {
  for (const std::vector<std::size_t>& shape :
       std::vector<std::vector<std::size_t>>{{}, {5}, {3, 28, 28}, {12, 2, 28, 28}, {1234567, 0}}) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    const auto bytes = npy_encode(shape, std::vector<float>(n, 0.5f));
    const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u) << shape.size();
    EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    EXPECT_EQ(bytes.size(), 10 + header_len + 4 * n);
  }
  // Python's tuple spelling for one and zero dimensions.
  EXPECT_NE(npy_encode({5}, std::vector<float>(5)).find("'shape': (5,), }"), std::string::npos);
  EXPECT_NE(npy_encode({}, {1.f}).find("'shape': (), }"), std::string::npos);
}

TEST(Npy, RoundTripIsBitExact) {
  test::TempDir dir;
  std::vector<float> data(3 * 4 * 5);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 0.25f * static_cast<float>(i) - 3.0f;
  data[1] = -0.0f;
  data[2] = std::numeric_limits<float>::denorm_min();
  data[3] = std::numeric_limits<float>::infinity();
  const auto file = dir / "sub" / "x.npy";
  write_npy(file, {3, 4, 5}, data);
  const auto back = read_npy(file);
  EXPECT_EQ(back.shape, (std::vector<std::size_t>{3, 4, 5}));
  ASSERT_EQ(back.data.size(), data.size());
  EXPECT_EQ(std::memcmp(back.data.data(), data.data(), 4 * data.size()), 0);
}

TEST(Npy, RejectsWhatItCannotRepresentOrRead) {
  EXPECT_THROW(npy_encode({2, 3}, std::vector<float>(5)), ValueError);
  const auto good = npy_encode({2, 3}, std::vector<float>(6, 1.f));
  EXPECT_THROW(npy_decode(good.substr(0, good.size() - 1), "t"), DataError);  // truncated data
  EXPECT_THROW(npy_decode("PK\x03\x04 not npy", "t"), DataError);
  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<f8");
  EXPECT_THROW(npy_decode(f8, "t"), DataError);
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  try {
    npy_decode(fortran, "t.npy");
    FAIL() << "Fortran order accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("t.npy"), std::string::npos) << e.what();
  }
}

// Findings of tests/fuzz/npy_fuzzer: a dimension too long for stoull escaped as std::out_of_range, and a
// shape whose element count wraps around 2^64 must not pass the data-size check.
TEST(Npy, RefusesShapesBeyondTheData) {
  // A version 1.0 file with the given shape text and `data_bytes` bytes of data.
  const auto npy = [](const std::string& shape, std::size_t data_bytes) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return bytes + header + std::string(data_bytes, '\0');
  };
  const auto refused = [](const std::string& bytes) {
    try {
      npy_decode(bytes, "t.npy");
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refused(npy("(2, 3)", 24)), "accepted");  // the helper writes valid files
  EXPECT_NE(refused(npy("(11111111111111111111111,)", 4)).find("digits"), std::string::npos);
  // 2^49 x 2^13 elements of 4 bytes wrap around to 0 bytes: with no data this must still be refused.
  EXPECT_NE(refused(npy("(562949953421312, 8192)", 0)).find("needs more data"), std::string::npos);
  EXPECT_EQ(refused(npy("(0, 7)", 0)), "accepted");
}

}  // namespace
}  // namespace mer
