// runtime: a .npy written row range by row range (docs/distributed.md): `starc run
// --batch` writes each batch's outputs at their offset instead of holding them all, and
// the ranks of a sharded run each write their slice of one file.
#pragma once
#include <string>

#include "compiler/ir/tensor.h"

namespace starc {

// Creates (or truncates) `path` as a .npy of `dtype` and `shape` exactly as write_npy
// would write it, its data zero-filled (sparse) until written. Throws naming the path.
void create_npy_rows(const std::string& path, DType dtype, const Shape& shape);

// An existing .npy made by create_npy_rows, open for writing rows.
class NpyRowWriter {
 public:
  NpyRowWriter(const std::string& path, DType dtype, const Shape& shape);
  ~NpyRowWriter();
  NpyRowWriter(const NpyRowWriter&) = delete;
  NpyRowWriter& operator=(const NpyRowWriter&) = delete;
  // Writes `rows` (dtype and every dim but the first as the file's) at row `begin`.
  void write(int64_t begin, const Tensor& rows);
  // fsync: the rows are on disk before the file is renamed into place.
  void sync();

 private:
  std::string path_;
  DType dtype_;
  Shape shape_;
  uint64_t data_offset_ = 0, row_bytes_ = 0;
  int fd_ = -1;
};

}  // namespace starc
