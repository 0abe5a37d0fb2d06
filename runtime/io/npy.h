// runtime: NumPy .npy / .npz reading and writing.
//
// Reading accepts little- and big-endian f2/f4/f8, signed and unsigned integers of 1-8
// bytes and b1, C or Fortran order, header versions 1.0, 2.0 and 3.0. Integers become
// I64 and f16 becomes F32; the result is always a C-ordered Tensor. Writing produces
// version 1.0 files (2.0 only if the header would not fit) exactly as numpy.save does:
// F32 '<f4', F64 '<f8', I64 '<i8', Bool '|b1'.
//
// Every malformed input throws std::runtime_error naming the file (or "<file>:<entry>"
// inside an npz) and what is wrong. Sizes from headers are checked before anything is
// allocated: the element count (overflow-checked) against the data present, an npz
// entry's .npy header against the zip's size for it (never inflating more), and the
// tensor against the machine's memory (runtime/io/file_io.h).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "compiler/ir/tensor.h"
#include "runtime/io/file_io.h"  // write_file_atomic

namespace starc {

// In-memory: `what` names the source in error messages. With `stored`, also says what the
// file stores when its elements were converted ("int32" read as i64, "float16" as f32;
// "" when read as they are), for messages that name the file's own type.
Tensor parse_npy(std::string_view bytes, const std::string& what, std::string* stored = nullptr);
// IEEE half precision (NumPy's f2, ONNX's float16) to float, subnormals, inf and NaN included.
float half_to_float(uint16_t h);
std::string serialize_npy(const Tensor& t);
// The header serialize_npy writes for a tensor of `dtype` and `shape` (the data follows
// it): a file can be preallocated and its rows written in place (runtime/io/npy_map.h).
std::string npy_header(DType dtype, const Shape& shape);

// Where a .npy's elements lie and whether they can be used where they lie: `raw` when
// the file stores them as a Tensor holds them (little-endian f4/f8/i8, C order, aligned),
// so a mapping of the file serves as the tensor (runtime/io/npy_map.h). The header is
// checked as parse_npy checks it, with the same messages.
struct NpyLayout {
  DType dtype = DType::F32;  // as read
  Shape shape;
  uint64_t data_offset = 0, data_bytes = 0;
  bool raw = false;
  std::string stored;  // parse_npy's `stored`
};
// nullopt when `head` (the first bytes of the file) ends before the header does.
std::optional<NpyLayout> npy_layout(std::string_view head, const std::string& what);

// Reads a regular file or a FIFO (runtime/io/file_io.h: read_data_file).
Tensor read_npy(const std::string& path, std::string* stored = nullptr);
// Writes atomically and durably, through links and to devices as runtime/io/file_io.h says.
void write_npy(const std::string& path, const Tensor& t);

// Keys are the entry names without the ".npy" suffix (dots allowed: "conv1d0.weight").
// `stored`: per key, parse_npy's `stored`.
std::map<std::string, Tensor> read_npz(const std::string& path, std::map<std::string, std::string>* stored = nullptr);
// Deflate-compressed entries "<key>.npy", built in memory and written with
// write_file_atomic: the file at `path` is always either the old or the new archive.
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays);

}  // namespace starc
