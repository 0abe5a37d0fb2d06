#include "runtime/io/npy_rows.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "runtime/io/npy.h"

namespace starc {
namespace {

[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: cannot {}: {}", path, what, std::strerror(errno)));
}

void write_all(int fd, const void* p, size_t n, uint64_t off, const std::string& path) {
  auto* b = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, b, n, off_t(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail_errno(path, "write");
    b += w, n -= size_t(w), off += uint64_t(w);
  }
}

uint64_t row_bytes_of(DType dtype, const Shape& shape) {
  Shape row(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  return uint64_t(num_elements(row)) * dtype_size(dtype);
}

}  // namespace

void create_npy_rows(const std::string& path, DType dtype, const Shape& shape) {
  static_assert(std::endian::native == std::endian::little, "rows are written as they lie in memory");
  std::string header = npy_header(dtype, shape);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno(path, "create");
  try {
    write_all(fd, header.data(), header.size(), 0, path);
    uint64_t rows = shape.empty() ? 1 : uint64_t(shape[0]);
    if (::ftruncate(fd, off_t(header.size() + rows * row_bytes_of(dtype, shape))) != 0) fail_errno(path, "size");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

NpyRowWriter::NpyRowWriter(const std::string& path, DType dtype, const Shape& shape)
    : path_(path), dtype_(dtype), shape_(shape) {
  data_offset_ = npy_header(dtype, shape).size();
  row_bytes_ = row_bytes_of(dtype, shape);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) fail_errno(path, "open for writing");
}

NpyRowWriter::~NpyRowWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void NpyRowWriter::write(int64_t begin, const Tensor& rows) {
  Shape want = shape_;
  if (want.empty() || rows.rank() != int(want.size()) || rows.dtype() != dtype_)
    throw std::runtime_error(fmt::format("{}: rows of {} do not fit a file of {}", path_, type_str(rows.type()),
                                         type_str(TensorType{dtype_, shape_})));
  want[0] = rows.dim(0);
  if (rows.shape() != want || begin < 0 || begin + rows.dim(0) > shape_[0])
    throw std::runtime_error(fmt::format("{}: rows {}..{} of {} do not fit a file of {}", path_, begin,
                                         begin + rows.dim(0), type_str(rows.type()),
                                         type_str(TensorType{dtype_, shape_})));
  write_all(fd_, rows.raw(), rows.nbytes(), data_offset_ + uint64_t(begin) * row_bytes_, path_);
}

void NpyRowWriter::sync() {
  if (::fsync(fd_) != 0) fail_errno(path_, "sync");
}

}  // namespace starc
