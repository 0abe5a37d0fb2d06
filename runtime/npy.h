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
// Writes atomically and durably (see write_file_atomic).
void write_npy(const std::string& path, const Tensor& t);

// Keys are the entry names without the ".npy" suffix (dots allowed: "conv1d0.weight").
std::map<std::string, Tensor> read_npz(const std::string& path);
// Deflate-compressed entries "<key>.npy", built in memory and written with
// write_file_atomic: the file at `path` is always either the old or the new archive.
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays);

// Replaces `path` with `bytes` atomically and durably: writes "<path>.tmp<pid>" in the
// same folder, fsyncs it, renames it over `path`, fsyncs the folder. Throws naming the
// path on failure (the temp file is removed).
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace starc
