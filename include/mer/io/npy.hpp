#pragma once
/// NPY files: float32 arrays that NumPy (`numpy.load`) and PyTorch tooling read directly, so features
/// preprocessed here can be inspected or trained on from Python.
///
/// Format version 1.0 (numpy.lib.format): the magic "\x93NUMPY", version bytes 1 0, a little-endian
/// uint16 header length, then the header — a Python dict literal written exactly as NumPy writes it,
///   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }
/// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes — then the values,
/// little-endian IEEE float32, C order (last index fastest).
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mer {

/// A float32 array as read back from an NPY file.
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<float> data;
};

/// The bytes of an NPY 1.0 file holding `data` with `shape` (C order). ValueError when the shape's product
/// differs from data.size() or the header would not fit version 1.0.
std::string npy_encode(const std::vector<std::size_t>& shape, const std::vector<float>& data);
/// Encodes and writes atomically; IoError naming the file on failure.
void write_npy(const std::filesystem::path& file, const std::vector<std::size_t>& shape, const std::vector<float>& data);

/// Parses NPY bytes written by npy_encode or NumPy: version 1.0 or 2.0, descr '<f4', C order. DataError
/// naming `name` and what was found otherwise (another dtype, Fortran order, truncated data).
NpyArray npy_decode(const std::string& bytes, const std::string& name = "npy data");
/// Reads and parses a file; IoError when it cannot be read.
NpyArray read_npy(const std::filesystem::path& file);

}  // namespace mer
