// runtime: NumPy .npy / .npz reading and writing.
//
// Reading accepts little- and big-endian f2/f4/f8, signed and unsigned integers of 1-8
// bytes and b1, C or Fortran order, header versions 1.0, 2.0 and 3.0. Integers become
// I64 and f16 becomes F32; the result is always a C-ordered Tensor. Writing produces
// version 1.0 files (2.0 only if the header would not fit) exactly as numpy.save does:
// F32 '<f4', F64 '<f8', I64 '<i8', Bool '|b1'.
//
// Every malformed input throws std::runtime_error naming the file (or "<file>:<entry>"
// inside an npz) and what is wrong.
#pragma once
#include <map>
#include <string>
#include <string_view>

#include "compiler/graph/tensor.h"

namespace starc {

// In-memory: `what` names the source in error messages.
Tensor parse_npy(std::string_view bytes, const std::string& what);
std::string serialize_npy(const Tensor& t);

Tensor read_npy(const std::string& path);
// Writes atomically (path + ".tmp", then rename).
void write_npy(const std::string& path, const Tensor& t);

// Keys are the entry names without the ".npy" suffix (dots allowed: "conv1d0.weight").
std::map<std::string, Tensor> read_npz(const std::string& path);
// Deflate-compressed entries "<key>.npy"; written atomically (path + ".tmp", then rename).
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays);

}  // namespace starc
